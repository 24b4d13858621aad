//! Input documents and the envelopes SES messages travel in: SNS -> Lambda records, SQS records
//! (with the SNS envelope in the body, or the SES JSON itself under raw message delivery),
//! EventBridge events, bare SNS envelopes, bare SES messages, and files of JSON lines.

use serde_json::{Map, Value};

use crate::event::{Origin, Transport};

/// SES publishes this plain-text message to an SNS topic every time a configuration set's event
/// destination is (re)created. It is no event and never JSON; left alone it would fail its
/// invocation over and over and finally land in the dead-letter queue.
pub const SNS_VALIDATION_NOTICE: &str =
    "Successfully validated SNS topic for Amazon SES event publishing.";

/// Why an input document or one SES message in it cannot be used. The messages name the offending
/// part; callers add where the message came from (file, line, SNS/SQS ids).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
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

/// One SES message found in an input document, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    pub origin: Origin,
    /// The SES message, or why this record holds none (its origin is still filled, so an SQS
    /// batch can report exactly this record).
    pub ses: Result<Value, InputError>,
}

/// Detects the shape of a Lambda input or file document and splits it into SES messages:
/// `{"Records":[{"Sns":{..}}]}` (SNS -> Lambda, one or many records),
/// `{"Records":[{"messageId":..,"body":..,"eventSource":"aws:sqs"}]}` (the body is an SNS envelope
/// or, with raw message delivery, the SES JSON itself), an EventBridge event from `aws.ses`, a bare
/// SES message (`notificationType` or `eventType`), or a bare SNS envelope
/// (`{"Type":"Notification","Message":".."}`).
///
/// A record whose message is not JSON or not SES yields an [`Inbound`] with `ses: Err(..)`; a
/// document that is none of these shapes is `Err`. SES's plain-text [`SNS_VALIDATION_NOTICE`]
/// yields nothing.
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
            origin: Origin {
                transport: Some(Transport::Raw),
                ..Origin::default()
            },
            ses: Ok(doc.clone()),
        }]);
    }
    if is_sns_notification(obj) {
        let origin = Origin {
            transport: Some(Transport::Sns),
            ..Origin::default()
        };
        return Ok(sns_message(obj, origin).into_iter().collect());
    }
    Err(InputError::UnknownShape {
        found: describe(doc),
    })
}

/// Parses text that holds one JSON document or several (JSON lines, as in Firehose dumps, or
/// concatenated documents). Each `Err` names the line its document starts on.
pub fn parse_documents(text: &str) -> Vec<Result<Value, InputError>> {
    parse_documents_with_lines(text)
        .into_iter()
        .map(|(_, doc)| doc)
        .collect()
}

/// [`parse_documents`], with the line each document starts on (1-based), so a caller can point
/// at a document that parsed but holds a bad message.
pub fn parse_documents_with_lines(text: &str) -> Vec<(usize, Result<Value, InputError>)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = LineCounter::new(text);
    let mut out = Vec::new();
    let mut pos = 0;
    'chunks: while pos < text.len() {
        let Some(rest) = text.get(pos..) else { break };
        let first_line = lines.line_of(pos);
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        loop {
            let start = pos + skip_whitespace(rest, stream.byte_offset());
            match stream.next() {
                None => break 'chunks,
                Some(Ok(value)) => out.push((lines.line_of(start), Ok(value))),
                Some(Err(e)) => {
                    let line = lines.line_of(start);
                    out.push((
                        line,
                        Err(InputError::NotJson {
                            what: format!("the document starting at line {line}"),
                            reason: json_reason(&e, first_line),
                        }),
                    ));
                    // Resynchronise at the next line that opens a document: indented lines belong
                    // to the broken pretty-printed document, others are garbage.
                    pos = next_document_start(text, start);
                    continue 'chunks;
                }
            }
        }
    }
    out
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
            out.extend(sns_message(sns, origin));
        } else if is_sqs_record(record) {
            known = true;
            out.extend(sqs_message(record));
        } else {
            out.push(Inbound {
                origin: Origin::default(),
                ses: Err(InputError::UnknownShape {
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
fn sns_message(sns: &Map<String, Value>, mut origin: Origin) -> Option<Inbound> {
    origin.sns_message_id = string(sns, "MessageId");
    origin.sns_topic_arn = string(sns, "TopicArn");
    let ses = match sns.get("Message") {
        Some(Value::String(text)) => parse_ses_text(text, "the SNS Message")?,
        Some(other) => Err(InputError::Invalid {
            path: "Message".into(),
            message: format!(
                "expected a string holding the SES JSON, got {}",
                describe(other)
            ),
        }),
        None => Err(InputError::Invalid {
            path: "Message".into(),
            message: "the SNS envelope has no Message".into(),
        }),
    };
    Some(Inbound { origin, ses })
}

fn sqs_message(record: &Value) -> Option<Inbound> {
    let mut origin = Origin {
        // Until the body shows an SNS envelope it counts as raw: an unreadable body still has to
        // be reported as an SQS record so the batch can name it.
        transport: Some(Transport::SqsRaw),
        sqs_message_id: record
            .get("messageId")
            .and_then(Value::as_str)
            .map(str::to_string),
        ..Origin::default()
    };
    let text = match record.get("body") {
        Some(Value::String(text)) => text,
        other => {
            return Some(Inbound {
                origin,
                ses: Err(InputError::Invalid {
                    path: "body".into(),
                    message: format!(
                        "expected the SQS body as a string, got {}",
                        other.map_or_else(|| "nothing".into(), describe)
                    ),
                }),
            })
        }
    };
    let body = match parse_json_text(text, "the SQS body")? {
        Ok(body) => body,
        Err(e) => {
            return Some(Inbound {
                origin,
                ses: Err(e),
            })
        }
    };
    if let Some(envelope) = body.as_object().filter(|o| is_sns_notification(o)) {
        origin.transport = Some(Transport::SqsSns);
        return sns_message(envelope, origin);
    }
    let ses = if is_ses(&body) {
        Ok(body)
    } else {
        // An SNS SubscriptionConfirmation lands here until someone confirms the subscription.
        let found = match body.get("Type").and_then(Value::as_str) {
            Some(kind) if body.get("TopicArn").is_some() => format!("an SNS {kind} message"),
            _ => describe(&body),
        };
        Err(InputError::NotSes {
            what: "the SQS body".into(),
            found,
        })
    };
    Some(Inbound { origin, ses })
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
                ses: Err(e),
            }]
        }),
        None => sqs_message(&as_record).into_iter().collect(),
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
        ..Origin::default()
    };
    let ses = match obj.get("detail") {
        Some(detail) if is_ses(detail) => Ok(detail.clone()),
        Some(detail) => Err(InputError::NotSes {
            what: "the EventBridge detail".into(),
            found: describe(detail),
        }),
        None => Err(InputError::Invalid {
            path: "detail".into(),
            message: "the EventBridge event has no detail".into(),
        }),
    };
    Ok(Inbound { origin, ses })
}

/// Text that should hold an SES message; `None` for SES's validation notice.
fn parse_ses_text(text: &str, what: &str) -> Option<Result<Value, InputError>> {
    Some(parse_json_text(text, what)?.and_then(|value| {
        if is_ses(&value) {
            Ok(value)
        } else {
            Err(InputError::NotSes {
                what: what.into(),
                found: describe(&value),
            })
        }
    }))
}

/// Text that should hold JSON; `None` for SES's validation notice. Surrounding whitespace (SES
/// messages often end in a newline) does not matter.
fn parse_json_text(text: &str, what: &str) -> Option<Result<Value, InputError>> {
    let text = text.trim();
    if text == SNS_VALIDATION_NOTICE {
        return None;
    }
    Some(serde_json::from_str(text).map_err(|e| InputError::NotJson {
        what: what.into(),
        reason: format!("{}; it starts {}", json_reason(&e, 1), preview(text)),
    }))
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
fn json_reason(e: &serde_json::Error, first_line: usize) -> String {
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

fn skip_whitespace(text: &str, from: usize) -> usize {
    text.get(from..)
        .map_or(from, |rest| from + (rest.len() - rest.trim_start().len()))
}

/// The byte offset of the first line after the one holding `from` that starts with `{` or `[`.
fn next_document_start(text: &str, from: usize) -> usize {
    let Some(rest) = text.get(from..) else {
        return text.len();
    };
    let next = [rest.find("\n{"), rest.find("\n[")]
        .into_iter()
        .flatten()
        .min();
    next.map_or(text.len(), |i| from + i + 1)
}

/// Line numbers of byte offsets, asked for in increasing order (a Firehose dump can have
/// millions of lines: counting from the start each time would be quadratic).
struct LineCounter<'a> {
    text: &'a str,
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        LineCounter {
            text,
            offset: 0,
            line: 1,
        }
    }

    fn line_of(&mut self, offset: usize) -> usize {
        if offset < self.offset {
            *self = LineCounter::new(self.text);
        }
        let end = offset.min(self.text.len());
        let newlines = self
            .text
            .as_bytes()
            .get(self.offset..end)
            .map_or(0, |b| b.iter().filter(|c| **c == b'\n').count());
        self.line += newlines;
        self.offset = end;
        self.line
    }
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
