//! The alarm's settings: thresholds, minimum volumes, hysteresis and windows, from `SES_LEDGER_*`.

use super::level::{RateKind, Thresholds};
use crate::config::{number, ConfigError, LedgerConfig};
use crate::ledger::rates::{lookback, standard_windows, Window};

/// The "last N sends" window's defaults: N, and how far back it may reach for them. 90 days
/// lets a small sender's window span what SES's own notices report ("approximately the last
/// 74.9 days"), and stays inside the counters' default TTL of 100 days.
pub const DEFAULT_RECENT_SENDS: u64 = 100_000;
pub const DEFAULT_RECENT_SENDS_MAX_DAYS: u32 = 90;

#[derive(Debug, Clone, PartialEq)]
pub struct AlarmConfig {
    pub complaint: Thresholds,
    pub bounce: Thresholds,
    /// Feedback-loop deliveries a window needs before its complaint rate is judged.
    pub min_complaint_volume: u64,
    /// Sends (or delivery attempts) a window needs before its bounce rate is judged.
    pub min_bounce_volume: u64,
    pub hysteresis: f64,
    pub windows: Vec<Window>,
    pub feedback_loop_providers: Vec<String>,
}

impl Default for AlarmConfig {
    fn default() -> Self {
        AlarmConfig {
            complaint: Thresholds::SES_COMPLAINT,
            bounce: Thresholds::SES_BOUNCE,
            min_complaint_volume: 1000,
            min_bounce_volume: 1000,
            hysteresis: 0.8,
            windows: standard_windows(DEFAULT_RECENT_SENDS, DEFAULT_RECENT_SENDS_MAX_DAYS),
            feedback_loop_providers: crate::model::provider::DEFAULT_FEEDBACK_LOOP_PROVIDERS
                .iter()
                .map(|p| p.to_string())
                .collect(),
        }
    }
}

impl AlarmConfig {
    /// `SES_LEDGER_*` variables over the defaults. Thresholds are fractions, as SES's metrics are.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = AlarmConfig::default();
        let fraction = |name: &'static str, default: f64| -> Result<f64, ConfigError> {
            let v = number(&lookup, name, default, 0.0)?;
            if v > 1.0 {
                return Err(ConfigError {
                    variable: name,
                    value: v.to_string(),
                    problem: "is a fraction: 0.001 means 0.1%".into(),
                });
            }
            Ok(v)
        };
        let thresholds = |prefix: &str, d: Thresholds| -> Result<Thresholds, ConfigError> {
            let name = |level: &str| -> &'static str {
                match (prefix, level) {
                    ("COMPLAINT", "WARNING") => "SES_LEDGER_COMPLAINT_WARNING",
                    ("COMPLAINT", "REVIEW") => "SES_LEDGER_COMPLAINT_REVIEW",
                    ("COMPLAINT", _) => "SES_LEDGER_COMPLAINT_PAUSE",
                    (_, "WARNING") => "SES_LEDGER_BOUNCE_WARNING",
                    (_, "REVIEW") => "SES_LEDGER_BOUNCE_REVIEW",
                    _ => "SES_LEDGER_BOUNCE_PAUSE",
                }
            };
            let t = Thresholds {
                warning: fraction(name("WARNING"), d.warning)?,
                review: fraction(name("REVIEW"), d.review)?,
                pause: fraction(name("PAUSE"), d.pause)?,
            };
            if !(t.warning <= t.review && t.review <= t.pause) {
                return Err(ConfigError {
                    variable: name("REVIEW"),
                    value: format!("{}/{}/{}", t.warning, t.review, t.pause),
                    problem: "thresholds must rise: warning <= review <= pause".into(),
                });
            }
            Ok(t)
        };
        let recent = number(&lookup, "SES_LEDGER_RECENT_SENDS", DEFAULT_RECENT_SENDS, 1)?;
        let recent_max_days = crate::config::days(
            &lookup,
            "SES_LEDGER_RECENT_SENDS_MAX_DAYS",
            DEFAULT_RECENT_SENDS_MAX_DAYS,
            1,
        )?;
        let hysteresis = number(&lookup, "SES_LEDGER_HYSTERESIS", d.hysteresis, 0.0)?;
        if hysteresis > 1.0 {
            return Err(ConfigError {
                variable: "SES_LEDGER_HYSTERESIS",
                value: hysteresis.to_string(),
                problem: "must be between 0 and 1".into(),
            });
        }
        Ok(AlarmConfig {
            complaint: thresholds("COMPLAINT", d.complaint)?,
            bounce: thresholds("BOUNCE", d.bounce)?,
            min_complaint_volume: number(
                &lookup,
                "SES_LEDGER_MIN_COMPLAINT_VOLUME",
                d.min_complaint_volume,
                1,
            )?,
            min_bounce_volume: number(
                &lookup,
                "SES_LEDGER_MIN_BOUNCE_VOLUME",
                d.min_bounce_volume,
                1,
            )?,
            hysteresis,
            windows: standard_windows(recent, recent_max_days),
            feedback_loop_providers: crate::config::feedback_loop_providers(&lookup),
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|n| std::env::var(n).ok())
    }

    /// Refuses windows that reach further back than counters live: such a window would read
    /// fewer hours than it says, and its rate would quietly be over a shorter span.
    pub fn check_counters_outlive_windows(&self, ledger: &LedgerConfig) -> Result<(), ConfigError> {
        let days = (lookback(&self.windows).num_hours().max(0) as u64).div_ceil(24);
        if days < u64::from(ledger.counter_ttl_days) {
            return Ok(());
        }
        Err(ConfigError {
            variable: "SES_LEDGER_RECENT_SENDS_MAX_DAYS",
            value: days.to_string(),
            problem: format!(
                "the longest window reaches back {days} days, but counters live {} days (SES_LEDGER_COUNTER_TTL_DAYS): shorten the window or keep counters longer",
                ledger.counter_ttl_days
            ),
        })
    }

    pub(crate) fn thresholds(&self, kind: RateKind) -> &Thresholds {
        match kind {
            RateKind::Complaint => &self.complaint,
            RateKind::Bounce => &self.bounce,
        }
    }

    pub(crate) fn min_volume(&self, kind: RateKind) -> u64 {
        match kind {
            RateKind::Complaint => self.min_complaint_volume,
            RateKind::Bounce => self.min_bounce_volume,
        }
    }
}
