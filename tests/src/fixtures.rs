//! Test input built from the official examples: SES messages of a chosen shape, and the envelopes
//! Lambda hands the ingest function.

use crate::fixture;

/// Wraps SES messages as an SNS -> Lambda event, one record each.
pub fn sns_event(messages: &[serde_json::Value]) -> serde_json::Value {
    ses_ledger::simulate::sns_lambda_event(messages, "00000000-0000-4000-8000")
}

/// Wraps bodies (SNS envelopes or raw SES JSON, as text) as an SQS -> Lambda event; record i gets
/// messageId `sqs-<i>`.
pub fn sqs_event(bodies: &[String]) -> serde_json::Value {
    let records: Vec<serde_json::Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            serde_json::json!({
                "messageId": format!("sqs-{i}"),
                "receiptHandle": "handle",
                "body": body,
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ses-events",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
}

/// A Delivery (event publishing) for `recipients`, from the official example, with its own
/// message id and time.
pub fn delivery(message_id: &str, recipients: &[&str], time: &str) -> serde_json::Value {
    let mut ses = fixture("ses/event-publishing/delivery-record.json");
    ses["mail"]["messageId"] = message_id.into();
    ses["mail"]["timestamp"] = time.into();
    ses["mail"]["destination"] = serde_json::json!(recipients);
    ses["delivery"]["recipients"] = serde_json::json!(recipients);
    ses["delivery"]["timestamp"] = time.into();
    ses
}

/// A bounce (event publishing) of `kind` (`Permanent`/`Transient`) for one recipient.
pub fn bounce(message_id: &str, recipient: &str, kind: &str, time: &str) -> serde_json::Value {
    let mut ses = fixture("ses/event-publishing/bounce-record.json");
    ses["mail"]["messageId"] = message_id.into();
    ses["mail"]["timestamp"] = time.into();
    ses["mail"]["destination"] = serde_json::json!([recipient]);
    ses["bounce"]["bounceType"] = kind.into();
    ses["bounce"]["bounceSubType"] = "General".into();
    ses["bounce"]["bouncedRecipients"][0]["emailAddress"] = recipient.into();
    ses["bounce"]["feedbackId"] = format!("feedback-{message_id}").into();
    ses["bounce"]["timestamp"] = time.into();
    ses
}

/// The recipient events our own parser makes of a document: test *input* (for a log to query),
/// never an expected value, which comes from events/expected ([`expected_events`]). Skipped
/// messages (setup notices) yield nothing; an invalid one fails the test.
pub fn normalised_events(doc: &serde_json::Value) -> Vec<ses_ledger::event::RecipientEvent> {
    use ses_ledger::envelope::Content;
    ses_ledger::envelope::split_document(doc)
        .expect("fixture has a known envelope")
        .into_iter()
        .flat_map(|inbound| match &inbound.content {
            Content::Ses(ses) => {
                ses_ledger::normalise::normalise(ses, &inbound.origin, chrono::Utc::now())
                    .expect("fixture normalises")
            }
            Content::Skipped(_) => Vec::new(),
            Content::Invalid(e) => panic!("fixture record is no SES message: {e}"),
        })
        .collect()
}
