//! One SES message in, one [`RecipientEvent`] per recipient out.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::input::envelope::{skip_of_ses, InputError};
use crate::input::ses::{EventObject, Mail, SesMessage};
use crate::model::address::parse_address;
use crate::model::bounce_class;
use crate::model::documented;
use crate::model::event::{
    EventIdentity, EventType, Origin, RecipientAttribution, RecipientEvent, TimeFallback,
    TypeSpecificFields, SCHEMA_VERSION,
};
use crate::model::provider::provider_for_domain;
use crate::model::timestamp::parse_timestamp;
use crate::privacy::{Addresses, Redactor};

/// Normalises one SES message (either payload format, every event type) into one
/// [`RecipientEvent`] per recipient. The recipients are the ones the event names (bounced,
/// complained, delivered, delayed), else `mail.destination`. Opens and clicks are one record per
/// message, because SES does not say which recipient opened: attributed to the one destination
/// when there is only one, else unattributed (no `recipient`). An event whose message names no
/// address at all is one unattributed record. A recipient that is no parseable address is kept
/// as given. Unknown event types are not errors: they become [`EventType::Unknown`] with the
/// payload in `raw`. Messages the envelope skips ([`crate::input::envelope::Skip`]) yield nothing.
pub fn normalise(
    ses: &Value,
    origin: &Origin,
    ingested_at: DateTime<Utc>,
) -> Result<Vec<RecipientEvent>, InputError> {
    normalise_with(ses, origin, ingested_at, &Addresses::Clear)
}

/// [`normalise`], keeping recipient addresses as `addresses` says: with a pseudonymisation key,
/// `recipient` is the address's pseudonym, `recipient_original` is left out, the event id is
/// computed from the pseudonym, and the message's addresses are replaced by their pseudonyms
/// wherever else the record holds them ([`crate::privacy`]).
pub fn normalise_with(
    ses: &Value,
    origin: &Origin,
    ingested_at: DateTime<Utc>,
    addresses: &Addresses,
) -> Result<Vec<RecipientEvent>, InputError> {
    if skip_of_ses(ses).is_some() {
        return Ok(Vec::new());
    }
    let message = SesMessage::parse(ses)?;
    normalise_message(message, Some(ses), origin, ingested_at, addresses)
}

/// [`normalise_with`] of a message already parsed (for example by
/// [`SesMessage::parse_bare_text`]). `payload` is the message as JSON: only an unknown event type
/// uses it (kept in `raw`, and hashed into its id), so a message of a known type needs none.
pub fn normalise_message(
    message: SesMessage,
    payload: Option<&Value>,
    origin: &Origin,
    ingested_at: DateTime<Utc>,
    addresses: &Addresses,
) -> Result<Vec<RecipientEvent>, InputError> {
    let event_type = message.detail.event_type();
    let own_time = message.detail.timestamp();
    let (event_time, time_fallback) = match (message.mail.timestamp, own_time, origin.envelope_time) {
        (Some(sent), own, _) => (own.unwrap_or(sent), None),
        (None, Some(own), _) => (own, Some(TimeFallback::EventTimestamp)),
        (None, None, Some(envelope)) => (envelope, Some(TimeFallback::EnvelopeTimestamp)),
        (None, None, None) => {
            return Err(InputError::Invalid {
                path: "mail.timestamp".into(),
                message: "required field is missing, and neither the event nor its envelope has a timestamp to fall back on".into(),
            })
        }
    };
    let redactor = match addresses {
        Addresses::Clear => None,
        Addresses::Pseudonymised(key) => Some(Redactor::new(
            key,
            message
                .mail
                .destination
                .iter()
                .map(String::as_str)
                .chain(message.detail.named_recipients()),
        )),
    };
    // The payload of an unknown type is kept (and hashed into its id) without its addresses, so
    // neither the record nor the id lets anyone test a guessed address.
    // Pseudonymised, its original headers go too: they name people (display names, Subject,
    // Reply-To) in forms no redaction can list.
    let raw = (event_type == EventType::Unknown).then(|| {
        let mut raw = payload.cloned().unwrap_or_default();
        if let Some(r) = &redactor {
            if let Some(mail) = raw
                .get_mut("mail")
                .and_then(serde_json::Value::as_object_mut)
            {
                mail.remove("headers");
                mail.remove("commonHeaders");
            }
            r.redact_value(&mut raw);
        }
        raw
    });
    let discriminator = discriminator(&message.detail, event_time, raw.as_ref());
    let SesMessage {
        format,
        type_name,
        mut mail,
        detail,
    } = message;
    let mut facts = Facts::of(detail, type_name);

    // `mail.destination` is read here for the last time, so its addresses move into the records.
    let destinations = |mail: &mut Mail, detail: &mut Option<Box<TypeSpecificFields>>| {
        each_recipient(std::mem::take(&mut mail.destination), detail)
            .map(|(a, d)| (Some(a), d))
            .collect::<Vec<_>>()
    };
    let mut attribution = None;
    let mut destination_count = None;
    let mut recipients = match event_type {
        // SES counts an open or click per message, and so do we: which of several recipients
        // opened is not in the event, and one record each would multiply engagement.
        EventType::Open | EventType::Click => match distinct_addresses(&mail.destination) {
            1 => {
                attribution = Some(RecipientAttribution::SoleRecipient);
                let mut sole = destinations(&mut mail, &mut facts.detail);
                sole.truncate(1);
                sole
            }
            n => {
                destination_count = Some(n);
                Vec::new()
            }
        },
        _ if facts.recipients.is_empty() => destinations(&mut mail, &mut facts.detail),
        _ => facts.recipients,
    };
    if recipients.is_empty() {
        attribution = Some(RecipientAttribution::Unattributed);
        destination_count.get_or_insert(0);
        recipients.push((None, facts.detail.unwrap_or_default()));
    }

    // What every recipient's record shares, moved out of the message: the last record takes it,
    // the others a copy (most messages have one recipient, and copy nothing).
    let tag = |name: &str| mail.tags.get(name).and_then(|v| v.first()).cloned();
    let (source_address, source_domain) = match mail.source.as_deref().and_then(parse_address) {
        Some(a) => (Some(a.normalised), Some(a.domain)),
        None => (None, None),
    };
    let shared = RecipientEvent {
        schema_version: SCHEMA_VERSION,
        event_id: String::new(),
        event_type,
        event_subtype: facts.subtype,
        payload_format: format,
        mailbox_provider: None,
        recipient: None,
        recipient_original: None,
        recipient_domain: None,
        recipient_attribution: attribution,
        destination_count,
        sent_at: mail.timestamp,
        event_time,
        ingested_at,
        time_fallback,
        source_address,
        source_domain,
        // Identity notifications carry these in `mail`, event publishing only as tags.
        caller_identity: mail
            .caller_identity
            .take()
            .or_else(|| tag("ses:caller-identity")),
        source_ip: mail.source_ip.take().or_else(|| tag("ses:source-ip")),
        configuration_set: tag("ses:configuration-set"),
        ses_message_id: mail.message_id,
        source: mail.source,
        source_arn: mail.source_arn,
        sending_account_id: mail.sending_account_id,
        tags: mail.tags,
        subject: mail.common_headers.and_then(|h| h.subject),
        detail: Box::default(),
        origin: origin.clone(),
        undocumented_values: facts.undocumented,
        raw,
    };
    let mut shared = Some(shared);
    let last = recipients.len() - 1;
    let mut seen = std::collections::HashSet::new();
    let mut events = Vec::with_capacity(recipients.len());
    for (i, (original, detail)) in recipients.into_iter().enumerate() {
        let mut recipient = Recipient::of(original);
        if redactor.is_some() {
            recipient.key = recipient.key.map(|k| addresses.protect(k));
            recipient.original = None;
        }
        // SES may list an address twice; both would be the same event. (A lone recipient, most
        // messages, has nobody to repeat.)
        if last > 0 && !seen.insert(recipient.key.clone()) {
            continue;
        }
        let Some(mut event) = (if i == last {
            shared.take()
        } else {
            shared.clone()
        }) else {
            break;
        };
        event.event_id = EventIdentity {
            event_type,
            ses_message_id: &event.ses_message_id,
            recipient: recipient.key.as_deref(),
            discriminator: discriminator.as_deref(),
        }
        .event_id();
        event.mailbox_provider = recipient.domain.as_deref().map(provider_for_domain);
        event.recipient = recipient.key;
        event.recipient_original = recipient.original;
        event.recipient_domain = recipient.domain;
        event.detail = detail;
        if let Some(r) = &redactor {
            r.redact_event(&mut event)
                .map_err(|e| InputError::Invalid {
                    path: "the recipient event".into(),
                    message: e.to_string(),
                })?;
        }
        events.push(event);
    }
    Ok(events)
}

/// How many different people `mail.destination` names (an address listed twice is one).
fn distinct_addresses(destination: &[String]) -> usize {
    let keys: std::collections::HashSet<Option<String>> = destination
        .iter()
        .map(|a| Recipient::of(Some(a.clone())).key)
        .filter(Option::is_some)
        .collect();
    keys.len()
}

/// What the type-specific object says.
struct Facts {
    subtype: Option<String>,
    /// The fields every recipient shares, until the last recipient takes them.
    detail: Option<Box<TypeSpecificFields>>,
    /// The recipients the event names, each with its detail; empty means `mail.destination`.
    recipients: Vec<(Option<String>, Box<TypeSpecificFields>)>,
    /// `field=value` for each value SES does not document ([`documented`]).
    undocumented: Vec<String>,
}

impl Facts {
    /// Takes the type-specific object apart, moving its text into the record's fields.
    fn of(detail: EventObject, type_name: String) -> Facts {
        let mut facts = Facts {
            subtype: None,
            detail: Some(Box::default()),
            recipients: Vec::new(),
            undocumented: Vec::new(),
        };
        let mut undocumented = Vec::new();
        let mut check = |field: documented::Field, raw: Option<String>| {
            raw.map(|raw| {
                let checked = field.check(&raw);
                undocumented.extend(checked.undocumented);
                checked.value
            })
        };
        let d = facts.detail.get_or_insert_default();
        match detail {
            EventObject::Bounce(b) => {
                d.bounce_type = check(documented::BOUNCE_TYPE, b.bounce_type);
                d.bounce_subtype = check(documented::BOUNCE_SUBTYPE, b.bounce_sub_type);
                facts.subtype = match (&d.bounce_type, &d.bounce_subtype) {
                    (Some(t), Some(s)) => Some(format!("{t}/{s}")),
                    (t, s) => t.clone().or_else(|| s.clone()),
                };
                d.bounce_reporting_mta = b.reporting_mta;
                d.bounce_remote_mta_ip = b.remote_mta_ip;
                d.feedback_id = b.feedback_id;
                facts.recipients = each_recipient(b.bounced_recipients, &mut facts.detail)
                    .map(|(r, mut detail)| {
                        detail.bounce_class = Some(bounce_class::classify(
                            r.status.as_deref(),
                            r.diagnostic_code.as_deref(),
                        ));
                        detail.bounce_status = r.status;
                        detail.bounce_action = r.action;
                        detail.bounce_diagnostic_code = r.diagnostic_code;
                        (Some(r.email_address), detail)
                    })
                    .collect();
            }
            EventObject::Complaint(c) => {
                d.complaint_feedback_type = check(
                    documented::COMPLAINT_FEEDBACK_TYPE,
                    c.complaint_feedback_type,
                );
                facts.subtype = d.complaint_feedback_type.clone();
                d.complaint_user_agent = c.user_agent;
                d.complaint_subtype = check(documented::COMPLAINT_SUBTYPE, c.complaint_sub_type);
                d.complaint_arrival_date = c.arrival_date.as_deref().and_then(parse_timestamp);
                d.feedback_id = c.feedback_id;
                facts.recipients = each_recipient(c.complained_recipients, &mut facts.detail)
                    .map(|(r, detail)| (Some(r.email_address), detail))
                    .collect();
            }
            EventObject::Delivery(del) => {
                d.delivery_smtp_response = del.smtp_response;
                d.delivery_processing_time_ms = del.processing_time_millis;
                d.delivery_reporting_mta = del.reporting_mta;
                d.delivery_remote_mta_ip = del.remote_mta_ip;
                facts.recipients = each_recipient(del.recipients, &mut facts.detail)
                    .map(|(r, detail)| (Some(r), detail))
                    .collect();
            }
            EventObject::DeliveryDelay(delay) => {
                d.delay_type = check(documented::DELAY_TYPE, delay.delay_type);
                facts.subtype = d.delay_type.clone();
                d.delay_expiration_time = delay.expiration_time;
                d.delay_reporting_mta = delay.reporting_mta;
                facts.recipients = each_recipient(delay.delayed_recipients, &mut facts.detail)
                    .map(|(r, mut detail)| {
                        detail.delay_status = r.status;
                        detail.delay_diagnostic_code = r.diagnostic_code;
                        (Some(r.email_address), detail)
                    })
                    .collect();
            }
            EventObject::Send => {}
            EventObject::Reject(r) => {
                facts.subtype = r.reason.clone();
                d.reject_reason = r.reason;
            }
            EventObject::Open(o) => {
                d.engagement_ip_address = o.ip_address;
                d.engagement_user_agent = o.user_agent;
            }
            EventObject::Click(c) => {
                d.engagement_ip_address = c.ip_address;
                d.engagement_user_agent = c.user_agent;
                d.click_link = c.link;
                d.click_link_tags = c.link_tags;
            }
            EventObject::RenderingFailure(f) => {
                facts.subtype = f.template_name.clone();
                d.rendering_template_name = f.template_name;
                d.rendering_error_message = f.error_message;
            }
            EventObject::Subscription(s) => {
                d.subscription_contact_list = s.contact_list;
                d.subscription_source = s.source;
                d.subscription_new_preferences = s.new_topic_preferences;
                d.subscription_old_preferences = s.old_topic_preferences;
            }
            EventObject::Unknown => facts.subtype = Some(type_name),
        }
        facts.undocumented = undocumented;
        facts
    }
}

/// Each of `items` with its own copy of the shared fields; the last takes them (most events
/// name one recipient, and copy nothing), leaving `None`. With no items, `shared` stays as it
/// was, for the records made without a named recipient.
fn each_recipient<'a, T: 'a, S: Clone + Default + 'a>(
    items: Vec<T>,
    shared: &'a mut Option<S>,
) -> impl Iterator<Item = (T, S)> + 'a {
    let last = items.len().saturating_sub(1);
    items.into_iter().enumerate().map(move |(i, item)| {
        // Each caller passes fields not yet taken, so the defaults are never reached.
        let detail = if i == last {
            shared.take().unwrap_or_default()
        } else {
            shared.clone().unwrap_or_default()
        };
        (item, detail)
    })
}

/// What tells two events of the same type, message and recipient apart (see [`EventIdentity`]).
fn discriminator(
    detail: &EventObject,
    event_time: DateTime<Utc>,
    raw: Option<&Value>,
) -> Option<String> {
    // Written only for the types that use it: deliveries and sends, most of a stream, do not.
    let time = || event_time.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    let feedback = |id: &Option<String>| {
        Some(
            id.clone()
                .filter(|id| !id.trim().is_empty())
                .unwrap_or_else(time),
        )
    };
    match detail {
        EventObject::Bounce(b) => feedback(&b.feedback_id),
        EventObject::Complaint(c) => feedback(&c.feedback_id),
        EventObject::Delivery(_)
        | EventObject::Send
        | EventObject::Reject(_)
        | EventObject::RenderingFailure(_) => None,
        EventObject::DeliveryDelay(_) | EventObject::Subscription(_) => Some(time()),
        EventObject::Open(o) => Some(format!(
            "{}|{}",
            time(),
            o.ip_address.as_deref().unwrap_or("")
        )),
        EventObject::Click(c) => Some(format!("{}|{}", time(), c.link.as_deref().unwrap_or(""))),
        EventObject::Unknown => {
            // serde_json's map is ordered by key, so the text (and hash) does not depend on the
            // order SES wrote the fields in.
            let text = raw
                .and_then(|r| serde_json::to_string(r).ok())
                .unwrap_or_default();
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
        let (key, domain) = match original.as_deref().and_then(parse_address) {
            Some(a) => (Some(a.normalised), Some(a.domain)),
            None => (
                original
                    .as_deref()
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string),
                None,
            ),
        };
        Recipient {
            key,
            domain,
            original,
        }
    }
}
