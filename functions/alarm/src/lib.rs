//! The alarm Lambda, run on a schedule: judges every scope's rates and alerts through SNS when a
//! level changes.

use chrono::Utc;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use ses_ledger::ports::{
    AlertPublisher, AlertStateStore, CounterReader, ReputationSource, StoreError,
};
use ses_ledger::usecase::Alarm;

/// A run that could not finish: DynamoDB, SNS or CloudWatch failed. Not retried (the schedule
/// runs again); the function's Errors alarm reports it.
#[derive(Debug, thiserror::Error)]
#[error("alarm run stopped: {0}")]
pub struct AlarmError(#[from] StoreError);

impl From<AlarmError> for Diagnostic {
    fn from(error: AlarmError) -> Diagnostic {
        Diagnostic {
            error_type: "StoreUnavailable".into(),
            error_message: error.to_string(),
        }
    }
}

/// One scheduled run: the use case, then its report as logs and EMF metrics.
pub async fn handle<C, S, P, R>(
    app: &Alarm<C, S, P, R>,
    _event: LambdaEvent<Value>,
) -> Result<Value, AlarmError>
where
    C: CounterReader,
    S: AlertStateStore,
    P: AlertPublisher,
    R: ReputationSource,
{
    let report = app.run(Utc::now()).await?;
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
