//! End to end: the real compiled `ingest`, `count` and `alarm` binaries under cargo-lambda's Runtime API
//! emulator (`cargo lambda watch --only-lambda-apis`, started by scripts/lambda-watch.sh once the
//! suite's build is done), writing to DynamoDB Local, moto's CloudWatch Logs and SNS -> SQS.

// Needs the local stack that scripts/test.sh starts; `cargo test --workspace` alone compiles
// this file to nothing (see tests/Cargo.toml).
#![cfg(feature = "local-stack")]

use std::time::Duration;

use chrono::Utc;
use ses_ledger::ports::LedgerReader;
use ses_ledger::simulate::{generate, Scenario, TenantProfile};
use ses_ledger_integration_tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Names the functions are started with (scripts/test.sh).
const TABLE: &str = "ses-ledger-e2e";
const LOG_GROUP: &str = "/ses-ledger/e2e/events";
const ALERT_TOPIC: &str = "ses-ledger-e2e-alerts";

fn invoke_url() -> String {
    std::env::var("LAMBDA_INVOKE_URL").unwrap_or_else(|_| {
        panic!("LAMBDA_INVOKE_URL is not set: run the suite with scripts/test.sh (it starts the functions under the emulator)")
    })
}

/// POSTs to the emulator's Invoke API; returns the HTTP status and the body as JSON. A plain
/// HTTP/1.1 exchange: the emulator answers function errors with 500, which an SDK would retry.
async fn invoke(function: &str, payload: &serde_json::Value) -> (u16, serde_json::Value) {
    invoke_bytes(function, payload.to_string().as_bytes()).await
}

/// [`invoke`] with any bytes as the payload, JSON or not.
async fn invoke_bytes(function: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let url = invoke_url();
    let authority = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    assert!(
        authority.starts_with("127.0.0.1:"),
        "emulator must be on loopback: {url}"
    );
    let mut request = format!(
        "POST /2015-03-31/functions/{function}/invocations HTTP/1.1\r\nHost: {authority}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(&authority)
            .await
            .expect("connect to emulator");
        stream.write_all(&request).await.expect("send");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.expect("read");
        response
    };
    // The functions are already long-polling when the suite starts (scripts/lambda-watch.sh waits
    // for that), so an answer takes milliseconds; the bound only turns a hung function into a
    // failure instead of a stuck suite.
    let response = tokio::time::timeout(Duration::from_secs(60), exchange)
        .await
        .expect(
            "the function answered within a minute (is it still running? .local-stack/fn-*.log)",
        );
    let text = String::from_utf8_lossy(&response);
    let (head, rest) = text.split_once("\r\n\r\n").expect("HTTP response");
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
    )
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// The table's stream records whose new image `keep` selects, as one Lambda stream event of a
/// shard of the test's own (`tag`): the tests share the table, so each counts only its own
/// records, and under a shard id of its own, since the counters keep a high-water mark per shard
/// and a test's records may be older than another's that were counted first.
async fn stream_batch(
    aws: &aws_config::SdkConfig,
    tag: &str,
    keep: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let shards = stream_batches(aws, TABLE).await;
    let shard = shards
        .first()
        .map(|(s, _)| format!("{s}-{tag}"))
        .unwrap_or_default();
    let records: Vec<serde_json::Value> = shards
        .into_iter()
        .flat_map(|(_, batches)| batches.into_iter().flatten())
        .filter(|r| keep(&r["dynamodb"]["NewImage"]))
        .collect();
    // DynamoDB Local's table has one shard; the closing invocation may carry records.
    serde_json::json!({
        "Records": records,
        "shardId": shard,
        "state": {},
        "isFinalInvokeForWindow": true,
        "isWindowTerminatedEarly": false,
    })
}

/// `batch` with `scope` added to every record's scopes (new and old images alike): a counter of
/// the test's own to read back, since the tests share the table and its other counters.
fn in_own_scope(mut batch: serde_json::Value, scope: &str) -> serde_json::Value {
    for record in batch["Records"].as_array_mut().into_iter().flatten() {
        for image in ["NewImage", "OldImage"] {
            if let Some(scopes) = record["dynamodb"][image]["scopes"]["SS"].as_array_mut() {
                scopes.push(scope.into());
            }
        }
    }
    batch
}

/// The events counted in `scope`, in any hour: each counted event adds 1 to exactly one of these
/// metrics (the others it may add to count a subset of them).
async fn events_counted(aws: &aws_config::SdkConfig, scope: &ses_ledger::counters::Scope) -> u64 {
    use ses_ledger::counters::Metric;
    let reader = ses_ledger_aws::dynamo::DynamoLedger::new(
        aws_sdk_dynamodb::Client::new(aws),
        ses_ledger::config::LedgerConfig {
            table_name: TABLE.into(),
            ..Default::default()
        },
    );
    let from = chrono::DateTime::from_timestamp(0, 0).expect("epoch");
    let hours = ses_ledger::ports::CounterReader::hourly(
        &reader,
        scope,
        from,
        Utc::now() + chrono::Duration::days(1),
    )
    .await
    .expect("counters");
    hours
        .iter()
        .map(|h| {
            [
                Metric::Sends,
                Metric::Deliveries,
                Metric::CountedHardBounces,
                Metric::OtherBounces,
                Metric::Complaints,
                Metric::Delays,
                Metric::Rejects,
            ]
            .into_iter()
            .map(|m| h.totals.get(m))
            .sum::<u64>()
        })
        .sum()
}

/// What the count function answers to every invocation it takes: what AWS documents for a
/// tumbling window, and nothing else.
fn documented_answer() -> serde_json::Value {
    serde_json::json!({"state": {}, "batchItemFailures": []})
}

/// Every Embedded Metric Format line `function` has printed so far (its instances' standard
/// output, .local-stack/fn-NAME.K.log), held to the specification (ses_ledger::emf::check): a line
/// CloudWatch cannot read is dropped whole, metric and all. Returns how many there were.
fn metric_lines_keep_the_specification(function: &str) -> usize {
    let state = std::env::var("SES_LEDGER_STACK_STATE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| repo_root().join(".local-stack"));
    let mut checked = 0;
    for entry in std::fs::read_dir(&state)
        .expect("the local stack's state folder")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().to_string();
        if !(name.starts_with(&format!("fn-{function}.")) && name.ends_with(".log")) {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for line in text.lines() {
            let Ok(json) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if json.get("_aws").is_none() {
                continue;
            }
            if let Err(problem) = ses_ledger::emf::check(&json) {
                panic!("{name}: an EMF line CloudWatch would drop ({problem}):\n{line}");
            }
            checked += 1;
        }
    }
    checked
}

/// The table and log group the functions were started with; created once per stack.
async fn ensure_resources(aws: &aws_config::SdkConfig) {
    let ddb = aws_sdk_dynamodb::Client::new(aws);
    if ddb.describe_table().table_name(TABLE).send().await.is_err() {
        // Two tests may race to create it; losing the race is fine.
        let _ = ses_ledger_aws::dynamo::create_table_with_stream(&ddb, TABLE).await;
    }
    let _ = aws_sdk_cloudwatchlogs::Client::new(aws)
        .create_log_group()
        .log_group_name(LOG_GROUP)
        .send()
        .await;
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

#[tokio::test]
async fn the_ingest_binary_records_once_and_rejects_bad_input() {
    let aws = local_aws().await;
    ensure_resources(&aws).await;
    // Every official example, with message ids unique to this run.
    let run = unique("e2e");
    let mut messages = Vec::new();
    let mut expected = Vec::new();
    for folder in ["ses/event-publishing", "ses/notification"] {
        for (name, mut ses) in fixtures_in(folder) {
            let message_id = format!("{run}-{name}");
            ses["mail"]["messageId"] = message_id.clone().into();
            messages.push(ses);
            expected.extend(
                expected_events(&format!("{folder}/{name}.json"))
                    .iter()
                    .map(|e| e.with_message_id(&message_id)),
            );
        }
    }
    let doc = sns_event(&messages);

    let (status, body) = invoke("ingest", &doc).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["new"], expected.len(), "{body}");
    let (status, body) = invoke("ingest", &doc).await;
    assert_eq!(
        (status, &body["new"]),
        (200, &serde_json::json!(0)),
        "replay is all duplicates: {body}"
    );

    let config = ses_ledger::config::LedgerConfig {
        table_name: TABLE.into(),
        ..Default::default()
    };
    let reader =
        ses_ledger_aws::dynamo::DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws), config);
    let mut stored = 0;
    for m in &messages {
        stored += reader
            .message_events(m["mail"]["messageId"].as_str().unwrap_or_default())
            .await
            .expect("read")
            .len();
    }
    assert_eq!(stored, expected.len());
    let lines = log_messages(&aws_sdk_cloudwatchlogs::Client::new(&aws), LOG_GROUP).await;
    let ours: Vec<serde_json::Value> = lines
        .into_iter()
        .filter(|l| {
            l["ses_message_id"]
                .as_str()
                .is_some_and(|id| id.starts_with(&run))
        })
        .collect();
    // Each recipient event logged once per delivery (at least once), with the fields SES's
    // documentation gives it.
    let delivered_twice: Vec<_> = expected.iter().chain(&expected).cloned().collect();
    assert_same_events(&ours, &delivered_twice);

    // The count binary, fed this run's records of the table's stream as the event source
    // mapping would: each distinct event counts once, and the redelivered batch adds nothing.
    let own = ses_ledger::counters::Scope::Tag {
        name: "tenant".into(),
        value: run.clone(),
    };
    let batch = in_own_scope(
        stream_batch(&aws, &run, |image| {
            image["pk"]["S"]
                .as_str()
                .is_some_and(|pk| pk.starts_with(&format!("MSG#{run}")))
        })
        .await,
        &own.key(),
    );
    // Engagement, rendering failures and subscriptions count toward no rate (docs/rates.md).
    let distinct: std::collections::BTreeSet<&str> = expected
        .iter()
        .filter(|e| {
            !["Open", "Click", "RenderingFailure", "Subscription"].contains(&e.event_type())
        })
        .map(|e| e.event_id())
        .collect();
    let (status, body) = invoke("count", &batch).await;
    assert_eq!((status, body), (200, documented_answer()));
    assert_eq!(events_counted(&aws, &own).await, distinct.len() as u64);
    // Lambda delivers the batch again: nothing is added.
    let (status, body) = invoke("count", &batch).await;
    assert_eq!((status, body), (200, documented_answer()));
    assert_eq!(events_counted(&aws, &own).await, distinct.len() as u64);
    // A record it cannot read is left out (and named in its log and the CountSkipped metric); the
    // invocation succeeds, so the shard goes on.
    let unreadable = serde_json::json!({
        "Records": [{"dynamodb": {}}],
        "shardId": "shardId-1",
        "isFinalInvokeForWindow": true,
    });
    let (status, body) = invoke("count", &unreadable).await;
    assert_eq!((status, body), (200, documented_answer()));
    assert!(
        metric_lines_keep_the_specification("count") >= 1,
        "the count function printed its CountSkipped line"
    );

    let (status, body) = invoke("ingest", &fixture("malformed/not-json-message.json")).await;
    assert_eq!(
        status, 500,
        "bad input fails the invocation so Lambda keeps it: {body}"
    );
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("SNS message")),
        "{body}"
    );
    assert_eq!(
        body["errorType"], "InputRejected",
        "Lambda's record says what kind of failure it was: {body}"
    );
}

#[tokio::test]
async fn the_ingest_binary_skips_what_is_no_sending_event_and_counts_undocumented_values() {
    let aws = local_aws().await;
    ensure_resources(&aws).await;
    // SES receiving in both shapes, and SNS's subscription messages: answered 200, skipped by
    // name, never an error that fails the batch or a retry.
    for name in [
        "received-mail-sns",
        "received-mail-lambda",
        "sns-subscription-confirmation",
        "sns-unsubscribe-confirmation",
    ] {
        let (status, body) = invoke("ingest", &fixture(&format!("skipped/{name}.json"))).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(
            (&body["new"], &body["skipped"]),
            (&serde_json::json!(0), &serde_json::json!(1)),
            "{name}: {body}"
        );
    }
    let (status, body) = invoke(
        "ingest",
        &fixture("skipped/sqs-subscription-confirmation.json"),
    )
    .await;
    assert_eq!(
        (status, &body["batchItemFailures"]),
        (200, &serde_json::json!([])),
        "the queue deletes it: {body}"
    );

    // Values SES does not document, under message ids of this run.
    let run = unique("e2e-undocumented");
    let mut doc = fixture("oddities/undocumented-values.json");
    let mut hours = std::collections::BTreeSet::new();
    for (i, record) in doc["Records"]
        .as_array_mut()
        .expect("records")
        .iter_mut()
        .enumerate()
    {
        let mut ses: serde_json::Value =
            serde_json::from_str(record["Sns"]["Message"].as_str().expect("message"))
                .expect("SES JSON");
        ses["mail"]["messageId"] = format!("{run}-{i}").into();
        record["Sns"]["Message"] = ses.to_string().into();
    }
    for event in normalised_events(&doc) {
        hours.insert(ses_ledger::counters::bucket_of(event.event_time));
    }
    let config = ses_ledger::config::LedgerConfig {
        table_name: TABLE.into(),
        ..Default::default()
    };
    let reader =
        ses_ledger_aws::dynamo::DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws), config);
    let undocumented = || async {
        let mut total = 0;
        for hour in &hours {
            for h in ses_ledger::ports::CounterReader::hourly(
                &reader,
                &ses_ledger::counters::Scope::Account,
                *hour,
                *hour,
            )
            .await
            .expect("counters")
            {
                total += h.totals.get(ses_ledger::counters::Metric::Undocumented);
            }
        }
        total
    };
    let before = undocumented().await;
    let (status, body) = invoke("ingest", &doc).await;
    assert_eq!(
        (status, &body["new"]),
        (200, &serde_json::json!(3)),
        "{body}"
    );
    let lines = log_messages(&aws_sdk_cloudwatchlogs::Client::new(&aws), LOG_GROUP).await;
    let mut logged: Vec<String> = lines
        .iter()
        .filter(|l| {
            l["ses_message_id"]
                .as_str()
                .is_some_and(|id| id.starts_with(&run))
        })
        .flat_map(|l| {
            l["undocumented_values"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    logged.sort();
    assert_eq!(
        logged,
        [
            "bounce.bounceType=Temporary",
            "complaint.complaintFeedbackType=spam",
            "deliveryDelay.delayType=Throttled"
        ],
        "the log line keeps each original value"
    );
    let own = ses_ledger::counters::Scope::Tag {
        name: "tenant".into(),
        value: run.clone(),
    };
    let batch = in_own_scope(
        stream_batch(&aws, &run, |image| {
            image["pk"]["S"]
                .as_str()
                .is_some_and(|pk| pk.starts_with(&format!("MSG#{run}")))
        })
        .await,
        &own.key(),
    );
    let (status, body) = invoke("count", &batch).await;
    assert_eq!((status, body), (200, documented_answer()));
    assert_eq!(events_counted(&aws, &own).await, 3);
    assert!(
        metric_lines_keep_the_specification("ingest") >= 2,
        "the ingest function printed its SkippedMessages and UndocumentedValues lines"
    );
    assert_eq!(
        undocumented().await - before,
        3,
        "each event with an undocumented value is counted once, for the report"
    );
}

#[tokio::test]
async fn hostile_payloads_fail_alone_and_the_ingest_binary_keeps_serving() {
    let aws = local_aws().await;
    ensure_resources(&aws).await;
    let run = unique("e2e-hostile");
    let good = || {
        sns_event(&[delivery(
            &format!("{run}-after"),
            &["after@example.com"],
            "2026-11-20T10:00:00.000Z",
        )])
    };
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_in_sns = serde_json::json!({"Records": [{"Sns": {"Type": "Notification", "MessageId": "deep", "Message": nested}}]});
    let hostile: Vec<(&str, Vec<u8>)> = vec![
        ("deeply nested JSON", nested.clone().into_bytes()),
        ("not UTF-8", vec![b'{', 0xff, 0xfe, b'}']),
        (
            "deep JSON inside an SNS Message",
            deep_in_sns.to_string().into_bytes(),
        ),
        (
            "a 10,000-byte message id",
            sns_event(&[delivery(
                &"{".repeat(10_000),
                &["x@example.com"],
                "2026-11-20T10:00:00.000Z",
            )])
            .to_string()
            .into_bytes(),
        ),
    ];
    for (what, body) in hostile {
        let (status, answer) = invoke_bytes("ingest", &body).await;
        assert_ne!(status, 200, "{what} is refused: {answer}");
        assert!(
            answer.to_string().len() < 10_000,
            "{what}: a short, clear answer, not an echo: {:.200}",
            answer.to_string()
        );
        // The function is still there for the next event, in every instance.
        let (status, answer) = invoke("ingest", &good()).await;
        assert_eq!(status, 200, "after {what}: {answer}");
        assert_eq!(ingest_instances_alive(), instances(), "after {what}");
    }
}

/// How many ingest processes scripts/lambda-watch.sh started are still running.
fn ingest_instances_alive() -> usize {
    let state = repo_root().join(".local-stack");
    (1..=instances())
        .filter(|k| {
            std::fs::read_to_string(state.join(format!("fn-ingest.{k}.pid")))
                .ok()
                .and_then(|pid| pid.trim().parse::<u32>().ok())
                .is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
        })
        .count()
}

/// How many processes per function scripts/test.sh starts (`LAMBDA_WATCH_INSTANCES`): the load
/// test invokes that many at once.
fn instances() -> usize {
    let n = std::env::var("LAMBDA_WATCH_INSTANCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    assert!(
        n >= 8,
        "LAMBDA_WATCH_INSTANCES={n}: run the suite with scripts/test.sh, which starts 8 ingest processes"
    );
    n
}

#[tokio::test]
async fn concurrent_ingest_invocations_on_one_hot_recipient_and_scope_count_exactly() {
    let aws = local_aws().await;
    ensure_resources(&aws).await;
    let run = unique("e2e-load");
    let hot = format!("{run}@example.com");
    let tenant = run.clone();
    // 48 messages to one recipient in one tenant: deliveries, soft bounces and complaints, each
    // delivered to two invocations at once (SNS redelivering while the first is still running).
    let message = |i: usize| {
        let id = format!("{run}-{i}");
        let time = format!("2026-11-20T10:{:02}:00.000Z", i);
        let mail = serde_json::json!({
            "timestamp": time, "messageId": id, "source": "sender@example.com",
            "destination": [hot], "tags": {"tenant": [tenant]}
        });
        match i % 4 {
            0 | 1 => serde_json::json!({"eventType": "Delivery", "mail": mail,
                "delivery": {"timestamp": time, "recipients": [hot], "smtpResponse": "250 OK"}}),
            2 => serde_json::json!({"eventType": "Bounce", "mail": mail,
                "bounce": {"bounceType": "Transient", "bounceSubType": "MailboxFull", "timestamp": time,
                    "feedbackId": format!("{id}-fb"), "bouncedRecipients": [{"emailAddress": hot}]}}),
            _ => serde_json::json!({"eventType": "Complaint", "mail": mail,
                "complaint": {"timestamp": time, "feedbackId": format!("{id}-fb"),
                    "complaintFeedbackType": "abuse", "complainedRecipients": [{"emailAddress": hot}]}}),
        }
    };
    let messages: Vec<serde_json::Value> = (0..48).map(message).collect();
    let concurrent = instances();
    let invocations: Vec<serde_json::Value> = (0..concurrent)
        .map(|k| {
            let mine: Vec<serde_json::Value> = messages
                .iter()
                .enumerate()
                .filter(|(j, _)| j % concurrent == k || (j + 1) % concurrent == k)
                .map(|(_, m)| m.clone())
                .collect();
            sns_event(&mine)
        })
        .collect();
    let answers =
        futures::future::join_all(invocations.iter().map(|doc| invoke("ingest", doc))).await;
    let mut new = 0;
    let mut duplicates = 0;
    let mut contention = 0;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        new += body["new"].as_u64().unwrap_or(0);
        duplicates += body["duplicates"].as_u64().unwrap_or(0);
        contention += body["contention_retries"].as_u64().unwrap_or(0);
    }
    eprintln!(
        "{concurrent} concurrent invocations: {new} new, {duplicates} duplicate, {contention} writes retried after a concurrent writer"
    );
    assert_eq!((new, duplicates), (48, 48), "each event recorded once");

    let config = ses_ledger::config::LedgerConfig {
        table_name: TABLE.into(),
        ..Default::default()
    };
    let reader =
        ses_ledger_aws::dynamo::DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws), config);
    let summary = reader
        .recipient_summary(&hot)
        .await
        .expect("reads")
        .expect("the hot recipient has a summary");
    assert_eq!(
        (
            summary.count(ses_ledger::event::EventType::Bounce),
            summary.count(ses_ledger::event::EventType::Complaint)
        ),
        (12, 12),
        "the suppression state saw every bounce and complaint once, whatever the contention"
    );
    let lines = log_lines_by_stream(&aws_sdk_cloudwatchlogs::Client::new(&aws), LOG_GROUP).await;
    let ours: Vec<&(String, serde_json::Value)> = lines
        .iter()
        .filter(|(_, l)| {
            l["ses_message_id"]
                .as_str()
                .is_some_and(|id| id.starts_with(&format!("{run}-")))
        })
        .collect();
    let distinct: std::collections::BTreeSet<&str> = ours
        .iter()
        .filter_map(|(_, l)| l["event_id"].as_str())
        .collect();
    let streams: std::collections::BTreeSet<&str> =
        ours.iter().map(|(stream, _)| stream.as_str()).collect();
    eprintln!(
        "log: {} lines, {} events, {} duplicate lines, from {} instances",
        ours.len(),
        distinct.len(),
        ours.len() - distinct.len(),
        streams.len()
    );
    assert_eq!(distinct.len(), 48, "every event in the log at least once");
    assert!(
        streams.len() > 1,
        "the invocations ran in more than one process at once"
    );

    let batch = stream_batch(&aws, &run, |image| {
        image["pk"]["S"]
            .as_str()
            .is_some_and(|pk| pk.starts_with(&format!("MSG#{run}-")))
    })
    .await;
    let (status, body) = invoke("count", &batch).await;
    assert_eq!((status, body), (200, documented_answer()));
    let scope = ses_ledger::counters::Scope::Tag {
        name: "tenant".into(),
        value: tenant.clone(),
    };
    let hour = chrono::DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
        .expect("time")
        .with_timezone(&Utc);
    let hours = ses_ledger::ports::CounterReader::hourly(&reader, &scope, hour, hour)
        .await
        .expect("counters");
    let total = |m| hours.iter().map(|h| h.totals.get(m)).sum::<u64>();
    use ses_ledger::counters::Metric;
    assert_eq!(
        (
            total(Metric::Deliveries),
            total(Metric::OtherBounces),
            total(Metric::Complaints)
        ),
        (24, 12, 12),
        "the hot scope's counters are exact"
    );
}

#[tokio::test]
async fn the_alarm_binary_publishes_one_alert_per_level_change() {
    let aws = local_aws().await;
    ensure_resources(&aws).await;
    let (_, inbox) = Inbox::subscribe(&aws, ALERT_TOPIC, &unique("e2e-alerts")).await;

    // A tenant of its own, complaining well above 0.1% of its feedback-loop deliveries.
    let tenant = unique("tenant");
    let mut profile = TenantProfile::seed_story(&tenant, 1500, 2);
    profile.domains = vec![("gmail.com".into(), 90), ("yahoo.com".into(), 10)];
    let stream = generate(&Scenario {
        tenants: vec![profile],
        start: Utc::now() - chrono::Duration::hours(20),
        days: 1,
        seed: 42,
        duplicate_rate: 0.0,
        notification_share: 0.0,
        shuffle: false,
    });
    // Chunks of 100: DynamoDB Local writes slower with every stream record it holds, and each
    // invocation has a minute.
    for chunk in stream.chunks(100) {
        let (status, body) = invoke("ingest", &sns_event(chunk)).await;
        assert_eq!(status, 200, "{body}");
    }
    // The count binary over the tenant's records of the table's stream.
    let tag = format!("tag:tenant={tenant}");
    let batch = stream_batch(&aws, &tenant, |image| {
        image["scopes"]["SS"]
            .as_array()
            .is_some_and(|s| s.iter().any(|v| v == tag.as_str()))
    })
    .await;
    let (status, body) = invoke("count", &batch).await;
    assert_eq!((status, body), (200, documented_answer()));

    let (status, body) = invoke("alarm", &serde_json::json!({"source": "aws.scheduler"})).await;
    assert_eq!(status, 200, "{body}");
    let alerts = inbox.receive().await;
    let scope = format!("tag:tenant={tenant}");
    let ours: Vec<&serde_json::Value> = alerts
        .iter()
        .filter(|a| a["MessageAttributes"]["scope"]["Value"] == scope.as_str())
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "one complaint alert for the tenant: {alerts:?}"
    );
    assert!(
        ours[0]["Subject"]
            .as_str()
            .is_some_and(|s| s.contains("complaint") && s.contains(&tenant)),
        "{:?}",
        ours[0]
    );

    let (status, _) = invoke("alarm", &serde_json::json!({"source": "aws.scheduler"})).await;
    assert_eq!(status, 200);
    let again = inbox.receive().await;
    assert!(
        again
            .iter()
            .all(|a| a["MessageAttributes"]["scope"]["Value"] != scope.as_str()),
        "an unchanged level is not announced again"
    );
    // Two runs over every scope, some of whose rates have no denominator: every metric line
    // keeps the specification (a rate without a value is left out, never `null`).
    assert!(metric_lines_keep_the_specification("alarm") > 10);
}
