//! `suppression diff` and `push` against SES v2's suppression list (a loopback stand-in).

// Needs the local stack that scripts/test.sh starts; `cargo test --workspace` alone compiles
// this file to nothing (the `local-stack` feature, see cli/Cargo.toml).
#![cfg(feature = "local-stack")]

mod common;

use common::*;
use std::collections::BTreeSet;

use ses_ledger_integration_tests::*;

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
