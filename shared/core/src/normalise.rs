//! One SES message in, one [`RecipientEvent`] per recipient out.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::address::parse_address;
use crate::envelope::InputError;
use crate::event::{
    EventIdentity, EventType, Origin, RecipientEvent, TypeSpecificFields, SCHEMA_VERSION,
};
use crate::provider::provider_for_domain;
use crate::ses::{self, EventObject, SesMessage};
use crate::timestamp::parse_timestamp;

/// Normalises one SES message (either payload format, every event type) into one
/// [`RecipientEvent`] per recipient. The recipients are the ones the event names (bounced,
/// complained, delivered, delayed), else `mail.destination`; an event without any still yields
/// one record, without recipient. A recipient that is no parseable address is kept as given.
/// Unknown event types are not errors: they become [`EventType::Unknown`] with the payload in
/// `raw`. SES's one-off `AmazonSnsSubscriptionSucceeded` notification yields nothing.
pub fn normalise(
    ses: &Value,
    origin: &Origin,
    ingested_at: DateTime<Utc>,
) -> Result<Vec<RecipientEvent>, InputError> {
    if ses::is_subscription_succeeded(ses) {
        return Ok(Vec::new());
    }
    let message = SesMessage::parse(ses)?;
    let facts = Facts::of(&message);
    let mail = &message.mail;
    let event_type = message.detail.event_type();
    let event_time = facts.time.unwrap_or(mail.timestamp);
    let discriminator = discriminator(&message, event_time, ses);

    let mut recipients = facts.recipients;
    if recipients.is_empty() {
        recipients = mail
            .destination
            .iter()
            .map(|a| (Some(a.clone()), facts.detail.clone()))
            .collect();
    }
    if recipients.is_empty() {
        recipients.push((None, facts.detail));
    }

    let tag = |name: &str| mail.tags.get(name).and_then(|v| v.first()).cloned();
    let source = mail.source.as_deref().and_then(parse_address);
    let mut seen = std::collections::HashSet::new();
    let mut events = Vec::with_capacity(recipients.len());
    for (original, detail) in recipients {
        let recipient = Recipient::of(original);
        // SES may list an address twice; both would be the same event.
        if !seen.insert(recipient.key.clone()) {
            continue;
        }
        let identity = EventIdentity {
            event_type,
            ses_message_id: &mail.message_id,
            recipient: recipient.key.as_deref(),
            discriminator: discriminator.clone(),
        };
        events.push(RecipientEvent {
            schema_version: SCHEMA_VERSION,
            event_id: identity.event_id(),
            event_type,
            event_subtype: facts.subtype.clone(),
            payload_format: message.format,
            mailbox_provider: recipient.domain.as_deref().map(provider_for_domain),
            recipient: recipient.key,
            recipient_original: recipient.original,
            recipient_domain: recipient.domain,
            ses_message_id: mail.message_id.clone(),
            sent_at: Some(mail.timestamp),
            event_time,
            ingested_at,
            source: mail.source.clone(),
            source_address: source.as_ref().map(|a| a.normalised.clone()),
            source_domain: source.as_ref().map(|a| a.domain.clone()),
            source_arn: mail.source_arn.clone(),
            sending_account_id: mail.sending_account_id.clone(),
            // Identity notifications carry these in `mail`, event publishing only as tags.
            caller_identity: mail
                .caller_identity
                .clone()
                .or_else(|| tag("ses:caller-identity")),
            source_ip: mail.source_ip.clone().or_else(|| tag("ses:source-ip")),
            configuration_set: tag("ses:configuration-set"),
            tags: mail.tags.clone(),
            subject: mail.common_headers.as_ref().and_then(|h| h.subject.clone()),
            detail,
            origin: origin.clone(),
            raw: (event_type == EventType::Unknown).then(|| ses.clone()),
        });
    }
    Ok(events)
}

/// What the type-specific object says.
struct Facts {
    /// The event's own timestamp, when it has one.
    time: Option<DateTime<Utc>>,
    subtype: Option<String>,
    /// The fields every recipient shares.
    detail: TypeSpecificFields,
    /// The recipients the event names, each with its detail; empty means `mail.destination`.
    recipients: Vec<(Option<String>, TypeSpecificFields)>,
}

impl Facts {
    fn of(message: &SesMessage) -> Facts {
        let mut facts = Facts {
            time: None,
            subtype: None,
            detail: TypeSpecificFields::default(),
            recipients: Vec::new(),
        };
        let d = &mut facts.detail;
        match &message.detail {
            EventObject::Bounce(b) => {
                facts.time = b.timestamp;
                facts.subtype = match (&b.bounce_type, &b.bounce_sub_type) {
                    (Some(t), Some(s)) => Some(format!("{t}/{s}")),
                    (t, s) => t.clone().or_else(|| s.clone()),
                };
                d.bounce_type = b.bounce_type.clone();
                d.bounce_subtype = b.bounce_sub_type.clone();
                d.bounce_reporting_mta = b.reporting_mta.clone();
                d.bounce_remote_mta_ip = b.remote_mta_ip.clone();
                d.feedback_id = b.feedback_id.clone();
                facts.recipients = b
                    .bounced_recipients
                    .iter()
                    .map(|r| {
                        let mut detail = facts.detail.clone();
                        detail.bounce_status = r.status.clone();
                        detail.bounce_action = r.action.clone();
                        detail.bounce_diagnostic_code = r.diagnostic_code.clone();
                        (Some(r.email_address.clone()), detail)
                    })
                    .collect();
            }
            EventObject::Complaint(c) => {
                facts.time = c.timestamp;
                facts.subtype = c.complaint_feedback_type.clone();
                d.complaint_feedback_type = c.complaint_feedback_type.clone();
                d.complaint_user_agent = c.user_agent.clone();
                d.complaint_subtype = c.complaint_sub_type.clone();
                d.complaint_arrival_date = c.arrival_date.as_deref().and_then(parse_timestamp);
                d.feedback_id = c.feedback_id.clone();
                facts.recipients = c
                    .complained_recipients
                    .iter()
                    .map(|r| (Some(r.email_address.clone()), facts.detail.clone()))
                    .collect();
            }
            EventObject::Delivery(del) => {
                facts.time = del.timestamp;
                d.delivery_smtp_response = del.smtp_response.clone();
                d.delivery_processing_time_ms = del.processing_time_millis;
                d.delivery_reporting_mta = del.reporting_mta.clone();
                d.delivery_remote_mta_ip = del.remote_mta_ip.clone();
                facts.recipients = del
                    .recipients
                    .iter()
                    .map(|r| (Some(r.clone()), facts.detail.clone()))
                    .collect();
            }
            EventObject::DeliveryDelay(delay) => {
                facts.time = delay.timestamp;
                facts.subtype = delay.delay_type.clone();
                d.delay_type = delay.delay_type.clone();
                d.delay_expiration_time = delay.expiration_time;
                d.delay_reporting_mta = delay.reporting_mta.clone();
                facts.recipients = delay
                    .delayed_recipients
                    .iter()
                    .map(|r| {
                        let mut detail = facts.detail.clone();
                        detail.delay_status = r.status.clone();
                        detail.delay_diagnostic_code = r.diagnostic_code.clone();
                        (Some(r.email_address.clone()), detail)
                    })
                    .collect();
            }
            EventObject::Send => {}
            EventObject::Reject(r) => {
                facts.subtype = r.reason.clone();
                d.reject_reason = r.reason.clone();
            }
            EventObject::Open(o) => {
                facts.time = o.timestamp;
                d.engagement_ip_address = o.ip_address.clone();
                d.engagement_user_agent = o.user_agent.clone();
            }
            EventObject::Click(c) => {
                facts.time = c.timestamp;
                d.engagement_ip_address = c.ip_address.clone();
                d.engagement_user_agent = c.user_agent.clone();
                d.click_link = c.link.clone();
                d.click_link_tags = c.link_tags.clone();
            }
            EventObject::RenderingFailure(f) => {
                facts.subtype = f.template_name.clone();
                d.rendering_template_name = f.template_name.clone();
                d.rendering_error_message = f.error_message.clone();
            }
            EventObject::Subscription(s) => {
                facts.time = s.timestamp;
                d.subscription_contact_list = s.contact_list.clone();
                d.subscription_source = s.source.clone();
                d.subscription_new_preferences = s.new_topic_preferences.clone();
                d.subscription_old_preferences = s.old_topic_preferences.clone();
            }
            EventObject::Unknown => facts.subtype = Some(message.type_name.clone()),
        }
        facts
    }
}

/// What tells two events of the same type, message and recipient apart (see [`EventIdentity`]).
fn discriminator(message: &SesMessage, event_time: DateTime<Utc>, raw: &Value) -> Option<String> {
    let time = event_time.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    let feedback = |id: &Option<String>| {
        Some(
            id.clone()
                .filter(|id| !id.trim().is_empty())
                .unwrap_or_else(|| time.clone()),
        )
    };
    match &message.detail {
        EventObject::Bounce(b) => feedback(&b.feedback_id),
        EventObject::Complaint(c) => feedback(&c.feedback_id),
        EventObject::Delivery(_)
        | EventObject::Send
        | EventObject::Reject(_)
        | EventObject::RenderingFailure(_) => None,
        EventObject::DeliveryDelay(_) | EventObject::Subscription(_) => Some(time),
        EventObject::Open(o) => Some(format!("{time}|{}", o.ip_address.as_deref().unwrap_or(""))),
        EventObject::Click(c) => Some(format!("{time}|{}", c.link.as_deref().unwrap_or(""))),
        EventObject::Unknown => {
            // serde_json's map is ordered by key, so the text (and hash) does not depend on the
            // order SES wrote the fields in.
            let text = serde_json::to_string(raw).unwrap_or_default();
            Some(hex::encode(Sha256::digest(text.as_bytes())))
        }
    }
}

/// A recipient as the record carries it.
struct Recipient {
    /// The normalised address, or the trimmed text when it is none; `None` when blank.
    key: Option<String>,
    original: Option<String>,
    domain: Option<String>,
}

impl Recipient {
    fn of(original: Option<String>) -> Recipient {
        let parsed = original.as_deref().and_then(parse_address);
        let key = match &parsed {
            Some(a) => Some(a.normalised.clone()),
            None => original
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string),
        };
        Recipient {
            key,
            domain: parsed.map(|a| a.domain),
            original,
        }
    }
}
