//! `normalise`'s fast path for bare SES messages (`SesMessage::parse_bare_text`) against the
//! general path it stands in for (a `Value`, the envelope split, `SesMessage::parse`,
//! `normalise`): wherever the fast path answers, both give the same message and the same records;
//! wherever it declines, the general path is taken, so nothing it declines is lost.

use std::cell::Cell;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};
use ses_ledger::documents::{Documents, SesDocument};
use ses_ledger::envelope::{bare_message_origin, split_owned_document, Content, InputError};
use ses_ledger::event::RecipientEvent;
use ses_ledger::normalise::{normalise, normalise_message};
use ses_ledger::privacy::Addresses;
use ses_ledger::ses::SesMessage;
use ses_ledger::simulate::{generate, Scenario, TenantProfile};
use ses_ledger::testkit::fixtures::{fixtures_in, DOCUMENT_FOLDERS};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
}

type Records = Result<Vec<RecipientEvent>, InputError>;

/// What the general path makes of `text`: the message and records (or why there are none) of a
/// bare SES message, or `None` for anything else (an envelope, a skip, a parse error).
fn general(text: &str) -> Option<(SesMessage, Records)> {
    let value: Value = serde_json::from_str(text).ok()?;
    let mut inbound = split_owned_document(value).ok()?;
    if inbound.len() != 1 || inbound[0].origin != bare_message_origin() {
        return None;
    }
    let Content::Ses(ses) = inbound.remove(0).content else {
        return None;
    };
    let message = SesMessage::parse(&ses).ok()?;
    let events = normalise(&ses, &bare_message_origin(), now());
    Some((message, events))
}

/// Asserts the fast path agrees with the general one on `text`; true when it answered.
fn agrees(text: &str) -> bool {
    let Some(fast) = SesMessage::parse_bare_text(text) else {
        return false;
    };
    let records = normalise_message(
        fast.clone(),
        None,
        &bare_message_origin(),
        now(),
        &Addresses::Clear,
    );
    let (message, events) = general(text).unwrap_or_else(|| {
        panic!("the fast path read a message the general path does not: {text}")
    });
    assert_eq!(fast, message, "{text}");
    assert_eq!(records, events, "{text}");
    true
}

fn simulated() -> Vec<Value> {
    generate(&Scenario {
        tenants: vec![TenantProfile::seed_story("acme", 300, 3)],
        start: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
        days: 1,
        seed: 9,
        duplicate_rate: 0.02,
        notification_share: 0.5,
        shuffle: true,
    })
}

#[test]
fn every_fixture_and_simulated_message_reads_the_same_both_ways() {
    let mut answered = 0;
    let mut declined = 0;
    let mut texts: Vec<String> = Vec::new();
    for folder in DOCUMENT_FOLDERS.into_iter().chain(["malformed"]) {
        for (_, doc) in fixtures_in(folder) {
            texts.push(serde_json::to_string_pretty(&doc).expect("json"));
            // And each SES message inside an envelope, as a dump line would hold it.
            if let Ok(inbound) = split_owned_document(doc) {
                for m in inbound {
                    if let Content::Ses(ses) = m.content {
                        texts.push(ses.to_string());
                    }
                }
            }
        }
    }
    texts.extend(simulated().iter().map(Value::to_string));
    for text in &texts {
        if agrees(text) {
            answered += 1;
        } else {
            declined += 1;
        }
    }
    assert!(
        answered > 300,
        "the fast path answers for bare messages: {answered}"
    );
    assert!(
        declined > 30,
        "and declines envelopes, skips and errors: {declined}"
    );
}

/// A dump the way `normalise` meets them: SES messages one per line, envelopes, pretty-printed
/// documents, blank lines, a document that breaks off, a line that is not JSON, one that is not
/// UTF-8, and a last line without its newline.
fn mixed_dump() -> Vec<u8> {
    let mut dump = Vec::new();
    let mut line = |text: &str| {
        dump.extend_from_slice(text.as_bytes());
        dump.push(b'\n');
    };
    let messages = simulated();
    for (i, m) in messages.iter().take(60).enumerate() {
        match i % 6 {
            0 => line(&serde_json::to_string_pretty(m).expect("json")),
            1 => line(&json!({"Type": "Notification", "Message": m.to_string()}).to_string()),
            2 => line(""),
            _ => {}
        }
        line(&m.to_string());
    }
    for (_, doc) in fixtures_in("malformed").into_iter().take(10) {
        line(&doc.to_string());
    }
    line("{\"eventType\": \"Send\", \"mail\": {");
    line("not json");
    line(&messages[1].to_string());
    dump.extend_from_slice(b"{\"eventType\": \"\xff\"}\n");
    dump.extend_from_slice(messages[2].to_string().as_bytes());
    dump
}

/// Reading documents as `SesDocument`s (a whole line straight from its text) frames a dump the
/// same as reading `Value`s: the same documents, at the same lines, with the same errors.
#[test]
fn framing_reads_the_same_documents_at_the_same_lines_either_way() {
    let dump = mixed_dump();
    let as_values: Vec<_> = Documents::new(&dump[..]).collect();
    let as_ses: Vec<_> = Documents::<_, SesDocument>::of_kind(&dump[..]).collect();
    assert_eq!(as_ses.len(), as_values.len());
    let mut read_straight = 0;
    for ((line, ses), (value_line, value)) in as_ses.into_iter().zip(as_values) {
        assert_eq!(line, value_line);
        match (ses, value) {
            (Ok(SesDocument::Ses(message)), Ok(value)) => {
                read_straight += 1;
                assert_eq!(Ok(message), SesMessage::parse(&value), "line {line}");
            }
            (Ok(SesDocument::Other(doc)), Ok(value)) => assert_eq!(doc, value, "line {line}"),
            (Err(e), Err(value_e)) => assert_eq!(e, value_e, "line {line}"),
            (ses, value) => panic!("line {line}: {ses:?} against {value:?}"),
        }
    }
    assert!(read_straight >= 40, "{read_straight} lines read straight");
}

#[test]
fn it_declines_what_the_general_path_reads_otherwise() {
    let bounce = simulated()
        .into_iter()
        .find(|m| m.get("bounce").is_some())
        .expect("a bounce");
    assert!(SesMessage::parse_bare_text(&bounce.to_string()).is_some());
    let declined = |edit: &dyn Fn(&mut Value)| {
        let mut v = bounce.clone();
        edit(&mut v);
        SesMessage::parse_bare_text(&v.to_string()).is_none()
    };
    assert!(
        declined(&|v| v["Records"] = json!(null)),
        "an envelope key, even null"
    );
    assert!(
        declined(&|v| v["TopicArn"] = json!("arn")),
        "an SNS control message"
    );
    assert!(
        declined(&|v| v["bounce"] = json!(null)),
        "a null type object"
    );
    assert!(
        declined(&|v| v["bounce"] = json!(["Permanent"])),
        "an array for an object"
    );
    assert!(
        declined(&|v| v["mail"]["messageId"] = json!(" ")),
        "a blank message id"
    );
    assert!(
        declined(&|v| v["notificationType"] = json!("Received")),
        "received mail"
    );
    assert!(declined(&|v| v["eventType"] = json!(null)), "a null type");
    assert!(
        declined(&|v| v["eventType"] = json!("Mystery")),
        "an unknown type"
    );
    assert!(SesMessage::parse_bare_text("{\"eventType\":\"Send\"} {}").is_none());
}

/// A path into a JSON value, chosen by index among every key and element.
fn paths(v: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                prefix.push(k.clone());
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                prefix.push(i.to_string());
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn replace_at(v: &mut Value, path: &[String], with: Option<Value>) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = v;
    for p in parents {
        at = match at {
            Value::Object(map) => map.get_mut(p).expect("path"),
            Value::Array(items) => &mut items[p.parse::<usize>().expect("index")],
            _ => return,
        };
    }
    match (at, with) {
        (Value::Object(map), None) => {
            map.remove(last);
        }
        (Value::Object(map), Some(x)) => {
            map.insert(last.clone(), x);
        }
        (Value::Array(items), Some(x)) => items[last.parse::<usize>().expect("index")] = x,
        (Value::Array(items), None) => {
            items.remove(last.parse::<usize>().expect("index"));
        }
        _ => {}
    }
}

/// Damaged messages: a key removed or its value replaced by something of another type. The
/// fast path either declines or reads exactly what the general path reads (`agrees` panics, and
/// the runner fails, on any difference). And it must still answer for a good share of them: a
/// fast path that declined every damaged message would agree vacuously, and this test would
/// check nothing.
#[test]
fn damaged_messages_read_the_same_or_take_the_general_path() {
    // Any message of the stream: its first 200 are deliveries and sends only.
    let damaged = (
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        prop::option::of(prop_oneof![
            Just(json!(null)),
            Just(json!(7)),
            Just(json!(-1.5)),
            Just(json!("x")),
            Just(json!("2026-11-01T00:00:00Z")),
            Just(json!([])),
            Just(json!({})),
            Just(json!(["a@example.com"])),
        ]),
    );
    let all = simulated();
    // Counted rather than taken from the config: the runner also replays saved failures.
    let cases = Cell::new(0u32);
    let answered = Cell::new(0u32);
    let mut runner = TestRunner::new(ProptestConfig {
        source_file: Some(file!()),
        ..ProptestConfig::with_cases(400)
    });
    let result = runner.run(&damaged, |(message, at, with)| {
        let mut v = all[message.index(all.len())].clone();
        let mut found = Vec::new();
        paths(&v, &mut Vec::new(), &mut found);
        let path = at.get(&found).clone();
        replace_at(&mut v, &path, with);
        cases.set(cases.get() + 1);
        if agrees(&v.to_string()) {
            answered.set(answered.get() + 1);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}\n{runner}");
    }
    // Observed: over 48 runs of 400 cases the fast path answered for 74% to 82% of the damaged
    // messages (296 to 327). Two in five is about half of that, far below the runs' spread.
    let (cases, answered) = (cases.get(), answered.get());
    assert!(
        answered * 5 >= cases * 2,
        "the fast path answered for only {answered} of {cases} damaged messages"
    );
}
