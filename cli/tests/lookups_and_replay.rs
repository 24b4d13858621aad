//! The `ses-ledger` binary as an operator runs it against DynamoDB Local and moto: `normalise`,
//! `replay` (files, saved dead-letter queues) and the lookups over what it recorded, `simulate`,
//! and `suppressed`'s answer when it cannot answer.

// Needs the local stack that scripts/test.sh starts; `cargo test --workspace` alone compiles
// this file to nothing (the `local-stack` feature, see cli/Cargo.toml).
#![cfg(feature = "local-stack")]

mod common;

use common::*;
use std::process::Command;

use ses_ledger_integration_tests::*;

#[test]
fn normalise_prints_every_recipient_event_of_the_official_examples() {
    let out = Command::new(cli())
        .arg("normalise")
        .arg(repo_root().join("events/sns/batch-all-types.json"))
        .output()
        .expect("run");
    assert_ok(&out);
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_events_in_order(&lines, &expected_events("sns/batch-all-types.json"));
    let bad = Command::new(cli())
        .arg("normalise")
        .arg(repo_root().join("events/malformed/truncated-message.json"))
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2));
    assert!(!bad.stderr.is_empty());
}

#[tokio::test]
async fn replay_is_idempotent_and_lookups_show_what_it_recorded() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "clireplay").await;
    let sns = repo_root().join("events/sns");
    let sqs = repo_root().join("events/sqs");
    let first = run(
        &config,
        &[
            "replay",
            "--quiet",
            sns.to_str().unwrap_or_default(),
            sqs.to_str().unwrap_or_default(),
        ],
    );
    assert_ok(&first);
    // 15 official examples, each in sns/ once alone and once in the batch, and in sqs/ with and
    // without raw delivery: 60 SES messages, 64 recipient events (one example names two
    // recipients), of which the 16 distinct ones are new.
    let mut total = 0;
    let mut distinct_ids = std::collections::BTreeSet::new();
    for folder in ["sns", "sqs"] {
        for (name, _) in fixtures_in(folder) {
            let events = expected_events(&format!("{folder}/{name}.json"));
            total += events.len();
            distinct_ids.extend(events.iter().map(|e| e.event_id().to_string()));
        }
    }
    assert_eq!((total, distinct_ids.len()), (64, 16));
    assert_eq!(
        stdout(&first).trim_end().lines().last(),
        Some("60 SES messages: 16 recipient events new, 48 duplicate, 0 messages rejected, 0 skipped")
    );
    let second = run(
        &config,
        &[
            "replay",
            "--quiet",
            sns.to_str().unwrap_or_default(),
            sqs.to_str().unwrap_or_default(),
        ],
    );
    assert_eq!(
        stdout(&second).trim_end().lines().last(),
        Some(
            "60 SES messages: 0 recipient events new, 64 duplicate, 0 messages rejected, 0 skipped"
        )
    );

    let bad = run(
        &config,
        &[
            "replay",
            "--quiet",
            repo_root()
                .join("events/malformed/wrong-types.json")
                .to_str()
                .unwrap_or_default(),
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stdout(&bad).contains("1 messages rejected"),
        "{}",
        stdout(&bad)
    );
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("SNS message"),
        "names the message"
    );

    // The official bounce example bounced recipient@example.com (Permanent).
    let history = run(
        &config,
        &["recipient", "Recipient@EXAMPLE.com", "--output", "json"],
    );
    assert!(history.status.success());
    let json: serde_json::Value = serde_json::from_str(&stdout(&history)).expect("json");
    assert_eq!(json["recipient"], "Recipient@example.com");
    // The event-publishing examples are sent to recipient@example.com; the address is matched
    // case-insensitively in the domain only, so `Recipient@` is another mailbox.
    assert_eq!(json["history"], serde_json::json!([]), "{json}");
    let history = run(
        &config,
        &["recipient", "recipient@EXAMPLE.com", "--output", "json"],
    );
    assert!(history.status.success());
    let json: serde_json::Value = serde_json::from_str(&stdout(&history)).expect("json");
    let mut expected: Vec<ExpectedEvent> = fixtures_in("ses/event-publishing")
        .into_iter()
        .flat_map(|(name, _)| expected_events(&format!("ses/event-publishing/{name}.json")))
        .filter(|e| e.recipient() == "recipient@example.com")
        .map(|e| e.kept_by_the_ledger())
        .collect();
    expected.sort_by_key(|e| e.event_id().to_string());
    let mut history: Vec<serde_json::Value> =
        json["history"].as_array().cloned().unwrap_or_default();
    let times: Vec<&str> = history
        .iter()
        .map(|e| e["event_time"].as_str().unwrap_or_default())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    history.sort_by_key(|e| e["event_id"].as_str().unwrap_or_default().to_string());
    assert_events_in_order(&history, &expected);
    assert_eq!(expected.len(), 9, "every event-publishing type but Reject");
    // Bounced (Permanent) and complained at the same moment: the complaint outranks.
    assert_eq!(
        json["summary"]["suppression"],
        serde_json::json!({"reason": "complaint", "since": "2017-08-05T00:41:02.669Z"})
    );
    assert_eq!(json["summary"]["counts"]["Bounce"], 1);
    assert_eq!(json["summary"]["counts"]["Complaint"], 1);
    assert_eq!(json["summary"]["counts"]["Open"], 1);
    let suppressed = run(&config, &["suppressed", "richard@example.com"]);
    assert_eq!(
        suppressed.status.code(),
        Some(0),
        "complained: {}",
        stdout(&suppressed)
    );
    assert!(stdout(&suppressed).contains("complaint"));
    let unknown = run(&config, &["suppressed", "nobody@example.org"]);
    assert_eq!(unknown.status.code(), Some(1));

    let bounce = fixture("ses/notification/bounce-notification-with-a-dsn.json");
    let id = bounce["mail"]["messageId"].as_str().expect("id");
    let message = run(&config, &["message", id, "--output", "csv"]);
    assert!(message.status.success());
    let csv = stdout(&message);
    assert!(
        csv.starts_with("event time,type,subtype,recipient,detail"),
        "{csv}"
    );
    assert!(csv.contains("Bounce,Permanent/General,"), "{csv}");
    assert_eq!(
        run(&config, &["message", "no-such-message"]).status.code(),
        Some(1)
    );
}

#[tokio::test]
async fn simulate_can_ingest_straight_into_the_ledger_and_is_reproducible() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "clisimulate").await;
    let args = [
        "simulate",
        "--days",
        "1",
        "--sends-per-day",
        "40",
        "--seed",
        "3",
        "--start",
        "2026-11-01T00:00:00Z",
        "--ingest",
        "--quiet",
    ];
    let first = run(&config, &args);
    assert_ok(&first);
    let text = stdout(&first);
    assert!(
        text.contains("0 messages rejected") && !text.contains(": 0 recipient events new"),
        "{text}"
    );
    let again = run(&config, &args);
    assert!(
        stdout(&again).contains(": 0 recipient events new"),
        "the same seed is all duplicates: {}",
        stdout(&again)
    );
}

#[test]
fn suppressed_exits_2_when_it_cannot_answer() {
    // Nothing listens on port 1: the lookup fails, and "may I mail this address?" must not be
    // answered with "yes" (1) or "no" (0).
    let out = Command::new(cli())
        .args([
            "suppressed",
            "anyone@example.com",
            "--table",
            "no-table",
            "--endpoint-url",
            "http://127.0.0.1:1",
        ])
        .output()
        .expect("run ses-ledger");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ses-ledger:"), "says what failed: {stderr}");
}

#[tokio::test]
async fn replay_takes_dead_letter_queue_contents_as_saved() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "clidlq").await;
    // A Lambda on-failure record (the direct transport's DLQ), and `aws sqs receive-message`
    // output holding one of each DLQ's bodies.
    let dlq = repo_root().join("events/dlq");
    let first = run(
        &config,
        &["replay", "--quiet", dlq.to_str().unwrap_or_default()],
    );
    assert_ok(&first);
    assert_eq!(
        stdout(&first).trim_end().lines().last(),
        Some("3 SES messages: 3 recipient events new, 0 duplicate, 0 messages rejected, 0 skipped")
    );
    let mut expected = expected_events("dlq/on-failure-record.json");
    expected.extend(expected_events("dlq/receive-message.json"));
    for e in &expected {
        let message_id = e.record["ses_message_id"].as_str().unwrap_or_default();
        let out = run(&config, &["message", message_id, "--output", "json"]);
        assert!(out.status.success(), "{}", stdout(&out));
        let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
        let events = json["events"].as_array().cloned().unwrap_or_default();
        let stored: Vec<serde_json::Value> = events
            .into_iter()
            .filter(|s| s["event_id"] == e.event_id())
            .collect();
        assert_events_in_order(&stored, &[e.kept_by_the_ledger()]);
    }
    let again = run(
        &config,
        &["replay", "--quiet", dlq.to_str().unwrap_or_default()],
    );
    assert_eq!(
        stdout(&again).trim_end().lines().last(),
        Some("3 SES messages: 0 recipient events new, 3 duplicate, 0 messages rejected, 0 skipped")
    );

    // What a dump of an SES topic also holds: skipped by name, and the replay still succeeds.
    let skipped = repo_root().join("events/skipped");
    let out = run(
        &config,
        &["replay", "--quiet", skipped.to_str().unwrap_or_default()],
    );
    assert_ok(&out);
    assert_eq!(
        stdout(&out).trim_end().lines().last(),
        Some("5 SES messages: 0 recipient events new, 0 duplicate, 0 messages rejected, 5 skipped")
    );
    let notes = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        notes.matches("skipped (received_mail)").count(),
        2,
        "{notes}"
    );
}
