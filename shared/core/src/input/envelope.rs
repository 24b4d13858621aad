//! Input documents and the envelopes SES messages travel in: SNS -> Lambda records, SQS records
//! (with the SNS envelope in the body, or the SES JSON itself under raw message delivery),
//! EventBridge events, bare SNS envelopes, bare SES messages, and files of JSON lines.

use serde_json::{Map, Value};

use crate::model::event::{Origin, Transport};

/// SES publishes this plain-text message to an SNS topic every time a configuration set's event
/// destination is (re)created. It is no event and never JSON; left alone it would fail its
/// invocation over and over and finally land in the dead-letter queue.
pub const SNS_VALIDATION_NOTICE: &str =
    "Successfully validated SNS topic for Amazon SES event publishing.";

/// The notification SES sends once when an identity's notification topic is set up. It names no
/// mail and is no event.
pub const SUBSCRIPTION_SUCCEEDED: &str = "AmazonSnsSubscriptionSucceeded";

/// Why an input document or one SES message in it cannot be used. The messages name the offending
/// part; callers add where the message came from (file, line, SNS/SQS ids).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The input itself could not be read (an I/O error part-way through a file or stdin).
    #[error("cannot read the input: {reason}")]
    Unreadable { reason: String },
    /// Text that should hold JSON (a file line, an SNS `Message`, an SQS `body`) does not parse.
    #[error("{what} is not JSON: {reason}")]
    NotJson { what: String, reason: String },
    /// A document in none of the shapes [`split_document`] knows.
    #[error("not an SES event in any known envelope: expected SNS or SQS Records, an EventBridge event from aws.ses, an SNS notification, an SES message, a Lambda on-failure record or `aws sqs receive-message` output, got {found}")]
    UnknownShape { found: String },
    /// JSON, but without `notificationType` or `eventType`.
    #[error(
        "{what} is not an SES message (it has neither notificationType nor eventType): got {found}"
    )]
    NotSes { what: String, found: String },
    /// A field is missing or has the wrong type or value. `path` is like
    /// `bounce.bouncedRecipients[0].emailAddress`.
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// A message that reaches the same topics, queues and files as SES events but is none: it is
/// skipped on purpose, counted by reason, and never fails a batch. This is the one table of what
/// is skipped and why (docs/event-schema.md repeats it for operators).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    /// SES *receiving*: mail sent to the operator's own domain, from a receipt rule's SNS action
    /// (`notificationType: "Received"`) or its Lambda action (`Records[].ses`). Its recipient is
    /// the operator's mailbox, so ledgering it would put our own address into the histories.
    ReceivedMail,
    /// What SNS sends an HTTPS endpoint or a queue of another account before it delivers.
    SnsSubscriptionConfirmation,
    /// What SNS sends once an endpoint has been unsubscribed.
    SnsUnsubscribeConfirmation,
    /// SES's plain-text [`SNS_VALIDATION_NOTICE`], sent each time an event destination is
    /// (re)created.
    SesTopicValidation,
    /// SES's `AmazonSnsSubscriptionSucceeded`, sent once when an identity's topic is set.
    SesSubscriptionSucceeded,
}

impl Skip {
    pub const ALL: [Skip; 5] = [
        Skip::ReceivedMail,
        Skip::SnsSubscriptionConfirmation,
        Skip::SnsUnsubscribeConfirmation,
        Skip::SesTopicValidation,
        Skip::SesSubscriptionSucceeded,
    ];

    /// The stable name in logs, metrics (the `Reason` dimension) and JSON output.
    pub fn code(self) -> &'static str {
        match self {
            Skip::ReceivedMail => "received_mail",
            Skip::SnsSubscriptionConfirmation => "sns_subscription_confirmation",
            Skip::SnsUnsubscribeConfirmation => "sns_unsubscribe_confirmation",
            Skip::SesTopicValidation => "ses_topic_validation",
            Skip::SesSubscriptionSucceeded => "ses_subscription_succeeded",
        }
    }

    /// Why the message is skipped, for an operator reading a log or the CLI's notes.
    pub fn reason(self) -> &'static str {
        match self {
            Skip::ReceivedMail => "SES receiving (inbound mail to your own domain), not a sending event",
            Skip::SnsSubscriptionConfirmation => {
                "an SNS SubscriptionConfirmation: confirm it with its SubscribeURL if the subscription is wanted; it holds no SES event"
            }
            Skip::SnsUnsubscribeConfirmation => {
                "an SNS UnsubscribeConfirmation: the endpoint was unsubscribed; it holds no SES event"
            }
            Skip::SesTopicValidation => "SES's topic validation notice, sent when an event destination is set up",
            Skip::SesSubscriptionSucceeded => {
                "SES's AmazonSnsSubscriptionSucceeded notice, sent when an identity's topic is set up"
            }
        }
    }
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason())
    }
}

/// What one record of an input document holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// An SES sending event, to normalise.
    Ses(Value),
    /// A message that is no SES sending event, skipped on purpose.
    Skipped(Skip),
    /// Why the record holds no usable message.
    Invalid(InputError),
}

impl Content {
    /// The SES message, if the record holds one.
    pub fn ses(&self) -> Option<&Value> {
        match self {
            Content::Ses(value) => Some(value),
            Content::Skipped(_) | Content::Invalid(_) => None,
        }
    }

    pub fn skipped(&self) -> Option<Skip> {
        match self {
            Content::Skipped(skip) => Some(*skip),
            Content::Ses(_) | Content::Invalid(_) => None,
        }
    }

    pub fn error(&self) -> Option<&InputError> {
        match self {
            Content::Invalid(e) => Some(e),
            Content::Ses(_) | Content::Skipped(_) => None,
        }
    }
}

/// One record found in an input document, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    pub origin: Origin,
    /// The SES message, why it is skipped, or why this record holds none (its origin is still
    /// filled, so an SQS batch can report exactly this record).
    pub content: Content,
}

/// Detects the shape of a Lambda input or file document and splits it into SES messages:
/// `{"Records":[{"Sns":{..}}]}` (SNS -> Lambda, one or many records),
/// `{"Records":[{"messageId":..,"body":..,"eventSource":"aws:sqs"}]}` (the body is an SNS envelope
/// or, with raw message delivery, the SES JSON itself), an EventBridge event from `aws.ses`, a bare
/// SES message (`notificationType` or `eventType`), or a bare SNS envelope
/// (`{"Type":"Notification","Message":".."}`).
///
/// A record whose message is not JSON or not SES yields an [`Inbound`] with
/// [`Content::Invalid`]; one that is no SES sending event but known (see [`Skip`]) yields
/// [`Content::Skipped`]; a document that is none of these shapes is `Err`.
pub fn split_document(doc: &Value) -> Result<Vec<Inbound>, InputError> {
    let Some(obj) = doc.as_object() else {
        return Err(InputError::UnknownShape {
            found: describe(doc),
        });
    };
    if let Some(records) = obj.get("Records") {
        return split_records(records);
    }
    // A Lambda on-failure destination record (what the ingest DLQ holds): the original
    // invocation's event is `requestPayload`, so `ses-ledger replay` can take DLQ bodies as they are.
    if let (Some(payload), true) = (
        obj.get("requestPayload"),
        obj.contains_key("requestContext"),
    ) {
        return split_document(payload);
    }
    if let Some(messages) = obj.get("Messages").and_then(Value::as_array) {
        return Ok(messages.iter().flat_map(received_message).collect());
    }
    if obj.contains_key("detail-type") {
        return eventbridge(obj).map(|m| vec![m]);
    }
    if is_ses(doc) {
        return Ok(vec![Inbound {
            origin: bare_message_origin(),
            content: ses_content(doc.clone(), "the document"),
        }]);
    }
    if is_sns_notification(obj) || sns_control_message(obj).is_some() {
        let origin = Origin {
            transport: Some(Transport::Sns),
            ..Origin::default()
        };
        return Ok(vec![sns_message(obj, origin)]);
    }
    Err(InputError::UnknownShape {
        found: describe(doc),
    })
}

/// [`split_document`] of a document the caller no longer needs: a bare SES message (one line of
/// a Firehose dump, what `normalise` and `replay` mostly read) is moved into its [`Inbound`]
/// rather than copied.
pub fn split_owned_document(doc: Value) -> Result<Vec<Inbound>, InputError> {
    // The shapes split_document tries before a bare SES message keep their precedence.
    let wrapped = doc.as_object().is_some_and(|o| {
        o.contains_key("Records")
            || (o.contains_key("requestPayload") && o.contains_key("requestContext"))
            || o.get("Messages").is_some_and(Value::is_array)
            || o.contains_key("detail-type")
    });
    if !wrapped && is_ses(&doc) {
        return Ok(vec![Inbound {
            origin: bare_message_origin(),
            content: ses_content(doc, "the document"),
        }]);
    }
    split_document(&doc)
}

/// Where a bare SES message (a document that is the message itself) comes from.
pub fn bare_message_origin() -> Origin {
    Origin {
        transport: Some(Transport::Raw),
        ..Origin::default()
    }
}

/// True for an SES message in either format.
pub fn is_ses(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|o| o.contains_key("notificationType") || o.contains_key("eventType"))
}

fn is_sns_notification(obj: &Map<String, Value>) -> bool {
    obj.get("Type").and_then(Value::as_str) == Some("Notification") && obj.contains_key("Message")
}

/// SNS's own messages about a subscription (they carry `Type` and `TopicArn` like a
/// notification, but their `Message` is SNS's text, not SES's).
fn sns_control_message(obj: &Map<String, Value>) -> Option<Skip> {
    if !obj.contains_key("TopicArn") {
        return None;
    }
    match obj.get("Type").and_then(Value::as_str)? {
        "SubscriptionConfirmation" => Some(Skip::SnsSubscriptionConfirmation),
        "UnsubscribeConfirmation" => Some(Skip::SnsUnsubscribeConfirmation),
        _ => None,
    }
}

/// Why an SES-shaped message is no sending event, if it is none.
pub fn skip_of_ses(value: &Value) -> Option<Skip> {
    match value.get("notificationType").and_then(Value::as_str) {
        Some("Received") => Some(Skip::ReceivedMail),
        Some(SUBSCRIPTION_SUCCEEDED) => Some(Skip::SesSubscriptionSucceeded),
        _ => None,
    }
}

/// A receipt rule's Lambda action: `Records[]` of `{"eventSource": "aws:ses", "ses": {..}}`.
fn is_receipt_record(record: &Value) -> bool {
    record.get("eventSource").and_then(Value::as_str) == Some("aws:ses")
        || record.get("ses").and_then(|s| s.get("receipt")).is_some()
}

/// A JSON value where an SES message should be: the message, a skip, or why it is neither.
fn ses_content(value: Value, what: &str) -> Content {
    if let Some(skip) = skip_of_ses(&value) {
        return Content::Skipped(skip);
    }
    if let Some(skip) = value.as_object().and_then(sns_control_message) {
        return Content::Skipped(skip);
    }
    if is_ses(&value) {
        Content::Ses(value)
    } else {
        Content::Invalid(InputError::NotSes {
            what: what.into(),
            found: describe(&value),
        })
    }
}

fn split_records(records: &Value) -> Result<Vec<Inbound>, InputError> {
    let Some(records) = records.as_array() else {
        return Err(InputError::UnknownShape {
            found: format!("Records that is {}", describe(records)),
        });
    };
    if records.is_empty() {
        return Err(InputError::UnknownShape {
            found: "an empty Records list".into(),
        });
    }
    let mut out = Vec::with_capacity(records.len());
    let mut known = false;
    for (i, record) in records.iter().enumerate() {
        if let Some(sns) = record.get("Sns").and_then(Value::as_object) {
            known = true;
            let origin = Origin {
                transport: Some(Transport::Sns),
                ..Origin::default()
            };
            out.push(sns_message(sns, origin));
        } else if is_sqs_record(record) {
            known = true;
            out.push(sqs_message(record));
        } else if is_receipt_record(record) {
            known = true;
            out.push(Inbound {
                origin: Origin::default(),
                content: Content::Skipped(Skip::ReceivedMail),
            });
        } else {
            out.push(Inbound {
                origin: Origin::default(),
                content: Content::Invalid(InputError::UnknownShape {
                    found: format!(
                        "Records[{i}] that is neither SNS nor SQS: {}",
                        describe(record)
                    ),
                }),
            });
        }
    }
    if !known {
        // Not one record we understand (an S3 or DynamoDB stream event, say): the whole document
        // is in the wrong place, not some of its records.
        let first = records.first().map_or_else(|| "nothing".into(), describe);
        return Err(InputError::UnknownShape {
            found: format!("Records[0] that is {first}"),
        });
    }
    Ok(out)
}

fn is_sqs_record(record: &Value) -> bool {
    record.get("eventSource").and_then(Value::as_str) == Some("aws:sqs")
        || (record.get("body").is_some() && record.get("messageId").is_some())
}

/// The SES message in an SNS envelope (Lambda's `Sns` object, an SQS body, a bare envelope);
/// `origin` is completed with the envelope's ids.
fn sns_message(sns: &Map<String, Value>, mut origin: Origin) -> Inbound {
    origin.sns_message_id = string(sns, "MessageId");
    origin.sns_topic_arn = string(sns, "TopicArn");
    origin.envelope_time = sns
        .get("Timestamp")
        .and_then(Value::as_str)
        .and_then(crate::model::timestamp::parse_timestamp);
    if let Some(skip) = sns_control_message(sns) {
        return Inbound {
            origin,
            content: Content::Skipped(skip),
        };
    }
    let content = match sns.get("Message") {
        Some(Value::String(text)) => ses_text(text, "the SNS Message"),
        Some(other) => Content::Invalid(InputError::Invalid {
            path: "Message".into(),
            message: format!(
                "expected a string holding the SES JSON, got {}",
                describe(other)
            ),
        }),
        None => Content::Invalid(InputError::Invalid {
            path: "Message".into(),
            message: "the SNS envelope has no Message".into(),
        }),
    };
    Inbound { origin, content }
}

fn sqs_message(record: &Value) -> Inbound {
    let mut origin = Origin {
        // Until the body shows an SNS envelope it counts as raw: an unreadable body still has to
        // be reported as an SQS record so the batch can name it.
        transport: Some(Transport::SqsRaw),
        sqs_message_id: record
            .get("messageId")
            .and_then(Value::as_str)
            .map(str::to_string),
        // When SQS received it: the last time to fall back on for a message that has none.
        envelope_time: record
            .get("attributes")
            .and_then(|a| a.get("SentTimestamp"))
            .and_then(Value::as_str)
            .and_then(|ms| ms.parse::<i64>().ok())
            .and_then(chrono::DateTime::from_timestamp_millis),
        ..Origin::default()
    };
    let text = match record.get("body") {
        Some(Value::String(text)) => text,
        other => {
            return Inbound {
                origin,
                content: Content::Invalid(InputError::Invalid {
                    path: "body".into(),
                    message: format!(
                        "expected the SQS body as a string, got {}",
                        other.map_or_else(|| "nothing".into(), describe)
                    ),
                }),
            }
        }
    };
    let body = match parse_json_text(text, "the SQS body") {
        Ok(body) => body,
        Err(content) => return Inbound { origin, content },
    };
    let is_envelope = body
        .as_object()
        .is_some_and(|o| is_sns_notification(o) || sns_control_message(o).is_some());
    if let (true, Some(envelope)) = (is_envelope, body.as_object()) {
        origin.transport = Some(Transport::SqsSns);
        return sns_message(envelope, origin);
    }
    let content = ses_content(body, "the SQS body");
    Inbound { origin, content }
}

/// One message of `aws sqs receive-message` output (`{"Messages":[{"MessageId", "Body"}]}`), as
/// an operator saves a dead-letter queue to replay it. The SQS transport's DLQ holds the queue's
/// own bodies (an SNS envelope, or the SES JSON under raw delivery); the direct transport's DLQ
/// holds Lambda on-failure records, whose `requestPayload` is the original event.
fn received_message(message: &Value) -> Vec<Inbound> {
    let as_record = serde_json::json!({
        "messageId": message.get("MessageId"),
        "body": message.get("Body"),
    });
    let on_failure = message
        .get("Body")
        .and_then(Value::as_str)
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .filter(|body| {
            body.get("requestPayload").is_some() && body.get("requestContext").is_some()
        });
    match on_failure {
        Some(record) => split_document(&record).unwrap_or_else(|e| {
            vec![Inbound {
                origin: Origin {
                    sqs_message_id: message
                        .get("MessageId")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    ..Origin::default()
                },
                content: Content::Invalid(e),
            }]
        }),
        None => vec![sqs_message(&as_record)],
    }
}

fn eventbridge(obj: &Map<String, Value>) -> Result<Inbound, InputError> {
    let source = obj.get("source").and_then(Value::as_str).unwrap_or("");
    if source != "aws.ses" {
        return Err(InputError::UnknownShape {
            found: format!("an EventBridge event from source {source:?}"),
        });
    }
    let origin = Origin {
        transport: Some(Transport::EventBridge),
        eventbridge_id: string(obj, "id"),
        envelope_time: obj
            .get("time")
            .and_then(Value::as_str)
            .and_then(crate::model::timestamp::parse_timestamp),
        ..Origin::default()
    };
    let content = match obj.get("detail") {
        Some(detail) => ses_content(detail.clone(), "the EventBridge detail"),
        None => Content::Invalid(InputError::Invalid {
            path: "detail".into(),
            message: "the EventBridge event has no detail".into(),
        }),
    };
    Ok(Inbound { origin, content })
}

/// Text that should hold an SES message.
fn ses_text(text: &str, what: &str) -> Content {
    match parse_json_text(text, what) {
        Ok(value) => ses_content(value, what),
        Err(content) => content,
    }
}

/// Text that should hold JSON; SES's validation notice is a skip, not an error. Surrounding
/// whitespace (SES messages often end in a newline) does not matter.
fn parse_json_text(text: &str, what: &str) -> Result<Value, Content> {
    let text = text.trim();
    if text == SNS_VALIDATION_NOTICE {
        return Err(Content::Skipped(Skip::SesTopicValidation));
    }
    serde_json::from_str(text).map_err(|e| {
        Content::Invalid(InputError::NotJson {
            what: what.into(),
            reason: format!("{}; it starts {}", json_reason(&e, 1), preview(text)),
        })
    })
}

fn string(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_string)
}

/// A short description of a JSON value for error messages.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", preview(s)),
        Value::Array(a) => format!("an array of {} items", a.len()),
        Value::Object(o) if o.is_empty() => "an empty object".into(),
        Value::Object(o) => {
            const SHOWN: usize = 6;
            let keys: Vec<String> = o.keys().take(SHOWN).map(|k| format!("{k:?}")).collect();
            let more = if o.len() > SHOWN { ", ..." } else { "" };
            format!("an object with keys {}{more}", keys.join(", "))
        }
    }
}

/// The start of `text`, quoted, cut at a character boundary.
fn preview(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(MAX_CHARS).collect();
    if chars.next().is_some() {
        format!("{head:?}...")
    } else {
        format!("{head:?}")
    }
}

/// serde_json's message with its position made absolute (`first_line` is the line the parsed
/// text starts on).
pub(crate) fn json_reason(e: &serde_json::Error, first_line: usize) -> String {
    let text = e.to_string();
    if e.line() == 0 {
        return text;
    }
    let message = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(m, _)| m);
    format!(
        "{message} at line {} column {}",
        first_line + e.line() - 1,
        e.column()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn descriptions_are_short() {
        let long = "x".repeat(500);
        assert_eq!(
            describe(&json!(long)).len(),
            "the string \"\"...".len() + 40
        );
        let many: Map<String, Value> = (0..20).map(|i| (format!("k{i:02}"), json!(i))).collect();
        assert!(describe(&Value::Object(many)).ends_with(", ..."));
    }
}
