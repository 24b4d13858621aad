//! The per-recipient summary: counts by event type, first and last event, and whether the address
//! should no longer be mailed. Pure: the store reads the current summary, applies one event and
//! writes it back under an optimistic lock, so the outcome does not depend on arrival order.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::event::{EventType, RecipientEvent};

/// Why an address is suppressed. Ordered by precedence: a complaint outranks a hard bounce, which
/// outranks repeated soft bounces, whatever order the events arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressionReason {
    SoftBounces,
    HardBounce,
    Complaint,
}

impl SuppressionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionReason::SoftBounces => "soft_bounces",
            SuppressionReason::HardBounce => "hard_bounce",
            SuppressionReason::Complaint => "complaint",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    pub reason: SuppressionReason,
    /// Event time of the earliest event that justifies the reason.
    pub since: DateTime<Utc>,
}

/// The rule for soft bounces: `limit` of them within `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoftBouncePolicy {
    pub limit: u32,
    pub window: Duration,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientSummary {
    pub counts: BTreeMap<EventType, u64>,
    pub first_event_at: Option<DateTime<Utc>>,
    pub last_event_at: Option<DateTime<Utc>>,
    pub last_event_type: Option<EventType>,
    /// Soft-bounce times still inside the policy window of the newest one, oldest first.
    pub recent_soft_bounces: Vec<DateTime<Utc>>,
    pub suppression: Option<Suppression>,
    /// Optimistic-lock version: how many events the stored summary has absorbed.
    pub version: u64,
}

impl RecipientSummary {
    /// The summary after `event`. Commutative over events: any arrival order gives the same result
    /// (the soft-bounce window aside, which keeps what lies within the window of the newest).
    pub fn apply(&self, event: &RecipientEvent, policy: SoftBouncePolicy) -> RecipientSummary {
        let mut next = self.clone();
        *next.counts.entry(event.event_type).or_default() += 1;
        next.version += 1;
        let t = event.event_time;
        next.first_event_at = Some(self.first_event_at.map_or(t, |f| f.min(t)));
        if self.last_event_at.is_none_or(|l| t >= l) {
            next.last_event_at = Some(t);
            next.last_event_type = Some(event.event_type);
        }

        let mut candidate = None;
        if event.event_type == EventType::Complaint {
            candidate = Some(SuppressionReason::Complaint);
        } else if event.event_type == EventType::Bounce && !event.is_soft_bounce() {
            candidate = Some(SuppressionReason::HardBounce);
        } else if event.is_soft_bounce() {
            next.recent_soft_bounces.push(t);
            next.recent_soft_bounces.sort();
            if let Some(&newest) = next.recent_soft_bounces.last() {
                next.recent_soft_bounces
                    .retain(|&b| newest - b <= policy.window);
            }
            if next.recent_soft_bounces.len() >= policy.limit as usize {
                candidate = Some(SuppressionReason::SoftBounces);
            }
        }
        if let Some(reason) = candidate {
            next.suppression = Some(match &self.suppression {
                Some(current) if current.reason > reason => current.clone(),
                Some(current) if current.reason == reason => Suppression {
                    reason,
                    since: current.since.min(t),
                },
                _ => Suppression { reason, since: t },
            });
        }
        next
    }

    pub fn count(&self, event_type: EventType) -> u64 {
        self.counts.get(&event_type).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Origin, PayloadFormat, TypeSpecificFields};
    use chrono::TimeZone;

    fn event(event_type: EventType, bounce_type: Option<&str>, day: u32) -> RecipientEvent {
        RecipientEvent {
            schema_version: 1,
            event_id: format!("{event_type}-{day}"),
            event_type,
            event_subtype: None,
            payload_format: PayloadFormat::EventPublishing,
            recipient: Some("a@example.com".into()),
            recipient_original: None,
            recipient_domain: None,
            mailbox_provider: None,
            ses_message_id: "m".into(),
            sent_at: None,
            event_time: Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).unwrap(),
            ingested_at: Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap(),
            source: None,
            source_address: None,
            source_domain: None,
            source_arn: None,
            sending_account_id: None,
            caller_identity: None,
            source_ip: None,
            configuration_set: None,
            tags: Default::default(),
            subject: None,
            detail: TypeSpecificFields {
                bounce_type: bounce_type.map(str::to_string),
                ..Default::default()
            },
            origin: Origin::default(),
            raw: None,
        }
    }

    const POLICY: SoftBouncePolicy = SoftBouncePolicy {
        limit: 3,
        window: Duration::days(7),
    };

    fn fold(events: &[RecipientEvent]) -> RecipientSummary {
        events
            .iter()
            .fold(RecipientSummary::default(), |s, e| s.apply(e, POLICY))
    }

    #[test]
    fn counts_first_and_last_do_not_depend_on_order() {
        let events = [
            event(EventType::Send, None, 1),
            event(EventType::Delivery, None, 2),
            event(EventType::Open, None, 5),
        ];
        let forward = fold(&events);
        let mut reversed = events.clone();
        reversed.reverse();
        assert_eq!(forward, fold(&reversed));
        assert_eq!(forward.count(EventType::Delivery), 1);
        assert_eq!(forward.last_event_type, Some(EventType::Open));
        assert_eq!(forward.first_event_at, Some(events[0].event_time));
        assert_eq!(forward.suppression, None);
    }

    #[test]
    fn complaint_outranks_an_earlier_hard_bounce() {
        let s = fold(&[
            event(EventType::Bounce, Some("Permanent"), 3),
            event(EventType::Complaint, None, 9),
        ]);
        let sup = s.suppression.unwrap();
        assert_eq!(sup.reason, SuppressionReason::Complaint);
        assert_eq!(sup.since.format("%d").to_string(), "09");
    }

    #[test]
    fn soft_bounces_suppress_only_within_the_window() {
        let spread = fold(&[
            event(EventType::Bounce, Some("Transient"), 1),
            event(EventType::Bounce, Some("Transient"), 10),
            event(EventType::Bounce, Some("Transient"), 20),
        ]);
        assert_eq!(spread.suppression, None);
        let close = fold(&[
            event(EventType::Bounce, Some("Transient"), 20),
            event(EventType::Bounce, Some("Undetermined"), 14),
            event(EventType::Bounce, Some("Transient"), 16),
        ]);
        assert_eq!(
            close.suppression.unwrap().reason,
            SuppressionReason::SoftBounces
        );
    }
}
