//! The alarm Lambda, run on a schedule: judges every scope's rates and alerts through SNS when a
//! level changes.

use chrono::Utc;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use ses_ledger::alarm::{run, AlarmConfig};
use ses_ledger::ports::{AlertPublisher, AlertStateStore, CounterReader, ReputationSource};

/// Everything built once per cold start.
pub struct Alarm<C, P, R> {
    /// Counters and alert state live in the same table.
    pub ledger: C,
    pub publisher: P,
    pub reputation: R,
    pub config: AlarmConfig,
    /// The event stream's log group, named in alerts' Logs Insights queries.
    pub event_log_group: String,
}

pub async fn handle<C, P, R>(
    app: &Alarm<C, P, R>,
    _event: LambdaEvent<Value>,
) -> Result<Value, Error>
where
    C: CounterReader + AlertStateStore,
    P: AlertPublisher,
    R: ReputationSource,
{
    let now = Utc::now();
    let report = run(
        &app.ledger,
        &app.ledger,
        &app.publisher,
        &app.reputation,
        &app.config,
        &app.event_log_group,
        now,
    )
    .await?;
    // Embedded Metric Format: CloudWatch turns these stdout lines into SesLedger metrics.
    for line in &report.metrics {
        println!("{line}");
    }
    for e in &report.evaluations {
        tracing::info!(
            scope = %e.scope,
            metric = e.kind.as_str(),
            level = e.level.as_str(),
            previous = e.previous.as_str(),
            judged_rate = e.judged.and_then(|(_, r)| r.value()),
            ses_figure = %e.ses.describe(),
            "evaluated"
        );
    }
    Ok(serde_json::json!({
        "scopes_evaluated": report.evaluations.len() / 2,
        "alerts": report.alerts.iter().map(|a| &a.subject).collect::<Vec<_>>(),
    }))
}
