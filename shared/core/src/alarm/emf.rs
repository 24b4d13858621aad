//! The alarm's figures as CloudWatch Embedded Metric Format lines (no PutMetricData call).

use chrono::{DateTime, Utc};

use crate::counters::{Metric, Scope};
use crate::rates::{Rate, WindowRates};

/// Embedded Metric Format lines (one per scope and window) for CloudWatch to turn into metrics.
pub fn emf_lines(
    scope: &Scope,
    windows: &[WindowRates],
    now: DateTime<Utc>,
) -> Vec<serde_json::Value> {
    windows
        .iter()
        .map(|w| {
            let value = |r: &Rate| {
                r.value()
                    .map(serde_json::Value::from)
                    .unwrap_or(serde_json::Value::Null)
            };
            serde_json::json!({
                "_aws": {
                    "Timestamp": now.timestamp_millis(),
                    "CloudWatchMetrics": [{
                        "Namespace": "SesLedger",
                        "Dimensions": [["Scope", "Window"]],
                        "Metrics": [
                            {"Name": "NaiveComplaintRate", "Unit": "None"},
                            {"Name": "FeedbackLoopComplaintRate", "Unit": "None"},
                            {"Name": "BounceRate", "Unit": "None"},
                            {"Name": "Deliveries", "Unit": "Count"},
                            {"Name": "Complaints", "Unit": "Count"},
                            {"Name": "Sends", "Unit": "Count"}
                        ]
                    }]
                },
                "Scope": scope.key(),
                "Window": w.window.label(),
                "NaiveComplaintRate": value(&w.naive_complaint),
                "FeedbackLoopComplaintRate": value(&w.feedback_loop_complaint),
                "BounceRate": value(&w.bounce),
                "Deliveries": w.totals.get(Metric::Deliveries),
                "Complaints": w.totals.get(Metric::Complaints),
                "Sends": w.totals.get(Metric::Sends),
            })
        })
        .collect()
}
