//! What the local stack cannot check, held as tests over the SAM expansion of template.yaml and the
//! CDK app's output, for the two shapes a user deploys: the defaults (a topic of ours, SNS -> SQS
//! -> Lambda) and the other branch of every choice (an existing topic, direct SNS -> Lambda, a
//! configuration set, an alert email). docs/deployment.md says which AWS rule each test stands for
//! and what only a real account can confirm.

// Needs the templates that scripts/test.sh synthesises before `cargo test`.
#![cfg(feature = "local-stack")]

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use ses_ledger_integration_tests::template::*;

const EXISTING_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:existing-ses-events";

/// The other branch of every choice (scripts/test.sh synthesises the CDK app with the same values).
const ALTERNATIVE: &[(&str, &str)] = &[
    ("SesEventTopicArn", EXISTING_TOPIC),
    ("IngestTransport", "direct"),
    ("CreateConfigurationSet", "true"),
    ("AlertEmail", "ops@example.com"),
    ("TableDeletionProtection", "false"),
    ("EventLogClass", "INFREQUENT_ACCESS"),
    ("PseudonymKeyParameter", PSEUDONYM_KEY_PARAMETER),
    ("PseudonymKeyKmsKeyArn", PSEUDONYM_KEY_KMS_KEY),
    ("Architecture", "x86_64"),
    ("FeedbackLoopProviders", "yahoo,gmx"),
];

const PSEUDONYM_KEY_PARAMETER: &str = "/ses-ledger/pseudonym-key";
const PSEUDONYM_KEY_KMS_KEY: &str =
    "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn sam(parameters: &[(&str, &str)]) -> Deployment {
    Deployment::load(&sam_expansion(), parameters)
}

/// Every deployment under test: SAM and CDK, default and alternative.
fn all() -> Vec<(String, Deployment)> {
    vec![
        ("SAM defaults".into(), sam(&[])),
        ("SAM alternative".into(), sam(ALTERNATIVE)),
        (
            "CDK defaults".into(),
            Deployment::load(&cdk_output("default"), &[]),
        ),
        (
            "CDK alternative".into(),
            Deployment::load(&cdk_output("alternative"), &[]),
        ),
    ]
}

/// (service principal, topic) for every topic a service publishes to: CloudWatch for the alarm
/// actions, SES for the configuration set's destination and for the topic the stack tells
/// operators to point identity notifications at.
fn service_publishers(d: &Deployment) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for alarm in d.of_kind("AWS::CloudWatch::Alarm") {
        for key in ["AlarmActions", "OKActions"] {
            for topic in alarm
                .prop(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.push(("cloudwatch.amazonaws.com".to_string(), topic.clone()));
            }
        }
    }
    for destination in d.of_kind("AWS::SES::ConfigurationSetEventDestination") {
        let topic = &destination.properties["EventDestination"]["SnsDestination"]["TopicARN"];
        out.push(("ses.amazonaws.com".to_string(), topic.clone()));
    }
    let output = &d.outputs["SesEventTopicArn"]["Value"];
    out.push(("ses.amazonaws.com".to_string(), output.clone()));
    out
}

#[test]
fn every_topic_a_service_publishes_to_can_be_used_by_that_service() {
    for (name, d) in all() {
        let mut checked = BTreeSet::new();
        for (service, topic_ref) in service_publishers(&d) {
            let Some(topic) = d.target(&topic_ref) else {
                // A topic the operator brought: its policies are theirs (docs/deployment.md).
                assert_eq!(topic_ref, Value::String(EXISTING_TOPIC.into()), "{name}: {service} publishes to {topic_ref}, which is neither ours nor the given topic");
                continue;
            };
            assert_eq!(topic.kind, "AWS::SNS::Topic", "{name}");
            let publish = d
                .resource_policy_statements(topic)
                .into_iter()
                .any(|s| service_principals(&s).contains(&service) && allows(&s, "sns:Publish"));
            assert!(
                publish,
                "{name}: the policy of topic {} does not let {service} publish",
                topic.id
            );
            if let Some(key_ref) = topic.prop("KmsMasterKeyId") {
                let key = d.target(key_ref).unwrap_or_else(|| {
                    panic!("{name}: topic {} is encrypted with {key_ref}, a key whose policy this stack cannot extend (an AWS-managed key refuses {service})", topic.id)
                });
                assert_eq!(
                    key.kind, "AWS::KMS::Key",
                    "{name}: {} is not a KMS key",
                    key.id
                );
                for action in ["kms:GenerateDataKey", "kms:Decrypt"] {
                    let allowed = d
                        .resource_policy_statements(key)
                        .into_iter()
                        .any(|s| service_principals(&s).contains(&service) && allows(&s, action));
                    assert!(allowed, "{name}: key {} does not allow {service} {action}, so its publishes to {} fail", key.id, topic.id);
                }
            }
            checked.insert((service, topic.id.clone()));
        }
        let services: BTreeSet<&str> = checked.iter().map(|(s, _)| s.as_str()).collect();
        assert!(
            services.contains("cloudwatch.amazonaws.com"),
            "{name}: no alarm publishes to a topic of ours"
        );
        if !name.ends_with("alternative") {
            assert!(
                services.contains("ses.amazonaws.com"),
                "{name}: SES publishes to no topic of ours"
            );
        }
    }
}

#[test]
fn every_role_that_publishes_to_an_encrypted_topic_may_use_its_key() {
    for (name, d) in all() {
        let mut seen = 0;
        for role in d.of_kind("AWS::IAM::Role") {
            let statements = d.role_statements(role);
            for statement in statements.iter().filter(|s| allows(s, "sns:Publish")) {
                for resource in statement
                    .get("Resource")
                    .map(|r| match r {
                        Value::Array(list) => list.clone(),
                        one => vec![one.clone()],
                    })
                    .into_iter()
                    .flatten()
                {
                    let Some(topic) = d.target(&resource) else {
                        continue;
                    };
                    let Some(key) = topic.prop("KmsMasterKeyId").and_then(|k| d.target(k)) else {
                        continue;
                    };
                    seen += 1;
                    for action in ["kms:GenerateDataKey", "kms:Decrypt"] {
                        let ok = statements.iter().any(|s| {
                            allows(s, action) && strings_or_refs(&s["Resource"]).contains(&key.id)
                        });
                        assert!(
                            ok,
                            "{name}: role {} publishes to {} but may not {action} with its key {}",
                            role.id, topic.id, key.id
                        );
                    }
                }
            }
        }
        assert!(
            seen >= 1,
            "{name}: no role publishes to an encrypted topic (the alarm function should)"
        );
    }
}

fn strings_or_refs(value: &Value) -> BTreeSet<String> {
    let items = match value {
        Value::Array(list) => list.clone(),
        one => vec![one.clone()],
    };
    items.iter().filter_map(reference).collect()
}

#[test]
fn every_grant_to_a_service_is_limited_to_this_account_or_one_resource() {
    for (name, d) in all() {
        let mut grants = 0;
        for resource in d.resources.values() {
            for statement in d.resource_policy_statements(resource) {
                for service in service_principals(&statement) {
                    grants += 1;
                    assert!(
                        limited_to_this_account(&statement),
                        "{name}: {} lets {service} act for any account (confused deputy): {statement}",
                        resource.id
                    );
                }
            }
        }
        for permission in d.of_kind("AWS::Lambda::Permission") {
            grants += 1;
            assert!(
                permission.prop("SourceArn").is_some(),
                "{name}: {} lets any source invoke",
                permission.id
            );
        }
        assert!(grants >= 3, "{name}: only {grants} service grants found");
    }
}

/// The alarms on `metric` of the resource `id`, with an action into a topic.
fn alarms_on<'a>(d: &'a Deployment, namespace: &str, metric: &str, id: &str) -> Vec<&'a Resource> {
    d.of_kind("AWS::CloudWatch::Alarm")
        .filter(|a| {
            let direct = a.prop("Namespace").and_then(Value::as_str) == Some(namespace)
                && a.prop("MetricName").and_then(Value::as_str) == Some(metric)
                && a.prop("Dimensions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .any(|dim| reference(&dim["Value"]).as_deref() == Some(id));
            let in_math = a
                .prop("Metrics")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|m| {
                    let inner = &m["MetricStat"]["Metric"];
                    inner["Namespace"] == namespace
                        && inner["MetricName"] == metric
                        && inner["Dimensions"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|dim| reference(&dim["Value"]).as_deref() == Some(id))
                });
            (direct || in_math)
                && a.prop("AlarmActions")
                    .and_then(Value::as_array)
                    .is_some_and(|l| !l.is_empty())
        })
        .collect()
}

#[test]
fn every_function_and_every_dead_letter_queue_is_watched() {
    for (name, d) in all() {
        let functions: Vec<&Resource> = d.functions().collect();
        assert_eq!(functions.len(), 3, "{name}");
        for f in &functions {
            assert!(
                !alarms_on(&d, "AWS/Lambda", "Errors", &f.id).is_empty(),
                "{name}: function {} has no error alarm",
                f.id
            );
        }
        let ingest = d.function_by_description("Normalises");
        for metric in ["Throttles", "DestinationDeliveryFailures"] {
            assert!(
                !alarms_on(&d, "AWS/Lambda", metric, &ingest.id).is_empty(),
                "{name}: no {metric} alarm on the ingest function"
            );
        }
        let count = d.function_by_description("Adds every");
        assert!(
            !alarms_on(&d, "AWS/Lambda", "IteratorAge", &count.id).is_empty(),
            "{name}: nothing alarms when counting falls behind the stream"
        );
        let alarm = d.function_by_description("Judges");
        let missed = alarms_on(&d, "AWS/Lambda", "Invocations", &alarm.id);
        assert!(
            missed
                .iter()
                .any(|a| a.prop("TreatMissingData").and_then(Value::as_str) == Some("breaching")),
            "{name}: nothing alarms when the alarm function stops running"
        );
        // Every queue something dead-letters into: SQS redrive, SNS subscription redrive, Lambda
        // on-failure destinations.
        let mut dead_letter_queues = BTreeSet::new();
        for r in d.resources.values() {
            let candidates = [
                r.prop("RedrivePolicy")
                    .map(|p| p["deadLetterTargetArn"].clone()),
                r.prop("DestinationConfig")
                    .map(|c| c["OnFailure"]["Destination"].clone()),
            ];
            for c in candidates.into_iter().flatten() {
                if let Some(q) = d.target(&c) {
                    dead_letter_queues.insert(q.id.clone());
                }
            }
        }
        assert!(
            !dead_letter_queues.is_empty(),
            "{name}: no dead-letter queue"
        );
        for q in dead_letter_queues {
            assert!(
                !alarms_on(&d, "AWS/SQS", "ApproximateNumberOfMessagesVisible", &q).is_empty(),
                "{name}: dead-letter queue {q} fills up unnoticed"
            );
        }
    }
}

/// The properties that set a physical name, per resource type.
const NAME_PROPERTIES: &[(&str, &str)] = &[
    ("AWS::Logs::LogGroup", "LogGroupName"),
    ("AWS::DynamoDB::Table", "TableName"),
    ("AWS::SQS::Queue", "QueueName"),
    ("AWS::SNS::Topic", "TopicName"),
    ("AWS::Lambda::Function", "FunctionName"),
    ("AWS::IAM::Role", "RoleName"),
    ("AWS::Scheduler::Schedule", "Name"),
    ("AWS::CloudWatch::Alarm", "AlarmName"),
    ("AWS::CloudWatch::Dashboard", "DashboardName"),
    ("AWS::KMS::Alias", "AliasName"),
    ("AWS::SES::ConfigurationSet", "Name"),
];

#[test]
fn no_name_collides_between_two_stacks_or_with_a_retained_resource() {
    for (name, d) in all() {
        let mut named = 0;
        for (kind, property) in NAME_PROPERTIES {
            for r in d.of_kind(kind) {
                let Some(value) = r.prop(property) else {
                    continue;
                };
                named += 1;
                assert!(carries_stack_name(value), "{name}: {} has the fixed {property} {value}, which a second stack in the region collides with", r.id);
                assert_ne!(
                    r.deletion_policy.as_deref(),
                    Some("Retain"),
                    "{name}: {} is retained under a name of its own ({value}): redeploying after a delete collides with it",
                    r.id
                );
            }
        }
        assert!(
            named >= 2,
            "{name}: expected the function log groups and the dashboard to be named"
        );
    }
}

#[test]
fn stateful_resources_have_deliberate_deletion_policies() {
    for (name, d) in all() {
        for kind in [
            "AWS::DynamoDB::Table",
            "AWS::SQS::Queue",
            "AWS::SNS::Topic",
            "AWS::Logs::LogGroup",
            "AWS::KMS::Key",
        ] {
            for r in d.of_kind(kind) {
                assert!(
                    r.deletion_policy.is_some() && r.update_replace_policy.is_some(),
                    "{name}: {} ({kind}) has no explicit deletion and replacement policy",
                    r.id
                );
            }
        }
        let retained = |r: &Resource| {
            r.deletion_policy.as_deref() == Some("Retain")
                && r.update_replace_policy.as_deref() == Some("Retain")
        };
        let table = d.of_kind("AWS::DynamoDB::Table").next().expect("table");
        assert!(retained(table), "{name}: the ledger table is not retained");
        let protected = table
            .prop("DeletionProtectionEnabled")
            .map(|v| v.to_string().trim_matches('"').to_string());
        let expected = if name.ends_with("alternative") {
            "false"
        } else {
            "true"
        };
        assert_eq!(
            protected.as_deref(),
            Some(expected),
            "{name}: table deletion protection does not follow the parameter"
        );
        let ingest = d.function_by_description("Normalises");
        let event_log =
            ingest.properties["Environment"]["Variables"]["SES_LEDGER_EVENT_LOG_GROUP"].clone();
        let event_log = d.target(&event_log).expect("the event log group is ours");
        assert!(
            retained(event_log),
            "{name}: the event log group is not retained"
        );
        let dead_letters = ingest_dead_letter_queue(&d);
        assert!(
            retained(dead_letters),
            "{name}: the dead-letter queue is not retained"
        );
    }
}

fn ingest_dead_letter_queue(d: &Deployment) -> &Resource {
    let ingest = d.function_by_description("Normalises");
    d.of_kind("AWS::Lambda::EventInvokeConfig")
        .find(|c| reference(&c.properties["FunctionName"]).as_deref() == Some(ingest.id.as_str()))
        .and_then(|c| d.target(&c.properties["DestinationConfig"]["OnFailure"]["Destination"]))
        .expect("the ingest function's on-failure destination is a queue of ours")
}

#[test]
fn asynchronously_invoked_functions_have_deliberate_retries() {
    for (name, d) in all() {
        let mut async_targets = BTreeSet::new();
        for s in d.of_kind("AWS::SNS::Subscription") {
            if s.prop("Protocol").and_then(Value::as_str) == Some("lambda") {
                async_targets
                    .insert(reference(&s.properties["Endpoint"]).expect("lambda endpoint"));
            }
        }
        for s in d.of_kind("AWS::Scheduler::Schedule") {
            async_targets
                .insert(reference(&s.properties["Target"]["Arn"]).expect("schedule target"));
        }
        assert!(!async_targets.is_empty(), "{name}");
        for target in async_targets {
            let config = d
                .of_kind("AWS::Lambda::EventInvokeConfig")
                .find(|c| {
                    reference(&c.properties["FunctionName"]).as_deref() == Some(target.as_str())
                })
                .unwrap_or_else(|| {
                    panic!(
                        "{name}: {target} is invoked asynchronously with Lambda's default retries"
                    )
                });
            assert!(
                config.prop("MaximumRetryAttempts").is_some(),
                "{name}: {target} retries by default"
            );
            assert!(
                config.prop("MaximumEventAgeInSeconds").is_some(),
                "{name}: {target} keeps events for the default six hours"
            );
        }
    }
}

#[test]
fn queue_sources_report_partial_failures_and_outlast_the_function() {
    for (name, d) in all() {
        let mappings: Vec<&Resource> = d
            .of_kind("AWS::Lambda::EventSourceMapping")
            .filter(|m| {
                d.target(&m.properties["EventSourceArn"])
                    .is_some_and(|q| q.kind == "AWS::SQS::Queue")
            })
            .collect();
        assert_eq!(
            mappings.len(),
            usize::from(!name.ends_with("alternative")),
            "{name}: one queue source on the sqs transport, none on direct"
        );
        for m in mappings {
            assert!(
                strings(&m.properties["FunctionResponseTypes"])
                    .contains(&"ReportBatchItemFailures".to_string()),
                "{name}: a failed record would fail its whole batch"
            );
            let queue = d
                .target(&m.properties["EventSourceArn"])
                .expect("source queue");
            let function = d
                .target(&m.properties["FunctionName"])
                .expect("target function");
            let visibility = queue
                .prop("VisibilityTimeout")
                .and_then(Value::as_i64)
                .expect("visibility timeout");
            let timeout = function
                .prop("Timeout")
                .and_then(Value::as_i64)
                .expect("function timeout");
            assert!(visibility >= 6 * timeout, "{name}: visibility {visibility} s < 6 x the function's {timeout} s, so batches are redelivered while running");
            assert!(
                queue.prop("RedrivePolicy").is_some(),
                "{name}: poison messages would circulate forever"
            );
        }
        for s in d
            .of_kind("AWS::SNS::Subscription")
            .filter(|s| s.prop("Protocol").and_then(Value::as_str) == Some("sqs"))
        {
            let mut queues = vec![d.target(&s.properties["Endpoint"]).expect("queue of ours")];
            if let Some(dlq) = s
                .prop("RedrivePolicy")
                .and_then(|p| d.target(&p["deadLetterTargetArn"]))
            {
                queues.push(dlq);
            }
            for q in queues {
                let ok = d.resource_policy_statements(q).iter().any(|st| {
                    service_principals(st).contains(&"sns.amazonaws.com".to_string())
                        && allows(st, "sqs:SendMessage")
                });
                assert!(ok, "{name}: SNS may not deliver into {}", q.id);
            }
        }
    }
}

#[test]
fn parameters_refuse_typos_before_the_deploy_starts() {
    let template: Value =
        serde_json::from_str(&std::fs::read_to_string(sam_expansion()).expect("expansion"))
            .expect("json");
    let params = template["Parameters"].as_object().expect("parameters");
    for (name, spec) in params {
        if spec["Type"] == "String" {
            assert!(
                spec.get("AllowedPattern").is_some() || spec.get("AllowedValues").is_some(),
                "parameter {name} takes any string"
            );
        }
    }
    let matches = |name: &str, value: &str| {
        let pattern = params[name]["AllowedPattern"].as_str().expect("pattern");
        regex::Regex::new(pattern)
            .expect("pattern compiles")
            .is_match(value)
    };
    assert!(matches("SesEventTopicArn", ""));
    assert!(matches("SesEventTopicArn", EXISTING_TOPIC));
    assert!(
        !matches("SesEventTopicArn", "arn:aws:sns:us-east-1:1234:x"),
        "a short account id"
    );
    assert!(
        !matches("SesEventTopicArn", "existing-ses-events"),
        "a topic name, not an ARN"
    );
    assert!(matches("AlertEmail", "ops@example.com"));
    assert!(!matches("AlertEmail", "ops@example"));
    assert!(!matches("AlertEmail", "ops example.com"));
    assert!(matches("AlarmSchedule", "rate(15 minutes)"));
    assert!(matches("AlarmSchedule", "rate(1 hour)"));
    assert!(matches("AlarmSchedule", "cron(0/15 * * * ? *)"));
    assert!(!matches("AlarmSchedule", "rate(15 minute)"));
    assert!(!matches("AlarmSchedule", "every 15 minutes"));
    // Scheduler: the singular unit for 1, the plural above.
    assert!(matches("AlarmSchedule", "rate(1 minute)"));
    assert!(!matches("AlarmSchedule", "rate(1 minutes)"));
    assert!(!matches("AlarmSchedule", "rate(1 hours)"));
    assert!(!matches("AlarmSchedule", "rate(0 minutes)"));
    assert!(matches("AlarmSchedule", "rate(2 days)"));
}

/// SES's guide gives its statement on a topic's key with no condition, and nothing AWS publishes
/// says that SES's or CloudWatch's KMS requests carry `aws:SourceAccount`; a condition on it may
/// never match, and then SES refuses the topic and no event arrives. What SNS documents is the
/// encryption context of a topic's messages, `kms:EncryptionContext:aws:sns:topicArn`
/// (sns-enable-encryption-for-topic.html). So a service's grant on a key of ours names that
/// condition and no other, scoped to topics of this account.
#[test]
fn a_service_uses_a_topic_key_under_the_condition_sns_documents_and_no_other() {
    for (name, d) in all() {
        let mut grants = BTreeSet::new();
        for key in d.of_kind("AWS::KMS::Key") {
            for statement in d.resource_policy_statements(key) {
                for service in service_principals(&statement) {
                    let conditions = statement["Condition"]
                        .as_object()
                        .cloned()
                        .unwrap_or_default();
                    let keys: BTreeSet<String> = conditions
                        .values()
                        .flat_map(|keys| keys.as_object().into_iter().flatten())
                        .map(|(k, _)| k.clone())
                        .collect();
                    assert_eq!(
                        keys,
                        BTreeSet::from(["kms:EncryptionContext:aws:sns:topicArn".to_string()]),
                        "{name}: {service}'s grant on {} has conditions AWS does not document for it: {statement}",
                        key.id
                    );
                    let scope = statement["Condition"].to_string();
                    assert!(
                        scope.contains("AWS::AccountId") && scope.contains(":sns:"),
                        "{name}: {service}'s grant on {} is not limited to this account's topics: {statement}",
                        key.id
                    );
                    grants.insert(service);
                }
            }
        }
        assert_eq!(
            grants,
            BTreeSet::from([
                "cloudwatch.amazonaws.com".to_string(),
                "ses.amazonaws.com".to_string()
            ]),
            "{name}"
        );
    }
}

/// Every function runs on the Architecture the stack is given (arm64 by default): the binaries
/// scripts/check-lambda-arch.sh checks before a CDK synth and deploy and after `sam build` are
/// built for it.
#[test]
fn every_function_runs_on_the_architecture_the_stack_is_given() {
    for (name, d) in all() {
        let want = if name.ends_with("alternative") {
            "x86_64"
        } else {
            "arm64"
        };
        let mut functions = 0;
        for function in d.functions() {
            functions += 1;
            assert_eq!(
                function.prop("Architectures"),
                Some(&serde_json::json!([want])),
                "{name}: {}",
                function.id
            );
        }
        assert_eq!(functions, 3, "{name}");
    }
}

#[test]
fn outputs_are_described_and_name_what_an_operator_needs() {
    for (name, d) in all() {
        for (id, output) in &d.outputs {
            assert!(
                output
                    .get("Description")
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.len() > 10),
                "{name}: output {id} has no description"
            );
        }
        // What doctor and --stack read (shared/aws's list), and what an operator copies.
        let doctor = ses_ledger_aws::cloudformation::DOCTOR_OUTPUTS;
        for id in doctor
            .iter()
            .chain(&["IngestDeadLetterQueueArn", "DashboardName"])
        {
            assert!(d.outputs.contains_key(*id), "{name}: no output {id}");
        }
        assert_eq!(
            d.outputs.contains_key("PseudonymKeyParameter"),
            name.ends_with("alternative"),
            "{name}: --stack reads the key's parameter where there is one"
        );
        assert_eq!(
            d.outputs.contains_key("ConfigurationSetName"),
            name.ends_with("alternative"),
            "{name}"
        );
        assert_eq!(
            d.outputs.contains_key("IngestQueueUrl"),
            !name.ends_with("alternative"),
            "{name}"
        );
    }
}

/// What the parity test compares: resource types, each function's permissions, the alarms, the
/// queries, the dashboard and the outputs.
#[derive(Debug, PartialEq)]
struct Shape {
    resource_types: BTreeMap<String, usize>,
    permissions: BTreeMap<String, BTreeSet<String>>,
    alarms: BTreeMap<String, String>,
    queries: BTreeSet<String>,
    dashboard_widgets: usize,
    outputs: BTreeSet<String>,
    environment: BTreeMap<String, BTreeSet<String>>,
    /// The event log group's class and indexed fields.
    event_log: (String, Vec<String>),
}

/// The log group the ingest function writes the event stream to.
fn event_log_group(d: &Deployment) -> &Resource {
    let ingest = d.function_by_description("Normalises");
    d.target(&ingest.properties["Environment"]["Variables"]["SES_LEDGER_EVENT_LOG_GROUP"])
        .expect("the event log group is a resource of the stack")
}

fn event_log(d: &Deployment) -> (String, Vec<String>) {
    let p = &event_log_group(d).properties;
    let fields = p["FieldIndexPolicies"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|policy| policy["Fields"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect();
    (
        p["LogGroupClass"]
            .as_str()
            .unwrap_or("STANDARD")
            .to_string(),
        fields,
    )
}

fn shape(d: &Deployment) -> Shape {
    let mut resource_types = BTreeMap::new();
    for r in d.resources.values() {
        *resource_types.entry(r.kind.clone()).or_insert(0) += 1;
    }
    let mut permissions = BTreeMap::new();
    let mut environment = BTreeMap::new();
    for (label, prefix) in [
        ("ingest", "Normalises"),
        ("count", "Adds every"),
        ("alarm", "Judges"),
    ] {
        let f = d.function_by_description(prefix);
        permissions.insert(label.to_string(), d.function_permissions(f));
        let vars = f.properties["Environment"]["Variables"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        environment.insert(label.to_string(), vars);
    }
    let alarms = d
        .of_kind("AWS::CloudWatch::Alarm")
        .map(|a| {
            let p = &a.properties;
            let metric = if p.get("Metrics").is_some() {
                let mut parts: Vec<String> = p["Metrics"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| {
                        format!(
                            "{} {} {} {}",
                            m["MetricStat"]["Metric"]["MetricName"],
                            m["MetricStat"]["Stat"],
                            m["MetricStat"]["Period"],
                            m["Expression"]
                        )
                    })
                    .collect();
                parts.sort();
                parts.join(" + ")
            } else {
                format!("{}/{} {}", p["Namespace"], p["MetricName"], p["Statistic"])
            };
            let on = p
                .get("Dimensions")
                .and_then(Value::as_array)
                .and_then(|l| l.first())
                .and_then(|dim| d.target(&dim["Value"]))
                .map(|r| r.kind.clone())
                .unwrap_or_default();
            let rule = format!(
                "{metric} on {on} period {} {} {} x{} missing={} actions={}",
                p["Period"],
                p["ComparisonOperator"],
                p["Threshold"],
                p["EvaluationPeriods"],
                p["TreatMissingData"],
                p["AlarmActions"].as_array().map_or(0, Vec::len)
            );
            (
                p["AlarmDescription"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                rule,
            )
        })
        .collect();
    let queries = d
        .of_kind("AWS::Logs::QueryDefinition")
        .map(|q| {
            q.properties["QueryString"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let dashboard_widgets = d
        .of_kind("AWS::CloudWatch::Dashboard")
        .map(|b| {
            b.properties["DashboardBody"]
                .to_string()
                .matches("\\\"type\\\"")
                .count()
        })
        .sum();
    Shape {
        resource_types,
        permissions,
        alarms,
        queries,
        dashboard_widgets,
        outputs: d.outputs.keys().cloned().collect(),
        environment,
        event_log: event_log(d),
    }
}

#[test]
fn the_cdk_app_deploys_the_same_stack_as_the_sam_template() {
    for (variant, parameters) in [("default", &[][..]), ("alternative", ALTERNATIVE)] {
        let from_sam = shape(&sam(parameters));
        let from_cdk = shape(&Deployment::load(&cdk_output(variant), &[]));
        assert_eq!(
            from_sam.resource_types, from_cdk.resource_types,
            "{variant}: resource types"
        );
        assert_eq!(
            from_sam.permissions, from_cdk.permissions,
            "{variant}: IAM actions per function"
        );
        assert_eq!(from_sam.alarms, from_cdk.alarms, "{variant}: alarms");
        assert_eq!(from_sam.queries.len(), 7, "{variant}: the saved queries");
        assert_eq!(
            from_sam.queries, from_cdk.queries,
            "{variant}: saved queries"
        );
        assert!(
            from_sam.dashboard_widgets >= 4,
            "{variant}: dashboard widgets"
        );
        assert_eq!(
            from_sam.dashboard_widgets, from_cdk.dashboard_widgets,
            "{variant}: dashboard"
        );
        assert_eq!(from_sam.outputs, from_cdk.outputs, "{variant}: outputs");
        assert_eq!(
            from_sam.environment, from_cdk.environment,
            "{variant}: function environment"
        );
        assert_eq!(
            from_sam.event_log, from_cdk.event_log,
            "{variant}: event log class and field indexes"
        );
    }
}

/// The table's stream source as counting exactly once needs it (`ses_ledger::tally`): a failed
/// batch retried whole from its first record, one batch per shard at a time, never skipped while
/// the records are in the stream, with an on-failure destination the function may write to, and
/// a stream carrying both images (a MODIFY's added scopes are NewImage minus OldImage).
#[test]
fn the_stream_source_retries_whole_batches_and_the_count_function_may_read_it() {
    for (name, d) in all() {
        let count = d.function_by_description("Adds every");
        let streams: Vec<&Resource> = d
            .of_kind("AWS::Lambda::EventSourceMapping")
            .filter(|m| {
                d.target(&m.properties["FunctionName"])
                    .is_some_and(|f| f.id == count.id)
            })
            .collect();
        assert_eq!(
            streams.len(),
            1,
            "{name}: one stream mapping for the count function"
        );
        let m = &streams[0].properties;
        assert_eq!(
            m.get("BisectBatchOnFunctionError").and_then(Value::as_bool),
            Some(false),
            "{name}: the function fails a batch only when the table cannot be written, which halving the batch does not mend"
        );
        assert!(
            !strings(m.get("FunctionResponseTypes").unwrap_or(&Value::Null))
                .contains(&"ReportBatchItemFailures".to_string()),
            "{name}: the function writes a batch whole or fails it; it never names a record"
        );
        assert_eq!(
            m.get("ParallelizationFactor").and_then(Value::as_i64),
            Some(1),
            "{name}"
        );
        // The cost measurement batches the stream as this mapping does (docs/benchmarks.md).
        let measured = ses_ledger_integration_tests::StreamBatching::COUNT_FUNCTION;
        assert_eq!(
            (
                m.get("BatchSize").and_then(Value::as_u64),
                m.get("MaximumBatchingWindowInSeconds")
                    .and_then(Value::as_u64),
                m.get("TumblingWindowInSeconds").and_then(Value::as_u64),
            ),
            (
                Some(measured.max_records as u64),
                measured.window_seconds.map(u64::from),
                Some(u64::from(measured.tumbling_window_seconds)),
            ),
            "{name}: the write-cost measurement cuts the stream differently from the mapping \
             (and without a tumbling window the function is told no shard)"
        );
        assert_eq!(
            m.get("MaximumRetryAttempts").and_then(Value::as_i64),
            Some(-1),
            "{name}: a retry quota would give up on a batch within minutes"
        );
        // AWS does not say that records expiring from the stream (24 hours) reach the on-failure
        // destination under an unlimited age; a record age under 24 hours makes Lambda give up,
        // and record the shard and range, while the records can still be read.
        let age = m.get("MaximumRecordAgeInSeconds").and_then(Value::as_i64);
        assert!(
            age.is_some_and(|a| (6 * 3600..=18 * 3600).contains(&a)),
            "{name}: MaximumRecordAgeInSeconds {age:?} should leave hours to retry and hours to recount before the stream's 24"
        );
        let table = d
            .of_kind("AWS::DynamoDB::Table")
            .next()
            .expect("the ledger table");
        assert_eq!(
            table.properties["StreamSpecification"]["StreamViewType"], "NEW_AND_OLD_IMAGES",
            "{name}"
        );
        assert!(
            serde_json::to_string(&m["EventSourceArn"])
                .unwrap_or_default()
                .contains(&table.id),
            "{name}: the mapping reads the ledger table's stream"
        );
        let dlq = d
            .target(&m["DestinationConfig"]["OnFailure"]["Destination"])
            .expect("an on-failure destination of ours");
        assert_eq!(dlq.kind, "AWS::SQS::Queue", "{name}");
        let role = d.role_of(count);
        let statements = d.role_statements(role);
        let may = |action: &str, resource: &str| {
            statements.iter().any(|st| {
                st["Effect"] == "Allow"
                    && allows(st, action)
                    && serde_json::to_string(&st["Resource"])
                        .unwrap_or_default()
                        .contains(resource)
            })
        };
        assert!(
            may("sqs:SendMessage", &dlq.id),
            "{name}: Lambda could not report a failed batch"
        );
        for action in [
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:DescribeStream",
            "dynamodb:ListStreams",
        ] {
            assert!(
                may(action, &table.id),
                "{name}: the mapping needs {action} on the stream"
            );
        }
        assert!(
            may("dynamodb:UpdateItem", &table.id),
            "{name}: counters are updated"
        );
        // Least privilege: the function that reads every recorded event may only update
        // counter items, never put, delete or touch an event or a recipient's state.
        let counter_statements: Vec<&Value> = statements
            .iter()
            .filter(|st| st["Effect"] == "Allow" && allows(st, "dynamodb:UpdateItem"))
            .collect();
        assert!(
            counter_statements.iter().all(|st| {
                st["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
                    == serde_json::json!(["CNT#*"])
            }),
            "{name}: counter updates are limited to counter items: {counter_statements:?}"
        );
        for action in [
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
        ] {
            assert!(
                !may(action, &table.id),
                "{name}: the count function needs no {action}"
            );
        }
    }
}

/// The recipient index the adapter queries is the one the stack creates: same name, keys and
/// projection (a missing projected attribute would read back as a missing field).
#[test]
fn the_recipient_index_is_what_the_adapter_reads() {
    use ses_ledger_aws::dynamo::{RECIPIENT_INDEX, RECIPIENT_INDEX_PROJECTION};
    for (name, d) in all() {
        let table = d
            .of_kind("AWS::DynamoDB::Table")
            .next()
            .expect("the ledger table");
        let indexes = table.properties["GlobalSecondaryIndexes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(indexes.len(), 1, "{name}");
        let index = &indexes[0];
        assert_eq!(index["IndexName"], RECIPIENT_INDEX, "{name}");
        let keys: Vec<(String, String)> = index["KeySchema"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|k| {
                (
                    k["AttributeName"].as_str().unwrap_or_default().to_string(),
                    k["KeyType"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        assert_eq!(
            keys,
            vec![
                ("rcpt".to_string(), "HASH".to_string()),
                ("at".to_string(), "RANGE".to_string())
            ],
            "{name}"
        );
        assert_eq!(index["Projection"]["ProjectionType"], "INCLUDE", "{name}");
        let projected: BTreeSet<String> = strings(&index["Projection"]["NonKeyAttributes"])
            .into_iter()
            .collect();
        let wanted: BTreeSet<String> = RECIPIENT_INDEX_PROJECTION
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(projected, wanted, "{name}");
    }
}

/// CloudWatch Logs field indexes exist only in the Standard log class (PutIndexPolicy: "Only log
/// groups in the Standard log class support field index policies"), and they speed up only a
/// query that filters on the indexed field with `=` or `IN`.
#[test]
fn the_event_log_indexes_what_the_saved_queries_filter_on_and_only_in_the_standard_class() {
    for (name, d) in all() {
        let (class, fields) = event_log(&d);
        let queries: Vec<String> = d
            .of_kind("AWS::Logs::QueryDefinition")
            .map(|q| {
                q.properties["QueryString"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        if name.ends_with("alternative") {
            assert_eq!(class, "INFREQUENT_ACCESS", "{name}");
            assert!(
                fields.is_empty(),
                "{name}: indexes on an Infrequent Access group"
            );
            continue;
        }
        assert_eq!(class, "STANDARD", "{name}");
        assert_eq!(
            fields,
            ["event_id", "recipient", "ses_message_id", "event_type"],
            "{name}"
        );
        for field in ["recipient", "ses_message_id", "event_type"] {
            let uses = queries.iter().any(|q| {
                q.lines().any(|l| {
                    let l = l.trim_start_matches(['|', ' ']);
                    l.starts_with("filter ")
                        && (l.contains(&format!("{field} = "))
                            || l.contains(&format!("{field} in [")))
                })
            });
            assert!(
                uses,
                "{name}: no saved query filters on the indexed field {field}"
            );
        }
        // Every saved query over the event log that aggregates starts by narrowing on an index.
        for q in queries.iter().filter(|q| q.contains("| stats")) {
            assert!(
                q.trim_start().starts_with("filter event_type"),
                "{name}: an aggregate query that scans every event:\n{q}"
            );
        }
    }
}

/// A resource ARN as text: `Fn::Sub` strings as written, `Fn::Join` joined, `Ref`s as `${Name}`,
/// so SAM's `!Sub` and CDK's joins read alike.
fn arn_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(o) => {
            if let Some(Value::String(s)) = o.get("Fn::Sub") {
                s.clone()
            } else if let Some(Value::Array(parts)) = o.get("Fn::Join") {
                parts
                    .get(1)
                    .and_then(Value::as_array)
                    .map(|items| items.iter().map(arn_text).collect())
                    .unwrap_or_default()
            } else if let Some(Value::String(name)) = o.get("Ref") {
                format!("${{{name}}}")
            } else {
                value.to_string()
            }
        }
        other => other.to_string(),
    }
}

/// An alert for a tenant scope shows SES's status of that tenant (GetTenant, then
/// GetReputationEntity on the tenant's ARN): the alarm function may make both calls, on this
/// account's tenants in this region and on nothing else.
#[test]
fn the_alarm_may_read_the_status_of_this_account_s_tenants_and_nothing_more() {
    for (name, d) in all() {
        let alarm = d.function_by_description("Judges bounce and complaint rates");
        let role = d.role_of(alarm);
        let statements = d.role_statements(role);
        for action in ["ses:GetTenant", "ses:GetReputationEntity"] {
            let granting: Vec<&Value> = statements.iter().filter(|s| allows(s, action)).collect();
            assert!(!granting.is_empty(), "{name}: the alarm may not {action}");
            for statement in granting {
                let resources = match &statement["Resource"] {
                    Value::Array(list) => list.clone(),
                    one => vec![one.clone()],
                };
                for resource in resources {
                    let text = arn_text(&resource);
                    assert_eq!(
                        text, "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:tenant/*",
                        "{name}: {action} on {resource} reaches beyond this account's tenants"
                    );
                }
            }
        }
        // Nothing else of SES: the alarm sends no mail and changes no status.
        for action in [
            "ses:SendEmail",
            "ses:UpdateReputationEntityCustomerManagedStatus",
            "ses:PutSuppressedDestination",
        ] {
            assert!(
                !statements.iter().any(|s| allows(s, action)),
                "{name}: the alarm may {action}"
            );
        }
    }
}

/// The resources a statement names, as ARN text (`${PseudonymKeyParameter}` filled in, as
/// CloudFormation would).
fn statement_resources(statement: &Value) -> Vec<String> {
    let resources = match &statement["Resource"] {
        Value::Array(list) => list.clone(),
        one => vec![one.clone()],
    };
    resources
        .iter()
        .map(|r| arn_text(r).replace("${PseudonymKeyParameter}", PSEUDONYM_KEY_PARAMETER))
        .collect()
}

/// The Parameter Store actions that return a parameter's value, each authorised on its own
/// (ps-retrieval-authorization.html); GetParametersByPath against the path asked for.
const PARAMETER_READS: &[&str] = &[
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "ssm:GetParameterHistory",
];

/// AWS managed policies a role of the stack may carry: none reads a parameter or uses a key. Any
/// other policy the template names but does not hold counts as allowing everything.
const MANAGED_POLICIES_WITHOUT_KEY_ACCESS: &[&str] =
    &[":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"];

/// Whether `text` matches the IAM pattern `pattern`: `*` any run of characters, `?` any one.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether an Allow statement grants `action`: through `allows` (the action, `*`, a trailing
/// wildcard), and also as IAM reads it: action names in any case, `*` and `?` anywhere, and
/// `NotAction` granting whatever it does not name. A Deny grants nothing.
fn grants_action(statement: &Value, action: &str) -> bool {
    if statement["Effect"] != "Allow" {
        return false;
    }
    if allows(statement, action) {
        return true;
    }
    let action = action.to_ascii_lowercase();
    let named = |list: &Value| {
        strings(list)
            .iter()
            .any(|a| glob(&a.to_ascii_lowercase(), &action))
    };
    match (statement.get("Action"), statement.get("NotAction")) {
        (Some(list), _) => named(list),
        (None, Some(list)) => !named(list),
        (None, None) => false,
    }
}

/// Whether an Allow statement may grant some action of `service` (`ssm:*`, `*`, `s*:Get*`,
/// `NotAction`...).
fn may_use_service(statement: &Value, service: &str) -> bool {
    if statement["Effect"] != "Allow" {
        return false;
    }
    if statement.get("Action").is_none() && statement.get("NotAction").is_some() {
        return true;
    }
    strings(&statement["Action"]).iter().any(|a| {
        let a = a.to_ascii_lowercase();
        let prefix = a.split_once(':').map_or(a.as_str(), |(s, _)| s);
        glob(prefix, service)
    })
}

/// What a policy `Resource` entry can stand for, as an IAM pattern. Pseudo parameters, template
/// parameters and intrinsics that cannot be read here may be anything (`*`); `None` for the ARN
/// of a resource of this stack (`Ref`, `Fn::GetAtt`, `${Id}`, `${Id.Arn}`), which is never the
/// parameter or the key the operator brings.
fn resource_pattern(d: &Deployment, value: &Value) -> Option<String> {
    let ours = |id: &str| d.resources.contains_key(id.split('.').next().unwrap_or(id));
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) if o.len() == 1 => {
            let (function, args) = o.iter().next().expect("one key");
            match (function.as_str(), args) {
                ("Ref", Value::String(id)) | ("Fn::GetAtt", Value::String(id)) => {
                    (!ours(id)).then(|| "*".to_string())
                }
                ("Fn::GetAtt", Value::Array(parts)) => {
                    (!ours(parts.first().and_then(Value::as_str).unwrap_or_default()))
                        .then(|| "*".to_string())
                }
                ("Fn::Sub", Value::String(text)) => sub_pattern(d, text, &serde_json::Map::new()),
                ("Fn::Sub", Value::Array(args)) => sub_pattern(
                    d,
                    args.first().and_then(Value::as_str).unwrap_or("*"),
                    &args
                        .get(1)
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default(),
                ),
                ("Fn::Join", Value::Array(args)) => {
                    match (args.first().and_then(Value::as_str), args.get(1)) {
                        (Some(separator), Some(Value::Array(parts))) => Some(
                            parts
                                .iter()
                                .map(|p| resource_pattern(d, p))
                                .collect::<Option<Vec<String>>>()?
                                .join(separator),
                        ),
                        _ => Some("*".to_string()),
                    }
                }
                _ => Some("*".to_string()),
            }
        }
        _ => Some("*".to_string()),
    }
}

/// `Fn::Sub`'s text as a pattern: each `${Name}` the value it is given, or what `Name` can be.
fn sub_pattern(
    d: &Deployment,
    text: &str,
    variables: &serde_json::Map<String, Value>,
) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let name = &after[..end];
        if let Some(literal) = name.strip_prefix('!') {
            out.push_str(&format!("${{{literal}}}"));
        } else if let Some(value) = variables.get(name) {
            out.push_str(&resource_pattern(d, value)?);
        } else if d
            .resources
            .contains_key(name.split('.').next().unwrap_or(name))
        {
            return None;
        } else {
            out.push('*');
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Whether a statement's resources cover any of `arns` (a missing `Resource` covers everything,
/// a `NotResource` whatever it does not name).
fn covers(d: &Deployment, statement: &Value, arns: &[String]) -> bool {
    let entries = |v: &Value| match v {
        Value::Array(list) => list.clone(),
        one => vec![one.clone()],
    };
    let matches = |list: &Value, arn: &str| {
        entries(list)
            .iter()
            .filter_map(|r| resource_pattern(d, r))
            .any(|p| glob(&p, arn))
    };
    arns.iter().any(
        |arn| match (statement.get("Resource"), statement.get("NotResource")) {
            (Some(list), _) => matches(list, arn),
            (None, Some(list)) => !matches(list, arn),
            (None, None) => true,
        },
    )
}

/// Every statement that applies to `role`: its inline policies, the AWS::IAM::Policy,
/// AWS::IAM::RolePolicy and AWS::IAM::ManagedPolicy resources attached to it, and the managed
/// policies it names (one the template does not hold, and not known to be harmless, as an
/// Allow of everything).
fn every_role_statement(d: &Deployment, role: &Resource) -> Vec<Value> {
    let mut out = d.role_statements(role);
    let names_role = |r: &Value| reference(r).as_deref() == Some(role.id.as_str());
    for policy in d.of_kind("AWS::IAM::ManagedPolicy") {
        let attached = policy
            .prop("Roles")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(names_role);
        if attached {
            out.extend(statements(policy.prop("PolicyDocument")));
        }
    }
    for policy in d.of_kind("AWS::IAM::RolePolicy") {
        if policy.prop("RoleName").is_some_and(names_role) {
            out.extend(statements(policy.prop("PolicyDocument")));
        }
    }
    for arn in role
        .prop("ManagedPolicyArns")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match d.target(arn) {
            Some(policy) if policy.kind == "AWS::IAM::ManagedPolicy" => {
                for statement in statements(policy.prop("PolicyDocument")) {
                    if !out.contains(&statement) {
                        out.push(statement);
                    }
                }
            }
            _ => {
                let text = arn_text(arn);
                if !MANAGED_POLICIES_WITHOUT_KEY_ACCESS
                    .iter()
                    .any(|known| text.ends_with(known))
                {
                    out.push(serde_json::json!({
                        "Sid": format!("managed policy {text}, unread"),
                        "Effect": "Allow",
                        "Action": "*",
                        "Resource": "*",
                    }));
                }
            }
        }
    }
    out
}

/// The ARNs under which the pseudonymisation key's parameter can be read with `action`: its own,
/// and for GetParametersByPath every path above it.
fn parameter_arns(action: &str) -> Vec<String> {
    let prefix = "arn:aws:ssm:us-east-1:123456789012:parameter";
    let mut arns = vec![format!("{prefix}{PSEUDONYM_KEY_PARAMETER}")];
    if action == "ssm:GetParametersByPath" {
        let mut path = PSEUDONYM_KEY_PARAMETER;
        while let Some((parent, _)) = path.rsplit_once('/') {
            arns.push(format!("{prefix}{parent}"));
            arns.push(format!("{prefix}{parent}/"));
            path = parent;
        }
    }
    arns
}

/// Every (role, statement) of `d` that lets a role read the pseudonymisation key: a Parameter
/// Store read of its parameter, or kms:Decrypt with the KMS key it is encrypted under.
fn pseudonym_key_grants(d: &Deployment) -> Vec<(String, Value)> {
    let key = [PSEUDONYM_KEY_KMS_KEY.to_string()];
    let mut out = Vec::new();
    for role in d.of_kind("AWS::IAM::Role") {
        for statement in every_role_statement(d, role) {
            let reads_parameter = PARAMETER_READS.iter().any(|action| {
                grants_action(&statement, action) && covers(d, &statement, &parameter_arns(action))
            });
            let decrypts = grants_action(&statement, "kms:Decrypt") && covers(d, &statement, &key);
            if reads_parameter || decrypts {
                out.push((role.id.clone(), statement));
            }
        }
    }
    out
}

/// The grants the rule forbids: every one to a role other than `reader`, the one role that may
/// read the key (none when no key is named).
fn pseudonym_key_offenders(d: &Deployment, reader: Option<&str>) -> Vec<(String, Value)> {
    pseudonym_key_grants(d)
        .into_iter()
        .filter(|(role, _)| Some(role.as_str()) != reader)
        .collect()
}

/// The pseudonymisation key (docs/privacy.md). With a key named, the ingest function is told its
/// parameter, may read that one parameter (GetParameter on its ARN, nothing else of Parameter
/// Store), and may decrypt with the named KMS key only through Parameter Store. Without one, it
/// is told nothing and may read nothing. No other role of the stack, a function's or not, may
/// ever read the key.
#[test]
fn only_the_ingest_function_reads_the_pseudonymisation_key_and_only_that_one() {
    let parameter_arn = format!(
        "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{PSEUDONYM_KEY_PARAMETER}"
    );
    for (name, d) in all() {
        let keyed = name.ends_with("alternative");
        let ingest = d.function_by_description("Normalises");
        let reader = d.role_of(ingest);
        assert!(
            d.of_kind("AWS::IAM::Role").count() >= 4,
            "{name}: the three function roles and the schedule's"
        );
        let offenders = pseudonym_key_offenders(&d, keyed.then_some(reader.id.as_str()));
        assert!(
            offenders.is_empty(),
            "{name}: roles that may read the pseudonymisation key: {offenders:#?}"
        );
        for function in d.functions() {
            let told = function.properties["Environment"]["Variables"]
                .get("SES_LEDGER_PSEUDONYM_KEY_PARAMETER")
                .and_then(Value::as_str);
            let expected = (keyed && function.id == ingest.id).then_some(PSEUDONYM_KEY_PARAMETER);
            assert_eq!(told, expected, "{name}: {} and the key", function.id);
        }
        if !keyed {
            continue;
        }
        let statements = every_role_statement(&d, reader);
        let ssm: Vec<&Value> = statements
            .iter()
            .filter(|s| may_use_service(s, "ssm"))
            .collect();
        assert_eq!(ssm.len(), 1, "{name}: one Parameter Store statement");
        assert_eq!(strings(&ssm[0]["Action"]), ["ssm:GetParameter"], "{name}");
        assert_eq!(
            statement_resources(ssm[0]),
            [parameter_arn.as_str()],
            "{name}"
        );
        let grants: Vec<Value> = pseudonym_key_grants(&d)
            .into_iter()
            .filter(|(role, _)| *role == reader.id)
            .map(|(_, s)| s)
            .collect();
        assert_eq!(
            grants.len(),
            2,
            "{name}: the parameter and the key: {grants:#?}"
        );
        let decrypts_the_key: Vec<&Value> = grants
            .iter()
            .filter(|s| grants_action(s, "kms:Decrypt"))
            .collect();
        assert_eq!(decrypts_the_key.len(), 1, "{name}: may decrypt the key");
        assert_eq!(
            statement_resources(decrypts_the_key[0]),
            [PSEUDONYM_KEY_KMS_KEY],
            "{name}"
        );
        let via = &decrypts_the_key[0]["Condition"]["StringEquals"]["kms:ViaService"];
        assert_eq!(
            arn_text(via),
            "ssm.${AWS::Region}.amazonaws.com",
            "{name}: decrypts only through Parameter Store"
        );
    }
}

/// The rule above, on a stack written here: it passes the grant the ingest function is given and
/// catches a wildcard action, a wildcard resource, another role, a policy attached from outside
/// the role; it ignores a Deny and a grant on something else.
#[test]
fn the_pseudonymisation_key_rule_catches_wildcards_and_other_roles() {
    use serde_json::json;
    let role = |policies: Value| {
        json!({ "Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {},
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
            "Policies": [{ "PolicyName": "P", "PolicyDocument": { "Statement": policies } }],
        }})
    };
    let base = json!({ "Resources": {
        "IngestFunctionRole": role(json!([
            {
                "Sid": "ReadThePseudonymKey",
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": { "Fn::Join": ["", [
                    "arn:", { "Ref": "AWS::Partition" }, ":ssm:", { "Ref": "AWS::Region" }, ":",
                    { "Ref": "AWS::AccountId" }, ":parameter/ses-ledger/pseudonym-key",
                ]]},
            },
            {
                "Sid": "DecryptThePseudonymKey",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": PSEUDONYM_KEY_KMS_KEY,
                "Condition": { "StringEquals": {
                    "kms:ViaService": { "Fn::Sub": "ssm.${AWS::Region}.amazonaws.com" },
                }},
            },
        ])),
        "CountFunctionRole": role(json!([
            { "Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": { "Fn::GetAtt": ["Table", "Arn"] } },
        ])),
        "AlarmFunctionRole": role(json!([
            { "Effect": "Allow", "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": { "Fn::GetAtt": ["TopicKey", "Arn"] } },
            { "Effect": "Allow", "Action": "cloudwatch:GetMetricData", "Resource": "*" },
        ])),
        "AlarmFunctionScheduleRole": { "Type": "AWS::IAM::Role", "Properties": {
            "Policies": [{ "PolicyName": "P", "PolicyDocument": { "Statement": [
                { "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": { "Fn::GetAtt": ["AlarmFunction", "Arn"] } },
            ]}}],
        }},
        "Table": { "Type": "AWS::DynamoDB::Table", "Properties": {} },
        "TopicKey": { "Type": "AWS::KMS::Key", "Properties": {} },
        "AlarmFunction": { "Type": "AWS::Lambda::Function", "Properties": {} },
    }});
    let with = |role: &str, statement: Value| {
        let mut t = base.clone();
        t["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array_mut()
            .expect("statements")
            .push(statement);
        t
    };
    let with_resource = |id: &str, resource: Value| {
        let mut t = base.clone();
        t["Resources"][id] = resource;
        t
    };
    let offenders = |template: &Value| -> Vec<String> {
        let d = Deployment::resolve(template, &[], "inline");
        pseudonym_key_offenders(&d, Some("IngestFunctionRole"))
            .into_iter()
            .map(|(role, _)| role)
            .collect()
    };

    // The grant the ingest function is given passes; it is the only one, and without a key named
    // it offends too.
    let d = Deployment::resolve(&base, &[], "inline");
    assert_eq!(offenders(&base), Vec::<String>::new());
    assert_eq!(pseudonym_key_grants(&d).len(), 2);
    assert_eq!(pseudonym_key_offenders(&d, None).len(), 2);

    let parameter_wildcard = "arn:aws:ssm:us-east-1:123456789012:parameter/*";
    let caught = [
        // (a) any action on anything.
        (
            "Action *",
            with(
                "CountFunctionRole",
                json!({ "Effect": "Allow", "Action": "*", "Resource": "*" }),
            ),
            "CountFunctionRole",
        ),
        (
            "ssm:*",
            with(
                "CountFunctionRole",
                json!({ "Effect": "Allow", "Action": "ssm:*", "Resource": parameter_wildcard }),
            ),
            "CountFunctionRole",
        ),
        (
            "ssm:Get*",
            with(
                "AlarmFunctionRole",
                json!({ "Effect": "Allow", "Action": ["ssm:Get*"], "Resource": parameter_wildcard }),
            ),
            "AlarmFunctionRole",
        ),
        (
            "a wildcard inside the action, in another case",
            with(
                "AlarmFunctionRole",
                json!({ "Effect": "Allow", "Action": "SSM:Get?arameter*", "Resource": parameter_wildcard }),
            ),
            "AlarmFunctionRole",
        ),
        (
            "NotAction",
            with(
                "AlarmFunctionRole",
                json!({ "Effect": "Allow", "NotAction": "iam:*", "Resource": "*" }),
            ),
            "AlarmFunctionRole",
        ),
        (
            "GetParametersByPath on a path above the parameter",
            with(
                "CountFunctionRole",
                json!({ "Effect": "Allow", "Action": "ssm:GetParametersByPath", "Resource": {
                    "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/ses-ledger",
                }}),
            ),
            "CountFunctionRole",
        ),
        (
            "GetParameterHistory",
            with(
                "CountFunctionRole",
                json!({ "Effect": "Allow", "Action": "ssm:GetParameterHistory", "Resource": parameter_wildcard }),
            ),
            "CountFunctionRole",
        ),
        // (b) decrypt with every key of the account.
        (
            "kms:Decrypt on key/*",
            with(
                "AlarmFunctionRole",
                json!({ "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "arn:aws:kms:us-east-1:123456789012:key/*" }),
            ),
            "AlarmFunctionRole",
        ),
        (
            "kms:Decrypt on key/* through Fn::Sub",
            with(
                "AlarmFunctionRole",
                json!({ "Effect": "Allow", "Action": "kms:Decrypt", "Resource": {
                    "Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*",
                }}),
            ),
            "AlarmFunctionRole",
        ),
        (
            "kms:Decrypt on key/* through Fn::Join",
            with(
                "CountFunctionRole",
                json!({ "Effect": "Allow", "Action": "kms:*", "Resource": { "Fn::Join": ["", [
                    "arn:", { "Ref": "AWS::Partition" }, ":kms:", { "Ref": "AWS::Region" }, ":",
                    { "Ref": "AWS::AccountId" }, ":key/*",
                ]]}}),
            ),
            "CountFunctionRole",
        ),
        (
            "NotResource",
            with(
                "CountFunctionRole",
                json!({ "Effect": "Allow", "Action": "kms:Decrypt", "NotResource": { "Fn::GetAtt": ["TopicKey", "Arn"] } }),
            ),
            "CountFunctionRole",
        ),
        // (c) a role that runs no function.
        (
            "the schedule role reads any parameter",
            with(
                "AlarmFunctionScheduleRole",
                json!({ "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*" }),
            ),
            "AlarmFunctionScheduleRole",
        ),
        (
            "an AWS::IAM::Policy on the schedule role",
            with_resource(
                "Extra",
                json!({ "Type": "AWS::IAM::Policy", "Properties": {
                    "Roles": [{ "Ref": "AlarmFunctionScheduleRole" }],
                    "PolicyDocument": { "Statement": [
                        { "Effect": "Allow", "Action": "ssm:GetParameters", "Resource": "*" },
                    ]},
                }}),
            ),
            "AlarmFunctionScheduleRole",
        ),
        (
            "an AWS::IAM::ManagedPolicy on the count role",
            with_resource(
                "Extra",
                json!({ "Type": "AWS::IAM::ManagedPolicy", "Properties": {
                    "Roles": [{ "Ref": "CountFunctionRole" }],
                    "PolicyDocument": { "Statement": [
                        { "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*" },
                    ]},
                }}),
            ),
            "CountFunctionRole",
        ),
        (
            "a role of no function at all",
            with_resource(
                "Extra",
                role(json!([
                    { "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*" },
                ])),
            ),
            "Extra",
        ),
        (
            "an AWS managed policy the template does not hold",
            {
                let mut t = base.clone();
                t["Resources"]["AlarmFunctionRole"]["Properties"]["ManagedPolicyArns"]
                    .as_array_mut()
                    .expect("managed policies")
                    .push(json!("arn:aws:iam::aws:policy/AdministratorAccess"));
                t
            },
            "AlarmFunctionRole",
        ),
    ];
    for (label, template, role) in caught {
        assert_eq!(offenders(&template), [role], "{label}");
    }

    let passed = [
        (
            "a Deny",
            with(
                "CountFunctionRole",
                json!({ "Effect": "Deny", "Action": "*", "Resource": "*" }),
            ),
        ),
        (
            "another key",
            with(
                "CountFunctionRole",
                json!({ "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "arn:aws:kms:us-east-1:123456789012:key/another" }),
            ),
        ),
        (
            "other parameters",
            with(
                "CountFunctionRole",
                json!({ "Effect": "Allow", "Action": "ssm:GetParameter*", "Resource": "arn:aws:ssm:us-east-1:123456789012:parameter/other/*" }),
            ),
        ),
        (
            "other SSM actions",
            with(
                "CountFunctionRole",
                json!({ "Effect": "Allow", "Action": "ssm:PutParameter", "Resource": "*" }),
            ),
        ),
    ];
    for (label, template) in passed {
        assert_eq!(offenders(&template), Vec::<String>::new(), "{label}");
    }
}
