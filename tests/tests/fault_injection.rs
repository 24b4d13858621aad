//! The ingest path with 20% of its DynamoDB and CloudWatch Logs calls faulted (tests/src/faults.rs:
//! errors before the write, errors after it committed, connection resets, throttling), fed a
//! simulated stream with duplicates, both payload formats and out-of-order arrival through an
//! SQS queue played as SQS plays it: partial batch failures and failed invocations return their
//! messages, a message received `maxReceiveCount` times goes to the dead-letter queue, and the
//! DLQ is replayed at the end. The ledger must then equal the ground truth: its counters what the
//! stream's SES JSON adds up to by the documented definitions (`truth::Truth`), its histories the
//! same stream recorded once, in order, without faults, by the in-memory reference ledger.
//!
//! The suite runs a short stream; scripts/fault-run.sh runs a long one (SES_LEDGER_FAULT_MESSAGES)
//! and docs/benchmarks.md reports it.

// Needs the local stack that scripts/test.sh starts; `cargo test --workspace` alone compiles
// this file to nothing (see tests/Cargo.toml).
#![cfg(feature = "local-stack")]

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

use aws_config::retry::RetryConfig;
use chrono::{TimeZone, Utc};
use lambda_runtime::{Context, LambdaEvent};
use ses_ledger::counters::{bucket_of, Metric};
use ses_ledger::ports::{CounterReader, LedgerReader};
use ses_ledger::simulate::{generate, Scenario, TenantProfile};
use ses_ledger::testkit::memory::{InMemoryEventLog, InMemoryLedger};
use ses_ledger::usecase::Ingest;
use ses_ledger_aws::cloudwatch_logs::CloudWatchEventLog;
use ses_ledger_aws::dynamo::DynamoLedger;
use ses_ledger_integration_tests::faults::{Fault, FaultPlan};
use ses_ledger_integration_tests::*;

/// SQS's batch size for the ingest queue in the tests (the template's default is larger; a small
/// batch makes more invocations, so more of them meet a fault).
const BATCH: usize = 10;

/// The ingest queue's redrive `maxReceiveCount`, read from template.yaml (one place for it).
fn max_receive_count() -> u32 {
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).expect("template");
    regex::Regex::new(r"maxReceiveCount:\s*(\d+)")
        .expect("regex")
        .captures(&template)
        .and_then(|c| c[1].parse().ok())
        .expect("the ingest queue has a redrive policy")
}

fn messages_wanted() -> usize {
    std::env::var("SES_LEDGER_FAULT_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

#[tokio::test]
async fn ingest_with_a_fifth_of_its_calls_faulted_ends_equal_to_the_ground_truth() {
    let aws = local_aws().await;
    let config = fresh_ledger_with_stream(&aws, "faults").await;
    let plan = FaultPlan::new(0.2, 42);
    // SDK retries off: every fault reaches the function's own failure handling (in AWS the
    // SDK's three attempts absorb most of them first).
    let faulty = aws
        .to_builder()
        .http_client(plan.client())
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .build();
    let app = Ingest {
        store: DynamoLedger::new(aws_sdk_dynamodb::Client::new(&faulty), config.clone()),
        log: CloudWatchEventLog::new(
            aws_sdk_cloudwatchlogs::Client::new(&faulty),
            &config.event_log_group,
            CloudWatchEventLog::instance_stream_name(Utc::now()),
        ),
        config: config.clone(),
    };

    // A day of two tenants: 5% redelivered, half the bounces and complaints in both formats,
    // shuffled within each hour.
    let wanted = messages_wanted();
    let start = Utc.with_ymd_and_hms(2026, 11, 10, 0, 0, 0).unwrap();
    let scenario = Scenario {
        tenants: vec![
            TenantProfile::seed_story("acme", (wanted as u64 * 3) / 4, 3),
            TenantProfile::healthy("globex", wanted as u64 / 5),
        ],
        start,
        days: 1,
        seed: 11,
        duplicate_rate: 0.05,
        notification_share: 0.5,
        shuffle: true,
    };
    let stream = generate(&scenario);
    assert!(stream.len() >= wanted / 2, "{} messages", stream.len());

    // The ground truth: every message once, in order, no faults.
    let truth_store = InMemoryLedger::new(&config);
    let truth_log = InMemoryEventLog::default();
    let truth = Ingest {
        store: &truth_store,
        log: &truth_log,
        config: config.clone(),
    };
    for m in &stream {
        let report = truth.document(m, Utc::now()).await.expect("shape");
        assert!(report.failures().next().is_none());
    }

    // The queue, as SQS plays it.
    let max_receives = max_receive_count();
    let mut queue: VecDeque<(String, String, u32)> = stream
        .iter()
        .enumerate()
        .map(|(i, m)| (format!("sqs-{i}"), m.to_string(), 0))
        .collect();
    let mut dlq = Vec::new();
    let (mut invocations, mut failed_invocations, mut returned) = (0, 0, 0);
    while !queue.is_empty() {
        let mut batch: Vec<(String, String, u32)> = Vec::new();
        while batch.len() < BATCH {
            let Some((id, body, receives)) = queue.pop_front() else {
                break;
            };
            batch.push((id, body, receives + 1));
        }
        let records: Vec<serde_json::Value> = batch
            .iter()
            .map(|(id, body, _)| {
                serde_json::json!({"messageId": id, "eventSource": "aws:sqs", "body": body})
            })
            .collect();
        invocations += 1;
        let answer = ses_ledger_ingest::handle(
            &app,
            LambdaEvent::new(
                serde_json::json!({ "Records": records }),
                Context::default(),
            ),
        )
        .await;
        let failed: HashSet<String> = match answer {
            Ok(response) => response["batchItemFailures"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_string))
                .collect(),
            // A failed invocation returns the whole batch to the queue.
            Err(_) => {
                failed_invocations += 1;
                batch.iter().map(|(id, _, _)| id.clone()).collect()
            }
        };
        for (id, body, receives) in batch {
            if failed.contains(&id) {
                returned += 1;
                if receives >= max_receives {
                    dlq.push((id, body));
                } else {
                    queue.push_back((id, body, receives));
                }
            }
        }
    }
    let injected = plan.injected();
    let calls = plan.calls();

    // The operator replays the dead-letter queue once the incident is over.
    plan.set_enabled(false);
    for (id, body) in &dlq {
        let doc = serde_json::json!({"Records": [{"messageId": id, "eventSource": "aws:sqs", "body": body}]});
        let report = app.document(&doc, Utc::now()).await.expect("shape");
        assert!(
            report.failures().next().is_none(),
            "a dead letter that is not explained by a fault: {id}: {:?}",
            report.messages
        );
    }
    eprintln!(
        "{} SES messages, {calls} calls, faults injected {injected:?}; {invocations} invocations, {failed_invocations} failed whole, {returned} messages returned to the queue, {} to the DLQ and replayed",
        stream.len(),
        dlq.len()
    );
    for fault in Fault::ALL {
        assert!(
            injected.get(&fault).copied().unwrap_or(0) > 0,
            "{fault:?} was never injected"
        );
    }
    assert!(returned > 0, "some messages took the redelivery route");

    // Counters: the table's stream counted (fault-free: counting under faults has its own
    // tests), then every scope's totals against the truth.
    count_stream(&aws, &config).await;
    let reader = DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws), config.clone());
    let from = bucket_of(start - chrono::Duration::days(1));
    let to = bucket_of(start + chrono::Duration::days(2));
    // The expectation is counted from the stream's SES JSON by the documented definitions
    // (truth::Truth), not by the crate: a definition bug cannot sit on both sides.
    let providers: Vec<&str> = config
        .feedback_loop_providers
        .iter()
        .map(String::as_str)
        .collect();
    let tags: Vec<&str> = config.tenant_tags.iter().map(String::as_str).collect();
    let independent = ses_ledger_integration_tests::truth::Truth::of(&stream, &providers, &tags);
    let scopes = truth_store.scopes();
    assert!(scopes.len() > 3, "{scopes:?}");
    assert_eq!(
        scopes.iter().map(|s| s.key()).collect::<BTreeSet<_>>(),
        independent.scopes()
    );
    for scope in &scopes {
        let hours = reader.hourly(scope, from, to).await.expect("counters");
        let got: BTreeMap<String, u64> = Metric::ALL
            .iter()
            .filter(|m| **m != Metric::Undocumented)
            .map(|m| {
                (
                    m.attribute().to_string(),
                    hours.iter().map(|h| h.totals.get(*m)).sum(),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        let want: BTreeMap<String, u64> = ses_ledger_integration_tests::truth::METRICS
            .iter()
            .map(|m| (m.to_string(), independent.total(&scope.key(), m)))
            .filter(|(_, n)| *n > 0)
            .collect();
        assert_eq!(got, want, "counters of {scope}");
    }

    // Recipient histories: the same events, each once.
    let recipients: BTreeSet<String> = truth_log
        .lines()
        .into_iter()
        .filter_map(|e| e.recipient)
        .collect();
    for recipient in &recipients {
        let ids = |events: Vec<ses_ledger::event::RecipientEvent>| -> Vec<String> {
            let mut ids: Vec<String> = events.into_iter().map(|e| e.event_id).collect();
            ids.sort();
            ids
        };
        let got = ids(reader
            .recipient_history(recipient, 10_000)
            .await
            .expect("history"));
        let want = ids(truth_store
            .recipient_history(recipient, 10_000)
            .await
            .expect("history"));
        assert_eq!(got, want, "history of {recipient}");
    }

    // The log: every event at least once; duplicates counted.
    let lines = log_messages(
        &aws_sdk_cloudwatchlogs::Client::new(&aws),
        &config.event_log_group,
    )
    .await;
    let logged: BTreeSet<&str> = lines
        .iter()
        .filter_map(|l| l["event_id"].as_str())
        .collect();
    let truth_ids: BTreeSet<String> = truth_log.lines().into_iter().map(|e| e.event_id).collect();
    let missing: Vec<&String> = truth_ids
        .iter()
        .filter(|id| !logged.contains(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "events missing from the log: {missing:?}"
    );
    eprintln!(
        "log: {} lines for {} events: {} duplicate lines",
        lines.len(),
        truth_ids.len(),
        lines.len() - logged.len()
    );
}
