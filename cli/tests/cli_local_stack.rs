//! The `ses-ledger` binary, as an operator runs it, against DynamoDB Local and moto.

// Needs the local stack that scripts/test.sh starts; `cargo test --workspace` alone compiles
// this file to nothing (the `local-stack` feature, see cli/Cargo.toml).
#![cfg(feature = "local-stack")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{Duration, Utc};
use ses_ledger::config::LedgerConfig;
use ses_ledger_integration_tests::*;

/// The CLI as Cargo built it for this test run: `CARGO_BIN_EXE_*` makes Cargo build the binary
/// before the test and point at that build, so a stale `target/debug/ses-ledger` is never run.
fn cli() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ses-ledger"))
}

fn run(config: &LedgerConfig, args: &[&str]) -> Output {
    run_with(config, &[], args)
}

/// `run` with extra environment variables (an endpoint for a service, a window setting).
fn run_with(config: &LedgerConfig, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(cli())
        .envs(env.iter().copied())
        .args(args)
        .args([
            "--table",
            &config.table_name,
            "--log-group",
            &config.event_log_group,
        ])
        .output()
        .expect("run ses-ledger")
}

/// A simulated stream (`simulate` with `args`) written to `dir/stream.jsonl` and replayed into
/// the ledger; the stream's path.
fn simulate_and_replay(config: &LedgerConfig, dir: &Path, args: &[&str]) -> PathBuf {
    let stream = dir.join("stream.jsonl");
    let sim = Command::new(cli())
        .arg("simulate")
        .args(args)
        .arg("--out")
        .arg(&stream)
        .output()
        .expect("simulate");
    assert_ok(&sim);
    let replay = run(
        config,
        &["replay", "--quiet", stream.to_str().unwrap_or_default()],
    );
    assert_ok(&replay);
    stream
}

/// The command succeeded; if not, its stderr says why.
#[track_caller]
fn assert_ok(o: &Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Distinct values at `pointer` of the JSON lines that contain `marker`.
fn distinct(lines: &str, marker: &str, pointer: &str) -> std::collections::BTreeSet<String> {
    lines
        .lines()
        .filter(|l| l.contains(marker))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            v.pointer(pointer)
                .and_then(|x| x.as_str())
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ses-ledger-{name}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

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
async fn simulate_report_and_evidence_tell_the_same_numbers() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "clireport").await;
    let dir = scratch("report");
    let stream = dir.join("stream.jsonl");
    let start = (Utc::now() - Duration::hours(30)).to_rfc3339();
    let sim = |out: &Path, seed: &str| {
        Command::new(cli())
            .args([
                "simulate",
                "--days",
                "1",
                "--sends-per-day",
                "300",
                "--complaints-per-day",
                "2",
                "--seed",
                seed,
            ])
            .args(["--start", &start])
            .arg("--out")
            .arg(out)
            .output()
            .expect("simulate")
    };
    assert!(sim(&stream, "9").status.success());
    let again = dir.join("again.jsonl");
    sim(&again, "9");
    let other = dir.join("other.jsonl");
    sim(&other, "10");
    let read = |p: &Path| std::fs::read_to_string(p).expect("stream");
    assert!(read(&stream) == read(&again), "same seed, same stream");
    assert!(
        read(&stream) != read(&other),
        "another seed, another stream"
    );

    let replay = run(
        &config,
        &["replay", "--quiet", stream.to_str().unwrap_or_default()],
    );
    assert_ok(&replay);
    // In AWS the count function follows the table's stream; here the test hands it the changes.
    assert!(TableDiffStream::default().count(&aws, &config).await > 0);

    let report = run(
        &config,
        &[
            "report", "--no-ses", "--scope", "account", "--output", "json",
        ],
    );
    assert_ok(&report);
    let json: serde_json::Value = serde_json::from_str(&stdout(&report)).expect("json");
    // The stream started 30 hours ago: the 7-day window holds all of it.
    let day = &json[0]["windows"][1];
    let complaints = distinct(&read(&stream), "\"complaint\":", "/complaint/feedbackId");
    assert_eq!(
        day["naive_complaint"]["numerator"],
        complaints.len(),
        "each complaint once, whatever the format"
    );
    let deliveries = distinct(
        &read(&stream),
        "\"eventType\":\"Delivery\"",
        "/mail/messageId",
    );
    assert_eq!(
        day["naive_complaint"]["denominator"],
        deliveries.len(),
        "each delivery once"
    );
    let table = run(&config, &["report", "--no-ses"]);
    assert!(
        stdout(&table).contains("tag:tenant=acme"),
        "{}",
        stdout(&table)
    );

    let out = dir.join("evidence");
    let from = (Utc::now() - Duration::days(2)).date_naive().to_string();
    let to = Utc::now().date_naive().to_string();
    let evidence = run(
        &config,
        &[
            "evidence",
            "--from",
            &from,
            "--to",
            &to,
            "--out",
            out.to_str().unwrap_or_default(),
        ],
    );
    assert_ok(&evidence);
    let summary = std::fs::read_to_string(out.join("summary.md")).expect("summary");
    let naive = format!("{} / {}", complaints.len(), deliveries.len());
    assert!(
        summary.contains(&naive),
        "the summary's naive rate is {naive}:\n{summary}"
    );
    // Every complaint and bounce of the stream is one CSV row, with its recipient and message.
    let stream_text = read(&stream);
    let pairs = |kind: &str, list: &str| -> BTreeSet<(String, String)> {
        stream_text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
            .filter(|v| v["eventType"] == kind || v["notificationType"] == kind)
            .flat_map(|v| {
                let message = v["mail"]["messageId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                v[kind.to_lowercase()][list]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |r| {
                        let address = r["emailAddress"].as_str().unwrap_or_default();
                        (address.to_lowercase(), message.clone())
                    })
            })
            .collect()
    };
    let rows = |file: &str| -> Vec<csv::StringRecord> {
        csv::Reader::from_path(out.join(file))
            .expect(file)
            .records()
            .map(|r| r.expect("CSV row"))
            .collect()
    };
    let complaint_rows = rows("complaints.csv");
    assert_eq!(complaint_rows.len(), complaints.len());
    let listed: BTreeSet<(String, String)> = complaint_rows
        .iter()
        .map(|r| (r[1].to_lowercase(), r[6].to_string()))
        .collect();
    assert_eq!(listed, pairs("Complaint", "complainedRecipients"));
    let bounce_rows = rows("bounces.csv");
    let listed: BTreeSet<(String, String)> = bounce_rows
        .iter()
        .map(|r| (r[1].to_lowercase(), r[8].to_string()))
        .collect();
    assert_eq!(bounce_rows.len(), listed.len(), "each bounce once");
    assert_eq!(listed, pairs("Bounce", "bouncedRecipients"));
    // The daily counts add up to the same totals as the report.
    let daily = rows("daily.csv");
    let header = csv::Reader::from_path(out.join("daily.csv"))
        .expect("daily.csv")
        .headers()
        .expect("header")
        .clone();
    let column = |name: &str| -> u64 {
        let i = header.iter().position(|h| h == name).expect(name);
        daily
            .iter()
            .map(|r| r[i].parse::<u64>().expect("count"))
            .sum()
    };
    assert!(!daily.is_empty() && daily.len() <= 3, "{daily:?}");
    assert_eq!(column("complaints") as usize, complaints.len());
    assert_eq!(column("deliveries") as usize, deliveries.len());
    let queries = std::fs::read_to_string(out.join("queries.md")).expect("queries");
    assert!(queries.contains("dedup event_id"));
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

/// An erasure request: `forget` lists, then deletes, every item naming the address and nothing
/// else; the counters (and so the rates) stay as they were, even after the stream has carried the
/// deletions to the count function; a second run finds nothing.
#[tokio::test]
async fn forget_erases_one_recipient_and_keeps_the_counters() {
    let aws = local_aws().await;
    let config = fresh_ledger_with_stream(&aws, "cliforget").await;
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    let sns = repo_root().join("events/sns");
    let replay = run(
        &config,
        &["replay", "--quiet", sns.to_str().unwrap_or_default()],
    );
    assert_ok(&replay);
    // The same person, written with a capital by another sender: SES reports it as written and
    // the ledger keeps the local part's case, so this is a key of its own.
    let capital = "Recipient@example.com";
    let other_case = scratch("forget-case").join("capital.json");
    std::fs::write(
        &other_case,
        delivery(
            "forget-capital",
            &["Recipient@Example.COM"],
            "2026-11-20T10:00:00.000Z",
        )
        .to_string(),
    )
    .expect("write");
    assert_ok(&run(
        &config,
        &["replay", "--quiet", other_case.to_str().unwrap_or_default()],
    ));
    count_stream(&aws, &config).await;
    let before = scan_all(&ddb, &config.table_name).await;
    let gone = "recipient@example.com";
    let names_it = |i: &Item| {
        [gone, capital]
            .iter()
            .any(|a| attr_s(i, "rcpt") == *a || attr_s(i, "pk") == format!("RCPT#{a}"))
    };
    assert_eq!(
        before
            .iter()
            .filter(|i| attr_s(i, "rcpt") == capital)
            .count(),
        1,
        "the capitalised address has its own event"
    );
    let theirs = before
        .iter()
        .filter(|i| names_it(i) && attr_s(i, "rcpt") != capital)
        .count();
    let their_events = before.iter().filter(|i| attr_s(i, "rcpt") == gone).count();
    let their_messages: BTreeSet<String> = before
        .iter()
        .filter(|i| attr_s(i, "rcpt") == gone)
        .map(|i| attr_s(i, "pk"))
        .collect();
    assert!(
        their_events >= 5 && theirs == their_events + 1,
        "the official examples give recipient@example.com events and a suppression state: {their_events} of {theirs}"
    );
    let counters = |items: &[Item]| -> Vec<Item> {
        items
            .iter()
            .filter(|i| attr_s(i, "pk").starts_with("CNT#"))
            .cloned()
            .collect()
    };
    assert!(!counters(&before).is_empty(), "the stream was counted");

    // A dry run by default, and the address is normalised as ingest normalised it.
    let dry = run(&config, &["forget", "recipient@EXAMPLE.com"]);
    assert_ok(&dry);
    let text = stdout(&dry);
    assert!(
        text.starts_with(&format!(
            "{gone}: {their_events} event items of {} messages, and its suppression state\n\
             {capital}: 1 event item of 1 message\ndry run",
            their_messages.len()
        )),
        "every case of the local part is found: {text}"
    );
    assert_eq!(
        scan_all(&ddb, &config.table_name).await,
        before,
        "a dry run deletes nothing"
    );

    let erased = run(&config, &["forget", "recipient@EXAMPLE.com", "--yes"]);
    assert_ok(&erased);
    let text = stdout(&erased);
    assert!(text.contains("\ndeleted."), "{text}");
    assert!(
        text.contains(&format!("the event log {} keeps", config.event_log_group)),
        "says what it cannot delete: {text}"
    );
    let after = scan_all(&ddb, &config.table_name).await;
    let kept: Vec<Item> = before.iter().filter(|i| !names_it(i)).cloned().collect();
    assert_eq!(
        after, kept,
        "exactly the address's items are gone, every other item is untouched"
    );
    assert!(
        scan_index(&ddb, &config.table_name, "by_recipient")
            .await
            .iter()
            .all(|i| attr_s(i, "rcpt") != gone),
        "and its index entries"
    );
    // The deletions reach the count function as REMOVE records; they count nothing.
    count_stream(&aws, &config).await;
    assert_eq!(
        counters(&scan_all(&ddb, &config.table_name).await),
        counters(&before),
        "the counters are unchanged"
    );

    let lookup = run(&config, &["recipient", gone, "--output", "json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&lookup)).expect("json");
    assert_eq!(json["history"], serde_json::json!([]), "{json}");
    assert_eq!(run(&config, &["suppressed", gone]).status.code(), Some(1));

    let again = run(&config, &["forget", gone, "--yes"]);
    assert!(again.status.success());
    assert!(
        stdout(&again).starts_with(&format!("{gone}: nothing stored\nnothing to delete")),
        "{}",
        stdout(&again)
    );
    assert!(
        stdout(&again).contains("Every case of the address's local part was looked for"),
        "{}",
        stdout(&again)
    );
    assert!(scan_all(&ddb, &config.table_name)
        .await
        .iter()
        .all(|i| !names_it(i)));
}

/// A screenshot, decoded to RGB.
struct Screenshot {
    rgb: Vec<[u8; 3]>,
}

impl Screenshot {
    /// Pixels within a small distance of `colour` (anti-aliased edges blend into the white).
    fn pixels_like(&self, colour: [u8; 3]) -> usize {
        self.rgb
            .iter()
            .filter(|p| {
                p.iter()
                    .zip(colour)
                    .map(|(a, b)| a.abs_diff(b) as u32)
                    .sum::<u32>()
                    <= 12
            })
            .count()
    }
}

/// Debian's headless Chromium renders `page` with every host name unresolvable (and the page's
/// own policy forbids any fetch), then takes a screenshot.
fn screenshot(page: &Path, dir: &Path) -> Screenshot {
    let chromium =
        std::env::var("SES_LEDGER_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let id = uuid::Uuid::new_v4().simple().to_string();
    let png_path = dir.join(format!("screenshot-{id}.png"));
    let out = Command::new("timeout")
        .arg("120")
        .arg(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--window-size=1000,1500",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.join(format!("chromium-{id}")).display()
        ))
        .arg(format!("--screenshot={}", png_path.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|e| {
            panic!("{chromium} did not start ({e}): scripts/install-chromium.sh installs it")
        });
    assert!(
        png_path.exists(),
        "{chromium} wrote no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png_path).expect("screenshot"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG frame");
    let channels = info.color_type.samples();
    assert!(info.bit_depth == png::BitDepth::Eight && channels >= 3);
    let rgb = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect::<Vec<_>>();
    assert_eq!(rgb.len(), 1000 * 1500, "the window's size");
    Screenshot { rgb }
}

/// The stroke colours an SVG draws with, other than black, white and greys (axes and grid).
fn stroke_colours(svg: &str) -> BTreeSet<[u8; 3]> {
    svg.split("stroke=\"#")
        .skip(1)
        .filter_map(|rest| {
            let hex = rest.get(..6)?;
            let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
            Some([byte(0)?, byte(2)?, byte(4)?])
        })
        .filter(|[r, g, b]| !(r == g && g == b))
        .collect()
}

/// The evidence folder's report.html, as a person would see it: Debian's headless Chromium
/// (scripts/install-chromium.sh installs it) renders it with no network and takes a screenshot,
/// and the screenshot shows every line of every chart in its colour. `report --html` writes the
/// same kind of page.
#[tokio::test]
async fn evidence_report_html_renders_its_charts_offline_in_a_real_browser() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "clihtml").await;
    let dir = scratch("html");
    let first = (Utc::now() - Duration::days(5)).date_naive();
    let last = Utc::now().date_naive();
    let start = format!("{first}T00:00:00Z");
    simulate_and_replay(
        &config,
        &dir,
        &[
            "--days",
            "5",
            "--sends-per-day",
            "400",
            "--complaints-per-day",
            "3",
            "--seed",
            "5",
            "--start",
            &start,
        ],
    );
    assert!(TableDiffStream::default().count(&aws, &config).await > 0);

    let out = dir.join("evidence");
    let evidence = run(
        &config,
        &[
            "evidence",
            "--no-ses",
            "--from",
            &first.to_string(),
            "--to",
            &last.to_string(),
            "--out",
            out.to_str().unwrap_or_default(),
        ],
    );
    assert_ok(&evidence);
    let page = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    let summary = std::fs::read_to_string(out.join("summary.md")).expect("summary.md");
    // The page carries the summary's figures and the three pictures, each also a file.
    let naive_line = summary
        .lines()
        .find(|l| l.starts_with("| naive complaint rate"))
        .expect("the naive rate in the summary");
    let naive_figure = naive_line.rsplit('|').nth(1).unwrap_or_default().trim();
    assert!(
        naive_figure.contains(" / ") && page.contains(naive_figure),
        "{naive_figure} not in the page"
    );
    let mut colours = BTreeSet::new();
    for chart in ["daily-volume", "complaint-rate", "bounce-rate"] {
        let svg = std::fs::read_to_string(out.join(format!("{chart}.svg"))).expect(chart);
        assert!(page.contains(&svg), "{chart}.svg is inline in the page");
        colours.extend(stroke_colours(&svg));
    }
    // Every day of the period is on the axis.
    for day in first.iter_days().take_while(|d| *d <= last) {
        let label = day.format("%m-%d").to_string();
        assert!(
            page.contains(&format!("\n{label}\n</text>")),
            "{day} on the axis"
        );
    }
    // Two coloured volume lines (sends are grey), two complaint rates, the bounce rate, and
    // SES's two levels.
    assert!(colours.len() >= 7, "{colours:?}");

    // A legend entry is 20 pixels of a 3-pixel line: 300 pixels of a colour take its line
    // across the days.
    let shot = screenshot(&out.join("report.html"), &dir);
    for colour in &colours {
        let n = shot.pixels_like(*colour);
        assert!(
            n >= 300,
            "the screenshot shows {n} pixels of the chart colour {colour:02x?}"
        );
    }
    // A colour no chart draws is not seen: the counts above are of the charts.
    assert_eq!(shot.pixels_like([0x00, 0xff, 0x00]), 0);

    // The longest window reaches back a week, so the simulated days fill the charts.
    let report_page = dir.join("report.html");
    let report = run_with(
        &config,
        &[("SES_LEDGER_RECENT_SENDS_MAX_DAYS", "7")],
        &[
            "report",
            "--no-ses",
            "--html",
            report_page.to_str().unwrap_or_default(),
        ],
    );
    assert_ok(&report);
    let html = std::fs::read_to_string(&report_page).expect("report --html");
    assert!(
        html.contains("<td>tag:tenant=acme</td>"),
        "every scope's rows"
    );
    assert_eq!(html.matches("<svg").count(), 3);
    let shot = screenshot(&report_page, &dir);
    let report_colours: BTreeSet<[u8; 3]> = html
        .split("<svg")
        .skip(1)
        .flat_map(stroke_colours)
        .collect();
    assert!(report_colours.len() >= 7);
    for colour in &report_colours {
        let n = shot.pixels_like(*colour);
        assert!(n >= 300, "{n} pixels of {colour:02x?}");
    }
}

/// `suppression diff` and `push` against SES v2's suppression list (the loopback stand-in of
/// tests/src/ses_v2.rs, which pages it two at a time): every address lands in the right place,
/// a dry run changes nothing, `--apply` adds exactly what SES lacked with SES's reason and leaves
/// SES's own entries alone, and a second push adds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suppression_diff_and_push_against_ses_v2() {
    use ses_ledger_integration_tests::ses_v2::SesV2Stub;
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "clisuppression").await;
    let dir = scratch("suppression");
    simulate_and_replay(
        &config,
        &dir,
        &[
            "--days",
            "2",
            "--sends-per-day",
            "300",
            "--complaints-per-day",
            "3",
            "--seed",
            "11",
        ],
    );
    // What the ledger suppresses, read straight from the table.
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    let ours: std::collections::BTreeMap<String, String> = scan_all(&ddb, &config.table_name)
        .await
        .iter()
        .filter(|i| {
            attr_s(i, "sk") == "SUMMARY"
                && i.get("suppressed").and_then(|v| v.as_bool().ok()) == Some(&true)
        })
        .map(|i| {
            (
                attr_s(i, "pk").trim_start_matches("RCPT#").to_string(),
                attr_s(i, "suppression_reason"),
            )
        })
        .collect();
    let complainer = ours
        .iter()
        .find(|(_, r)| r.as_str() == "complaint")
        .map(|(a, _)| a.clone())
        .expect("a complainer");
    let bounced = ours
        .iter()
        .find(|(_, r)| r.as_str() != "complaint")
        .map(|(a, _)| a.clone())
        .expect("a bounced address");
    assert!(ours.len() >= 4, "{ours:?}");
    let ses = SesV2Stub::start(
        2,
        &[
            (bounced.as_str(), "BOUNCE"),
            (complainer.as_str(), "BOUNCE"),
            ("someone-else@example.net", "COMPLAINT"),
        ],
    )
    .await;
    let with_ses = |args: &[&str]| run_with(&config, &[("AWS_ENDPOINT_URL_SESV2", &ses.url)], args);

    let diff = with_ses(&["suppression", "diff", "--output", "json"]);
    assert_ok(&diff);
    let compared: Vec<serde_json::Value> = serde_json::from_str(&stdout(&diff)).expect("json");
    let agreement = |address: &str| {
        compared
            .iter()
            .find(|c| c["address"] == address)
            .map(|c| c["agreement"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(agreement(&bounced).as_deref(), Some("agree"));
    assert_eq!(agreement(&complainer).as_deref(), Some("other_reason"));
    assert_eq!(
        agreement("someone-else@example.net").as_deref(),
        Some("ses_only")
    );
    assert_eq!(
        compared.len(),
        ours.len() + 1,
        "every address of either list once"
    );
    let ledger_only: BTreeSet<String> = ours
        .keys()
        .filter(|a| **a != bounced && **a != complainer)
        .cloned()
        .collect();
    for a in &ledger_only {
        assert_eq!(agreement(a).as_deref(), Some("ledger_only"), "{a}");
    }
    let (lists, _) = ses.calls();
    assert!(
        lists >= 2,
        "the two-entry pages were followed: {lists} calls"
    );

    let dry = with_ses(&["suppression", "push"]);
    assert_ok(&dry);
    assert!(
        stdout(&dry).contains(&format!(
            "dry run: {} addresses would be added",
            ledger_only.len()
        )),
        "{}",
        stdout(&dry)
    );
    assert_eq!(ses.calls().1, 0, "a dry run adds nothing");

    let applied = with_ses(&["suppression", "push", "--apply"]);
    assert_ok(&applied);
    assert!(stdout(&applied).contains(&format!("added {} addresses", ledger_only.len())));
    let listed = ses.entries();
    for (address, reason) in &ours {
        let expected = if address == &complainer {
            "BOUNCE" // SES's own entry, left as SES had it
        } else if reason == "complaint" {
            "COMPLAINT"
        } else {
            "BOUNCE"
        };
        assert_eq!(
            listed.get(address).map(String::as_str),
            Some(expected),
            "{address}"
        );
    }
    assert_eq!(listed.len(), ours.len() + 1);
    assert_eq!(ses.calls().1, ledger_only.len());

    let again = with_ses(&["suppression", "push", "--apply"]);
    assert!(again.status.success());
    assert!(
        stdout(&again).contains("nothing to add"),
        "{}",
        stdout(&again)
    );
    assert_eq!(
        ses.calls().1,
        ledger_only.len(),
        "idempotent: no second add"
    );
}

/// A SecureString parameter with `value`, as an operator creates the key (moto keeps it).
async fn put_parameter(
    aws: &aws_config::SdkConfig,
    name: &str,
    kind: aws_sdk_ssm::types::ParameterType,
    value: &str,
) {
    aws_sdk_ssm::Client::new(aws)
        .put_parameter()
        .name(name)
        .r#type(kind)
        .value(value)
        .overwrite(true)
        .send()
        .await
        .expect("moto stores the parameter");
}

/// Pseudonymisation end to end: a replay with the stack's key parameter leaves no recipient
/// address in any DynamoDB item or log line, the CLI finds a typed address by its pseudonym
/// (`recipient`, `pseudonym`, `forget`), and a key it cannot trust is refused before anything is
/// written.
#[tokio::test]
async fn a_pseudonymised_ledger_holds_no_address_and_the_cli_finds_them_by_key() {
    use aws_sdk_ssm::types::ParameterType;
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "clipseud").await;
    let parameter = format!("/ses-ledger-test/{}/pseudonym-key", config.table_name);
    put_parameter(
        &aws,
        &parameter,
        ParameterType::SecureString,
        "a0c1f3e5b7d9e2f4a6c8e0b2d4f6a8c0\n",
    )
    .await;
    let keyed = [("SES_LEDGER_PSEUDONYM_KEY_PARAMETER", parameter.as_str())];
    let events = repo_root().join("events");
    let replay = run_with(
        &config,
        &keyed,
        &[
            "replay",
            "--quiet",
            events.join("sns").to_str().unwrap_or_default(),
            events.join("privacy").to_str().unwrap_or_default(),
        ],
    );
    assert_ok(&replay);

    let recipients = [
        "recipient@example.com",
        "jane@example.com",
        "richard@example.com",
        "jane.doe@example.com",
        "ann@example.net",
        "zoe@example.com",
        "bob@yahoo.com",
    ];
    let items = scan_all(&aws_sdk_dynamodb::Client::new(&aws), &config.table_name).await;
    let stored = format!("{items:?}").to_ascii_lowercase();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&aws);
    let lines = log_messages(&logs, &config.event_log_group).await;
    let logged = serde_json::to_string(&lines)
        .expect("json")
        .to_ascii_lowercase();
    assert!(
        items.len() > 20 && lines.len() >= 20,
        "{} items, {} lines",
        items.len(),
        lines.len()
    );
    for address in recipients {
        assert!(!stored.contains(address), "{address} in DynamoDB");
        assert!(!logged.contains(address), "{address} in the event log");
        assert!(
            !logged.contains(&address.replace('@', "%40")),
            "{address} in the event log"
        );
    }
    assert!(lines.iter().all(|l| l
        .get("recipient")
        .and_then(|r| r.as_str())
        .is_none_or(ses_ledger::privacy::is_pseudonym)));
    assert!(
        logged.contains("\"recipient_domain\":\"yahoo.com\""),
        "domains stay in clear"
    );

    // The CLI keys what the operator types with the same key.
    let pseudonym = run_with(&config, &keyed, &["pseudonym", "recipient@EXAMPLE.com"]);
    assert_ok(&pseudonym);
    let hmac = stdout(&pseudonym).trim().to_string();
    assert!(ses_ledger::privacy::is_pseudonym(&hmac), "{hmac}");
    assert!(
        stored.contains(&format!("rcpt#{hmac}")),
        "the pseudonym keys the history"
    );
    let found = run_with(&config, &keyed, &["recipient", "recipient@example.com"]);
    let text = stdout(&found);
    assert!(
        text.starts_with(&format!("recipient@example.com ({hmac}): suppressed")),
        "{text}"
    );
    let unkeyed = run(&config, &["recipient", "recipient@example.com"]);
    assert!(
        stdout(&unkeyed).contains("unknown address"),
        "{}",
        stdout(&unkeyed)
    );
    let forget = run_with(
        &config,
        &keyed,
        &["forget", "recipient@example.com", "--yes"],
    );
    assert!(
        stdout(&forget).contains("\ndeleted."),
        "{}",
        stdout(&forget)
    );
    let after = scan_all(&aws_sdk_dynamodb::Client::new(&aws), &config.table_name).await;
    assert!(
        !format!("{after:?}").contains(&hmac),
        "forget removes every item naming it"
    );

    // A key in a plain String parameter, or one too short, stops the CLI before any write.
    let plain = format!("{parameter}-plain");
    put_parameter(&aws, &plain, ParameterType::String, &"k".repeat(40)).await;
    let short = format!("{parameter}-short");
    put_parameter(&aws, &short, ParameterType::SecureString, "too short").await;
    for (name, says) in [
        (plain.as_str(), "must be a SecureString"),
        (short.as_str(), "at least 32"),
        (
            "/ses-ledger-test/no-such-parameter",
            "reading the pseudonymisation key",
        ),
    ] {
        let out = run_with(
            &config,
            &[("SES_LEDGER_PSEUDONYM_KEY_PARAMETER", name)],
            &[
                "replay",
                "--quiet",
                events.join("sns").to_str().unwrap_or_default(),
            ],
        );
        assert!(!out.status.success(), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{name}: {err}");
    }
    assert_eq!(
        scan_all(&aws_sdk_dynamodb::Client::new(&aws), &config.table_name).await,
        after,
        "nothing was written with a refused key"
    );
}
