//! The verdict for one scope and rate, with hysteresis. Pure.

use serde::Serialize;

use super::config::AlarmConfig;
use super::level::{Level, RateKind};
use crate::ledger::counters::Scope;
use crate::ledger::rates::{percent, Rate, Window, WindowRates};

/// SES's own figure for a scope, as far as CloudWatch has it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "value")]
pub enum SesFigure {
    /// The latest data point (a fraction).
    Reported(f64),
    /// SES publishes this metric for the scope, but CloudWatch returned no data points.
    Missing,
    /// SES publishes no reputation metric for this kind of scope.
    NotPublished,
}

impl SesFigure {
    pub fn describe(&self) -> String {
        match self {
            SesFigure::Reported(v) => percent(*v),
            SesFigure::Missing => "missing (no data points from CloudWatch)".into(),
            SesFigure::NotPublished => "not published by SES for this scope".into(),
        }
    }
}

/// The verdict for one scope and rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub scope: Scope,
    pub kind: RateKind,
    pub previous: Level,
    pub level: Level,
    /// The window that set the level, with its rate; None when no window had enough volume.
    pub judged: Option<(Window, Rate)>,
    pub windows: Vec<WindowRates>,
    pub ses: SesFigure,
    /// SES's status for a tenant scope (`tenant:<name>`), read when an alert is composed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ses_tenant: Option<super::TenantStatus>,
}

impl Evaluation {
    pub fn changed(&self) -> bool {
        self.judged.is_some() && self.level != self.previous
    }
}

/// Judges one scope's rates. Windows below the minimum volume are not judged; when none is, the
/// level stays where it was.
pub fn evaluate(
    scope: Scope,
    kind: RateKind,
    windows: Vec<WindowRates>,
    previous: Level,
    ses: SesFigure,
    config: &AlarmConfig,
) -> Evaluation {
    let thresholds = config.thresholds(kind);
    let mut judged: Option<(Window, Rate, Level)> = None;
    for w in &windows {
        let (rate, volume) = kind.judged_rate(w);
        let Some(value) = rate.value() else { continue };
        if volume < config.min_volume(kind) {
            continue;
        }
        let level = thresholds.next_level(value, previous, config.hysteresis);
        let better = match &judged {
            None => true,
            Some((_, best_rate, best_level)) => {
                level > *best_level
                    || (level == *best_level && value > best_rate.value().unwrap_or(0.0))
            }
        };
        if better {
            judged = Some((w.window, rate, level));
        }
    }
    Evaluation {
        level: judged.as_ref().map_or(previous, |j| j.2),
        judged: judged.map(|(w, r, _)| (w, r)),
        scope,
        kind,
        previous,
        windows,
        ses,
        ses_tenant: None,
    }
}
