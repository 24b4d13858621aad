//! `report`: every scope's rates over every window, naive and SES-style side by side, with SES's
//! own figure where it publishes one.

use chrono::{DateTime, Utc};
use serde::Serialize;
use ses_ledger::alarm::{AlarmConfig, RateKind, SesFigure};
use ses_ledger::counters::{bucket_of, Metric, Scope};
use ses_ledger::ports::{CounterReader, ReputationSource};
use ses_ledger::rates::{compute, lookback, WindowRates};

use crate::common::{print_rows, Output};

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
    if !only.is_empty() {
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
async fn ses_figure(
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

pub fn print(reports: &[ScopeReport], output: Output) -> anyhow::Result<()> {
    let header = [
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
    print_rows(output, &header, &rows, &serde_json::to_value(reports)?)
}
