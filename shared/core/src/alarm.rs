//! The alarm: judge every scope's rates against thresholds, with hysteresis, and say so only when
//! a level changes. The judging and the alert text are pure; `run` wires them to the ports.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::{list, number, ConfigError};
use crate::counters::{Metric, Scope};
use crate::insights;
use crate::ports::{AlertPublisher, AlertStateStore, CounterReader, ReputationSource, StoreError};
use crate::rates::{
    complaint_domain, complaint_feedback_type, percent, standard_windows, Rate, Totals, Window,
    WindowRates,
};

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
            windows: standard_windows(100_000),
            feedback_loop_providers: crate::provider::DEFAULT_FEEDBACK_LOOP_PROVIDERS
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
        let recent = number(&lookup, "SES_LEDGER_RECENT_SENDS", 100_000u64, 1)?;
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
            windows: standard_windows(recent),
            feedback_loop_providers: list(&lookup, "SES_LEDGER_FEEDBACK_LOOP_PROVIDERS")
                .unwrap_or(d.feedback_loop_providers),
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|n| std::env::var(n).ok())
    }

    fn thresholds(&self, kind: RateKind) -> &Thresholds {
        match kind {
            RateKind::Complaint => &self.complaint,
            RateKind::Bounce => &self.bounce,
        }
    }

    fn min_volume(&self, kind: RateKind) -> u64 {
        match kind {
            RateKind::Complaint => self.min_complaint_volume,
            RateKind::Bounce => self.min_bounce_volume,
        }
    }
}

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
    }
}

/// An alert ready for SNS.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub subject: String,
    pub body: String,
    /// SNS message attributes, for subscription filter policies.
    pub severity: Level,
    pub scope: String,
    pub metric: RateKind,
}

/// SNS email subjects must stay under 100 characters.
const MAX_SUBJECT: usize = 99;

/// Composes the alert for a changed evaluation.
pub fn compose_alert(e: &Evaluation, config: &AlarmConfig, log_group: &str) -> Alert {
    let (window, rate) = e
        .judged
        .map(|(w, r)| (w.label(), r.describe()))
        .unwrap_or_else(|| ("-".into(), "n/a".into()));
    let direction = if e.level > e.previous { "up" } else { "down" };
    let headline = match e.level {
        Level::Normal => format!("RECOVERED: {} rate back to normal", e.kind.as_str()),
        l => format!("{}: {} rate", l.as_str().to_uppercase(), e.kind.as_str()),
    };
    let mut subject = format!(
        "ses-ledger {headline} {} for {}",
        e.judged
            .and_then(|(_, r)| r.value())
            .map(percent)
            .unwrap_or_default(),
        e.scope
    );
    if subject.chars().count() > MAX_SUBJECT {
        subject = subject.chars().take(MAX_SUBJECT - 1).collect::<String>() + "…";
    }

    let mut body = String::new();
    let t = config.thresholds(e.kind);
    body.push_str(&format!(
        "Scope:  {}\nMetric: {} rate\nLevel:  {} -> {} ({direction})\nJudged: {window}: {rate}\n\
         Thresholds: warning {}, review {}, pause {} (minimum volume {})\n\n",
        e.scope,
        e.kind.as_str(),
        e.previous.as_str(),
        e.level.as_str(),
        percent(t.warning),
        percent(t.review),
        percent(t.pause),
        config.min_volume(e.kind),
    ));
    body.push_str(&format!(
        "SES's own figure ({}): {}\n",
        e.kind.ses_metric(),
        e.ses.describe()
    ));
    body.push_str(&format!("Ledger's figure: {}\n\n", rate));

    body.push_str("Window           naive complaint            feedback-loop complaint    bounce (SES rules)\n");
    for w in &e.windows {
        body.push_str(&format!(
            "{:<16} {:<26} {:<26} {}\n",
            w.window.label(),
            w.naive_complaint.describe(),
            w.feedback_loop_complaint.describe(),
            w.bounce.describe(),
        ));
    }
    let judged_totals: Option<&Totals> = e
        .judged
        .and_then(|(jw, _)| e.windows.iter().find(|w| w.window == jw))
        .map(|w| &w.totals);
    if let (RateKind::Complaint, Some(totals)) = (e.kind, judged_totals) {
        body.push_str("\nWhere the complaints come from (judged window):\n");
        let domains = totals.top_details(complaint_domain, 10);
        let mut providers: std::collections::BTreeMap<String, u64> = Default::default();
        for (domain, count) in &totals.top_details(complaint_domain, usize::MAX) {
            *providers
                .entry(crate::provider::provider_for_domain(domain))
                .or_default() += count;
        }
        let mut providers: Vec<(String, u64)> = providers.into_iter().collect();
        providers.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        body.push_str(&format!("  providers:      {}\n", join_counts(&providers)));
        body.push_str(&format!("  domains:        {}\n", join_counts(&domains)));
        body.push_str(&format!(
            "  feedback types: {}\n",
            join_counts(&totals.top_details(complaint_feedback_type, 10))
        ));
    }
    body.push_str(&format!(
        "\nWhy the figures differ:\n{}\n",
        explain(e, config)
    ));
    let query = match e.kind {
        RateKind::Complaint => insights::complaints(&e.scope),
        RateKind::Bounce => insights::hard_bounces(&e.scope),
    };
    body.push_str(&format!(
        "\nThe underlying events (CloudWatch Logs Insights, log group {log_group}):\n\n{query}\n"
    ));
    Alert {
        subject,
        body,
        severity: e.level,
        scope: e.scope.key(),
        metric: e.kind,
    }
}

fn join_counts(rows: &[(String, u64)]) -> String {
    if rows.is_empty() {
        return "none".into();
    }
    rows.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The ledger's account of why its figures and SES's differ.
pub fn explain(e: &Evaluation, config: &AlarmConfig) -> String {
    let mut lines = Vec::new();
    if let Some(w) = e
        .judged
        .and_then(|(jw, _)| e.windows.iter().find(|w| w.window == jw))
    {
        match e.kind {
            RateKind::Complaint => {
                let deliveries = w.naive_complaint.denominator;
                let fbl = w.feedback_loop_complaint.denominator;
                let share = if deliveries > 0 { fbl as f64 / deliveries as f64 } else { 0.0 };
                lines.push(format!(
                    "- SES divides complaints by mail sent to providers that report complaints to it, not by all mail. \
                     Of {deliveries} deliveries in the {} window, {fbl} ({}) went to such providers ({}), \
                     so the naive rate {} understates the rate SES sees by a factor of about {:.0}.",
                    w.window.label(),
                    percent(share),
                    config.feedback_loop_providers.join(", "),
                    w.naive_complaint.describe(),
                    if fbl > 0 { deliveries as f64 / fbl as f64 } else { 0.0 },
                ));
            }
            RateKind::Bounce => lines.push(format!(
                "- Only Permanent bounces other than OnAccountSuppressionList count; the base is {}.",
                match w.bounce_base {
                    crate::rates::BounceBase::Sends => "Send events",
                    crate::rates::BounceBase::DeliveryAttempts => "deliveries + bounces (no Send events were captured)",
                }
            )),
        }
    }
    match (e.ses, e.judged.and_then(|(_, r)| r.value())) {
        (SesFigure::Reported(ses), Some(ours)) => lines.push(format!(
            "- SES reports {} against the ledger's {} (SES/ledger = {:.2}). SES computes over its \
             \"representative volume\", which can reach further back than these windows and is not disclosed.",
            percent(ses),
            percent(ours),
            if ours > 0.0 { ses / ours } else { f64::INFINITY },
        )),
        (SesFigure::Missing, _) => lines.push(
            "- SES's figure is missing: CloudWatch returned no data points (SES publishes reputation metrics only once there is enough volume)."
                .into(),
        ),
        _ => {}
    }
    if lines.is_empty() {
        lines.push("- No window had enough volume to judge.".into());
    }
    lines.join("\n")
}

/// Alert state of one scope and rate, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertState {
    pub level: Level,
    pub changed_at: DateTime<Utc>,
}

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

/// What one alarm run saw and did.
#[derive(Debug, Default)]
pub struct AlarmReport {
    pub evaluations: Vec<Evaluation>,
    pub alerts: Vec<Alert>,
    /// Embedded Metric Format lines for stdout.
    pub metrics: Vec<serde_json::Value>,
}

/// One alarm run: every scope, both rates. Reads per scope are bounded (one counter query over the
/// longest window, two state reads, at most two metric reads), whatever the event volume.
pub async fn run<C, S, P, R>(
    counters: &C,
    state: &S,
    publisher: &P,
    reputation: &R,
    config: &AlarmConfig,
    log_group: &str,
    now: DateTime<Utc>,
) -> Result<AlarmReport, StoreError>
where
    C: CounterReader,
    S: AlertStateStore,
    P: AlertPublisher,
    R: ReputationSource,
{
    let mut report = AlarmReport::default();
    let to = crate::counters::bucket_of(now);
    let from = to - crate::rates::lookback(&config.windows);
    for scope in counters.scopes().await? {
        let hours = counters.hourly(&scope, from, to).await?;
        let windows = crate::rates::compute(&hours, now, &config.windows);
        report.metrics.extend(emf_lines(&scope, &windows, now));
        for kind in [RateKind::Complaint, RateKind::Bounce] {
            let previous = state.alert_level(&scope, kind).await?;
            let ses = match reputation.ses_figure(&scope, kind, now).await {
                Ok(figure) => figure,
                Err(e) => {
                    tracing::warn!(scope = %scope, metric = kind.ses_metric(), error = %e, "SES's figure unavailable");
                    SesFigure::Missing
                }
            };
            let evaluation = evaluate(scope.clone(), kind, windows.clone(), previous, ses, config);
            if evaluation.changed() {
                let alert = compose_alert(&evaluation, config, log_group);
                // Publish first: if the state write then fails, the next run repeats the alert
                // rather than never sending it.
                publisher.publish(&alert).await?;
                state
                    .set_alert_level(&scope, kind, evaluation.level, now)
                    .await?;
                report.alerts.push(alert);
            }
            report.evaluations.push(evaluation);
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_rise_at_thresholds_and_fall_only_below_the_hysteresis_band() {
        let t = Thresholds::SES_COMPLAINT;
        assert_eq!(t.next_level(0.0004, Level::Normal, 0.8), Level::Normal);
        assert_eq!(t.next_level(0.001, Level::Normal, 0.8), Level::Review);
        assert_eq!(
            t.next_level(0.0009, Level::Review, 0.8),
            Level::Review,
            "holds inside the band"
        );
        assert_eq!(t.next_level(0.00079, Level::Review, 0.8), Level::Warning);
        assert_eq!(t.next_level(0.0, Level::Pause, 0.8), Level::Normal);
        assert_eq!(t.next_level(0.006, Level::Warning, 0.8), Level::Pause);
    }

    #[test]
    fn configuration_rejects_percentages_and_falling_thresholds() {
        let bad =
            AlarmConfig::from_lookup(|n| (n == "SES_LEDGER_COMPLAINT_REVIEW").then(|| "5".into()));
        assert!(bad.unwrap_err().problem.contains("fraction"));
        let bad = AlarmConfig::from_lookup(|n| {
            (n == "SES_LEDGER_COMPLAINT_WARNING").then(|| "0.01".into())
        });
        assert!(bad.unwrap_err().problem.contains("must rise"));
        assert_eq!(
            AlarmConfig::from_lookup(|_| None).unwrap(),
            AlarmConfig::default()
        );
    }
}
