//! Oversized and adversarial input: each gets a clear error or is recorded whole, and none stops
//! what comes after it. The pure part runs in every `cargo test`; the part that needs DynamoDB
//! Local and moto (keys and log events of real size) runs with the local stack.

use chrono::Utc;
use serde_json::{json, Value};
use ses_ledger::config::LedgerConfig;
use ses_ledger::counters::{Metric, Scope};
use ses_ledger::documents::Documents;
use ses_ledger::envelope::{split_document, Content, InputError};
use ses_ledger::normalise::normalise;
use ses_ledger::testkit::memory::{InMemoryEventLog, InMemoryLedger};
use ses_ledger::usecase::ingest::IngestFailure;
use ses_ledger::usecase::Ingest;
use ses_ledger_aws::cloudwatch_logs::{plan_batches, to_line, MAX_BATCH_BYTES, MAX_EVENT_BYTES};

/// SNS's and EventBridge's limit on a message.
const SNS_MAX_MESSAGE_BYTES: usize = 256 * 1024;

fn delivery_to(message_id: &str, recipients: &[String]) -> Value {
    json!({
        "eventType": "Delivery",
        "mail": {
            "timestamp": "2026-11-20T10:00:00.000Z",
            "messageId": message_id,
            "source": "sender@example.com",
            "destination": recipients,
            "tags": {"tenant": ["acme"]},
            "commonHeaders": {"subject": "hello"}
        },
        "delivery": {
            "timestamp": "2026-11-20T10:00:01.000Z",
            "recipients": recipients,
            "smtpResponse": "250 OK"
        }
    })
}

fn sns_event(message: &Value) -> Value {
    json!({"Records": [{"EventSource": "aws:sns", "Sns": {
        "Type": "Notification", "MessageId": "sns-hostile", "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
        "Timestamp": "2026-11-20T10:00:02.000Z", "Message": message.to_string()
    }}]})
}

fn in_memory() -> (InMemoryLedger, InMemoryEventLog, LedgerConfig) {
    let config = LedgerConfig::default();
    (
        InMemoryLedger::new(&config),
        InMemoryEventLog::default(),
        config,
    )
}

#[tokio::test]
async fn a_256_kb_sns_message_is_recorded_and_every_line_fits_a_log_event() {
    let recipients: Vec<String> = (0..3).map(|i| format!("r{i}@example.com")).collect();
    let mut ses = delivery_to("m-256k", &recipients);
    let room = SNS_MAX_MESSAGE_BYTES - ses.to_string().len() + "hello".len();
    ses["mail"]["commonHeaders"]["subject"] = "s".repeat(room).into();
    assert_eq!(ses.to_string().len(), SNS_MAX_MESSAGE_BYTES);
    let (store, log, config) = in_memory();
    let app = Ingest {
        store: &store,
        log: &log,
        config,
    };
    let report = app
        .document(&sns_event(&ses), Utc::now())
        .await
        .expect("shape");
    assert_eq!(report.counts().new, 3);
    for event in log.lines() {
        let line = to_line(&event).expect("renders");
        assert!(
            line.message.len() <= MAX_EVENT_BYTES,
            "{}",
            line.message.len()
        );
        let text: Value = serde_json::from_str(&line.message).expect("JSON");
        assert_eq!(text["event_id"], event.event_id.as_str());
    }
}

#[tokio::test]
async fn ten_thousand_recipients_are_ten_thousand_events_in_log_batches_within_limits() {
    let recipients: Vec<String> = (0..10_000)
        .map(|i| format!("user{i}@example.com"))
        .collect();
    let (store, log, config) = in_memory();
    let app = Ingest {
        store: &store,
        log: &log,
        config,
    };
    let report = app
        .document(&delivery_to("m-10k", &recipients), Utc::now())
        .await
        .expect("shape");
    assert_eq!(report.counts().new, 10_000);
    assert_eq!(
        store.counter_total(&Scope::Account, Metric::Deliveries),
        10_000
    );
    let lines: Vec<_> = log
        .lines()
        .iter()
        .map(|e| to_line(e).expect("renders"))
        .collect();
    let batches = plan_batches(lines);
    assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 10_000);
    assert!(batches.len() > 1, "10,000 lines do not fit one 1 MB batch");
    for batch in &batches {
        let bytes: usize = batch.iter().map(|l| l.message.len() + 26).sum();
        assert!(bytes <= MAX_BATCH_BYTES);
    }
}

#[test]
fn deeply_nested_json_is_a_clear_error_wherever_it_hides() {
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let docs: Vec<_> = Documents::new(nested.as_bytes()).collect();
    assert_eq!(docs.len(), 1);
    assert!(
        matches!(&docs[0].1, Err(InputError::NotJson { reason, .. }) if reason.starts_with("recursion limit exceeded")),
        "{docs:?}"
    );
    // Inside an SNS Message and an SQS body: that record alone is bad.
    let in_sns = json!({"Records": [{"Sns": {"Type": "Notification", "MessageId": "deep", "Message": nested}}]});
    let in_sqs =
        json!({"Records": [{"messageId": "q-deep", "eventSource": "aws:sqs", "body": nested}]});
    for doc in [in_sns, in_sqs] {
        let inbound = split_document(&doc).expect("a known envelope");
        assert!(
            matches!(inbound[0].content.error(), Some(InputError::NotJson { reason, .. }) if reason.starts_with("recursion limit exceeded")),
            "{:?}",
            inbound[0].content
        );
    }
}

#[test]
fn broken_unicode_is_a_clear_error() {
    // A lone surrogate escape is no text.
    let text = r#"{"eventType": "Send", "mail": {"messageId": "m", "timestamp": "2026-11-20T10:00:00Z", "destination": ["\ud800@example.com"]}, "send": {}}"#;
    let docs: Vec<_> = Documents::new(text.as_bytes()).collect();
    assert!(
        matches!(&docs[0].1, Err(InputError::NotJson { reason, .. }) if reason.starts_with("unexpected end of hex escape")),
        "{docs:?}"
    );
    let mut bytes = b"{\"eventType\": \"Send\"}\n".to_vec();
    bytes.extend([0xc3, 0x28, b'\n']);
    bytes.extend(b"{\"eventType\": \"Send\"}\n");
    let docs: Vec<_> = Documents::new(&bytes[..]).collect();
    assert_eq!(docs.len(), 3, "the bad line alone: {docs:?}");
    assert!(docs[0].1.is_ok() && docs[2].1.is_ok());
}

#[test]
fn quotes_plus_tags_upper_case_and_international_domains_are_one_recipient_each() {
    let cases = [
        ("\"o'brien\"@Example.COM", "\"o'brien\"@example.com"),
        ("Jane+News@Example.com", "Jane+News@example.com"),
        ("UPPER@EXAMPLE.COM", "UPPER@example.com"),
        ("Müller@Bücher.example", "Müller@xn--bcher-kva.example"),
    ];
    let recipients: Vec<String> = cases.iter().map(|(given, _)| given.to_string()).collect();
    let events = normalise(
        &delivery_to("m-addr", &recipients),
        &Default::default(),
        Utc::now(),
    )
    .expect("normalises");
    let got: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e.recipient_original.as_deref().unwrap_or(""),
                e.recipient.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(got, cases);
    assert_eq!(
        events[3].recipient_domain.as_deref(),
        Some("xn--bcher-kva.example")
    );
}

#[tokio::test]
async fn a_1000_character_address_is_kept_as_given_and_longer_keys_are_refused_by_name() {
    let long = format!("{}@example.com", "a".repeat(1000 - "@example.com".len()));
    assert_eq!(long.len(), 1000);
    let (store, log, config) = in_memory();
    let config = LedgerConfig {
        tenant_tags: vec!["tenant".into()],
        ..config
    };
    let app = Ingest {
        store: &store,
        log: &log,
        config,
    };
    let report = app
        .document(
            &delivery_to("m-long", std::slice::from_ref(&long)),
            Utc::now(),
        )
        .await
        .expect("shape");
    assert_eq!(report.counts().new, 1);
    let line = &log.lines()[0];
    assert_eq!(line.recipient.as_deref(), Some(long.as_str()));
    assert_eq!(
        line.recipient_domain, None,
        "longer than any SMTP path: no address, kept as given"
    );

    let too_long_recipient = format!("{}@example.com", "b".repeat(1500));
    let too_long_id = "m".repeat(2000);
    let mut too_long_tag = delivery_to("m-tag", &["c@example.com".to_string()]);
    too_long_tag["mail"]["tags"]["tenant"] = json!(["t".repeat(1200)]);
    let bodies = [
        delivery_to("m-long-2", &[too_long_recipient]),
        delivery_to(&too_long_id, &["d@example.com".to_string()]),
        too_long_tag,
        delivery_to("m-fine", &["e@example.com".to_string()]),
    ];
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| json!({"messageId": format!("q-{i}"), "eventSource": "aws:sqs", "body": b.to_string()}))
        .collect();
    let report = app
        .document(&json!({"Records": records}), Utc::now())
        .await
        .expect("shape");
    assert_eq!(
        report.failed_sqs_message_ids(),
        ["q-0", "q-1", "q-2"],
        "each refused alone"
    );
    let reasons: Vec<String> = report
        .failures()
        .map(|m| match &m.result {
            Err(IngestFailure::Input(InputError::Invalid { path, message })) => {
                format!("{path}: {message}")
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(
        reasons[0].starts_with("a recipient: is 1512 bytes, more than the 1000 a ledger key holds"),
        "{}",
        reasons[0]
    );
    assert!(
        reasons[1].starts_with("mail.messageId: is 2000 bytes"),
        "{}",
        reasons[1]
    );
    assert!(
        reasons[2].starts_with("the scope tag:tenant="),
        "{}",
        reasons[2]
    );
    assert_eq!(report.counts().new, 1, "the good record is recorded");
    assert_eq!(
        store.event_count(),
        2,
        "nothing of a refused message was written"
    );
}

#[test]
fn every_hostile_document_leaves_the_parser_standing() {
    // What the tests above feed in, through the whole path, one after another. The nesting is
    // closed, as above: an array left open keeps its document open, and framing would read the
    // next line as part of it, one broken document where two are meant.
    let good = delivery_to("m-ok", &["ok@example.com".to_string()]).to_string();
    let mut input = Vec::new();
    input.extend(format!("{}{}\n", "[".repeat(50_000), "]".repeat(50_000)).as_bytes());
    input.extend([0xff, 0xfe, b'\n']);
    input.extend(format!("{good}\n").as_bytes());
    let mut recorded = 0;
    let mut rejected = Vec::new();
    for (line, doc) in Documents::new(&input[..]) {
        let doc = match doc {
            Ok(doc) => doc,
            Err(e) => {
                rejected.push((line, e));
                continue;
            }
        };
        for m in split_document(&doc).expect("shape") {
            if let Content::Ses(ses) = &m.content {
                recorded += normalise(ses, &m.origin, Utc::now())
                    .expect("normalises")
                    .len();
            }
        }
    }
    // Each bad document is refused alone, at its own line, saying what is wrong with it.
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(
        matches!(&rejected[0], (1, InputError::NotJson { what, reason })
            if what == "the document starting at line 1" && reason.starts_with("recursion limit exceeded at line 1")),
        "{:?}",
        rejected[0]
    );
    assert!(
        matches!(&rejected[1], (2, InputError::NotJson { what, reason })
            if what == "the document starting at line 2" && reason == "line 2 is not UTF-8 text (invalid byte at column 1)"),
        "{:?}",
        rejected[1]
    );
    assert_eq!(recorded, 1);
}

/// The same input against DynamoDB Local and moto's CloudWatch Logs: real key handling, real
/// `PutLogEvents` batches.
#[cfg(feature = "local-stack")]
mod on_the_local_stack {
    use super::*;
    use ses_ledger::ports::LedgerReader;
    use ses_ledger_aws::cloudwatch_logs::CloudWatchEventLog;
    use ses_ledger_aws::dynamo::DynamoLedger;
    use ses_ledger_integration_tests::{fresh_ledger, local_aws, log_messages};

    #[tokio::test]
    async fn odd_but_valid_addresses_and_a_256_kb_message_round_trip_through_dynamodb_and_the_log()
    {
        let aws = local_aws().await;
        let config = fresh_ledger(&aws, "hostile").await;
        let app = Ingest {
            store: DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws), config.clone()),
            log: CloudWatchEventLog::new(
                aws_sdk_cloudwatchlogs::Client::new(&aws),
                &config.event_log_group,
                CloudWatchEventLog::instance_stream_name(Utc::now()),
            ),
            config: config.clone(),
        };
        let long = format!("{}@example.com", "a".repeat(1000 - "@example.com".len()));
        let recipients: Vec<String> = [
            "\"o'brien\"@Example.COM",
            "Jane+News@Example.com",
            "UPPER@EXAMPLE.COM",
            "Müller@Bücher.example",
            long.as_str(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut ses = delivery_to("m-hostile-local", &recipients);
        let room = SNS_MAX_MESSAGE_BYTES - ses.to_string().len() + "hello".len();
        ses["mail"]["commonHeaders"]["subject"] = "s".repeat(room).into();
        let report = app
            .document(&sns_event(&ses), Utc::now())
            .await
            .expect("shape");
        assert!(report.failures().next().is_none(), "{:?}", report.messages);
        assert_eq!(report.counts().new, 5);
        for key in [
            "\"o'brien\"@example.com",
            "Jane+News@example.com",
            "UPPER@example.com",
            "Müller@xn--bcher-kva.example",
            long.as_str(),
        ] {
            let history = app.store.recipient_history(key, 10).await.expect("reads");
            assert_eq!(history.len(), 1, "{key:.60}");
            assert_eq!(history[0].recipient.as_deref(), Some(key));
        }
        let lines = log_messages(
            &aws_sdk_cloudwatchlogs::Client::new(&aws),
            &config.event_log_group,
        )
        .await;
        assert_eq!(lines.len(), 5, "every line accepted by PutLogEvents");
        assert!(lines.iter().all(|l| l.to_string().len() <= MAX_EVENT_BYTES));
    }
}
