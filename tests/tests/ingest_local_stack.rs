//! The ingest handler against DynamoDB Local and moto's CloudWatch Logs: what lands, exactly once.

// Needs the local stack that scripts/test.sh starts; `cargo test --workspace` alone compiles
// this file to nothing (see tests/Cargo.toml).
#![cfg(feature = "local-stack")]

use std::collections::{BTreeMap, BTreeSet};

use aws_config::SdkConfig;
use lambda_runtime::{Context, LambdaEvent};
use ses_ledger::config::LedgerConfig;
use ses_ledger::ports::LedgerReader;
use ses_ledger::summary::SuppressionReason;
use ses_ledger::usecase::Ingest;
use ses_ledger_aws::cloudwatch_logs::CloudWatchEventLog;
use ses_ledger_aws::dynamo::DynamoLedger;
use ses_ledger_ingest::handle;
use ses_ledger_integration_tests::*;

type App = Ingest<DynamoLedger, CloudWatchEventLog>;

fn app(aws: &SdkConfig, config: &LedgerConfig) -> App {
    Ingest {
        store: DynamoLedger::new(aws_sdk_dynamodb::Client::new(aws), config.clone()),
        log: CloudWatchEventLog::new(
            aws_sdk_cloudwatchlogs::Client::new(aws),
            &config.event_log_group,
            CloudWatchEventLog::instance_stream_name(chrono::Utc::now()),
        ),
        config: config.clone(),
    }
}

async fn invoke(app: &App, payload: serde_json::Value) -> Result<serde_json::Value, String> {
    handle(app, LambdaEvent::new(payload, Context::default()))
        .await
        .map_err(|e| e.to_string())
}

fn ids_of(items: &[Item], pk_prefix: &str) -> BTreeSet<String> {
    items
        .iter()
        .filter(|i| attr_s(i, "pk").starts_with(pk_prefix) && attr_s(i, "sk").starts_with("EVT#"))
        .map(event_id_of)
        .collect()
}

#[tokio::test]
async fn every_sns_fixture_lands_once_per_recipient_in_dynamodb_and_the_log() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "fixtures").await;
    let app = app(&aws, &config);
    let mut expected = BTreeSet::new();
    let mut expected_lines = Vec::new();
    for (name, doc) in fixtures_in("sns") {
        let events = expected_events(&format!("sns/{name}.json"));
        expected.extend(events.iter().map(|e| e.event_id().to_string()));
        expected_lines.extend(events);
        invoke(&app, doc)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    let items = scan_all(&ddb, &config.table_name).await;
    assert_eq!(
        ids_of(&items, "MSG#"),
        expected,
        "one message item per recipient event"
    );
    let with_recipient: BTreeSet<String> = expected_lines
        .iter()
        .filter(|e| e.record.get("recipient").is_some())
        .map(|e| e.event_id().to_string())
        .collect();
    let index = scan_index(&ddb, &config.table_name, "by_recipient").await;
    assert_eq!(
        index.len(),
        with_recipient.len(),
        "one history entry per recipient event"
    );
    assert_eq!(ids_of(&index, "MSG#"), with_recipient);
    assert!(
        ids_of(&items, "RCPT#").is_empty(),
        "no second copy of an event under its recipient"
    );

    let lines = log_messages(
        &aws_sdk_cloudwatchlogs::Client::new(&aws),
        &config.event_log_group,
    )
    .await;
    let logged: Vec<String> = lines
        .iter()
        .map(|l| l["event_id"].as_str().unwrap_or_default().to_string())
        .collect();
    // At least once: the batch repeats every single-example fixture, and each delivery of an
    // event is logged, with the fields SES's documentation gives it.
    assert_eq!(
        logged.len(),
        expected_lines.len(),
        "one log line per recipient event delivered"
    );
    assert_eq!(logged.into_iter().collect::<BTreeSet<_>>(), expected);
    assert_same_events(&lines, &expected_lines);
    assert!(lines
        .iter()
        .all(|l| l["schema_version"] == 1 && l["ses_message_id"].is_string()));
}

#[tokio::test]
async fn replaying_events_in_any_order_changes_nothing() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "replay").await;
    let app = app(&aws, &config);
    let batch = fixture("sns/batch-all-types.json");
    invoke(&app, batch.clone()).await.expect("first delivery");
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&aws);
    let before = scan_all(&ddb, &config.table_name).await;
    let lines_before = log_messages(&logs, &config.event_log_group).await;

    // The same records again: whole batch twice, then one by one in reverse order, through a
    // second instance (another log stream), as SNS redelivery and Lambda retries would.
    let second = self::app(&aws, &config);
    invoke(&second, batch.clone()).await.expect("redelivery");
    invoke(&app, batch.clone()).await.expect("redelivery");
    let mut records = batch["Records"].as_array().cloned().unwrap_or_default();
    records.reverse();
    for record in records {
        let response = invoke(&second, serde_json::json!({ "Records": [record] }))
            .await
            .expect("single replay");
        assert_eq!(response["new"], 0, "a replayed record is never new");
    }
    let after = scan_all(&ddb, &config.table_name).await;
    assert_eq!(
        before, after,
        "DynamoDB is exactly as after the first delivery"
    );
    // The log is at least once: each redelivery logged its events again, under the same ids.
    let ids = |lines: &[serde_json::Value]| -> BTreeSet<String> {
        lines
            .iter()
            .filter_map(|l| l["event_id"].as_str().map(str::to_string))
            .collect()
    };
    let lines_after = log_messages(&logs, &config.event_log_group).await;
    assert_eq!(lines_after.len(), 4 * lines_before.len());
    assert_eq!(ids(&lines_after), ids(&lines_before));
}

#[tokio::test]
async fn the_same_complaint_in_both_formats_counts_once() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "bothformats").await;
    let app = app(&aws, &config);
    let doc = fixture("oddities/complaint-both-formats.json");
    let events = expected_events("oddities/complaint-both-formats.json");
    assert_eq!(events.len(), 2, "the fixture carries the complaint twice");
    assert_eq!(events[0].event_id(), events[1].event_id());
    let response = invoke(&app, doc).await.expect("ingest");
    assert_eq!(response["new"], 1);
    assert_eq!(response["duplicates"], 1);
    let reader = DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws), config.clone());
    let address = events[0].recipient().to_string();
    let summary = reader
        .recipient_summary(&address)
        .await
        .expect("read")
        .expect("summary exists");
    assert_eq!(summary.count(ses_ledger::event::EventType::Complaint), 1);
    assert_eq!(
        summary.suppression.map(|s| s.reason),
        Some(SuppressionReason::Complaint)
    );
    let lines = log_messages(
        &aws_sdk_cloudwatchlogs::Client::new(&aws),
        &config.event_log_group,
    )
    .await;
    assert_eq!(lines.len(), 1);
}

#[tokio::test]
async fn malformed_input_on_the_sns_path_fails_the_invocation_and_writes_nothing() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "malformed").await;
    let app = app(&aws, &config);
    // Each names the SNS message and says exactly what is wrong with it.
    let expected = [
        ("bad-timestamp", "bounce.timestamp: expected a timestamp like 2017-08-05T00:41:02.669Z, got \"yesterday\""),
        ("missing-message-id", "mail.messageId: required field is missing"),
        ("no-time-at-all", "mail.timestamp: required field is missing, and neither the event nor its envelope has a timestamp to fall back on"),
        ("not-json-message", "the SNS Message is not JSON: expected value at line 1 column 1"),
        ("not-ses-message", "the SNS Message is not an SES message (it has neither notificationType nor eventType): got an object with keys \"hello\""),
        ("truncated-message", "the SNS Message is not JSON: EOF while parsing a value"),
        ("wrong-types", "mail.destination: invalid type: string \"x\", expected a sequence"),
    ];
    let malformed = fixtures_in("malformed");
    assert_eq!(malformed.len(), expected.len());
    for ((name, doc), (expected_name, message)) in malformed.into_iter().zip(expected) {
        assert_eq!(name, expected_name);
        let sns_id = doc["Records"][0]["Sns"]["MessageId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let error = invoke(&app, doc).await.expect_err(&name);
        assert!(
            error.contains(&format!("SNS message {sns_id}")) && error.contains(message),
            "{name}: {error}"
        );
    }
    for not_ses in [
        serde_json::json!({"hello": "world"}),
        serde_json::json!([1, 2]),
        serde_json::json!("text"),
    ] {
        invoke(&app, not_ses)
            .await
            .expect_err("not an SES envelope");
    }
    let items = scan_all(&aws_sdk_dynamodb::Client::new(&aws), &config.table_name).await;
    assert!(items.is_empty(), "nothing written for bad input: {items:?}");
}

#[tokio::test]
async fn an_sqs_batch_reports_only_its_bad_record_and_keeps_the_rest() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "sqsbatch").await;
    let app = app(&aws, &config);
    let good_raw = delivery(
        "sqs-good-raw",
        &["raw@example.com"],
        "2026-11-20T10:00:00.000Z",
    )
    .to_string();
    let good_sns = sns_event(&[delivery(
        "sqs-good-sns",
        &["env@example.com"],
        "2026-11-20T10:00:00.000Z",
    )])["Records"][0]["Sns"]
        .to_string();
    let truncated = good_raw[..good_raw.len() / 2].to_string();
    let response = invoke(&app, sqs_event(&[good_raw, truncated, good_sns]))
        .await
        .expect("batch response");
    let failures: Vec<&str> = response["batchItemFailures"]
        .as_array()
        .expect("batchItemFailures")
        .iter()
        .filter_map(|f| f["itemIdentifier"].as_str())
        .collect();
    assert_eq!(failures, vec!["sqs-1"]);
    let reader = DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws), config.clone());
    for (message, address) in [
        ("sqs-good-raw", "raw@example.com"),
        ("sqs-good-sns", "env@example.com"),
    ] {
        let events = reader.message_events(message).await.expect("read");
        assert_eq!(events.len(), 1, "{message}");
        assert_eq!(events[0].recipient.as_deref(), Some(address));
    }
}

#[tokio::test]
async fn a_failed_log_write_records_nothing_and_the_retry_records_and_logs_it() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "logretry").await;
    let broken = LedgerConfig {
        event_log_group: format!("{}-missing", config.event_log_group),
        ..config.clone()
    };
    let doc = sns_event(&[delivery(
        "log-retry",
        &["a@example.com", "b@example.com"],
        "2026-11-20T10:00:00.000Z",
    )]);
    invoke(&app(&aws, &broken), doc.clone())
        .await
        .expect_err("log group does not exist");
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    assert!(
        scan_all(&ddb, &config.table_name).await.is_empty(),
        "nothing is recorded before it is logged"
    );

    let working = app(&aws, &config);
    let response = invoke(&working, doc.clone()).await.expect("retry succeeds");
    assert_eq!(response["new"], 2, "the retry records both events");
    invoke(&working, doc).await.expect("third delivery");
    let lines = log_messages(
        &aws_sdk_cloudwatchlogs::Client::new(&aws),
        &config.event_log_group,
    )
    .await;
    let mut recipients: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["recipient"].as_str())
        .collect();
    recipients.sort();
    assert_eq!(
        recipients,
        vec![
            "a@example.com",
            "a@example.com",
            "b@example.com",
            "b@example.com"
        ],
        "logged on each delivery that recorded or found them"
    );
}

#[tokio::test]
async fn concurrent_events_for_one_recipient_keep_an_exact_summary_and_counters() {
    let aws = local_aws().await;
    let config = fresh_ledger_with_stream(&aws, "concurrent").await;
    let app = app(&aws, &config);
    let docs: Vec<serde_json::Value> = (0..30)
        .map(|i| {
            let ses = delivery(
                &format!("conc-{i}"),
                &["busy@Example.COM"],
                &format!("2026-11-20T10:{i:02}:00.000Z"),
            );
            sns_event(&[ses])
        })
        .collect();
    let results = futures::future::join_all(docs.iter().map(|d| invoke(&app, d.clone()))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // Everything once more, concurrently: nothing may move.
    let again = futures::future::join_all(docs.iter().map(|d| invoke(&app, d.clone()))).await;
    assert!(
        again
            .iter()
            .all(|r| r.as_ref().map(|v| v["new"] == 0).unwrap_or(false)),
        "{again:?}"
    );

    let reader = DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws), config.clone());
    let summary = reader
        .recipient_summary("busy@example.com")
        .await
        .expect("read")
        .expect("summary");
    assert_eq!(summary.count(ses_ledger::event::EventType::Delivery), 30);
    let history = reader
        .recipient_history("busy@example.com", 100)
        .await
        .expect("history");
    assert_eq!(history.len(), 30);
    assert!(
        history
            .windows(2)
            .all(|w| w[0].event_time >= w[1].event_time),
        "newest first"
    );

    assert_eq!(count_stream(&aws, &config).await.records, 30);
    let items = scan_all(&aws_sdk_dynamodb::Client::new(&aws), &config.table_name).await;
    let mut deliveries: BTreeMap<String, i64> = BTreeMap::new();
    for item in items.iter().filter(|i| attr_s(i, "pk").starts_with("CNT#")) {
        *deliveries.entry(attr_s(item, "pk")).or_default() += attr_n(item, "deliveries");
    }
    assert_eq!(deliveries.get("CNT#account"), Some(&30), "{deliveries:?}");
    assert_eq!(
        deliveries.get("CNT#provider:example.com"),
        Some(&30),
        "{deliveries:?}"
    );
}

#[tokio::test]
async fn bounces_drive_suppression_with_its_reason() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "suppression").await;
    let app = app(&aws, &config);
    let soft: Vec<serde_json::Value> = (1..=3)
        .map(|d| {
            bounce(
                &format!("soft-{d}"),
                "soft@example.com",
                "Transient",
                &format!("2026-11-0{d}T08:00:00.000Z"),
            )
        })
        .collect();
    invoke(&app, sns_event(&soft[..2]))
        .await
        .expect("two soft bounces");
    let reader = DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws), config.clone());
    let summary = reader
        .recipient_summary("soft@example.com")
        .await
        .expect("read")
        .expect("summary");
    assert_eq!(
        summary.suppression, None,
        "two soft bounces are under the limit of three"
    );
    invoke(&app, sns_event(&soft[2..]))
        .await
        .expect("third soft bounce");
    let summary = reader
        .recipient_summary("soft@example.com")
        .await
        .expect("read")
        .expect("summary");
    assert_eq!(
        summary.suppression.map(|s| s.reason),
        Some(SuppressionReason::SoftBounces)
    );

    invoke(
        &app,
        sns_event(&[bounce(
            "hard-1",
            "gone@example.com",
            "Permanent",
            "2026-11-05T08:00:00.000Z",
        )]),
    )
    .await
    .expect("hard bounce");
    let summary = reader
        .recipient_summary("gone@example.com")
        .await
        .expect("read")
        .expect("summary");
    assert_eq!(
        summary.suppression.map(|s| s.reason),
        Some(SuppressionReason::HardBounce)
    );
    assert_eq!(
        reader
            .recipient_summary("never@example.com")
            .await
            .expect("read"),
        None
    );
}

#[tokio::test]
async fn a_complaint_counts_once_in_every_scope_whichever_format_arrives_first() {
    let aws = local_aws().await;
    for notification_first in [true, false] {
        let config = fresh_ledger_with_stream(&aws, "scopes").await;
        let config = LedgerConfig {
            tenant_tags: vec!["tenant".into()],
            ..config
        };
        let app = app(&aws, &config);
        let mut published = fixture("ses/event-publishing/complaint-record.json");
        published["mail"]["tags"]["tenant"] = serde_json::json!(["acme"]);
        let notification = ses_ledger::simulate::as_notification(&published);
        let (first, second) = if notification_first {
            (notification, published.clone())
        } else {
            (published.clone(), notification)
        };
        invoke(&app, sns_event(std::slice::from_ref(&first)))
            .await
            .expect("first copy");
        invoke(&app, sns_event(std::slice::from_ref(&second)))
            .await
            .expect("second copy");
        invoke(&app, sns_event(&[second, first]))
            .await
            .expect("both again");

        count_stream(&aws, &config).await;
        let again = count_stream(&aws, &config).await;
        assert_eq!(
            (again.writes, again.found > 0),
            (0, true),
            "a second pass writes nothing: {again:?}"
        );
        let items = scan_all(&aws_sdk_dynamodb::Client::new(&aws), &config.table_name).await;
        let mut complaints: BTreeMap<String, i64> = BTreeMap::new();
        for item in items.iter().filter(|i| attr_s(i, "pk").starts_with("CNT#")) {
            *complaints.entry(attr_s(item, "pk")).or_default() += attr_n(item, "complaints");
        }
        let configuration_set = published["mail"]["tags"]["ses:configuration-set"][0]
            .as_str()
            .expect("configuration set tag");
        for scope in [
            "CNT#account".to_string(),
            format!("CNT#configuration-set:{configuration_set}"),
            "CNT#tag:tenant=acme".to_string(),
        ] {
            assert_eq!(
                complaints.get(&scope),
                Some(&1),
                "{scope}, notification first: {notification_first}: {complaints:?}"
            );
        }
    }
}

/// Every item of a table, with what depends on when it was ingested removed: the ingestion time
/// (`ing`), the TTL derived from it, and the day a scope was last seen (midnight may fall
/// between the two ingests).
async fn ledger_without_ingestion_times(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Vec<Item> {
    let mut items = scan_all(ddb, table).await;
    for item in &mut items {
        item.remove("expires_at");
        item.remove("ing");
        item.remove("last_seen");
    }
    items
}

#[tokio::test]
async fn one_stream_in_two_orders_leaves_the_same_ledger() {
    let aws = local_aws().await;
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    // Soft bounces on days 1, 2, 3 and 20 for one address (suppressed: three within 7 days, in
    // any order), a hard bounce and deliveries for others, and a complaint.
    let soft = "soft@example.com";
    let mut stream: Vec<serde_json::Value> = [1, 2, 3, 20]
        .iter()
        .map(|d| {
            bounce(
                &format!("order-soft-{d}"),
                soft,
                "Transient",
                &format!("2026-10-{d:02}T08:00:00.000Z"),
            )
        })
        .collect();
    stream.push(delivery(
        "order-deliveries",
        &["a@example.com", "b@yahoo.com", soft],
        "2026-10-05T09:00:00.000Z",
    ));
    stream.push(bounce(
        "order-hard",
        "gone@example.com",
        "Permanent",
        "2026-10-06T10:00:00.000Z",
    ));
    let mut complaint = fixture("ses/event-publishing/complaint-record.json");
    complaint["mail"]["messageId"] = "order-complaint".into();
    stream.push(complaint);

    let mut ledgers = Vec::new();
    for (name, reverse) in [("order-fwd", false), ("order-rev", true)] {
        let config = fresh_ledger(&aws, name).await;
        let app = app(&aws, &config);
        let mut messages = stream.clone();
        if reverse {
            messages.reverse();
        }
        for message in messages {
            invoke(&app, sns_event(&[message])).await.expect("ingest");
        }
        let summary = app
            .store
            .recipient_summary(soft)
            .await
            .expect("read")
            .expect("summary");
        assert_eq!(
            summary.suppression.map(|s| s.reason),
            Some(SuppressionReason::SoftBounces),
            "{name}: three soft bounces within 7 days suppress, whatever the order"
        );
        ledgers.push(ledger_without_ingestion_times(&ddb, &config.table_name).await);
    }
    assert!(ledgers[0].len() > 10, "{} items", ledgers[0].len());
    assert_eq!(
        ledgers[0], ledgers[1],
        "every item but ingestion times is the same"
    );
}

#[tokio::test]
async fn reads_skip_items_whose_ttl_has_passed_before_dynamodb_deletes_them() {
    let aws = local_aws().await;
    let mut config = fresh_ledger(&aws, "expired").await;
    // Items expire the moment they are written; DynamoDB Local, like DynamoDB within its two
    // days, still holds them.
    config.history_ttl_days = 0;
    let app = app(&aws, &config);
    let address = "expired@example.com";
    let doc = bounce(
        "expired-1",
        address,
        "Permanent",
        "2026-10-01T08:00:00.000Z",
    );
    invoke(&app, sns_event(&[doc])).await.expect("ingest");
    let stored = scan_all(&aws_sdk_dynamodb::Client::new(&aws), &config.table_name).await;
    assert!(
        stored.iter().any(|i| attr_s(i, "sk") == "SUMMARY"),
        "the summary item is still in the table"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        app.store.recipient_summary(address).await.expect("read"),
        None
    );
    assert!(app
        .store
        .recipient_history(address, 10)
        .await
        .expect("read")
        .is_empty());

    // The same event under the default TTL is there.
    let kept = fresh_ledger(&aws, "kept").await;
    let app = self::app(&aws, &kept);
    let doc = bounce("kept-1", address, "Permanent", "2026-10-01T08:00:00.000Z");
    invoke(&app, sns_event(&[doc])).await.expect("ingest");
    let summary = app.store.recipient_summary(address).await.expect("read");
    assert_eq!(
        summary.and_then(|s| s.suppression).map(|s| s.reason),
        Some(SuppressionReason::HardBounce)
    );
}

/// Sums one counter attribute over every shard item of a scope.
fn counter_sum(items: &[Item], scope_key: &str, attribute: &str) -> i64 {
    items
        .iter()
        .filter(|i| attr_s(i, "pk") == format!("CNT#{scope_key}"))
        .map(|i| attr_n(i, attribute))
        .sum()
}

#[tokio::test]
async fn suppression_list_events_and_simulator_mail_are_recorded_but_not_counted_toward_rates() {
    let aws = local_aws().await;
    let config = fresh_ledger_with_stream(&aws, "notcounted").await;
    let app = app(&aws, &config);
    // SES's own complaint and bounce for an address on the account suppression list.
    let response = invoke(&app, fixture("oddities/on-account-suppression-list.json"))
        .await
        .expect("ingest");
    assert_eq!(response["new"], 2, "{response}");
    // Mailbox-simulator mail: a delivery, a hard bounce and a complaint.
    let simulator = [
        delivery(
            "sim-1",
            &["success@simulator.amazonses.com"],
            "2026-11-20T10:00:00.000Z",
        ),
        bounce(
            "sim-2",
            "bounce@simulator.amazonses.com",
            "Permanent",
            "2026-11-20T10:01:00.000Z",
        ),
    ];
    let mut complaint = fixture("ses/event-publishing/complaint-record.json");
    complaint["mail"]["messageId"] = "sim-3".into();
    complaint["mail"]["destination"] = serde_json::json!(["complaint@simulator.amazonses.com"]);
    complaint["complaint"]["complainedRecipients"] =
        serde_json::json!([{"emailAddress": "complaint@simulator.amazonses.com"}]);
    let mut docs: Vec<serde_json::Value> = simulator.to_vec();
    docs.push(complaint);
    let response = invoke(&app, sns_event(&docs)).await.expect("ingest");
    assert_eq!(response["new"], 3, "{response}");

    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    count_stream(&aws, &config).await;
    let items = scan_all(&ddb, &config.table_name).await;
    assert_eq!(ids_of(&items, "MSG#").len(), 5, "all five are recorded");
    // The suppression-list complaint counts as a complaint, but not in the rate SES compares
    // (complaints not from the suppression list); its bounce is not a counted hard bounce.
    assert_eq!(counter_sum(&items, "account", "complaints"), 1);
    assert_eq!(
        counter_sum(&items, "account", "complaints_not_suppressed"),
        0
    );
    assert_eq!(counter_sum(&items, "account", "counted_hard_bounces"), 0);
    assert_eq!(counter_sum(&items, "account", "other_bounces"), 1);
    // The simulator counts toward nothing at all.
    assert_eq!(counter_sum(&items, "account", "deliveries"), 0);
    assert!(
        !items
            .iter()
            .any(|i| attr_s(i, "pk").contains("simulator.amazonses.com")
                && attr_s(i, "pk").starts_with("CNT#")),
        "no counters for the simulator's domain"
    );
    let reader = DynamoLedger::new(ddb, config.clone());
    let simulated = reader
        .recipient_summary("bounce@simulator.amazonses.com")
        .await
        .expect("read")
        .expect("the simulator's recipient still has a history");
    assert_eq!(simulated.count(ses_ledger::event::EventType::Bounce), 1);
}

#[tokio::test]
async fn concurrent_ingest_writes_no_counter_and_the_stream_counts_each_event_once() {
    let aws = local_aws().await;
    let config = fresh_ledger_with_stream(&aws, "nocontention").await;
    let app = app(&aws, &config);
    let docs: Vec<serde_json::Value> = (0..64)
        .map(|i| {
            sns_event(&[delivery(
                &format!("spread-{i}"),
                &[&format!("r{i}@example.com")],
                &format!("2026-11-20T10:{:02}:00.000Z", i % 60),
            )])
        })
        .collect();
    let results = futures::future::join_all(docs.iter().map(|d| invoke(&app, d.clone()))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    let items = scan_all(&ddb, &config.table_name).await;
    assert!(
        !items.iter().any(|i| attr_s(i, "pk").starts_with("CNT#")),
        "ingest never touches a counter, so concurrent writers cannot contend on one"
    );
    let meter = app.store.meter().snapshot();
    assert_eq!(
        meter.keys().copied().collect::<Vec<_>>(),
        vec!["PutItem (event)", "UpdateItem (scope registry)"],
        "one put per event, nothing else on the event path: {meter:?}"
    );
    assert_eq!(meter["PutItem (event)"].requests, 64);

    assert_eq!(count_stream(&aws, &config).await.records, 64);
    let items = scan_all(&ddb, &config.table_name).await;
    let counters: BTreeMap<String, i64> = items
        .iter()
        .filter(|i| attr_s(i, "pk") == "CNT#account")
        .map(|i| (attr_s(i, "sk"), attr_n(i, "deliveries")))
        .collect();
    assert_eq!(counters.values().sum::<i64>(), 64, "{counters:?}");
    assert_eq!(
        counters.len(),
        1,
        "one consumer, one hour: one item {counters:?}"
    );
}

#[tokio::test]
async fn only_bounces_and_complaints_read_and_write_the_suppression_state() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "onchange").await;
    let app = app(&aws, &config);
    let mut docs = Vec::new();
    for i in 0..3 {
        docs.push(delivery(
            &format!("oc-a{i}"),
            &["a@example.com"],
            &format!("2026-11-20T10:0{i}:00.000Z"),
        ));
    }
    docs.push(bounce(
        "oc-a9",
        "a@example.com",
        "Permanent",
        "2026-11-20T11:00:00.000Z",
    ));
    for i in 0..2 {
        docs.push(delivery(
            &format!("oc-b{i}"),
            &["b@example.com"],
            &format!("2026-11-20T10:0{i}:00.000Z"),
        ));
    }
    for doc in &docs {
        invoke(&app, sns_event(std::slice::from_ref(doc)))
            .await
            .expect("ingest");
    }
    let meter = app.store.meter().snapshot();
    assert_eq!(
        meter.get("GetItem (summary)").map(|c| c.requests),
        Some(1),
        "only the bounce read the state: {meter:?}"
    );
    let items = scan_all(&aws_sdk_dynamodb::Client::new(&aws), &config.table_name).await;
    let stored: Vec<String> = items
        .iter()
        .filter(|i| attr_s(i, "sk") == "SUMMARY")
        .map(|i| attr_s(i, "pk"))
        .collect();
    assert_eq!(stored, vec!["RCPT#a@example.com".to_string()]);

    let reader = &app.store;
    let a = reader
        .recipient_summary("a@example.com")
        .await
        .expect("read")
        .expect("known");
    assert_eq!(a.count(ses_ledger::event::EventType::Delivery), 3);
    assert_eq!(a.count(ses_ledger::event::EventType::Bounce), 1);
    assert_eq!(
        reader
            .suppression("a@example.com")
            .await
            .expect("read")
            .map(|s| s.reason),
        Some(SuppressionReason::HardBounce)
    );
    assert_eq!(
        a.suppression.map(|s| s.reason),
        Some(SuppressionReason::HardBounce)
    );
    let b = reader
        .recipient_summary("b@example.com")
        .await
        .expect("read")
        .expect("known from its history");
    assert_eq!(b.count(ses_ledger::event::EventType::Delivery), 2);
    assert_eq!(b.suppression, None);
    assert_eq!(
        reader.suppression("b@example.com").await.expect("read"),
        None
    );
}
