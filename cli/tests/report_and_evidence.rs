//! `simulate`, `report` and `evidence` against the local stack: the same numbers, counted from the
//! simulated stream's raw JSON.

// Needs the local stack that scripts/test.sh starts; `cargo test --workspace` alone compiles
// this file to nothing (the `local-stack` feature, see cli/Cargo.toml).
#![cfg(feature = "local-stack")]

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use chrono::{Duration, Utc};
use ses_ledger_integration_tests::*;

#[tokio::test]
async fn simulate_report_and_evidence_tell_the_same_numbers() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "clireport").await;
    let dir = scratch("report");
    let stream = dir.join("stream.jsonl");
    // One `now` for the whole test: midnight may not fall between two readings of the clock.
    let now = Utc::now();
    let start = (now - Duration::hours(30)).to_rfc3339();
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
    let from = (now - Duration::days(2)).date_naive().to_string();
    let to = now.date_naive().to_string();
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
