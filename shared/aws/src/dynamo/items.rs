//! Every AttributeValue mapping of the ledger's items.

use super::*;

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn time(t: DateTime<Utc>) -> AttributeValue {
    s(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// A recipient event as its message and history items carry it: the full record as JSON (what
/// readers return) plus top-level copies of what filters need.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct EventItem(pub(super) Item);

impl TryFrom<&RecipientEvent> for EventItem {
    type Error = StoreError;
    fn try_from(event: &RecipientEvent) -> Result<Self, StoreError> {
        let record = serde_json::to_string(event).map_err(|e| StoreError::Corrupt {
            key: event.event_id.clone(),
            message: e.to_string(),
        })?;
        Ok(EventItem(event_attributes(event, &record)))
    }
}

impl TryFrom<EventItem> for RecipientEvent {
    type Error = StoreError;
    fn try_from(item: EventItem) -> Result<Self, StoreError> {
        event_from_item(&item.0)
    }
}

fn event_attributes(event: &RecipientEvent, record: &str) -> Item {
    let mut item = Item::new();
    item.insert("record".into(), s(record));
    item.insert("event_id".into(), s(&event.event_id));
    item.insert("event_type".into(), s(event.event_type.as_str()));
    item.insert("event_time".into(), time(event.event_time));
    item.insert("ses_message_id".into(), s(&event.ses_message_id));
    if let Some(r) = &event.recipient {
        item.insert("recipient".into(), s(r));
    }
    if let Some(st) = &event.event_subtype {
        item.insert("event_subtype".into(), s(st));
    }
    item
}

fn event_from_item(item: &Item) -> Result<RecipientEvent, StoreError> {
    let key = || {
        format!(
            "{}/{}",
            item.get(keys::PK)
                .and_then(|v| v.as_s().ok())
                .map_or("?", |v| v),
            item.get(keys::SK)
                .and_then(|v| v.as_s().ok())
                .map_or("?", |v| v)
        )
    };
    let record = item
        .get("record")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt {
            key: key(),
            message: "no record attribute".into(),
        })?;
    serde_json::from_str(record).map_err(|e| StoreError::Corrupt {
        key: key(),
        message: e.to_string(),
    })
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
