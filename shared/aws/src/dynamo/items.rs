//! Every AttributeValue mapping of the ledger's items.

use super::*;
use ses_ledger::bounce_class::BounceClass;

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn time(t: DateTime<Utc>) -> AttributeValue {
    s(ses_ledger::timestamp::format_timestamp(t))
}

/// What the ledger keeps of a recipient event ([`RecipientEvent::ledger_view`]) as its one item
/// under its message (`MSG#`/`EVT#`), which the recipient index (`by_recipient`, keyed on `rcpt`
/// and `at`) also lists. Short attribute names, because every byte is stored twice (table and
/// index) and billed per KB; docs/dynamodb-design.md lists them.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct EventItem(pub(super) Item);

/// The item layout's version (`v`): 1 held the full record as JSON in `record`; 2 is compact.
pub(super) const ITEM_VERSION: i64 = 2;

/// Event attributes, each named once: the writer, the reader and the index projection use these.
pub(super) mod attr {
    pub const VERSION: &str = "v";
    pub const TYPE: &str = "type";
    pub const SUBTYPE: &str = "sub";
    pub const FORMAT: &str = "fmt";
    pub const RECIPIENT: &str = "rcpt";
    pub const EVENT_TIME: &str = "at";
    pub const INGESTED_AT: &str = "ing";
    pub const HEADLINE: &str = "hl";
    pub const BOUNCE_TYPE: &str = "bt";
    pub const BOUNCE_SUBTYPE: &str = "bst";
    /// Not in the recipient index's projection (a projection cannot change in place): the
    /// message view has it, a recipient's history does not.
    pub const BOUNCE_CLASS: &str = "bc";
    pub const COMPLAINT_SUBTYPE: &str = "cst";
    /// Version 1's full record.
    pub const RECORD: &str = "record";
}

/// The recipient index, as template.yaml and the CDK stack declare it.
pub const RECIPIENT_INDEX: &str = "by_recipient";

/// What the recipient index projects besides its keys and the table's: everything the history
/// and the summary fold read, nothing the stream counts by.
pub const RECIPIENT_INDEX_PROJECTION: [&str; 10] = [
    attr::VERSION,
    attr::TYPE,
    attr::SUBTYPE,
    attr::FORMAT,
    attr::INGESTED_AT,
    attr::HEADLINE,
    attr::BOUNCE_TYPE,
    attr::BOUNCE_SUBTYPE,
    attr::COMPLAINT_SUBTYPE,
    keys::EXPIRES_AT,
];

/// An event item's entry in the recipient index, as DynamoDB stores it: the index keys, the
/// table's keys and the projection. None for an item the index does not hold.
pub(super) fn recipient_index_entry(item: &Item) -> Option<Item> {
    item.get(attr::RECIPIENT)?;
    let kept = [attr::RECIPIENT, attr::EVENT_TIME, keys::PK, keys::SK];
    Some(
        kept.iter()
            .chain(RECIPIENT_INDEX_PROJECTION.iter())
            .filter_map(|name| item.get(*name).map(|v| (name.to_string(), v.clone())))
            .collect(),
    )
}

fn format_code(format: PayloadFormat) -> &'static str {
    match format {
        PayloadFormat::Notification => "N",
        PayloadFormat::EventPublishing => "E",
    }
}

impl From<&RecipientEvent> for EventItem {
    fn from(event: &RecipientEvent) -> Self {
        let view = event.ledger_view();
        let mut item = Item::new();
        item.insert(keys::PK.into(), s(keys::message_pk(&view.ses_message_id)));
        item.insert(keys::SK.into(), s(keys::message_event_sk(&view.event_id)));
        item.insert(attr::VERSION.into(), n(ITEM_VERSION));
        item.insert(attr::TYPE.into(), s(view.event_type.as_str()));
        item.insert(attr::FORMAT.into(), s(format_code(view.payload_format)));
        item.insert(attr::EVENT_TIME.into(), time(view.event_time));
        item.insert(
            attr::INGESTED_AT.into(),
            n(view.ingested_at.timestamp_millis()),
        );
        let optional = [
            (attr::RECIPIENT, view.recipient.as_deref()),
            (attr::SUBTYPE, view.event_subtype.as_deref()),
            (attr::HEADLINE, view.headline()),
            (attr::BOUNCE_TYPE, view.detail.bounce_type.as_deref()),
            (attr::BOUNCE_SUBTYPE, view.detail.bounce_subtype.as_deref()),
            (
                attr::BOUNCE_CLASS,
                view.detail.bounce_class.map(BounceClass::as_str),
            ),
            (
                attr::COMPLAINT_SUBTYPE,
                view.detail.complaint_subtype.as_deref(),
            ),
        ];
        for (name, value) in optional {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                item.insert(name.into(), s(v));
            }
        }
        EventItem(item)
    }
}

impl TryFrom<EventItem> for RecipientEvent {
    type Error = StoreError;
    fn try_from(item: EventItem) -> Result<Self, StoreError> {
        event_from_item(&item.0)
    }
}

fn event_from_item(item: &Item) -> Result<RecipientEvent, StoreError> {
    let text = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
    };
    let key = || {
        format!(
            "{}/{}",
            text(keys::PK).map_or("?", |v| v),
            text(keys::SK).map_or("?", |v| v)
        )
    };
    let corrupt = |message: String| StoreError::Corrupt {
        key: key(),
        message,
    };
    if let Some(record) = text(attr::RECORD) {
        // Version 1, written before the compact layout: read it as it was.
        let event: RecipientEvent =
            serde_json::from_str(record).map_err(|e| corrupt(e.to_string()))?;
        return Ok(event.ledger_view());
    }
    let required = |name: &str| text(name).ok_or_else(|| corrupt(format!("no {name} attribute")));
    let parse_time = |name: &str| -> Result<DateTime<Utc>, StoreError> {
        let value = required(name)?;
        DateTime::parse_from_rfc3339(value)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| corrupt(format!("{name} {value:?}: {e}")))
    };
    let event_id = required(keys::SK)?
        .strip_prefix(keys::EVENT_SK_PREFIX)
        .ok_or_else(|| corrupt("sort key is not an event".into()))?
        .to_string();
    let ses_message_id = required(keys::PK)?
        .strip_prefix(keys::MESSAGE_PK_PREFIX)
        .ok_or_else(|| corrupt("partition key is not a message".into()))?
        .to_string();
    let event_type = EventType::from_ses(required(attr::TYPE)?);
    let payload_format = match required(attr::FORMAT)? {
        "N" => PayloadFormat::Notification,
        "E" => PayloadFormat::EventPublishing,
        other => return Err(corrupt(format!("unknown payload format {other:?}"))),
    };
    let ingested_at = item
        .get(attr::INGESTED_AT)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .ok_or_else(|| corrupt(format!("no readable {} attribute", attr::INGESTED_AT)))?;
    let owned = |name: &str| text(name).map(str::to_string);
    let mut detail = Box::new(TypeSpecificFields {
        bounce_type: owned(attr::BOUNCE_TYPE),
        bounce_subtype: owned(attr::BOUNCE_SUBTYPE),
        bounce_class: text(attr::BOUNCE_CLASS).and_then(BounceClass::parse),
        complaint_subtype: owned(attr::COMPLAINT_SUBTYPE),
        ..TypeSpecificFields::default()
    });
    if let (Some(headline), Some(field)) =
        (owned(attr::HEADLINE), detail.headline_field(event_type))
    {
        *field = Some(headline);
    }
    Ok(RecipientEvent {
        event_subtype: owned(attr::SUBTYPE),
        recipient: owned(attr::RECIPIENT),
        detail,
        ..RecipientEvent::bare(
            &event_id,
            event_type,
            payload_format,
            &ses_message_id,
            parse_time(attr::EVENT_TIME)?,
            ingested_at,
        )
    })
}

/// A string attribute, or "" when it is absent or not a string.
pub(super) fn attr_text<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .unwrap_or_default()
}

/// The item's TTL (epoch seconds), when it has one.
pub(super) fn expires_at(item: &Item) -> Option<i64> {
    item.get(keys::EXPIRES_AT)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// A recipient's summary item (counts, first and last event, soft bounces, suppression).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SummaryItem(pub(super) Item);

impl From<&RecipientSummary> for SummaryItem {
    fn from(summary: &RecipientSummary) -> Self {
        SummaryItem(summary_to_item(summary))
    }
}

/// The reverse; the error says which attribute is unreadable.
impl TryFrom<SummaryItem> for RecipientSummary {
    type Error = String;
    fn try_from(item: SummaryItem) -> Result<Self, String> {
        summary_from_item(&item.0)
    }
}

fn summary_to_item(summary: &RecipientSummary) -> Item {
    let mut item = Item::new();
    let counts: HashMap<String, AttributeValue> = summary
        .counts
        .iter()
        .map(|(t, c)| (t.as_str().to_string(), n(*c as i64)))
        .collect();
    item.insert("counts".into(), AttributeValue::M(counts));
    item.insert("version".into(), n(summary.version as i64));
    if let Some(t) = summary.first_event_at {
        item.insert("first_event_at".into(), time(t));
    }
    if let Some(t) = summary.last_event_at {
        item.insert("last_event_at".into(), time(t));
    }
    if let Some(t) = summary.last_event_type {
        item.insert("last_event_type".into(), s(t.as_str()));
    }
    if !summary.recent_soft_bounces.is_empty() {
        item.insert(
            "recent_soft_bounces".into(),
            AttributeValue::L(
                summary
                    .recent_soft_bounces
                    .iter()
                    .map(|t| time(*t))
                    .collect(),
            ),
        );
    }
    item.insert(
        "suppressed".into(),
        AttributeValue::Bool(summary.suppression.is_some()),
    );
    if let Some(sup) = &summary.suppression {
        item.insert("suppression_reason".into(), s(sup.reason.as_str()));
        item.insert("suppressed_since".into(), time(sup.since));
    }
    item
}

fn summary_from_item(item: &Item) -> Result<RecipientSummary, String> {
    let parse_time = |v: &AttributeValue| -> Result<DateTime<Utc>, String> {
        let text = v
            .as_s()
            .map_err(|_| "timestamp is not a string".to_string())?;
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("timestamp {text:?}: {e}"))
    };
    let opt_time = |name: &str| item.get(name).map(parse_time).transpose();
    let number = |v: &AttributeValue| -> Result<u64, String> {
        v.as_n()
            .map_err(|_| "count is not a number".to_string())?
            .parse::<u64>()
            .map_err(|e| e.to_string())
    };
    let mut counts = BTreeMap::new();
    if let Some(AttributeValue::M(m)) = item.get("counts") {
        for (k, v) in m {
            counts.insert(EventType::from_ses(k), number(v)?);
        }
    }
    let suppression = match item.get("suppression_reason").and_then(|v| v.as_s().ok()) {
        None => None,
        Some(reason) => Some(Suppression {
            reason: match reason.as_str() {
                "complaint" => SuppressionReason::Complaint,
                "hard_bounce" => SuppressionReason::HardBounce,
                "soft_bounces" => SuppressionReason::SoftBounces,
                other => return Err(format!("unknown suppression reason {other:?}")),
            },
            since: opt_time("suppressed_since")?.ok_or("suppressed without a time")?,
        }),
    };
    let recent_soft_bounces = match item.get("recent_soft_bounces") {
        Some(AttributeValue::L(list)) => list.iter().map(parse_time).collect::<Result<_, _>>()?,
        _ => Vec::new(),
    };
    Ok(RecipientSummary {
        counts,
        first_event_at: opt_time("first_event_at")?,
        last_event_at: opt_time("last_event_at")?,
        last_event_type: item
            .get("last_event_type")
            .and_then(|v| v.as_s().ok())
            .map(|v| EventType::from_ses(v)),
        recent_soft_bounces,
        suppression,
        version: item.get("version").map(number).transpose()?.unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn summary_round_trips_through_attributes() {
        let t = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap();
        let summary = RecipientSummary {
            counts: [(EventType::Delivery, 3), (EventType::RenderingFailure, 1)].into(),
            first_event_at: Some(t),
            last_event_at: Some(t + TimeDelta::hours(1)),
            last_event_type: Some(EventType::Delivery),
            recent_soft_bounces: vec![t],
            suppression: Some(Suppression {
                reason: SuppressionReason::SoftBounces,
                since: t,
            }),
            version: 4,
        };
        let item = SummaryItem::from(&summary);
        assert_eq!(RecipientSummary::try_from(item), Ok(summary));
    }
}
