//! Bounce and complaint rates from hourly counters: naive and SES-style side by side, each with
//! its numerator and denominator. Pure. docs/rates.md gives the definitions and their reasons.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::ledger::counters::{bucket_of, ComplaintBreakdown, Metric};

/// Counter totals over some hours.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub metrics: BTreeMap<Metric, u64>,
    /// Complaint breakdowns by [`ComplaintBreakdown::attribute`] name.
    pub details: BTreeMap<String, u64>,
}

impl Totals {
    pub fn get(&self, metric: Metric) -> u64 {
        self.metrics.get(&metric).copied().unwrap_or(0)
    }

    pub fn add(&mut self, other: &Totals) {
        for (m, v) in &other.metrics {
            *self.metrics.entry(*m).or_default() += v;
        }
        for (d, v) in &other.details {
            *self.details.entry(d.clone()).or_default() += v;
        }
    }

    /// Deliveries plus every bounce: the mail SES tried to deliver, whichever payload format
    /// reported it. The bounce rate's denominator and what the "last N sends" window counts: Send
    /// events exist only for event publishing, so an account that mixes it with identity
    /// notifications would otherwise divide bounces of both by sends of one (docs/rates.md).
    pub fn delivery_attempts(&self) -> u64 {
        self.get(Metric::Deliveries)
            + self.get(Metric::CountedHardBounces)
            + self.get(Metric::OtherBounces)
    }

    /// Complaint breakdown of one kind, largest first.
    pub fn top_details(
        &self,
        kind: fn(&ComplaintBreakdown) -> Option<&str>,
        n: usize,
    ) -> Vec<(String, u64)> {
        let mut rows: Vec<(String, u64)> = self
            .details
            .iter()
            .filter_map(|(name, count)| {
                let detail = ComplaintBreakdown::parse(name)?;
                kind(&detail).map(|v| (v.to_string(), *count))
            })
            .collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        rows.truncate(n);
        rows
    }
}

pub fn complaint_domain(d: &ComplaintBreakdown) -> Option<&str> {
    match d {
        ComplaintBreakdown::ComplaintDomain(v) => Some(v),
        _ => None,
    }
}

pub fn complaint_feedback_type(d: &ComplaintBreakdown) -> Option<&str> {
    match d {
        ComplaintBreakdown::ComplaintFeedbackType(v) => Some(v),
        _ => None,
    }
}

/// One hour of counters of one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourlyCounts {
    pub bucket: DateTime<Utc>,
    pub totals: Totals,
}

/// A span of time a rate is computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// The last `n` hourly buckets, the current one included.
    Hours(u32),
    /// The newest whole hours that hold at least `sends` sends (delivery attempts:
    /// [`Totals::delivery_attempts`]), at most `max_days` back: our
    /// stand-in for SES's undisclosed "representative volume" ("measured over the last 10,476
    /// eligible emails ... approximately the last 74.9 days").
    RecentSends { sends: u64, max_days: u32 },
}

impl Window {
    pub fn label(&self) -> String {
        match self {
            Window::Hours(h) if h % 24 == 0 => format!("{}d", h / 24),
            Window::Hours(h) => format!("{h}h"),
            Window::RecentSends { sends, .. } => format!("last {sends} sends"),
        }
    }
}

/// The windows every report and alarm shows.
pub fn standard_windows(recent_sends: u64, recent_sends_max_days: u32) -> Vec<Window> {
    vec![
        Window::Hours(24),
        Window::Hours(24 * 7),
        Window::Hours(24 * 30),
        Window::RecentSends {
            sends: recent_sends,
            max_days: recent_sends_max_days,
        },
    ]
}

/// How far back counters must be read to serve `windows`.
pub fn lookback(windows: &[Window]) -> Duration {
    let hours = windows
        .iter()
        .map(|w| match w {
            Window::Hours(h) => *h,
            Window::RecentSends { max_days, .. } => max_days.saturating_mul(24),
        })
        .max()
        .unwrap_or(24);
    Duration::hours(i64::from(hours))
}

/// A rate with the two numbers it came from; `value` is None when the denominator is zero.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    pub numerator: u64,
    pub denominator: u64,
}

impl Rate {
    pub fn value(&self) -> Option<f64> {
        (self.denominator > 0).then(|| self.numerator as f64 / self.denominator as f64)
    }

    /// `0.123% (3 / 2,440)`, or `n/a (0 / 0)`.
    pub fn describe(&self) -> String {
        match self.value() {
            Some(v) => format!("{} ({} / {})", percent(v), self.numerator, self.denominator),
            None => format!("n/a ({} / {})", self.numerator, self.denominator),
        }
    }
}

pub fn percent(fraction: f64) -> String {
    format!("{:.3}%", fraction * 100.0)
}

/// Every rate of one scope over one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowRates {
    pub window: Window,
    pub from: DateTime<Utc>,
    /// End of the window (exclusive): the end of the current hour.
    pub to: DateTime<Utc>,
    pub totals: Totals,
    /// All complaints / all deliveries: the figure operators usually compute.
    pub naive_complaint: Rate,
    /// Complaints from feedback-loop providers (not from the suppression list) / deliveries to
    /// them: the figure to hold against SES's, like for like.
    pub feedback_loop_complaint: Rate,
    /// Counted hard bounces / delivery attempts (deliveries plus every bounce).
    pub bounce: Rate,
}

/// Rates for each window from one scope's hourly counters (any order; buckets outside every
/// window are ignored).
pub fn compute(hours: &[HourlyCounts], now: DateTime<Utc>, windows: &[Window]) -> Vec<WindowRates> {
    let current = bucket_of(now);
    let to = current + Duration::hours(1);
    let mut newest_first: Vec<&HourlyCounts> =
        hours.iter().filter(|h| h.bucket <= current).collect();
    newest_first.sort_by_key(|h| std::cmp::Reverse(h.bucket));
    windows
        .iter()
        .map(|window| {
            let (from, totals) = match *window {
                Window::Hours(n) => {
                    let from = to - Duration::hours(i64::from(n));
                    let mut totals = Totals::default();
                    for h in newest_first.iter().take_while(|h| h.bucket >= from) {
                        totals.add(&h.totals);
                    }
                    (from, totals)
                }
                Window::RecentSends { sends, max_days } => {
                    let oldest = to - Duration::hours(i64::from(max_days) * 24);
                    let mut totals = Totals::default();
                    let mut from = current;
                    for h in newest_first.iter().take_while(|h| h.bucket >= oldest) {
                        if totals.delivery_attempts() >= sends {
                            break;
                        }
                        totals.add(&h.totals);
                        from = h.bucket;
                    }
                    (from, totals)
                }
            };
            rates_of(*window, from, to, totals)
        })
        .collect()
}

impl WindowRates {
    /// The window as a person reads it. For the last N sends, the span of time they cover
    /// ("last 100000 sends = the last 12.3 days"), or that fewer were sent in the time allowed.
    pub fn describe_window(&self) -> String {
        match self.window {
            Window::Hours(_) => self.window.label(),
            Window::RecentSends { sends, max_days } => {
                let covered = self.totals.delivery_attempts();
                if covered >= sends {
                    let days = (self.to - self.from).num_minutes() as f64 / (24.0 * 60.0);
                    format!("last {sends} sends = the last {days:.1} days")
                } else {
                    format!("last {sends} sends: only {covered} in the last {max_days} days")
                }
            }
        }
    }
}

/// Rates over the hours in `from..to` (bucket starts), for reports over a fixed period.
pub fn over_period(hours: &[HourlyCounts], from: DateTime<Utc>, to: DateTime<Utc>) -> WindowRates {
    let mut totals = Totals::default();
    for h in hours.iter().filter(|h| h.bucket >= from && h.bucket < to) {
        totals.add(&h.totals);
    }
    let span = u32::try_from((to - from).num_hours().max(0)).unwrap_or(u32::MAX);
    rates_of(Window::Hours(span), from, to, totals)
}

fn rates_of(window: Window, from: DateTime<Utc>, to: DateTime<Utc>, totals: Totals) -> WindowRates {
    WindowRates {
        window,
        from,
        to,
        naive_complaint: Rate {
            numerator: totals.get(Metric::Complaints),
            denominator: totals.get(Metric::Deliveries),
        },
        feedback_loop_complaint: Rate {
            numerator: totals.get(Metric::FeedbackLoopComplaints),
            denominator: totals.get(Metric::FeedbackLoopDeliveries),
        },
        bounce: Rate {
            numerator: totals.get(Metric::CountedHardBounces),
            denominator: totals.delivery_attempts(),
        },
        totals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn hour(h: i64, pairs: &[(Metric, u64)]) -> HourlyCounts {
        let base = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        HourlyCounts {
            bucket: base - Duration::hours(h),
            totals: Totals {
                metrics: pairs.iter().copied().collect(),
                details: BTreeMap::new(),
            },
        }
    }

    #[test]
    fn windows_sum_the_right_hours_and_keep_numerators_and_denominators() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 30, 0).unwrap();
        let hours = vec![
            hour(
                0,
                &[
                    (Metric::Deliveries, 1000),
                    (Metric::FeedbackLoopDeliveries, 100),
                    (Metric::Complaints, 3),
                    (Metric::ComplaintsNotSuppressed, 2),
                    (Metric::FeedbackLoopComplaints, 1),
                ],
            ),
            hour(23, &[(Metric::Deliveries, 1000), (Metric::Sends, 50)]),
            hour(
                24,
                &[
                    (Metric::Deliveries, 495),
                    (Metric::CountedHardBounces, 5),
                    (Metric::Sends, 50),
                ],
            ),
            hour(24 * 30, &[(Metric::Deliveries, 7)]),
            hour(-1, &[(Metric::Deliveries, 99)]),
        ];
        let r = compute(
            &hours,
            now,
            &[
                Window::Hours(24),
                Window::Hours(24 * 7),
                Window::Hours(24 * 30),
            ],
        );
        assert_eq!(
            r[0].naive_complaint,
            Rate {
                numerator: 3,
                denominator: 2000
            }
        );
        // Of the three complaints, one is from a feedback-loop provider: like for like.
        assert_eq!(
            r[0].feedback_loop_complaint,
            Rate {
                numerator: 1,
                denominator: 100
            }
        );
        assert_eq!(r[1].naive_complaint.denominator, 2495);
        // 5 hard bounces of 2,500 delivery attempts (2,495 deliveries + 5 bounces), not of the
        // 100 Send events.
        assert_eq!(
            r[1].bounce,
            Rate {
                numerator: 5,
                denominator: 2500
            }
        );
        assert_eq!(
            r[2].totals.get(Metric::Deliveries),
            2495,
            "the bucket 30 days back lies outside"
        );
        assert_eq!(
            r[0].from,
            Utc.with_ymd_and_hms(2026, 11, 22, 13, 0, 0).unwrap()
        );
    }

    /// An account that sends part of its mail through a configuration set (Send events) and part
    /// from identities with notifications only (no Send events): bounces of both formats over
    /// the mail of both.
    #[test]
    fn a_mixed_account_divides_bounces_of_both_formats_by_the_mail_of_both() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        let hours = vec![
            // Event publishing: 100 sends, 96 delivered, 4 hard bounces.
            hour(
                1,
                &[
                    (Metric::Sends, 100),
                    (Metric::Deliveries, 96),
                    (Metric::CountedHardBounces, 4),
                ],
            ),
            // Identity notifications: 300 delivered, 6 hard bounces, 2 soft, no Send events.
            hour(
                2,
                &[
                    (Metric::Deliveries, 300),
                    (Metric::CountedHardBounces, 6),
                    (Metric::OtherBounces, 2),
                ],
            ),
        ];
        let r = compute(
            &hours,
            now,
            &[
                Window::Hours(24),
                Window::RecentSends {
                    sends: 150,
                    max_days: 90,
                },
            ],
        );
        assert_eq!(
            r[0].bounce,
            Rate {
                numerator: 10,
                denominator: 408
            }
        );
        // The last 150 "sends" are delivery attempts too: one hour (100) is not enough, two are.
        assert_eq!(r[1].totals.get(Metric::CountedHardBounces), 10);
        assert_eq!(r[1].from, hours[1].bucket);
    }

    #[test]
    fn recent_sends_window_stops_once_enough_sends_are_covered() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        let hours: Vec<HourlyCounts> = (0..10)
            .map(|h| hour(h, &[(Metric::Sends, 100), (Metric::Deliveries, 100)]))
            .collect();
        let window = Window::RecentSends {
            sends: 250,
            max_days: 90,
        };
        let r = compute(&hours, now, &[window]);
        assert_eq!(r[0].totals.get(Metric::Deliveries), 300);
        assert_eq!(r[0].from, hours[2].bucket);
        // Hours 0-2 and the current one: 10:00 to 13:00.
        assert_eq!(r[0].describe_window(), "last 250 sends = the last 0.1 days");
    }

    #[test]
    fn recent_sends_say_what_span_they_cover_and_stop_at_their_limit() {
        // 140 a day for 100 days: SES's notice measured 10,476 emails over 74.9 days.
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        let hours: Vec<HourlyCounts> = (0..100)
            .map(|d| {
                hour(
                    d * 24,
                    &[(Metric::Deliveries, 137), (Metric::OtherBounces, 3)],
                )
            })
            .collect();
        let window = |sends| Window::RecentSends {
            sends,
            max_days: 90,
        };
        let r = compute(&hours, now, &[window(10_476), window(100_000)]);
        assert_eq!(r[0].totals.delivery_attempts(), 75 * 140);
        assert_eq!(
            r[0].describe_window(),
            "last 10476 sends = the last 74.0 days"
        );
        // Never past 90 days, however few the sends.
        assert_eq!(r[1].totals.delivery_attempts(), 90 * 140);
        assert_eq!(
            r[1].describe_window(),
            "last 100000 sends: only 12600 in the last 90 days"
        );
        assert_eq!(lookback(&[window(1)]), Duration::days(90));
    }

    #[test]
    fn empty_denominators_have_no_value_and_bounces_count_over_attempts() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        let r = compute(
            &[hour(
                0,
                &[(Metric::Deliveries, 90), (Metric::CountedHardBounces, 10)],
            )],
            now,
            &[Window::Hours(24)],
        );
        assert_eq!(r[0].feedback_loop_complaint.value(), None);
        assert_eq!(r[0].bounce.value(), Some(0.1));
        assert_eq!(r[0].bounce.describe(), "10.000% (10 / 100)");
    }
}
