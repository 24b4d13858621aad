//! The SES message itself, in both payload formats: identity notifications (`notificationType`)
//! and configuration-set event publishing (`eventType`). Only the fields ses-ledger uses are
//! declared; SES "reserves the right to add additional fields", so everything else is ignored.
//! Optional fields accept `null`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::input::envelope::{describe, InputError};
use crate::model::event::{EventType, PayloadFormat};
use crate::model::timestamp;

/// One SES message, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct SesMessage {
    pub format: PayloadFormat,
    /// The type as SES spelled it (`Rendering Failure`, or a type this version does not know).
    pub type_name: String,
    pub mail: Mail,
    pub detail: EventObject,
}

/// The object SES adds for the event type (`bounce`, `complaint`, `delivery`, ...), parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum EventObject {
    Bounce(Bounce),
    Complaint(Complaint),
    Delivery(Delivery),
    /// The `send` object is always empty.
    Send,
    Reject(Reject),
    Open(Open),
    Click(Click),
    RenderingFailure(RenderingFailure),
    DeliveryDelay(DeliveryDelay),
    Subscription(Subscription),
    /// A type SES added after this version; the caller keeps the whole payload.
    Unknown,
}

impl EventObject {
    /// The event type this detail belongs to.
    pub fn event_type(&self) -> EventType {
        match self {
            EventObject::Bounce(_) => EventType::Bounce,
            EventObject::Complaint(_) => EventType::Complaint,
            EventObject::Delivery(_) => EventType::Delivery,
            EventObject::Send => EventType::Send,
            EventObject::Reject(_) => EventType::Reject,
            EventObject::Open(_) => EventType::Open,
            EventObject::Click(_) => EventType::Click,
            EventObject::RenderingFailure(_) => EventType::RenderingFailure,
            EventObject::DeliveryDelay(_) => EventType::DeliveryDelay,
            EventObject::Subscription(_) => EventType::Subscription,
            EventObject::Unknown => EventType::Unknown,
        }
    }

    /// The event's own time, for the types that have one.
    pub fn timestamp(&self) -> Option<DateTime<Utc>> {
        match self {
            EventObject::Bounce(b) => b.timestamp,
            EventObject::Complaint(c) => c.timestamp,
            EventObject::Delivery(d) => d.timestamp,
            EventObject::DeliveryDelay(d) => d.timestamp,
            EventObject::Open(o) => o.timestamp,
            EventObject::Click(c) => c.timestamp,
            EventObject::Subscription(s) => s.timestamp,
            EventObject::Send
            | EventObject::Reject(_)
            | EventObject::RenderingFailure(_)
            | EventObject::Unknown => None,
        }
    }

    /// The recipients the event itself names (bounced, complained, delivered, delayed).
    pub fn named_recipients(&self) -> Vec<&str> {
        match self {
            EventObject::Bounce(b) => b
                .bounced_recipients
                .iter()
                .map(|r| r.email_address.as_str())
                .collect(),
            EventObject::Complaint(c) => c
                .complained_recipients
                .iter()
                .map(|r| r.email_address.as_str())
                .collect(),
            EventObject::Delivery(d) => d.recipients.iter().map(String::as_str).collect(),
            EventObject::DeliveryDelay(d) => d
                .delayed_recipients
                .iter()
                .map(|r| r.email_address.as_str())
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The `mail` object: the original message.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a JSON object")]
pub struct Mail {
    /// When SES accepted the message. Real SES always sends it; trimmed or old payloads may not,
    /// and normalisation then falls back on another time (see `TimeFallback`).
    #[serde(default, deserialize_with = "timestamp::deserialize_option")]
    pub timestamp: Option<DateTime<Utc>>,
    pub message_id: String,
    /// Envelope MAIL FROM; may carry a display name.
    pub source: Option<String>,
    pub source_arn: Option<String>,
    /// Identity notifications only; event publishing has the `ses:source-ip` tag instead.
    pub source_ip: Option<String>,
    pub sending_account_id: Option<String>,
    /// Identity notifications only; event publishing has the `ses:caller-identity` tag instead.
    pub caller_identity: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub destination: Vec<String>,
    /// Present only when "include original headers" is on.
    pub common_headers: Option<CommonHeaders>,
    /// Event publishing only.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: BTreeMap<String, Vec<String>>,
}

/// `mail.commonHeaders`, as far as ses-ledger reads it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a JSON object")]
pub struct CommonHeaders {
    pub subject: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a JSON object")]
pub struct Bounce {
    pub bounce_type: Option<String>,
    pub bounce_sub_type: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub bounced_recipients: Vec<BouncedRecipient>,
    #[serde(default, deserialize_with = "timestamp::deserialize_option")]
    pub timestamp: Option<DateTime<Utc>>,
    pub feedback_id: Option<String>,
    #[serde(rename = "reportingMTA")]
    pub reporting_mta: Option<String>,
    pub remote_mta_ip: Option<String>,
}

/// One entry of `bouncedRecipients`; the DSN fields are present only when a DSN was attached.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a JSON object")]
pub struct BouncedRecipient {
    pub email_address: String,
    pub action: Option<String>,
    pub status: Option<String>,
    pub diagnostic_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a JSON object")]
pub struct Complaint {
    #[serde(default, deserialize_with = "null_as_default")]
    pub complained_recipients: Vec<ComplainedRecipient>,
    #[serde(default, deserialize_with = "timestamp::deserialize_option")]
    pub timestamp: Option<DateTime<Utc>>,
    pub feedback_id: Option<String>,
    /// `null` or `OnAccountSuppressionList`.
    pub complaint_sub_type: Option<String>,
    pub user_agent: Option<String>,
    pub complaint_feedback_type: Option<String>,
    /// Copied from the ISP's feedback report, so kept as text: a date SES could not reformat must
    /// not cost us the complaint.
    pub arrival_date: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a JSON object")]
pub struct ComplainedRecipient {
    pub email_address: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a JSON object")]
pub struct Delivery {
    #[serde(default, deserialize_with = "timestamp::deserialize_option")]
    pub timestamp: Option<DateTime<Utc>>,
    pub processing_time_millis: Option<i64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub recipients: Vec<String>,
    pub smtp_response: Option<String>,
    #[serde(rename = "reportingMTA")]
    pub reporting_mta: Option<String>,
    pub remote_mta_ip: Option<String>,
}

/// Checks only that `send` is an object: it is always empty.
#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct SendObject {}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a JSON object")]
pub struct Reject {
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a JSON object")]
pub struct Open {
    pub ip_address: Option<String>,
    #[serde(default, deserialize_with = "timestamp::deserialize_option")]
    pub timestamp: Option<DateTime<Utc>>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a JSON object")]
pub struct Click {
    pub ip_address: Option<String>,
    #[serde(default, deserialize_with = "timestamp::deserialize_option")]
    pub timestamp: Option<DateTime<Utc>>,
    pub user_agent: Option<String>,
    pub link: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub link_tags: BTreeMap<String, Vec<String>>,
}

/// The `failure` object of a `Rendering Failure` event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a JSON object")]
pub struct RenderingFailure {
    pub template_name: Option<String>,
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a JSON object")]
pub struct DeliveryDelay {
    pub delay_type: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub delayed_recipients: Vec<DelayedRecipient>,
    #[serde(default, deserialize_with = "timestamp::deserialize_option")]
    pub expiration_time: Option<DateTime<Utc>>,
    #[serde(rename = "reportingMTA")]
    pub reporting_mta: Option<String>,
    #[serde(default, deserialize_with = "timestamp::deserialize_option")]
    pub timestamp: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a JSON object")]
pub struct DelayedRecipient {
    pub email_address: String,
    pub status: Option<String>,
    pub diagnostic_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a JSON object")]
pub struct Subscription {
    pub contact_list: Option<String>,
    #[serde(default, deserialize_with = "timestamp::deserialize_option")]
    pub timestamp: Option<DateTime<Utc>>,
    /// What made the change (`UnsubscribeHeader`, ...).
    pub source: Option<String>,
    pub new_topic_preferences: Option<Value>,
    pub old_topic_preferences: Option<Value>,
}

impl SesMessage {
    /// Parses an SES message of either format. Required: the type key (`eventType` or
    /// `notificationType`), `mail` with `messageId`, and for known types their
    /// own object (`bounce`, ..., `failure` for `Rendering Failure`). Unknown types parse with
    /// [`EventObject::Unknown`].
    pub fn parse(value: &Value) -> Result<SesMessage, InputError> {
        let Some(obj) = value.as_object() else {
            return Err(InputError::NotSes {
                what: "the message".into(),
                found: describe(value),
            });
        };
        // A message with both keys is event publishing: that format is the superset.
        let (format, key) = if obj.contains_key("eventType") {
            (PayloadFormat::EventPublishing, "eventType")
        } else if obj.contains_key("notificationType") {
            (PayloadFormat::Notification, "notificationType")
        } else {
            return Err(InputError::NotSes {
                what: "the message".into(),
                found: describe(value),
            });
        };
        let type_name = match obj.get(key) {
            Some(Value::String(name)) => name.clone(),
            other => {
                return Err(InputError::Invalid {
                    path: key.into(),
                    message: format!(
                        "expected the event type as a string such as \"Bounce\", got {}",
                        other.map_or_else(|| "nothing".into(), describe)
                    ),
                })
            }
        };
        let mail: Mail = field(obj, "mail", "every SES message has one")?;
        if mail.message_id.trim().is_empty() {
            return Err(InputError::Invalid {
                path: "mail.messageId".into(),
                message: "must not be empty".into(),
            });
        }
        let detail = match EventType::from_ses(&type_name) {
            EventType::Bounce => EventObject::Bounce(own(obj, "bounce", &type_name)?),
            EventType::Complaint => EventObject::Complaint(own(obj, "complaint", &type_name)?),
            EventType::Delivery => EventObject::Delivery(own(obj, "delivery", &type_name)?),
            EventType::Send => {
                own::<SendObject>(obj, "send", &type_name)?;
                EventObject::Send
            }
            EventType::Reject => EventObject::Reject(own(obj, "reject", &type_name)?),
            EventType::Open => EventObject::Open(own(obj, "open", &type_name)?),
            EventType::Click => EventObject::Click(own(obj, "click", &type_name)?),
            EventType::RenderingFailure => {
                EventObject::RenderingFailure(own(obj, "failure", &type_name)?)
            }
            EventType::DeliveryDelay => {
                EventObject::DeliveryDelay(own(obj, "deliveryDelay", &type_name)?)
            }
            EventType::Subscription => {
                EventObject::Subscription(own(obj, "subscription", &type_name)?)
            }
            EventType::Unknown => EventObject::Unknown,
        };
        Ok(SesMessage {
            format,
            type_name,
            mail,
            detail,
        })
    }
}

impl SesMessage {
    /// A fast path for `normalise` over dumps of bare SES messages (one per line, as Firehose
    /// writes them): the message read straight from its text, the parts ses-ledger does not use
    /// skipped rather than built, with no `serde_json::Value` in between. `Some` only when the
    /// general path (a `Value`, [`crate::input::envelope::split_owned_document`], [`SesMessage::parse`])
    /// would read the text as one bare SES message of a known type and parse it to this same
    /// message; `None` (an envelope, a skipped or unknown type, anything wrong) means: take the
    /// general path, which says what is wrong. `tests/fast_path.rs` holds the two paths equal.
    pub fn parse_bare_text(text: &str) -> Option<SesMessage> {
        let m: BareText = serde_json::from_str(text).ok()?;
        // What makes the general path read the document as an envelope or skip it.
        let envelope = m.records.is_some()
            || m.request_payload.is_some()
            || m.messages.is_some()
            || m.detail_type.is_some()
            || m.topic_arn.is_some();
        if envelope
            || matches!(
                m.notification_type.as_ref().and_then(Option::as_deref),
                Some("Received") | Some(crate::input::envelope::SUBSCRIPTION_SUCCEEDED)
            )
        {
            return None;
        }
        let (format, type_name) = match (m.event_type, m.notification_type) {
            (Some(Some(name)), _) => (PayloadFormat::EventPublishing, name),
            (None, Some(Some(name))) => (PayloadFormat::Notification, name),
            _ => return None,
        };
        let mail = m.mail?;
        if mail.message_id.trim().is_empty() {
            return None;
        }
        let detail = match EventType::from_ses(&type_name) {
            EventType::Bounce => EventObject::Bounce(m.bounce?),
            EventType::Complaint => EventObject::Complaint(m.complaint?),
            EventType::Delivery => EventObject::Delivery(m.delivery?),
            EventType::Send => m.send.map(|_| EventObject::Send)?,
            EventType::Reject => EventObject::Reject(m.reject?),
            EventType::Open => EventObject::Open(m.open?),
            EventType::Click => EventObject::Click(m.click?),
            EventType::RenderingFailure => EventObject::RenderingFailure(m.failure?),
            EventType::DeliveryDelay => EventObject::DeliveryDelay(m.delivery_delay?),
            EventType::Subscription => EventObject::Subscription(m.subscription?),
            // Its whole payload is kept, so it needs the `Value` anyway.
            EventType::Unknown => return None,
        };
        Some(SesMessage {
            format,
            type_name,
            mail,
            detail,
        })
    }
}

/// Every top-level key [`SesMessage::parse_bare_text`] looks at. A present key is `Some` even
/// when its value is `null` (the general path sees it too); each type's object must be a JSON
/// object, as [`field`] requires.
#[derive(Deserialize)]
struct BareText {
    #[serde(rename = "eventType", default, deserialize_with = "present")]
    event_type: Option<Option<String>>,
    #[serde(rename = "notificationType", default, deserialize_with = "present")]
    notification_type: Option<Option<String>>,
    #[serde(default, deserialize_with = "object")]
    mail: Option<Mail>,
    #[serde(default, deserialize_with = "object")]
    bounce: Option<Bounce>,
    #[serde(default, deserialize_with = "object")]
    complaint: Option<Complaint>,
    #[serde(default, deserialize_with = "object")]
    delivery: Option<Delivery>,
    #[serde(default, deserialize_with = "object")]
    send: Option<SendObject>,
    #[serde(default, deserialize_with = "object")]
    reject: Option<Reject>,
    #[serde(default, deserialize_with = "object")]
    open: Option<Open>,
    #[serde(default, deserialize_with = "object")]
    click: Option<Click>,
    #[serde(default, deserialize_with = "object")]
    failure: Option<RenderingFailure>,
    #[serde(rename = "deliveryDelay", default, deserialize_with = "object")]
    delivery_delay: Option<DeliveryDelay>,
    #[serde(default, deserialize_with = "object")]
    subscription: Option<Subscription>,
    #[serde(rename = "Records", default, deserialize_with = "present")]
    records: Option<IgnoredAny>,
    #[serde(rename = "requestPayload", default, deserialize_with = "present")]
    request_payload: Option<IgnoredAny>,
    #[serde(rename = "Messages", default, deserialize_with = "present")]
    messages: Option<IgnoredAny>,
    #[serde(rename = "detail-type", default, deserialize_with = "present")]
    detail_type: Option<IgnoredAny>,
    #[serde(rename = "TopicArn", default, deserialize_with = "present")]
    topic_arn: Option<IgnoredAny>,
}

/// A key that is there, whatever its value (`null` included).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A struct read only from a JSON object (serde would also read one from an array, by position).
fn object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct ObjectOnly<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectOnly<T> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(MapAccessDeserializer::new(map))
        }
    }
    deserializer
        .deserialize_map(ObjectOnly(std::marker::PhantomData))
        .map(Some)
}

/// The object a known event type carries under `key`.
fn own<T: DeserializeOwned>(
    obj: &Map<String, Value>,
    key: &str,
    type_name: &str,
) -> Result<T, InputError> {
    field(obj, key, &format!("an SES {type_name} event has one"))
}

/// Deserialises the object `obj[key]`, naming the path of whatever is wrong inside it.
fn field<T: DeserializeOwned>(
    obj: &Map<String, Value>,
    key: &str,
    why_required: &str,
) -> Result<T, InputError> {
    let Some(value) = obj.get(key) else {
        return Err(InputError::Invalid {
            path: key.into(),
            message: format!("required field is missing ({why_required})"),
        });
    };
    // serde would also read a struct from an array, by position: say what is wrong instead.
    if !value.is_object() {
        return Err(InputError::Invalid {
            path: key.into(),
            message: format!("expected a JSON object, got {}", describe(value)),
        });
    }
    // The plain deserializer first: tracking the path costs about as much as the parse, and is
    // only needed to say where a bad message is wrong.
    if let Ok(parsed) = T::deserialize(value) {
        return Ok(parsed);
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let mut path = match inner.as_str() {
            "." => key.to_string(),
            p if p.starts_with('[') => format!("{key}{p}"),
            p => format!("{key}.{p}"),
        };
        let mut message = e.into_inner().to_string();
        // serde reports a missing field at its parent; point at the field itself.
        if let Some(name) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'))
        {
            path = format!("{path}.{name}");
            message = "required field is missing".into();
        }
        InputError::Invalid { path, message }
    })
}

/// `null` reads as the empty collection, like an absent field.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bounce() -> Value {
        json!({
            "eventType": "Bounce",
            "mail": {"messageId": "m-1", "timestamp": "2017-08-05T00:40:02.012Z", "destination": ["a@example.com"]},
            "bounce": {
                "bounceType": "Permanent", "bounceSubType": "General",
                "bouncedRecipients": [{"emailAddress": "a@example.com", "status": "5.1.1"}],
                "timestamp": "2017-08-05T00:41:02.669Z", "feedbackId": "f-1",
                "reportingMTA": "dsn; mta.example.com"
            }
        })
    }

    fn invalid(value: &Value) -> (String, String) {
        match SesMessage::parse(value) {
            Err(InputError::Invalid { path, message }) => (path, message),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_bounce_and_ignores_unknown_fields() {
        let mut v = bounce();
        v["bounce"]["somethingNew"] = json!({"nested": [1, 2]});
        v["mail"]["headersTruncated"] = json!("false");
        let m = SesMessage::parse(&v).expect("parses");
        assert_eq!(m.format, PayloadFormat::EventPublishing);
        assert_eq!(m.mail.message_id, "m-1");
        let EventObject::Bounce(b) = m.detail else {
            panic!("a bounce")
        };
        assert_eq!(b.reporting_mta.as_deref(), Some("dsn; mta.example.com"));
        assert_eq!(b.bounced_recipients[0].status.as_deref(), Some("5.1.1"));
    }

    #[test]
    fn nulls_read_as_absent() {
        let v = json!({
            "notificationType": "Complaint",
            "mail": {"messageId": "m", "timestamp": "2018-10-08T14:05:45 +0000", "destination": null, "tags": null, "source": null},
            "complaint": {"complainedRecipients": null, "complaintSubType": null, "timestamp": null, "arrivalDate": null}
        });
        let m = SesMessage::parse(&v).expect("parses");
        assert_eq!(m.format, PayloadFormat::Notification);
        assert!(m.mail.destination.is_empty());
        let EventObject::Complaint(c) = m.detail else {
            panic!("a complaint")
        };
        assert_eq!(c.complaint_sub_type, None);
    }

    #[test]
    fn wrong_types_name_their_path() {
        let mut v = bounce();
        v["mail"]["destination"] = json!("x");
        let (path, message) = invalid(&v);
        assert_eq!(path, "mail.destination");
        assert!(message.contains("invalid type: string \"x\""), "{message}");

        let mut v = bounce();
        v["bounce"]["bouncedRecipients"][0]["emailAddress"] = json!(42);
        assert_eq!(invalid(&v).0, "bounce.bouncedRecipients[0].emailAddress");

        let mut v = bounce();
        v["bounce"]["timestamp"] = json!("yesterday");
        assert_eq!(
            invalid(&v),
            (
                "bounce.timestamp".into(),
                "expected a timestamp like 2017-08-05T00:41:02.669Z, got \"yesterday\"".into()
            )
        );

        let mut v = bounce();
        v["mail"] = json!([1]);
        let (path, message) = invalid(&v);
        assert_eq!(path, "mail");
        assert!(message.contains("expected a JSON object"), "{message}");

        let mut v = bounce();
        v["eventType"] = json!(3);
        assert_eq!(invalid(&v).0, "eventType");
    }

    #[test]
    fn required_fields() {
        let mut v = bounce();
        v["mail"]
            .as_object_mut()
            .expect("object")
            .remove("messageId");
        assert_eq!(
            invalid(&v),
            (
                "mail.messageId".to_string(),
                "required field is missing".to_string()
            )
        );
        let mut v = bounce();
        v["bounce"]["bouncedRecipients"] = json!([{"status": "5.0.0"}]);
        assert_eq!(invalid(&v).0, "bounce.bouncedRecipients[0].emailAddress");

        let mut v = bounce();
        v.as_object_mut().expect("object").remove("bounce");
        let (path, message) = invalid(&v);
        assert_eq!(path, "bounce");
        assert!(message.contains("an SES Bounce event has one"), "{message}");

        let mut v = bounce();
        v.as_object_mut().expect("object").remove("mail");
        assert_eq!(invalid(&v).0, "mail");

        let mut v = bounce();
        v["mail"]["messageId"] = json!(" ");
        assert_eq!(invalid(&v).0, "mail.messageId");
    }

    #[test]
    fn each_type_reads_its_own_key() {
        for (name, key) in [
            ("Send", "send"),
            ("Reject", "reject"),
            ("Open", "open"),
            ("Click", "click"),
            ("Rendering Failure", "failure"),
            ("DeliveryDelay", "deliveryDelay"),
            ("Subscription", "subscription"),
            ("Delivery", "delivery"),
            ("Complaint", "complaint"),
        ] {
            let mut v = json!({"eventType": name, "mail": bounce()["mail"].clone()});
            assert_eq!(invalid(&v).0, key, "{name}");
            v[key] = json!({});
            let m = SesMessage::parse(&v).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(m.detail.event_type(), EventType::from_ses(name));
        }
    }

    #[test]
    fn unknown_types_need_only_mail() {
        let v = json!({"eventType": "Mystery", "mail": bounce()["mail"].clone()});
        let m = SesMessage::parse(&v).expect("parses");
        assert_eq!(m.detail, EventObject::Unknown);
        assert_eq!(m.type_name, "Mystery");
    }

    #[test]
    fn not_ses() {
        assert!(matches!(
            SesMessage::parse(&json!({"hello": 1})),
            Err(InputError::NotSes { .. })
        ));
        assert!(matches!(
            SesMessage::parse(&json!("Bounce")),
            Err(InputError::NotSes { .. })
        ));
    }
}
