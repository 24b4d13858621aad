//! `report`: every scope's rates over every window, naive and SES-style side by side, with SES's
//! own figure where it publishes one.

use chrono::{DateTime, Utc};
use serde::Serialize;
use ses_ledger::alarm::{AlarmConfig, RateKind, SesFigure};
use ses_ledger::counters::{bucket_of, Metric, Scope};
use ses_ledger::ports::{CounterReader, ReputationSource};
use ses_ledger::rates::{compute, lookback, WindowRates};

use crate::charts::{self, SesToday};
use crate::common::{print_rows, Output};
use crate::html;

#[derive(Debug, Serialize)]
pub struct ScopeReport {
    pub scope: Scope,
    pub windows: Vec<WindowRates>,
    pub ses_complaint: SesFigure,
    pub ses_bounce: SesFigure,
}

/// Reads and computes; `only` limits the scopes (by key), empty means all.
pub async fn collect(
    counters: &impl CounterReader,
    reputation: Option<&impl ReputationSource>,
    config: &AlarmConfig,
    only: &[String],
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<ScopeReport>> {
    let to = bucket_of(now);
    let from = to - lookback(&config.windows);
    let mut scopes = counters.scopes().await?;
    if only.is_empty() {
        // The mailbox simulator's counts are the canary's, not a rate: shown only when asked.
        scopes.retain(Scope::has_rates);
    } else {
        scopes.retain(|s| only.contains(&s.key()));
    }
    scopes.sort();
    let mut out = Vec::new();
    for scope in scopes {
        let hours = counters.hourly(&scope, from, to).await?;
        let ses_complaint = ses_figure(reputation, &scope, RateKind::Complaint, now).await;
        let ses_bounce = ses_figure(reputation, &scope, RateKind::Bounce, now).await;
        out.push(ScopeReport {
            windows: compute(&hours, now, &config.windows),
            scope,
            ses_complaint,
            ses_bounce,
        });
    }
    Ok(out)
}

/// SES's figure; an unreachable CloudWatch reads as missing, with the reason on stderr.
pub async fn ses_figure(
    reputation: Option<&impl ReputationSource>,
    scope: &Scope,
    kind: RateKind,
    now: DateTime<Utc>,
) -> SesFigure {
    let Some(r) = reputation else {
        return SesFigure::NotPublished;
    };
    r.ses_figure(scope, kind, now).await.unwrap_or_else(|e| {
        eprintln!("SES {} for {scope}: {e}", kind.ses_metric());
        SesFigure::Missing
    })
}

fn short(f: &SesFigure) -> String {
    match f {
        SesFigure::Reported(v) => ses_ledger::rates::percent(*v),
        SesFigure::Missing => "missing".into(),
        SesFigure::NotPublished => "-".into(),
    }
}

const HEADER: [&str; 8] = [
    "scope",
    "window",
    "naive complaint",
    "feedback-loop complaint",
    "bounce (SES rules)",
    "SES complaint",
    "SES bounce",
    // Events with a value SES does not document: a non-zero count means the event log's
    // `undocumented_values` is worth a look before trusting the rates.
    "undocumented",
];

fn rows(reports: &[ScopeReport]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for r in reports {
        for w in &r.windows {
            rows.push(vec![
                r.scope.key(),
                w.describe_window(),
                w.naive_complaint.describe(),
                w.feedback_loop_complaint.describe(),
                w.bounce.describe(),
                short(&r.ses_complaint),
                short(&r.ses_bounce),
                w.totals.get(Metric::Undocumented).to_string(),
            ]);
        }
    }
    rows
}

pub fn print(reports: &[ScopeReport], output: Output) -> anyhow::Result<()> {
    print_rows(
        output,
        &HEADER,
        &rows(reports),
        &serde_json::to_value(reports)?,
    )
}

/// `report --html`: the account's days over the report's longest window as pictures, and every
/// scope's windows as a table, in one self-contained page.
pub async fn html(
    reports: &[ScopeReport],
    counters: &impl CounterReader,
    config: &AlarmConfig,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let to = bucket_of(now);
    let from = to - lookback(&config.windows);
    let hours = counters.hourly(&Scope::Account, from, to).await?;
    let account = reports.iter().find(|r| r.scope == Scope::Account);
    let figure = |f: Option<&SesFigure>| match f {
        Some(SesFigure::Reported(v)) => Some(*v),
        _ => None,
    };
    let charts = charts::draw(
        &charts::days(&hours, from.date_naive(), now.date_naive()),
        &config.complaint,
        &config.bounce,
        SesToday {
            date: Some(now.date_naive()),
            complaint: figure(account.map(|a| &a.ses_complaint)),
            bounce: figure(account.map(|a| &a.ses_bounce)),
        },
    )?;
    let body = format!(
        "## Rates by scope and window\n\nNaive: complaints / all deliveries. Feedback-loop: complaints / deliveries to the providers that send SES complaint feedback ({}), the rate SES judges. Bounce: permanent bounces not from a suppression list, as SES counts them. SES's figures are its own, over its own window.\n\n{}",
        config.feedback_loop_providers.join(", "),
        html::markdown_table(&HEADER, &rows(reports))
    );
    Ok(html::page(
        &format!(
            "ses-ledger report, {} to {}",
            from.date_naive(),
            now.date_naive()
        ),
        &format!(
            "Read {}; the charts cover the account over the report's longest window, the table every scope.",
            ses_ledger::timestamp::format_timestamp(now)
        ),
        &charts,
        &body,
    ))
}
