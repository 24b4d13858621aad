//! `--stack` and `doctor` against a stack deployed to the local stack: the SAM expansion created
//! in moto's CloudFormation (tests/src/deployed.rs), so outputs come through the real
//! `DescribeStacks`; the functions, queues and topics it made are moto's; SES v2 is the loopback
//! stand-in (configuration sets, identities, SendEmail to the simulator publishing to moto's SNS),
//! SES classic's identity notifications are moto's, saved queries sit in a proxy in front of
//! moto's Logs. The canary's path after SES is real: SNS -> SQS (moto) -> the ingest binary ->
//! DynamoDB Local and moto's Logs -> the table's stream -> the count binary.

// Needs the local stack that scripts/test.sh starts.
#![cfg(feature = "local-stack")]

mod common;

use std::collections::BTreeMap;
use std::process::Output;
use std::time::Duration;

use aws_config::SdkConfig;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use ses_ledger_integration_tests::deployed::{deploy, Account, DeployedStack, Pipeline};
use ses_ledger_integration_tests::logs_proxy::LogsProxy;
use ses_ledger_integration_tests::ses_v2::SesV2Stub;
use ses_ledger_integration_tests::template::{sam_expansion, Deployment};
use ses_ledger_integration_tests::*;

use common::{cli, stdout};

/// Every event type SES v2 can publish, as a destination that takes all of them lists them.
const ALL_TYPES: [&str; 10] = [
    "SEND",
    "REJECT",
    "BOUNCE",
    "COMPLAINT",
    "DELIVERY",
    "OPEN",
    "CLICK",
    "RENDERING_FAILURE",
    "DELIVERY_DELAY",
    "SUBSCRIPTION",
];

/// A deployed stack with SES pointed at it as a careful operator would: a configuration set
/// publishing every event type to the stack's topic, the default of a verified domain; a second
/// domain with identity notifications to the topic instead; the stack's saved queries; a
/// confirmed subscription on the alert topic.
struct Scene {
    account: Account,
    aws: SdkConfig,
    stack: DeployedStack,
    ses: SesV2Stub,
    logs: LogsProxy,
}

impl Scene {
    async fn new(prefix: &str) -> Scene {
        let account = Account::fresh(&local_aws().await).await;
        let aws = account.aws.clone();
        let stack = deploy(&aws, prefix, &[]).await;
        let ses = SesV2Stub::start(100, &[]).await;
        ses.publish_with(aws_sdk_sns::Client::new(&aws));
        let topic = stack.output("SesEventTopicArn").to_string();
        ses.add_configuration_set(
            "ledger",
            vec![
                json!({"Name": "to-ses-ledger", "Enabled": true, "MatchingEventTypes": ALL_TYPES,
                        "SnsDestination": {"TopicArn": topic}}),
            ],
        );
        ses.add_identity("example.com", "DOMAIN", Some("ledger"));
        ses.add_identity("notify.example", "DOMAIN", None);
        // moto 5.2.5 answers GetIdentityNotificationAttributes without the topics: the
        // stand-in serves SES classic's notifications too.
        ses.set_notifications(
            "notify.example",
            [Some(&topic), Some(&topic), Some(&topic)],
            true,
        );
        let moto = std::env::var("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS").expect("moto's Logs");
        let logs = LogsProxy::start(&moto).await;
        let group = stack.output("EventLogGroupName").to_string();
        for (name, query) in shipped_queries() {
            logs.put_query_definition(
                &format!("ses-ledger/{}/{name}", stack.name),
                &query,
                std::slice::from_ref(&group),
            );
        }
        // The alarm ran ten minutes ago without an error.
        let alarm = stack.output("AlarmFunctionName").to_string();
        put_metric(
            &aws,
            "AWS/Lambda",
            "Invocations",
            Some(("FunctionName", &alarm)),
            1.0,
            Utc::now() - chrono::Duration::minutes(10),
        )
        .await;
        // A confirmed subscriber to the alerts (moto confirms SQS subscriptions at once).
        subscribe_queue(
            &aws,
            &account.id,
            stack.output("AlertTopicArn"),
            &format!("{}-alerts", stack.name),
        )
        .await;
        Scene {
            account,
            aws,
            stack,
            ses,
            logs,
        }
    }

    /// The CLI with this scene's SES and Logs endpoints; `args` name the stack themselves.
    async fn run(&self, args: &[&str]) -> Output {
        tokio::process::Command::new(cli())
            .envs(self.account.env.iter().cloned())
            .env("AWS_ENDPOINT_URL_SESV2", &self.ses.url)
            .env("AWS_ENDPOINT_URL_SES", &self.ses.url)
            .env("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", &self.logs.url)
            .env_remove("SES_LEDGER_TABLE")
            .env_remove("SES_LEDGER_EVENT_LOG_GROUP")
            .args(args)
            .output()
            .await
            .expect("run ses-ledger")
    }

    async fn doctor(&self, extra: &[&str]) -> (Output, Value) {
        let mut args = vec![
            "doctor",
            "--stack",
            &self.stack.name,
            "--output",
            "json",
            "--query-timeout",
            "20",
        ];
        args.extend_from_slice(extra);
        let out = self.run(&args).await;
        let text = stdout(&out);
        let report = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "doctor printed no JSON ({e}): {text}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out, report)
    }

    async fn put_metric(
        &self,
        namespace: &str,
        name: &str,
        dimension: Option<(&str, &str)>,
        value: f64,
        at: DateTime<Utc>,
    ) {
        put_metric(&self.aws, namespace, name, dimension, value, at).await
    }
}

/// A datapoint, as the service that owns the namespace would publish it.
async fn put_metric(
    aws: &SdkConfig,
    namespace: &str,
    name: &str,
    dimension: Option<(&str, &str)>,
    value: f64,
    at: DateTime<Utc>,
) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let mut datum = MetricDatum::builder()
        .metric_name(name)
        .value(value)
        .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
            at.timestamp(),
        ));
    if let Some((n, v)) = dimension {
        datum = datum.dimensions(Dimension::builder().name(n).value(v).build());
    }
    aws_sdk_cloudwatch::Client::new(aws)
        .put_metric_data()
        .namespace(namespace)
        .metric_data(datum.build())
        .send()
        .await
        .expect("PutMetricData");
}

/// The stack's saved queries as the SAM template defines them (their text with the default
/// parameters), by the last part of their name.
fn shipped_queries() -> Vec<(String, String)> {
    let d = Deployment::load(&sam_expansion(), &[]);
    let queries: Vec<(String, String)> = d
        .of_kind("AWS::Logs::QueryDefinition")
        .map(|q| {
            // `!Sub ses-ledger/${AWS::StackName}/NAME`: the part after the stack.
            let name = q
                .prop("Name")
                .and_then(|n| n.as_str().or_else(|| n["Fn::Sub"].as_str()))
                .unwrap_or_default();
            let short = name.rsplit('/').next().unwrap_or(name).to_string();
            let text = q
                .prop("QueryString")
                .and_then(Value::as_str)
                .expect("query text");
            (short, text.trim().to_string())
        })
        .collect();
    assert!(
        queries.len() >= 5,
        "the template saves its queries: {queries:?}"
    );
    assert!(
        queries
            .iter()
            .all(|(name, _)| !name.is_empty() && !name.contains('$')),
        "{queries:?}"
    );
    queries
}

async fn subscribe_queue(aws: &SdkConfig, account: &str, topic: &str, queue: &str) {
    let queue: String = queue
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    aws_sdk_sqs::Client::new(aws)
        .create_queue()
        .queue_name(&queue)
        .send()
        .await
        .expect("CreateQueue");
    aws_sdk_sns::Client::new(aws)
        .subscribe()
        .topic_arn(topic)
        .protocol("sqs")
        .endpoint(format!("arn:aws:sqs:us-east-1:{account}:{queue}"))
        .send()
        .await
        .expect("Subscribe");
}

fn checks(report: &Value) -> Vec<Value> {
    report["checks"].as_array().cloned().unwrap_or_default()
}

/// The one check whose subject is `subject` (panics listing them all otherwise).
fn check<'a>(all: &'a [Value], subject: &str) -> &'a Value {
    let found: Vec<&Value> = all.iter().filter(|c| c["subject"] == subject).collect();
    assert_eq!(found.len(), 1, "one check `{subject}` among {all:#?}");
    found[0]
}

fn status(all: &[Value], subject: &str) -> String {
    check(all, subject)["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// SES JSON for the healthy scene: sends, deliveries and a hard bounce, three hours ago, from
/// the domain whose default configuration set publishes to the stack.
fn traffic(at: &str) -> Vec<Value> {
    let mut docs = Vec::new();
    for i in 0..6 {
        let id = format!("doctor-{i}");
        let to = format!("r{i}@gmail.com");
        let mut send = fixture("ses/event-publishing/send-record.json");
        send["mail"]["messageId"] = json!(id);
        send["mail"]["timestamp"] = json!(at);
        send["mail"]["destination"] = json!([to]);
        docs.push(send);
        docs.push(if i == 5 {
            bounce(&id, &to, "Permanent", at)
        } else {
            delivery(&id, &[&to], at)
        });
    }
    docs
}

#[tokio::test]
async fn doctor_passes_a_healthy_stack_and_names_each_planted_fault() {
    let scene = Scene::new("doctor").await;
    let now = Utc::now();
    let three_hours_ago = now - chrono::Duration::hours(3);
    let at = three_hours_ago.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    // The ledger's traffic, replayed through --stack, counted by the real count binary.
    let dir = common::scratch("doctor");
    let file = dir.join("traffic.jsonl");
    let docs = traffic(&at);
    std::fs::write(
        &file,
        docs.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .expect("write");
    let replayed = scene
        .run(&[
            "replay",
            "--quiet",
            "--stack",
            &scene.stack.name,
            file.to_str().unwrap_or_default(),
        ])
        .await;
    common::assert_ok(&replayed);
    let mut pipeline = Pipeline::start(&scene.aws, &scene.account.env, &scene.stack).await;
    pipeline.pump().await;
    // SES's own count, as it would publish it: the same sends, deliveries and bounce.
    let truth = truth::Truth::of(&docs, &["yahoo", "microsoft", "comcast"], &["tenant"]);
    let (sends, deliveries, bounces) = (
        truth.total("account", "sends"),
        truth.total("account", "deliveries"),
        truth.total("account", "hard_bounces") + truth.total("account", "other_bounces"),
    );
    assert_eq!(
        (sends, deliveries, bounces),
        (6, 5, 1),
        "the traffic as written"
    );
    for (name, value) in [
        ("Send", sends),
        ("Delivery", deliveries),
        ("Bounce", bounces),
    ] {
        scene
            .put_metric("AWS/SES", name, None, value as f64, three_hours_ago)
            .await;
    }

    let (out, report) = scene.doctor(&[]).await;
    let all = checks(&report);
    let failed: Vec<&Value> = all.iter().filter(|c| c["status"] == "fail").collect();
    assert!(
        failed.is_empty(),
        "a healthy stack fails nothing: {failed:#?}"
    );
    assert_eq!(out.status.code(), Some(0));
    for subject in [
        "outputs",
        "function IngestFunctionName",
        "function CountFunctionName",
        "function AlarmFunctionName",
        "ingest dead-letter queue",
        "count dead-letter queue",
        "alarm function's last successful run",
        "configuration set ledger",
        "identities",
        "alert topic subscriptions",
        "sends, last 24 hours",
        "deliveries, last 24 hours",
        "bounces, last 14 days",
    ] {
        assert_eq!(
            status(&all, subject),
            "pass",
            "{subject}: {:#?}",
            check(&all, subject)
        );
    }
    assert!(
        check(&all, "identities")["detail"]
            .as_str()
            .unwrap_or_default()
            .starts_with("2 of 2 verified identities publish to the stack: 1 by default configuration set, 1 by identity notifications"),
        "{:#?}",
        check(&all, "identities")
    );
    assert!(
        check(&all, "sends, last 24 hours")["detail"]
            .as_str()
            .unwrap_or_default()
            .starts_with("the ledger holds 100.0% of the sends SES counted (6 of 6)"),
        "{:#?}",
        check(&all, "sends, last 24 hours")
    );
    let queries: Vec<&Value> = all.iter().filter(|c| c["area"] == "queries").collect();
    assert_eq!(
        queries.len(),
        shipped_queries().len(),
        "every saved query ran: {queries:#?}"
    );
    assert!(
        queries.iter().all(|q| q["status"] == "pass"),
        "{queries:#?}"
    );
    assert_eq!(scene.logs.started().len(), shipped_queries().len());

    // The text form, for people: one line per check, and the counts.
    let text = scene
        .run(&[
            "doctor",
            "--stack",
            &scene.stack.name,
            "--query-timeout",
            "20",
        ])
        .await;
    println!("--- doctor, healthy ---\n{}", stdout(&text));
    assert!(
        stdout(&text).contains("PASS  stack    function IngestFunctionName: "),
        "{}",
        stdout(&text)
    );

    // Planted faults, each the way an operator gets it wrong.
    let topic = scene.stack.output("SesEventTopicArn").to_string();
    scene.ses.add_configuration_set(
        "no-complaints",
        vec![json!({"Name": "partial", "Enabled": true,
                    "MatchingEventTypes": ["SEND", "DELIVERY", "BOUNCE", "REJECT", "DELIVERY_DELAY"],
                    "SnsDestination": {"TopicArn": topic}})],
    );
    scene.ses.add_identity("silent.example", "DOMAIN", None);
    scene.logs.put_query_definition(
        &format!("ses-ledger/{}/edited-by-hand", scene.stack.name),
        "fields @timestamp, event_id | dedup event_id | sort @timestamp desc",
        &[scene.stack.output("EventLogGroupName").to_string()],
    );
    aws_sdk_sqs::Client::new(&scene.aws)
        .send_message()
        .queue_url(scene.stack.output("IngestDeadLetterQueueUrl"))
        .message_body(docs[0].to_string())
        .send()
        .await
        .expect("SendMessage");
    // SES counted six sends the ledger never saw.
    scene
        .put_metric("AWS/SES", "Send", None, 6.0, three_hours_ago)
        .await;

    let (out, report) = scene.doctor(&[]).await;
    let all = checks(&report);
    assert_eq!(out.status.code(), Some(1), "a failure exits 1");
    let partial = check(&all, "configuration set no-complaints");
    assert_eq!(partial["status"], "fail");
    assert!(
        partial["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("leaves out COMPLAINT"),
        "{partial:#?}"
    );
    let silent = check(&all, "identities with neither");
    assert_eq!(silent["status"], "warn");
    assert!(
        silent["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("silent.example"),
        "{silent:#?}"
    );
    let edited = check(&all, "query edited-by-hand");
    assert_eq!(edited["status"], "fail");
    assert!(
        edited["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("MalformedQueryException"),
        "AWS's own error is shown: {edited:#?}"
    );
    let dlq = check(&all, "ingest dead-letter queue");
    assert_eq!(dlq["status"], "fail");
    assert!(
        dlq["detail"]
            .as_str()
            .unwrap_or_default()
            .starts_with("1 message(s) waiting"),
        "{dlq:#?}"
    );
    let sends = check(&all, "sends, last 24 hours");
    assert_eq!(sends["status"], "fail");
    assert!(
        sends["detail"]
            .as_str()
            .unwrap_or_default()
            .starts_with("the ledger holds 50.0% of the sends SES counted (6 of 12)"),
        "{sends:#?}"
    );
    assert!(
        sends["fix"]
            .as_str()
            .unwrap_or_default()
            .starts_with("likely: "),
        "{sends:#?}"
    );
    assert_eq!(
        status(&all, "deliveries, last 24 hours"),
        "pass",
        "only sends fell short"
    );
    let text = scene
        .run(&[
            "doctor",
            "--stack",
            &scene.stack.name,
            "--query-timeout",
            "20",
        ])
        .await;
    println!("--- doctor, planted faults ---\n{}", stdout(&text));
}

#[tokio::test]
async fn doctor_fails_without_a_confirmed_alert_subscriber_or_a_recent_alarm_run() {
    let account = Account::fresh(&local_aws().await).await;
    let stack = deploy(&account.aws, "doctor-bare", &[]).await;
    let ses = SesV2Stub::start(100, &[]).await;
    let out = tokio::process::Command::new(cli())
        .envs(account.env.iter().cloned())
        .env("AWS_ENDPOINT_URL_SESV2", &ses.url)
        .args(["doctor", "--stack", &stack.name, "--output", "json"])
        .output()
        .await
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let all = checks(&report);
    let subs = check(&all, "alert topic subscriptions");
    assert_eq!(subs["status"], "fail");
    assert!(
        subs["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("no subscription"),
        "{subs:#?}"
    );
    assert_eq!(status(&all, "alarm function's last successful run"), "fail");
    // No configuration set, no identity: said, not failed (an account may send elsewhere).
    assert_eq!(status(&all, "configuration sets"), "warn");
    // moto's Logs has no saved queries and the stand-in is not in front of it here: said.
    assert!(all.iter().any(|c| c["area"] == "queries"), "{all:#?}");
}

/// The canary through a live pipeline: the stand-in SES publishes the simulator's events to the
/// stack's topic in moto; a pump hands the ingest queue to the ingest binary and the stream to
/// the count binary while doctor waits.
async fn run_canary(
    scene: &Scene,
    pipeline: &mut Pipeline,
    output: &str,
    extra: &[&str],
) -> Output {
    let mut args = vec![
        "doctor",
        "--stack",
        &scene.stack.name,
        "--output",
        output,
        "--query-timeout",
        "20",
        "--canary",
        "--configuration-set",
        "ledger",
    ];
    args.extend_from_slice(extra);
    let run = scene.run(&args);
    tokio::pin!(run);
    loop {
        tokio::select! {
            out = &mut run => return out,
            _ = tokio::time::sleep(Duration::from_millis(300)) => pipeline.pump().await,
        }
    }
}

fn json_of(out: &Output) -> Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}): {}\n{}",
            stdout(out),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test]
async fn the_canary_follows_each_simulator_message_into_the_ledger_and_out_of_every_rate() {
    let scene = Scene::new("canary").await;
    let mut pipeline = Pipeline::start(&scene.aws, &scene.account.env, &scene.stack).await;
    let out = run_canary(&scene, &mut pipeline, "json", &["--canary-timeout", "120"]).await;
    let all = checks(&json_of(&out));
    let canary: Vec<&Value> = all.iter().filter(|c| c["area"] == "canary").collect();
    assert!(canary.iter().all(|c| c["status"] == "pass"), "{canary:#?}");
    assert_eq!(pipeline.failures, 0);
    // The five addresses, the counters, and the rates kept clean.
    assert_eq!(canary.len(), 7, "{canary:#?}");
    // What the ledger holds, read directly: the events SES's stand-in published, each counted in
    // the mailbox-simulator scope alone.
    let sent = scene.ses.sent();
    assert_eq!(sent.len(), 5);
    let ddb = aws_sdk_dynamodb::Client::new(&scene.aws);
    let items = scan_all(&ddb, scene.stack.output("LedgerTableName")).await;
    let events: Vec<&Item> = items
        .iter()
        .filter(|i| attr_s(i, "sk").starts_with("EVT#"))
        .collect();
    assert_eq!(
        events.len(),
        2 + 2 + 3 + 2 + 2,
        "Send and the documented outcome of each address"
    );
    for e in &events {
        let scopes = e
            .get("scopes")
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default();
        assert_eq!(scopes, ["mailbox-simulator"], "{e:?}");
    }
    let mut counters: BTreeMap<(String, String), i64> = BTreeMap::new();
    for i in items.iter().filter(|i| attr_s(i, "pk").starts_with("CNT#")) {
        for metric in [
            "sends",
            "deliveries",
            "hard_bounces",
            "other_bounces",
            "complaints",
        ] {
            *counters
                .entry((attr_s(i, "pk"), metric.to_string()))
                .or_default() += attr_n(i, metric);
        }
    }
    let total = |metric: &str| -> i64 {
        counters
            .iter()
            .filter(|((_, m), _)| m == metric)
            .map(|(_, v)| v)
            .sum()
    };
    assert_eq!(
        (
            total("sends"),
            total("deliveries"),
            total("hard_bounces") + total("other_bounces"),
            total("complaints")
        ),
        (5, 3, 2, 1)
    );
    assert!(
        counters
            .keys()
            .all(|(pk, _)| pk.contains("mailbox-simulator")),
        "no counter outside the simulator's scope: {:?}",
        counters.keys().collect::<Vec<_>>()
    );
    assert_eq!(out.status.code(), Some(0));
    // The same as people see it, for docs/doctor-transcript.md.
    let text = run_canary(&scene, &mut pipeline, "text", &["--canary-timeout", "120"]).await;
    println!(
        "--- doctor --canary ---\n{}{}",
        String::from_utf8_lossy(&text.stderr),
        stdout(&text)
    );
    assert_eq!(text.status.code(), Some(0));
}

#[tokio::test]
async fn a_canary_whose_bounce_never_arrives_fails_with_a_clear_message() {
    let scene = Scene::new("canary-lost").await;
    scene
        .ses
        .drop_event("bounce@simulator.amazonses.com", "Bounce");
    let mut pipeline = Pipeline::start(&scene.aws, &scene.account.env, &scene.stack).await;
    let out = run_canary(&scene, &mut pipeline, "json", &["--canary-timeout", "15"]).await;
    assert_eq!(out.status.code(), Some(1));
    let all = checks(&json_of(&out));
    let bounce = check(&all, "bounce@simulator.amazonses.com");
    assert_eq!(bounce["status"], "fail");
    let detail = bounce["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("Bounce never reached the ledger or the event log in 15 s"),
        "{detail}"
    );
    assert!(detail.contains("seen in the ledger: Send"), "{detail}");
    assert_eq!(status(&all, "success@simulator.amazonses.com"), "pass");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("canary: "),
        "a progress line"
    );
    let text = run_canary(&scene, &mut pipeline, "text", &["--canary-timeout", "15"]).await;
    println!(
        "--- doctor --canary, the bounce never arrives ---\n{}{}",
        String::from_utf8_lossy(&text.stderr),
        stdout(&text)
    );
    assert!(
        stdout(&text).contains(
            "FAIL  canary   bounce@simulator.amazonses.com: Bounce never reached the ledger or the event log"
        ),
        "{}",
        stdout(&text)
    );
}

#[tokio::test]
async fn the_canary_refuses_a_configuration_set_that_does_not_publish_to_the_stack() {
    let scene = Scene::new("canary-refused").await;
    scene.ses.add_configuration_set("elsewhere", vec![]);
    let out = scene
        .run(&[
            "doctor",
            "--stack",
            &scene.stack.name,
            "--output",
            "json",
            "--canary",
            "--configuration-set",
            "elsewhere",
        ])
        .await;
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let all = checks(&report);
    let refused = check(&all, "configuration set elsewhere");
    assert_eq!(refused["area"], "canary");
    assert!(refused["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("the canary does not send"));
    assert!(scene.ses.sent().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn stack_names_the_table_and_log_group_for_every_command_and_flags_still_win() {
    let scene = Scene::new("stack").await;
    let at = (Utc::now() - chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let dir = common::scratch("stack");
    let file = dir.join("one.json");
    std::fs::write(
        &file,
        delivery("stack-flag-1", &["jane@example.org"], &at).to_string(),
    )
    .expect("write");
    let name = scene.stack.name.clone();
    let replayed = scene
        .run(&[
            "replay",
            "--quiet",
            "--stack",
            &name,
            file.to_str().unwrap_or_default(),
        ])
        .await;
    common::assert_ok(&replayed);
    // Written to the table and log group the stack's outputs name.
    let ddb = aws_sdk_dynamodb::Client::new(&scene.aws);
    let items = scan_all(&ddb, scene.stack.output("LedgerTableName")).await;
    assert!(
        items.iter().any(|i| attr_s(i, "pk") == "MSG#stack-flag-1"),
        "{items:?}"
    );
    let logs = aws_sdk_cloudwatchlogs::Client::new(&scene.aws);
    let lines = log_messages(&logs, scene.stack.output("EventLogGroupName")).await;
    assert_eq!(lines.len(), 1);
    // Read back by --stack, by SES_LEDGER_STACK, and not when --table names another table.
    let by_flag = scene
        .run(&[
            "message",
            "stack-flag-1",
            "--output",
            "json",
            "--stack",
            &name,
        ])
        .await;
    common::assert_ok(&by_flag);
    assert!(
        stdout(&by_flag).contains("jane@example.org"),
        "{}",
        stdout(&by_flag)
    );
    let by_env = tokio::process::Command::new(cli())
        .envs(scene.account.env.iter().cloned())
        .env("SES_LEDGER_STACK", &name)
        .env_remove("SES_LEDGER_TABLE")
        .args(["message", "stack-flag-1", "--output", "json"])
        .output()
        .await
        .expect("run");
    common::assert_ok(&by_env);
    assert!(stdout(&by_env).contains("jane@example.org"));
    let other = fresh_ledger(&scene.aws, "stack-other").await;
    let flag_wins = scene
        .run(&[
            "message",
            "stack-flag-1",
            "--output",
            "json",
            "--stack",
            &name,
            "--table",
            &other.table_name,
        ])
        .await;
    assert_eq!(
        flag_wins.status.code(),
        Some(1),
        "not found in the table --table names"
    );
    assert!(
        !stdout(&flag_wins).contains("jane@example.org"),
        "--table wins: {}",
        stdout(&flag_wins)
    );

    // A stack that does not exist, and one that is none of ours: clear errors, exit 2.
    let missing = scene
        .run(&["message", "x", "--stack", "no-such-stack-anywhere"])
        .await;
    assert_eq!(missing.status.code(), Some(2));
    let said = String::from_utf8_lossy(&missing.stderr);
    assert!(
        said.contains("no stack \"no-such-stack-anywhere\""),
        "{said}"
    );
    let foreign = format!("{name}-foreign");
    aws_sdk_cloudformation::Client::new(&scene.aws)
        .create_stack()
        .stack_name(&foreign)
        .template_body(
            json!({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                   "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}}})
            .to_string(),
        )
        .send()
        .await
        .expect("CreateStack");
    let not_ours = scene.run(&["message", "x", "--stack", &foreign]).await;
    assert_eq!(not_ours.status.code(), Some(2));
    let said = String::from_utf8_lossy(&not_ours.stderr);
    assert!(
        said.contains("has none of ses-ledger's outputs") && said.contains("TopicArn"),
        "{said}"
    );
}
