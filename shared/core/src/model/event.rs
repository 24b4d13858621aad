//! The normalised recipient event: one record per (SES event, recipient). This is the single
//! definition of the event schema written to CloudWatch Logs, stored in DynamoDB and printed by
//! `ses-ledger normalise`; docs/event-schema.md documents it field by field.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::bounce_class::BounceClass;
use crate::model::documented;
use sha2::{Digest, Sha256};

/// Bumped whenever a field changes meaning or is removed (adding fields does not bump it).
pub const SCHEMA_VERSION: u32 = 1;

/// Every SES event type, in both payload formats, plus the catch-all for types SES adds later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    Send,
    Reject,
    Bounce,
    Complaint,
    Delivery,
    DeliveryDelay,
    Open,
    Click,
    RenderingFailure,
    Subscription,
    Unknown,
}

impl EventType {
    pub const ALL: [EventType; 11] = [
        EventType::Send,
        EventType::Reject,
        EventType::Bounce,
        EventType::Complaint,
        EventType::Delivery,
        EventType::DeliveryDelay,
        EventType::Open,
        EventType::Click,
        EventType::RenderingFailure,
        EventType::Subscription,
        EventType::Unknown,
    ];

    /// The name SES uses (`eventType` / `notificationType`), and the name in our logs.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Send => "Send",
            EventType::Reject => "Reject",
            EventType::Bounce => "Bounce",
            EventType::Complaint => "Complaint",
            EventType::Delivery => "Delivery",
            EventType::DeliveryDelay => "DeliveryDelay",
            EventType::Open => "Open",
            EventType::Click => "Click",
            EventType::RenderingFailure => "RenderingFailure",
            EventType::Subscription => "Subscription",
            EventType::Unknown => "Unknown",
        }
    }

    /// Parses SES's spelling; `Rendering Failure` has a space in event publishing.
    pub fn from_ses(name: &str) -> EventType {
        match name {
            "Send" => EventType::Send,
            "Reject" => EventType::Reject,
            "Bounce" => EventType::Bounce,
            "Complaint" => EventType::Complaint,
            "Delivery" => EventType::Delivery,
            "DeliveryDelay" => EventType::DeliveryDelay,
            "Open" => EventType::Open,
            "Click" => EventType::Click,
            "Rendering Failure" | "RenderingFailure" => EventType::RenderingFailure,
            "Subscription" => EventType::Subscription,
            _ => EventType::Unknown,
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which of SES's two payload formats carried the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadFormat {
    /// Identity notifications (`notificationType`).
    Notification,
    /// Configuration-set event publishing (`eventType`).
    EventPublishing,
}

/// How the message reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// SNS -> Lambda (`Records[].Sns`).
    Sns,
    /// SNS -> SQS -> Lambda with the SNS envelope in the body.
    SqsSns,
    /// SNS -> SQS with raw message delivery: the body is the SES JSON itself.
    SqsRaw,
    /// EventBridge: the SES event is `detail`.
    EventBridge,
    /// A bare SES JSON document (files, Firehose dumps, JSON lines).
    Raw,
}

/// Where the SES message came from: enough to find it again in SNS/SQS and in the DLQ.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    /// SNS MessageId, when there was an SNS envelope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sns_message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sns_topic_arn: Option<String>,
    /// SQS messageId, when it came through SQS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sqs_message_id: Option<String>,
    /// EventBridge event id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eventbridge_id: Option<String>,
    /// When the envelope says the message was sent (SNS `Timestamp`, EventBridge `time`, SQS
    /// `SentTimestamp`): the time of last resort for a message without `mail.timestamp`. Not
    /// written to the record; `time_fallback` says when it was used.
    #[serde(skip)]
    pub envelope_time: Option<DateTime<Utc>>,
}

/// One SES event as it concerns one recipient. Optional fields are omitted from JSON when absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecipientEvent {
    pub schema_version: u32,
    /// Deterministic: the same SES event for the same recipient always gets the same id, whichever
    /// format or transport carried it (see [`EventIdentity`]).
    pub event_id: String,
    pub event_type: EventType,
    /// Bounce `Permanent/General`, complaint feedback type, delay type, ...: the one detail worth
    /// grouping by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_subtype: Option<String>,
    pub payload_format: PayloadFormat,

    /// Normalised address (trimmed, domain lower-cased); absent only on unattributed records
    /// (see `recipient_attribution`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// The address exactly as SES sent it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_original: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_domain: Option<String>,
    /// Mailbox provider from the provider table (`google`, `microsoft`, ...); the domain itself when
    /// the table does not know it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mailbox_provider: Option<String>,
    /// How `recipient` was decided when the event does not name its recipients (Open, Click, and
    /// records without any recipient); absent when the event names them or for one record per
    /// `mail.destination` address (Send, Reject, RenderingFailure, Subscription).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_attribution: Option<RecipientAttribution>,
    /// How many addresses `mail.destination` held, on unattributed records: the people one of
    /// whom opened or clicked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_count: Option<usize>,

    pub ses_message_id: String,
    /// `mail.timestamp`: when SES accepted the message.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::model::timestamp::serialize_option"
    )]
    pub sent_at: Option<DateTime<Utc>>,
    /// When the event happened (bounce/complaint/delivery/... timestamp; `sent_at` when the event
    /// has none).
    #[serde(serialize_with = "crate::model::timestamp::serialize")]
    pub event_time: DateTime<Utc>,
    #[serde(serialize_with = "crate::model::timestamp::serialize")]
    pub ingested_at: DateTime<Utc>,
    /// Present only when `mail.timestamp` was missing: which time `event_time` fell back on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_fallback: Option<TimeFallback>,

    /// `mail.source` as SES gave it (may carry a display name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_domain: Option<String>,
    /// Sending identity ARN (`mail.sourceArn`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sending_account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_identity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration_set: Option<String>,
    /// `mail.tags` (event publishing only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,

    /// Boxed: most of its fields are empty on any one record, and a record moves several times
    /// between parsing and writing, so it moves a pointer rather than 760 bytes.
    #[serde(flatten)]
    pub detail: Box<TypeSpecificFields>,

    #[serde(flatten)]
    pub origin: Origin,

    /// Values SES does not document, as `field=original value` (`bounce.bounceType=Temporary`);
    /// the record's own field holds the documented value it was mapped to, where one fits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undocumented_values: Vec<String>,

    /// The whole SES payload, kept only for event types this version does not know.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<serde_json::Value>,
}

/// Who an event is about when SES does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientAttribution {
    /// An open or click of a message sent to one address: that address opened or clicked.
    SoleRecipient,
    /// An open or click of a message sent to several addresses (SES does not say which one), or
    /// an event whose message names no address at all: one record for the message, without
    /// `recipient`.
    Unattributed,
}

/// Which time stood in for a missing `mail.timestamp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFallback {
    /// The event's own timestamp (`bounce.timestamp`, ...).
    EventTimestamp,
    /// The envelope's: SNS `Timestamp`, EventBridge `time` or SQS `SentTimestamp`.
    EnvelopeTimestamp,
}

/// Type-specific fields, flattened into the record. Names are prefixed by their event type so one
/// flat JSON object stays unambiguous in Logs Insights.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TypeSpecificFields {
    // Bounce
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounce_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounce_subtype: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounce_status: Option<String>,
    /// What the receiver's status and diagnostic say, beside SES's `bounce_type`
    /// ([`crate::model::bounce_class`]): permanent, transient, policy or unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounce_class: Option<BounceClass>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounce_action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounce_diagnostic_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounce_reporting_mta: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounce_remote_mta_ip: Option<String>,
    /// Bounce or complaint `feedbackId`: the identity of the feedback across formats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback_id: Option<String>,

    // Complaint
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complaint_feedback_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complaint_user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complaint_subtype: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::model::timestamp::serialize_option"
    )]
    pub complaint_arrival_date: Option<DateTime<Utc>>,

    // Delivery
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_smtp_response: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_processing_time_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_reporting_mta: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_remote_mta_ip: Option<String>,

    // DeliveryDelay
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_type: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::model::timestamp::serialize_option"
    )]
    pub delay_expiration_time: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_diagnostic_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_reporting_mta: Option<String>,

    // Reject
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject_reason: Option<String>,

    // Open / Click
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engagement_ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engagement_user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub click_link: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub click_link_tags: BTreeMap<String, Vec<String>>,

    // Rendering Failure
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendering_template_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendering_error_message: Option<String>,

    // Subscription
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_contact_list: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_source: Option<String>,
    /// `newTopicPreferences` / `oldTopicPreferences` as SES sent them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_new_preferences: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_old_preferences: Option<serde_json::Value>,
}

impl RecipientEvent {
    /// A hard bounce as SES's bounce rate counts it: Permanent, and not an address on the
    /// account's or the tenant's suppression list (those never reached a mailbox provider).
    pub fn is_counted_hard_bounce(&self) -> bool {
        self.event_type == EventType::Bounce
            && self.detail.bounce_type.as_deref() == Some("Permanent")
            && !documented::is_suppression_list_subtype(self.detail.bounce_subtype.as_deref())
    }

    /// A soft bounce: Transient or Undetermined.
    pub fn is_soft_bounce(&self) -> bool {
        self.event_type == EventType::Bounce
            && self.detail.bounce_type.as_deref() != Some("Permanent")
    }

    /// A complaint SES generated itself because the address is on the account's or the
    /// tenant's suppression list.
    pub fn is_suppression_list_complaint(&self) -> bool {
        self.event_type == EventType::Complaint
            && documented::is_suppression_list_subtype(self.detail.complaint_subtype.as_deref())
    }

    /// The SES tenant the message was sent for (the `ses:tenant-name` tag).
    pub fn ses_tenant(&self) -> Option<&str> {
        self.tags
            .get(documented::SES_TENANT_TAG)
            .and_then(|v| v.first())
            .map(String::as_str)
            .filter(|t| !t.is_empty())
    }

    /// The `ses:from-domain` tag when SES set it, else the domain of `mail.source`.
    pub fn from_domain(&self) -> Option<&str> {
        self.tags
            .get("ses:from-domain")
            .and_then(|v| v.first())
            .map(String::as_str)
            .or(self.source_domain.as_deref())
    }

    /// The one detail that explains the event best: the bounce's diagnostic code, the
    /// complainant's user agent, the delivery's SMTP response, ...
    pub fn headline(&self) -> Option<&str> {
        let d = &self.detail;
        [
            &d.bounce_diagnostic_code,
            &d.complaint_user_agent,
            &d.delivery_smtp_response,
            &d.delay_diagnostic_code,
            &d.reject_reason,
            &d.click_link,
            &d.rendering_error_message,
        ]
        .into_iter()
        .find_map(|f| f.as_deref())
    }

    /// What the ledger keeps of the event (the full record lives in the event log): identity,
    /// type, time, recipient, what suppression and rates classify by, and the headline capped at
    /// [`LEDGER_HEADLINE_MAX_BYTES`]. Readers of the ledger return events of this shape.
    pub fn ledger_view(&self) -> RecipientEvent {
        let mut detail = Box::new(TypeSpecificFields {
            bounce_type: self.detail.bounce_type.clone(),
            bounce_subtype: self.detail.bounce_subtype.clone(),
            bounce_class: self.detail.bounce_class,
            complaint_subtype: self.detail.complaint_subtype.clone(),
            ..TypeSpecificFields::default()
        });
        if let (Some(text), Some(field)) = (self.headline(), detail.headline_field(self.event_type))
        {
            *field = Some(cap_headline(text));
        }
        RecipientEvent {
            schema_version: self.schema_version,
            event_subtype: self.event_subtype.clone(),
            recipient: self.recipient.clone(),
            detail,
            ..RecipientEvent::bare(
                &self.event_id,
                self.event_type,
                self.payload_format,
                &self.ses_message_id,
                self.event_time,
                self.ingested_at,
            )
        }
    }

    /// An event of which only its identity, type, format and times are known: every optional
    /// field empty (what readers of the ledger fill in from).
    pub fn bare(
        event_id: &str,
        event_type: EventType,
        payload_format: PayloadFormat,
        ses_message_id: &str,
        event_time: DateTime<Utc>,
        ingested_at: DateTime<Utc>,
    ) -> RecipientEvent {
        RecipientEvent {
            schema_version: SCHEMA_VERSION,
            event_id: event_id.to_string(),
            event_type,
            event_subtype: None,
            payload_format,
            recipient: None,
            recipient_original: None,
            recipient_domain: None,
            mailbox_provider: None,
            recipient_attribution: None,
            destination_count: None,
            ses_message_id: ses_message_id.to_string(),
            sent_at: None,
            event_time,
            ingested_at,
            time_fallback: None,
            source: None,
            source_address: None,
            source_domain: None,
            source_arn: None,
            sending_account_id: None,
            caller_identity: None,
            source_ip: None,
            configuration_set: None,
            tags: BTreeMap::new(),
            subject: None,
            detail: Box::default(),
            origin: Origin::default(),
            undocumented_values: Vec::new(),
            raw: None,
        }
    }
}

/// The ledger keeps this much of an event's headline: enough for a diagnostic code or an SMTP
/// reply, and it keeps an event item under 1 KB (docs/dynamodb-design.md).
pub const LEDGER_HEADLINE_MAX_BYTES: usize = 160;

/// `text` cut at a character boundary to fit [`LEDGER_HEADLINE_MAX_BYTES`], marked with `…`.
fn cap_headline(text: &str) -> String {
    if text.len() <= LEDGER_HEADLINE_MAX_BYTES {
        return text.to_string();
    }
    let mut end = LEDGER_HEADLINE_MAX_BYTES - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl TypeSpecificFields {
    /// The field that holds an event type's headline (see [`RecipientEvent::headline`]).
    pub fn headline_field(&mut self, event_type: EventType) -> Option<&mut Option<String>> {
        match event_type {
            EventType::Bounce => Some(&mut self.bounce_diagnostic_code),
            EventType::Complaint => Some(&mut self.complaint_user_agent),
            EventType::Delivery => Some(&mut self.delivery_smtp_response),
            EventType::DeliveryDelay => Some(&mut self.delay_diagnostic_code),
            EventType::Reject => Some(&mut self.reject_reason),
            EventType::Click => Some(&mut self.click_link),
            EventType::RenderingFailure => Some(&mut self.rendering_error_message),
            EventType::Send | EventType::Open | EventType::Subscription | EventType::Unknown => {
                None
            }
        }
    }
}

/// What makes two deliveries of an SES event "the same event". Feedback (bounce, complaint) is
/// identified by SES's feedback id, which is the same in both payload formats, so a complaint that
/// arrives as an identity notification and through a configuration set counts once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventIdentity<'a> {
    pub event_type: EventType,
    pub ses_message_id: &'a str,
    pub recipient: Option<&'a str>,
    /// Feedback id for bounces and complaints; event timestamp (+ link) for repeatable events.
    pub discriminator: Option<&'a str>,
}

impl EventIdentity<'_> {
    /// 32 hex characters of SHA-256 over the identity.
    pub fn event_id(&self) -> String {
        let parts = [
            self.event_type.as_str(),
            self.ses_message_id,
            self.recipient.unwrap_or(""),
            self.discriminator.unwrap_or(""),
        ];
        let mut hasher = Sha256::new();
        if parts.iter().any(|p| p.contains('\0')) {
            // JSON can carry a NUL (`\u0000`) in a message id or an address, where the NUL
            // separator below would let ("a\0b", "c") and ("a", "b\0c") meet. Such parts are
            // hashed length-prefixed instead, after a first byte no text starts with (0xff is no
            // UTF-8 byte), so they meet neither each other nor any id of the usual form.
            hasher.update([0xffu8]);
            for part in parts {
                hasher.update((part.len() as u64).to_be_bytes());
                hasher.update(part.as_bytes());
            }
        } else {
            for part in parts {
                hasher.update(part.as_bytes());
                // Keeps ("ab","c") apart from ("a","bc"): no part holds a NUL here.
                hasher.update([0u8]);
            }
        }
        // Written nibble by nibble: `hex::encode` goes through a `char` iterator, which showed
        // up in normalise's profile.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut id = String::with_capacity(32);
        for byte in &hasher.finalize()[..16] {
            id.push(char::from(HEX[usize::from(byte >> 4)]));
            id.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_inside_a_part_cannot_make_two_identities_one() {
        let id = |message: &'static str, recipient: &'static str| {
            EventIdentity {
                event_type: EventType::Delivery,
                ses_message_id: message,
                recipient: Some(recipient),
                discriminator: None,
            }
            .event_id()
        };
        // The same bytes, split differently across the parts, around a NUL.
        assert_ne!(id("m\0a@x.com", "b@x.com"), id("m", "a@x.com\0b@x.com"));
        assert_ne!(id("m\0", "a@x.com"), id("m", "\0a@x.com"));
        // Without a NUL, the id is the one every earlier version computed.
        let mut hasher = Sha256::new();
        for part in ["Delivery", "m", "a@x.com", ""] {
            hasher.update(part.as_bytes());
            hasher.update([0u8]);
        }
        assert_eq!(id("m", "a@x.com"), hex::encode(&hasher.finalize()[..16]));
    }

    #[test]
    fn a_long_headline_is_cut_at_a_character_boundary_and_marked() {
        let short = "550 5.1.1 user unknown";
        assert_eq!(cap_headline(short), short);
        let long = "é".repeat(200);
        let capped = cap_headline(&long);
        assert!(
            capped.len() <= LEDGER_HEADLINE_MAX_BYTES,
            "{}",
            capped.len()
        );
        assert!(capped.ends_with('…'));
        assert!(long.starts_with(capped.trim_end_matches('…')));
    }
}
