//! The alarm's figures as CloudWatch Embedded Metric Format lines (no PutMetricData call).

use chrono::{DateTime, Utc};

use crate::emf::{Line, Unit};
use crate::ledger::counters::{Metric, Scope};
use crate::ledger::rates::WindowRates;

/// Embedded Metric Format lines (one per scope and window) for CloudWatch to turn into metrics.
/// A rate with no denominator has no value and is left out of its line.
pub fn emf_lines(
    scope: &Scope,
    windows: &[WindowRates],
    now: DateTime<Utc>,
) -> Vec<serde_json::Value> {
    windows
        .iter()
        .filter_map(|w| {
            Line::new(now, &[&["Scope", "Window"]])
                .dimension("Scope", &scope.key())
                .dimension("Window", &w.window.label())
                .metric("NaiveComplaintRate", Unit::None, w.naive_complaint.value())
                .metric(
                    "FeedbackLoopComplaintRate",
                    Unit::None,
                    w.feedback_loop_complaint.value(),
                )
                .metric("BounceRate", Unit::None, w.bounce.value())
                .count("Deliveries", w.totals.get(Metric::Deliveries))
                .count("Complaints", w.totals.get(Metric::Complaints))
                .count("Sends", w.totals.get(Metric::Sends))
                .to_json()
        })
        .collect()
}
