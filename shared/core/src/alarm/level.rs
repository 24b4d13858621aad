//! How worried to be, about which rate, at which thresholds.

use serde::Serialize;

use crate::ledger::rates::{Rate, WindowRates};

/// How worried to be. Ordered: Normal < Warning < Review < Pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Normal,
    Warning,
    Review,
    Pause,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Normal => "normal",
            Level::Warning => "warning",
            Level::Review => "review",
            Level::Pause => "pause",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        [Level::Normal, Level::Warning, Level::Review, Level::Pause]
            .into_iter()
            .find(|l| l.as_str() == s)
    }
}

/// Which of SES's two reputation numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RateKind {
    Complaint,
    Bounce,
}

impl RateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RateKind::Complaint => "complaint",
            RateKind::Bounce => "bounce",
        }
    }

    /// SES's CloudWatch metric (namespace `AWS/SES`, a fraction).
    pub fn ses_metric(self) -> &'static str {
        match self {
            RateKind::Complaint => "Reputation.ComplaintRate",
            RateKind::Bounce => "Reputation.BounceRate",
        }
    }

    /// The ledger's figure to hold against SES's, and the volume that decides whether it is judged.
    pub fn judged_rate(self, w: &WindowRates) -> (Rate, u64) {
        match self {
            RateKind::Complaint => (
                w.feedback_loop_complaint,
                w.feedback_loop_complaint.denominator,
            ),
            RateKind::Bounce => (w.bounce, w.bounce.denominator),
        }
    }
}

/// Fractions (0.001 = 0.1%).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub warning: f64,
    pub review: f64,
    pub pause: f64,
}

impl Thresholds {
    /// SES's published review and pause levels, and a warning at half the review level for
    /// complaints (2% for bounces, the level one SES page asks senders to stay under).
    pub const SES_COMPLAINT: Thresholds = Thresholds {
        warning: 0.0005,
        review: 0.001,
        pause: 0.005,
    };
    pub const SES_BOUNCE: Thresholds = Thresholds {
        warning: 0.02,
        review: 0.05,
        pause: 0.10,
    };

    /// The highest level whose threshold, scaled by `factor`, the rate reaches.
    fn level_at(&self, rate: f64, factor: f64) -> Level {
        if rate >= self.pause * factor {
            Level::Pause
        } else if rate >= self.review * factor {
            Level::Review
        } else if rate >= self.warning * factor {
            Level::Warning
        } else {
            Level::Normal
        }
    }

    /// Rising takes the threshold; falling back below the current level takes the rate under the
    /// threshold times `hysteresis` (e.g. 0.8), so a rate hovering at a threshold does not flap.
    pub fn next_level(&self, rate: f64, current: Level, hysteresis: f64) -> Level {
        let raised = self.level_at(rate, 1.0);
        let held = current.min(self.level_at(rate, hysteresis));
        raised.max(held)
    }
}
