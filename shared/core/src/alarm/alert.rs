//! The alert text: the numbers, what drives them, SES's own figure and why the two differ.

use serde::Serialize;

use super::config::AlarmConfig;
use super::evaluate::{Evaluation, SesFigure};
use super::level::{Level, RateKind};
use crate::insights;
use crate::ledger::rates::{complaint_domain, complaint_feedback_type, percent, Totals};

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
    if let Some(tenant) = &e.ses_tenant {
        body.push_str(&format!(
            "SES's own status of this tenant: {}\n",
            tenant.describe()
        ));
        if tenant.sending_stopped() {
            body.push_str(
                "SES HAS STOPPED THIS TENANT'S SENDING, whatever the figures below say.\n",
            );
        }
    }
    body.push_str(&format!("Ledger's figure: {}\n\n", rate));

    let width = e
        .windows
        .iter()
        .map(|w| w.describe_window().len())
        .chain([16])
        .max()
        .unwrap_or(16);
    body.push_str(&format!(
        "{:<width$} {:<26} {:<26} {}\n",
        "Window", "naive complaint", "feedback-loop complaint", "bounce (SES rules)"
    ));
    for w in &e.windows {
        body.push_str(&format!(
            "{:<width$} {:<26} {:<26} {}\n",
            w.describe_window(),
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
                .entry(crate::model::provider::provider_for_domain(domain))
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
            RateKind::Bounce => lines.push(
                "- Only Permanent bounces other than OnAccountSuppressionList and OnTenantSuppressionList count; the base is the mail SES tried to deliver, deliveries + bounces.".to_string(),
            ),
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
