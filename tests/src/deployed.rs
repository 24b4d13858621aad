//! A ses-ledger stack deployed to the local stack, so `--stack` and `doctor` read real outputs
//! through the real `DescribeStacks`: the SAM expansion (written by scripts/lint-template.sh)
//! created in moto's CloudFormation. What moto does with it, measured with moto 5.2.5 and said in
//! docs/testing.md:
//!
//! - it creates the topics, the KMS key, the queues, the log groups, the functions (from a
//!   placeholder: `Code` is replaced by an inline stub, as no function runs from it; and each
//!   variable that is not text is joined into text, as CloudFormation passes it, where moto
//!   would keep a number no SDK reads back), their roles, the dashboard, and a DynamoDB table in
//!   moto's DynamoDB; the event source mappings are left out of the template, because moto's SQS
//!   hands a mapped queue's messages to moto's Lambda, which cannot run them and loses them;
//! - it marks the rest complete without creating it: alarms, schedules, SNS subscriptions, topic
//!   and queue policies, saved queries, the SES configuration set and its event destination.
//!
//! So the ledger table is created again in DynamoDB Local under the name moto gave it (the
//! outputs name it), and [`Pipeline`] does what the skipped subscription and the event source
//! mappings would: it subscribes the ingest queue to the event topic, then hands the queue's
//! messages to the real ingest binary and the table's stream to the real count binary, each run
//! with the environment the stack gave the function (read back with Lambda's GetFunction).

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use serde_json::{json, Value};

use crate::runtime_api::{built_binary, LocalFunction};

/// An AWS account of the test's own on the local stack: moto links the credentials STS's
/// AssumeRole returns to the role's account, and DynamoDB Local keeps a database per access key,
/// so what one test (or an earlier run against the same servers) left is invisible to it,
/// account-wide metrics included.
pub struct Account {
    pub id: String,
    pub aws: SdkConfig,
    /// The credentials as variables, for the processes the test starts.
    pub env: Vec<(String, String)>,
}

impl Account {
    pub async fn fresh(aws: &SdkConfig) -> Account {
        let id = format!("{:012}", uuid::Uuid::new_v4().as_u128() % 1_000_000_000_000);
        let out = aws_sdk_sts::Client::new(aws)
            .assume_role()
            .role_arn(format!("arn:aws:iam::{id}:role/ses-ledger-test"))
            .role_session_name("ses-ledger-test")
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "AssumeRole: {}",
                    aws_sdk_sts::error::DisplayErrorContext(&e)
                )
            });
        let c = out.credentials().expect("credentials");
        let credentials = aws_sdk_sts::config::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "moto-assume-role",
        );
        let env = vec![
            (
                "AWS_ACCESS_KEY_ID".to_string(),
                c.access_key_id().to_string(),
            ),
            (
                "AWS_SECRET_ACCESS_KEY".to_string(),
                c.secret_access_key().to_string(),
            ),
            (
                "AWS_SESSION_TOKEN".to_string(),
                c.session_token().to_string(),
            ),
        ];
        let aws = aws
            .to_builder()
            .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
                credentials,
            ))
            .build();
        Account { id, aws, env }
    }
}

pub struct DeployedStack {
    pub name: String,
    pub outputs: BTreeMap<String, String>,
}

impl DeployedStack {
    pub fn output(&self, key: &str) -> &str {
        self.outputs.get(key).unwrap_or_else(|| {
            panic!(
                "stack {} has no output {key}: {:?}",
                self.name,
                self.outputs.keys()
            )
        })
    }
}

/// Creates a stack named `<prefix>-<8 hex>` from the SAM expansion with `parameters` (the rest
/// take their defaults), and the ledger table it names in DynamoDB Local.
pub async fn deploy(aws: &SdkConfig, prefix: &str, parameters: &[(&str, &str)]) -> DeployedStack {
    let path = crate::template::sam_expansion();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; scripts/test.sh writes it", path.display()));
    let mut template: Value = serde_json::from_str(&text).expect("the SAM expansion is JSON");
    let numbers: std::collections::BTreeSet<String> = template["Parameters"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, p)| p["Type"] == "Number")
        .map(|(name, _)| name.clone())
        .collect();
    // moto's SQS hands a mapped queue's messages to moto's Lambda, which cannot run them (it
    // needs Docker) and loses them: the mappings are left out, and `Pipeline` does their work.
    template["Resources"]
        .as_object_mut()
        .expect("resources")
        .retain(|_, r| r["Type"] != "AWS::Lambda::EventSourceMapping");
    for resource in template["Resources"]
        .as_object_mut()
        .expect("resources")
        .values_mut()
    {
        if resource["Type"] == "AWS::Lambda::Function" {
            // `sam package` would upload the code; moto needs some and runs none of it.
            resource["Properties"]["Code"] =
                json!({ "ZipFile": "not run: the tests run the workspace's binaries" });
            // CloudFormation hands Lambda every variable as a string; moto keeps a Number
            // parameter's value a JSON number, which no SDK reads back. A join of one part is
            // the same string in both.
            if let Some(variables) =
                resource["Properties"]["Environment"]["Variables"].as_object_mut()
            {
                for value in variables.values_mut() {
                    let parameter = value["Ref"].as_str().unwrap_or_default();
                    if numbers.contains(parameter) {
                        *value = json!({ "Fn::Join": ["", [value.clone()]] });
                    }
                }
            }
        }
    }
    let name = format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let cfn = aws_sdk_cloudformation::Client::new(aws);
    use aws_sdk_cloudformation::types::{Capability, Parameter};
    cfn.create_stack()
        .stack_name(&name)
        .template_body(template.to_string())
        .capabilities(Capability::CapabilityIam)
        .set_parameters(Some(
            parameters
                .iter()
                .map(|(k, v)| {
                    Parameter::builder()
                        .parameter_key(*k)
                        .parameter_value(*v)
                        .build()
                })
                .collect(),
        ))
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "CreateStack {name}: {}",
                aws_sdk_cloudformation::error::DisplayErrorContext(&e)
            )
        });
    let mut outputs = BTreeMap::new();
    for _ in 0..100 {
        let stack = cfn
            .describe_stacks()
            .stack_name(&name)
            .send()
            .await
            .expect("DescribeStacks")
            .stacks()
            .first()
            .cloned()
            .expect("the stack");
        let status = stack
            .stack_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        if status == "CREATE_COMPLETE" {
            outputs = stack
                .outputs()
                .iter()
                .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
                .collect();
            break;
        }
        assert!(
            status.ends_with("IN_PROGRESS"),
            "stack {name}: {status} {:?}",
            stack.stack_status_reason()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let stack = DeployedStack { name, outputs };
    ses_ledger_aws::dynamo::create_table_with_stream(
        &aws_sdk_dynamodb::Client::new(aws),
        stack.output("LedgerTableName"),
    )
    .await
    .expect("the ledger table in DynamoDB Local");
    stack
}

/// A function's environment variables as the stack set them (moto's Lambda resolved the
/// template's references), as strings.
pub async fn function_environment(aws: &SdkConfig, function: &str) -> BTreeMap<String, String> {
    let out = aws_sdk_lambda::Client::new(aws)
        .get_function()
        .function_name(function)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "GetFunction {function}: {}",
                aws_sdk_lambda::error::DisplayErrorContext(&e)
            )
        });
    out.configuration()
        .and_then(|c| c.environment())
        .and_then(|e| e.variables())
        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// The delivery path of a deployed stack on the local stack: SES event topic -> ingest queue
/// (moto) -> the ingest binary -> DynamoDB Local and moto's Logs -> the table's stream -> the
/// count binary. [`Pipeline::pump`] moves what is waiting one hop further each call.
pub struct Pipeline {
    aws: SdkConfig,
    queue_url: String,
    table: String,
    ingest: LocalFunction,
    count: LocalFunction,
    /// Ingest invocations, and their batch item failures.
    pub ingested: usize,
    pub failures: usize,
}

impl Pipeline {
    /// The functions run with the stack's variables and `credentials` (an [`Account`]'s).
    pub async fn start(
        aws: &SdkConfig,
        credentials: &[(String, String)],
        stack: &DeployedStack,
    ) -> Pipeline {
        let with = |mut env: BTreeMap<String, String>| {
            env.extend(credentials.iter().cloned());
            env
        };
        let sqs = aws_sdk_sqs::Client::new(aws);
        let queue_url = stack.output("IngestQueueUrl").to_string();
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("GetQueueAttributes")
            .attributes()
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .cloned()
            })
            .expect("the queue's ARN");
        // The template's IngestQueueSubscription, which moto's CloudFormation skips.
        aws_sdk_sns::Client::new(aws)
            .subscribe()
            .topic_arn(stack.output("SesEventTopicArn"))
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .expect("Subscribe the ingest queue");
        let ingest_name = stack.output("IngestFunctionName");
        let count_name = stack.output("CountFunctionName");
        let ingest_env = function_environment(aws, ingest_name).await;
        let count_env = function_environment(aws, count_name).await;
        Pipeline {
            aws: aws.clone(),
            queue_url,
            table: stack.output("LedgerTableName").to_string(),
            ingest: LocalFunction::start(ingest_name, built_binary("ingest"), &with(ingest_env))
                .await,
            count: LocalFunction::start(count_name, built_binary("count"), &with(count_env)).await,
            ingested: 0,
            failures: 0,
        }
    }

    /// One pass: every message waiting in the ingest queue to the ingest function (batches of
    /// ten, deleted when taken, as the event source mapping does), then the whole stream to the
    /// count function (from its start: records already counted add nothing).
    pub async fn pump(&mut self) {
        let sqs = aws_sdk_sqs::Client::new(&self.aws);
        loop {
            let got = sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("ReceiveMessage");
            let messages = got.messages();
            if messages.is_empty() {
                break;
            }
            let records: Vec<Value> = messages
                .iter()
                .map(|m| {
                    json!({
                        "messageId": m.message_id(),
                        "receiptHandle": m.receipt_handle(),
                        "body": m.body(),
                        "attributes": {},
                        "messageAttributes": {},
                        "md5OfBody": m.md5_of_body(),
                        "eventSource": "aws:sqs",
                        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingest",
                        "awsRegion": "us-east-1"
                    })
                })
                .collect();
            let answer = self
                .ingest
                .invoke(json!({ "Records": records }))
                .await
                .unwrap_or_else(|e| panic!("ingest failed: {e}"));
            self.ingested += 1;
            let failed: Vec<&str> = answer["batchItemFailures"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["itemIdentifier"].as_str())
                .collect();
            self.failures += failed.len();
            for m in messages {
                if !failed.contains(&m.message_id().unwrap_or_default()) {
                    sqs.delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(m.receipt_handle().unwrap_or_default())
                        .send()
                        .await
                        .expect("DeleteMessage");
                }
            }
        }
        for (shard, batches) in crate::stream_batches(&self.aws, &self.table).await {
            let closing = std::iter::once((Vec::new(), true));
            for (records, closes) in batches.into_iter().map(|b| (b, false)).chain(closing) {
                let event = json!({
                    "Records": records,
                    "shardId": shard,
                    "state": {},
                    "isFinalInvokeForWindow": closes,
                    "isWindowTerminatedEarly": false,
                });
                self.count
                    .invoke(event)
                    .await
                    .unwrap_or_else(|e| panic!("count failed: {e}"));
            }
        }
    }
}
