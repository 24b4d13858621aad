//! Recipients' privacy through the CLI: an erasure request (`forget`) and a pseudonymised ledger.

// Needs the local stack that scripts/test.sh starts; `cargo test --workspace` alone compiles
// this file to nothing (the `local-stack` feature, see cli/Cargo.toml).
#![cfg(feature = "local-stack")]

mod common;

use common::*;
use std::collections::BTreeSet;

use ses_ledger_integration_tests::*;

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
