//! The per-recipient summary: counts by event type, first and last event, and whether the address
//! should no longer be mailed. Pure: the store reads the current summary, applies one event and
//! writes it back under an optimistic lock, so the outcome does not depend on arrival order.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::config::LedgerConfig;
use crate::model::bounce_class::BounceClass;
use crate::model::event::{EventType, RecipientEvent};

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

/// Only bounces and complaints can change whether an address is suppressed, so only they write
/// the stored suppression state; the rest of a summary (counts, first and last event) is folded
/// from the history when it is read ([`RecipientSummary::of`]).
pub fn affects_suppression(event: &RecipientEvent) -> bool {
    matches!(event.event_type, EventType::Bounce | EventType::Complaint)
}

/// When a bounce suppresses its address: SES's Permanent type always; `limit` soft bounces
/// within `window`; and, when `permanent_status_suppresses`, a soft bounce whose receiver said
/// the address is gone ([`BounceClass::Permanent`], a `5.x.x` status SES called Transient).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuppressionPolicy {
    pub limit: u32,
    pub window: Duration,
    pub permanent_status_suppresses: bool,
}

impl SuppressionPolicy {
    pub fn of(config: &LedgerConfig) -> SuppressionPolicy {
        SuppressionPolicy {
            limit: config.soft_bounce_limit,
            window: Duration::days(i64::from(config.soft_bounce_window_days)),
            permanent_status_suppresses: config.suppress_on_permanent_status,
        }
    }

    /// A bounce that suppresses at once, as a hard bounce does.
    fn suppresses_at_once(self, event: &RecipientEvent) -> bool {
        event.event_type == EventType::Bounce
            && (!event.is_soft_bounce()
                || self.permanent_status_suppresses
                    && event.detail.bounce_class == Some(BounceClass::Permanent))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientSummary {
    pub counts: BTreeMap<EventType, u64>,
    pub first_event_at: Option<DateTime<Utc>>,
    pub last_event_at: Option<DateTime<Utc>>,
    pub last_event_type: Option<EventType>,
    /// Soft-bounce times that can still decide the soft-bounce rule, oldest first: every one
    /// until the rule is met, then only those up to the moment it was first met (a later one can
    /// never move that moment). Kept in full, not as a sliding window, so that a bounce arriving
    /// late is judged with the ones around it in event time, not in arrival order.
    pub recent_soft_bounces: Vec<DateTime<Utc>>,
    pub suppression: Option<Suppression>,
    /// Optimistic-lock version: how many events the stored summary has absorbed.
    pub version: u64,
}

impl RecipientSummary {
    /// The summary after `event`. Commutative over events: the result is a function of the set of
    /// events applied, whatever order they arrive in (SNS and SQS keep none).
    /// The summary of a set of events: the same whatever their order.
    pub fn of<'a>(
        events: impl IntoIterator<Item = &'a RecipientEvent>,
        policy: SuppressionPolicy,
    ) -> RecipientSummary {
        events
            .into_iter()
            .fold(RecipientSummary::default(), |s, e| s.apply(e, policy))
    }

    pub fn apply(&self, event: &RecipientEvent, policy: SuppressionPolicy) -> RecipientSummary {
        let mut next = self.clone();
        *next.counts.entry(event.event_type).or_default() += 1;
        next.version += 1;
        let t = event.event_time;
        next.first_event_at = Some(self.first_event_at.map_or(t, |f| f.min(t)));
        // The latest event, ties broken by type, so two events at the same instant give the same
        // answer in either order.
        let later = match (self.last_event_at, self.last_event_type) {
            (Some(l), Some(lt)) => (t, event.event_type) > (l, lt),
            _ => true,
        };
        if later {
            next.last_event_at = Some(t);
            next.last_event_type = Some(event.event_type);
        }

        let candidate = if event.event_type == EventType::Complaint {
            Some(Suppression {
                reason: SuppressionReason::Complaint,
                since: t,
            })
        } else if policy.suppresses_at_once(event) {
            Some(Suppression {
                reason: SuppressionReason::HardBounce,
                since: t,
            })
        } else if event.is_soft_bounce() {
            let at = next.recent_soft_bounces.partition_point(|&b| b <= t);
            next.recent_soft_bounces.insert(at, t);
            let met = first_met(&next.recent_soft_bounces, policy);
            if let Some(since) = met {
                next.recent_soft_bounces.retain(|&b| b <= since);
            }
            met.map(|since| Suppression {
                reason: SuppressionReason::SoftBounces,
                since,
            })
        } else {
            None
        };
        if let Some(candidate) = candidate {
            next.suppression = Some(match &self.suppression {
                Some(current) if current.reason > candidate.reason => current.clone(),
                Some(current) if current.reason == candidate.reason => Suppression {
                    reason: candidate.reason,
                    since: current.since.min(candidate.since),
                },
                _ => candidate,
            });
        }
        next
    }

    pub fn count(&self, event_type: EventType) -> u64 {
        self.counts.get(&event_type).copied().unwrap_or(0)
    }
}

/// The earliest moment the soft-bounce rule held: the `limit`-th bounce of the first run of
/// `limit` sorted bounce times that fits within `window`.
fn first_met(sorted: &[DateTime<Utc>], policy: SuppressionPolicy) -> Option<DateTime<Utc>> {
    let n = policy.limit.max(1) as usize;
    sorted
        .windows(n)
        .find(|run| run[n - 1] - run[0] <= policy.window)
        .map(|run| run[n - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::{Origin, PayloadFormat, TypeSpecificFields};
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
            recipient_attribution: None,
            destination_count: None,
            ses_message_id: "m".into(),
            sent_at: None,
            event_time: Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).unwrap(),
            ingested_at: Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap(),
            time_fallback: None,
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
            detail: Box::new(TypeSpecificFields {
                bounce_type: bounce_type.map(str::to_string),
                ..Default::default()
            }),
            origin: Origin::default(),
            undocumented_values: Vec::new(),
            raw: None,
        }
    }

    const POLICY: SuppressionPolicy = SuppressionPolicy {
        limit: 3,
        window: Duration::days(7),
        permanent_status_suppresses: false,
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
    fn a_transient_bounce_with_a_permanent_status_suppresses_at_once_only_when_asked() {
        let mut unroutable = event(EventType::Bounce, Some("Transient"), 4);
        unroutable.detail.bounce_class = Some(crate::model::bounce_class::classify(
            Some("5.4.4"),
            Some("smtp; 550 5.4.4 Invalid domain"),
        ));
        let mut full = event(EventType::Bounce, Some("Transient"), 4);
        full.detail.bounce_class = Some(crate::model::bounce_class::classify(Some("5.2.2"), None));
        let on = SuppressionPolicy {
            permanent_status_suppresses: true,
            ..POLICY
        };
        assert_eq!(fold(std::slice::from_ref(&unroutable)).suppression, None);
        let suppressed = RecipientSummary::of([&unroutable], on).suppression.unwrap();
        assert_eq!(suppressed.reason, SuppressionReason::HardBounce);
        assert_eq!(suppressed.since, unroutable.event_time);
        assert_eq!(RecipientSummary::of([&full], on).suppression, None);
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

    #[test]
    fn a_late_older_soft_bounce_is_judged_with_its_neighbours_in_event_time() {
        let days = |order: &[u32]| {
            let events: Vec<RecipientEvent> = order
                .iter()
                .map(|d| event(EventType::Bounce, Some("Transient"), *d))
                .collect();
            fold(&events)
        };
        let in_order = days(&[1, 2, 3, 20]);
        let newest_first = days(&[20, 1, 2, 3]);
        let suppression = in_order.suppression.clone().expect("3 within 7 days");
        assert_eq!(suppression.reason, SuppressionReason::SoftBounces);
        assert_eq!(suppression.since.format("%d").to_string(), "03");
        assert_eq!(in_order, newest_first);
        assert_eq!(in_order, days(&[3, 20, 2, 1]));
    }

    #[test]
    fn the_rule_is_met_at_the_earliest_run_even_when_it_arrives_last() {
        let later_run = fold(&[
            event(EventType::Bounce, Some("Transient"), 20),
            event(EventType::Bounce, Some("Transient"), 21),
            event(EventType::Bounce, Some("Transient"), 22),
        ]);
        assert_eq!(
            later_run
                .suppression
                .as_ref()
                .map(|s| s.since.format("%d").to_string()),
            Some("22".into())
        );
        let with_earlier = [1, 2, 3].iter().fold(later_run, |s, d| {
            s.apply(&event(EventType::Bounce, Some("Transient"), *d), POLICY)
        });
        assert_eq!(
            with_earlier
                .suppression
                .map(|s| s.since.format("%d").to_string()),
            Some("03".into()),
            "the rule first held on day 3"
        );
    }

    mod any_order {
        use super::*;
        use proptest::prelude::*;

        /// A recipient's events over two months: sends, deliveries, soft and hard bounces,
        /// complaints, at random hours (several may share an instant).
        fn events() -> impl Strategy<Value = Vec<RecipientEvent>> {
            let one = (0u8..6, 1u32..=28, 0u32..3).prop_map(|(kind, day, hour)| {
                let (event_type, bounce) = match kind {
                    0 => (EventType::Send, None),
                    1 => (EventType::Delivery, None),
                    2 | 3 => (EventType::Bounce, Some("Transient")),
                    4 => (EventType::Bounce, Some("Permanent")),
                    _ => (EventType::Complaint, None),
                };
                let mut e = event(event_type, bounce, day);
                e.event_time += Duration::hours(i64::from(hour) * 8);
                e
            });
            proptest::collection::vec(one, 0..24)
        }

        proptest! {
            #[test]
            fn any_permutation_gives_the_same_summary(
                (events, shuffled) in events().prop_flat_map(|e| (Just(e.clone()), Just(e).prop_shuffle()))
            ) {
                prop_assert_eq!(fold(&events), fold(&shuffled));
            }
        }
    }
}
