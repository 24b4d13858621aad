//! Envelope detection over every shape the ingest path meets: SNS (Lambda and HTTP), SQS with
//! and without raw delivery, EventBridge, Firehose lines, Lambda on-failure records, and what
//! is none of these.

use serde_json::json;
use serde_json::Value;
use ses_ledger::documents::*;
use ses_ledger::envelope::*;
use ses_ledger::event::*;

fn ses() -> Value {
    json!({"eventType": "Send", "mail": {"messageId": "m", "timestamp": "2020-01-01T00:00:00Z"}, "send": {}})
}

fn sns_record(message: &str, id: &str) -> Value {
    json!({
        "EventSource": "aws:sns",
        "Sns": {
            "Type": "Notification",
            "MessageId": id,
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events",
            "Subject": null,
            "Message": message,
            "SigningCertURL": "https://example.com/cert.pem",
            "Unexpected": {"new": "field"}
        }
    })
}

#[test]
fn sns_records_each_become_a_message_with_their_ids() {
    let doc = json!({"Records": [
        sns_record(&ses().to_string(), "sns-1"),
        sns_record(&format!("{}\n", ses()), "sns-2"),
    ]});
    let inbound = split_document(&doc).expect("known shape");
    assert_eq!(inbound.len(), 2);
    for (m, id) in inbound.iter().zip(["sns-1", "sns-2"]) {
        assert_eq!(m.origin.transport, Some(Transport::Sns));
        assert_eq!(m.origin.sns_message_id.as_deref(), Some(id));
        assert_eq!(
            m.origin.sns_topic_arn.as_deref(),
            Some("arn:aws:sns:us-east-1:123456789012:ses-events")
        );
        assert_eq!(m.content.ses(), Some(&ses()));
    }
}

#[test]
fn escaped_slashes_in_the_message_are_plain_json() {
    let message = r#"{"eventType":"Send","mail":{"messageId":"m","timestamp":"2020-01-01T00:00:00Z","sourceArn":"arn:aws:ses:us-east-1:1:identity\/a.example"},"send":{}}"#;
    let inbound =
        split_document(&json!({"Records": [sns_record(message, "x")]})).expect("known shape");
    let ses = inbound[0].content.ses().expect("SES");
    assert_eq!(
        ses["mail"]["sourceArn"],
        "arn:aws:ses:us-east-1:1:identity/a.example"
    );
}

#[test]
fn a_bad_record_is_reported_alone_with_its_origin() {
    let doc = json!({"Records": [
        sns_record("not json", "bad-1"),
        sns_record(r#"{"hello":"world"}"#, "bad-2"),
        sns_record(&ses().to_string(), "good"),
        sns_record(r#"{"eventType":"Send","mail":{"#, "bad-3"),
    ]});
    let inbound = split_document(&doc).expect("known shape");
    assert_eq!(inbound.len(), 4);
    assert!(
        matches!(inbound[0].content.error(), Some(InputError::NotJson { what, reason })
        if what == "the SNS Message" && reason.contains("\"not json\""))
    );
    assert!(
        matches!(inbound[1].content.error(), Some(InputError::NotSes { found, .. })
        if found.contains("\"hello\""))
    );
    assert!(inbound[2].content.ses().is_some());
    assert!(
        matches!(inbound[3].content.error(), Some(InputError::NotJson { reason, .. })
        if reason.starts_with("EOF while parsing"))
    );
    assert_eq!(inbound[3].origin.sns_message_id.as_deref(), Some("bad-3"));
}

#[test]
fn sqs_bodies_hold_an_sns_envelope_or_the_raw_message() {
    let envelope = json!({"Type": "Notification", "MessageId": "sns-9", "TopicArn": "arn:t", "Message": ses().to_string()});
    let doc = json!({"Records": [
        {"messageId": "q-1", "eventSource": "aws:sqs", "body": envelope.to_string()},
        {"messageId": "q-2", "eventSource": "aws:sqs", "body": ses().to_string()},
        {"messageId": "q-3", "eventSource": "aws:sqs", "body": "{\"truncated\": "},
        {"messageId": "q-4", "eventSource": "aws:sqs", "body": 5},
        {"messageId": "q-5", "eventSource": "aws:sqs", "body": SNS_VALIDATION_NOTICE},
        {"messageId": "q-6", "eventSource": "aws:sqs", "body": json!({"Type": "SubscriptionConfirmation", "TopicArn": "arn:t", "Message": "You have chosen to subscribe"}).to_string()},
    ]});
    let inbound = split_document(&doc).expect("known shape");
    assert_eq!(inbound.len(), 6);
    assert_eq!(inbound[4].content.skipped(), Some(Skip::SesTopicValidation));
    assert_eq!(
        inbound[5].content.skipped(),
        Some(Skip::SnsSubscriptionConfirmation),
        "a queue of another account receives SNS's confirmation request"
    );
    assert_eq!(inbound[5].origin.transport, Some(Transport::SqsSns));
    assert_eq!(inbound[0].origin.transport, Some(Transport::SqsSns));
    assert_eq!(inbound[0].origin.sqs_message_id.as_deref(), Some("q-1"));
    assert_eq!(inbound[0].origin.sns_message_id.as_deref(), Some("sns-9"));
    assert_eq!(inbound[0].content.ses(), Some(&ses()));
    assert_eq!(inbound[1].origin.transport, Some(Transport::SqsRaw));
    assert_eq!(inbound[1].content.ses(), Some(&ses()));
    for (m, id) in inbound[2..4].iter().zip(["q-3", "q-4"]) {
        assert!(m.content.error().is_some());
        assert_eq!(m.origin.sqs_message_id.as_deref(), Some(id));
        assert_eq!(m.origin.transport, Some(Transport::SqsRaw));
    }
}

#[test]
fn eventbridge_bare_ses_and_bare_sns_envelopes() {
    let eb = json!({"version": "0", "id": "eb-1", "detail-type": "Email Sent", "source": "aws.ses", "detail": ses()});
    let m = split_document(&eb).expect("EventBridge");
    assert_eq!(m[0].origin.transport, Some(Transport::EventBridge));
    assert_eq!(m[0].origin.eventbridge_id.as_deref(), Some("eb-1"));
    assert_eq!(m[0].content.ses(), Some(&ses()));

    let raw = split_document(&ses()).expect("bare SES");
    assert_eq!(raw[0].origin.transport, Some(Transport::Raw));

    let envelope =
        json!({"Type": "Notification", "MessageId": "sns-1", "Message": ses().to_string()});
    let m = split_document(&envelope).expect("bare envelope");
    assert_eq!(m[0].origin.transport, Some(Transport::Sns));
    assert_eq!(m[0].origin.sns_message_id.as_deref(), Some("sns-1"));

    let other =
        json!({"detail-type": "EC2 Instance State-change", "source": "aws.ec2", "detail": {}});
    assert!(
        matches!(split_document(&other), Err(InputError::UnknownShape { found })
        if found.contains("aws.ec2"))
    );
    let eb_not_ses =
        json!({"detail-type": "Email Sent", "source": "aws.ses", "id": "e", "detail": {"x": 1}});
    let m = split_document(&eb_not_ses).expect("known shape");
    assert!(matches!(
        m[0].content.error(),
        Some(InputError::NotSes { .. })
    ));
}

#[test]
fn unknown_shapes_are_errors_that_say_what_was_found() {
    for (doc, found) in [
        (json!({"hello": "world"}), "keys \"hello\""),
        (json!([1, 2]), "an array of 2 items"),
        (json!("text"), "the string \"text\""),
        (json!(null), "null"),
        (json!({"Records": []}), "an empty Records list"),
        (json!({"Records": {"a": 1}}), "Records that is an object"),
        (
            json!({"Records": [{"eventSource": "aws:s3", "s3": {}}]}),
            "Records[0] that is an object",
        ),
        (
            json!({"Type": "SubscriptionConfirmation", "Message": "x"}),
            "\"Type\"",
        ),
    ] {
        match split_document(&doc) {
            Err(e @ InputError::UnknownShape { .. }) => {
                assert!(e.to_string().contains(found), "{e} lacks {found}")
            }
            other => panic!("{doc}: {other:?}"),
        }
    }
}

#[test]
fn an_unrecognised_record_next_to_known_ones_is_reported_alone() {
    let doc = json!({"Records": [sns_record(&ses().to_string(), "a"), {"what": "ever"}]});
    let m = split_document(&doc).expect("known shape");
    assert!(m[0].content.ses().is_some());
    assert!(
        matches!(m[1].content.error(), Some(InputError::UnknownShape { found }) if found.starts_with("Records[1]"))
    );
}

#[test]
fn the_validation_notice_is_skipped_in_every_envelope() {
    let doc = json!({"Records": [sns_record(SNS_VALIDATION_NOTICE, "v")]});
    let bare = json!({"Type": "Notification", "Message": format!("{SNS_VALIDATION_NOTICE}\n")});
    for doc in [doc, bare] {
        let m = split_document(&doc).expect("known shape");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].content.skipped(), Some(Skip::SesTopicValidation));
    }
}

#[test]
fn sns_message_of_the_wrong_type() {
    let doc = json!({"Records": [{"Sns": {"MessageId": "m", "Message": {"eventType": "Send"}}}, {"Sns": {"MessageId": "n"}}]});
    let m = split_document(&doc).expect("known shape");
    assert!(
        matches!(m[0].content.error(), Some(InputError::Invalid { path, message })
        if path == "Message" && message.contains("expected a string"))
    );
    assert!(
        matches!(m[1].content.error(), Some(InputError::Invalid { path, .. }) if path == "Message")
    );
}

#[test]
fn one_pretty_printed_document() {
    let text = serde_json::to_string_pretty(&ses()).expect("serialises");
    let docs = parse_documents(&format!("\u{feff}\n{text}\n"));
    assert_eq!(docs, vec![Ok(ses())]);
}

#[test]
fn json_lines_and_concatenated_documents() {
    let text = "{\"a\":1}\n{\"b\":2}{\"c\":3}\n\n  {\"d\":4}\n";
    let docs = parse_documents_with_lines(text);
    let lines: Vec<usize> = docs.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![1, 2, 2, 4]);
    assert!(docs.iter().all(|(_, d)| d.is_ok()));
    assert_eq!(parse_documents(""), vec![]);
    assert_eq!(parse_documents(" \n\t\n"), vec![]);
}

#[test]
fn bad_lines_are_named_and_the_rest_is_kept() {
    let text = "{\"a\":1}\n{\"b\": \nnot json\n{\"c\":3}\n{\"d\":";
    let docs = parse_documents_with_lines(text);
    assert_eq!(docs.len(), 4, "{docs:?}");
    assert_eq!(docs[0], (1, Ok(json!({"a": 1}))));
    match &docs[1] {
        (2, Err(e @ InputError::NotJson { .. })) => {
            let e = e.to_string();
            assert!(
                e.starts_with("the document starting at line 2 is not JSON"),
                "{e}"
            );
            assert!(e.contains("at line 3 column"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(docs[2], (4, Ok(json!({"c": 3}))));
    assert!(
        matches!(&docs[3], (5, Err(InputError::NotJson { reason, .. }))
        if reason.starts_with("EOF while parsing"))
    );
}

#[test]
fn a_broken_pretty_printed_document_is_one_error() {
    let good = serde_json::to_string_pretty(&ses()).expect("serialises");
    let broken = good.replacen("\"Send\"", "\"Send", 1);
    let docs = parse_documents_with_lines(&format!("{broken}\n{good}\n"));
    assert_eq!(docs.len(), 2, "{docs:?}");
    assert!(matches!(docs[0], (1, Err(_))));
    assert_eq!(docs[1].1.as_ref().ok(), Some(&ses()));
}

#[test]
fn garbage_without_a_next_document() {
    let docs = parse_documents("garbage");
    assert_eq!(docs.len(), 1);
    assert!(docs[0].is_err());
    let docs = parse_documents("\u{e9}\u{e9}\u{e9} {");
    assert_eq!(docs.len(), 1);
}
