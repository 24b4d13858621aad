//! The alarm Lambda, run on a schedule: judges every scope's rates and alerts through SNS when a
//! level changes.

use chrono::Utc;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use ses_ledger::ports::{
    AlertPublisher, AlertStateStore, CounterReader, ReputationSource, StoreError,
};
use ses_ledger::usecase::Alarm;

/// A run that failed. Not retried (the schedule runs again); the function's Errors alarm reports
/// it.
#[derive(Debug, thiserror::Error)]
pub enum AlarmError {
    /// DynamoDB or CloudWatch failed before the run was done.
    #[error("alarm run stopped: {0}")]
    Stopped(#[from] StoreError),
    /// Level changes were claimed but their alerts not sent (or not confirmed). They are not sent
    /// again: each is in the function's log in full.
    #[error("{count} alert(s) not sent, and not sent again (their text is in this function's log): {first}")]
    AlertsNotSent { count: usize, first: StoreError },
}

impl From<AlarmError> for Diagnostic {
    fn from(error: AlarmError) -> Diagnostic {
        let error_type = match &error {
            AlarmError::Stopped(_) => "StoreUnavailable",
            AlarmError::AlertsNotSent { .. } => "AlertNotSent",
        };
        Diagnostic {
            error_type: error_type.into(),
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
    for (alert, error) in &report.unsent {
        tracing::error!(
            subject = %alert.subject,
            body = %alert.body,
            error = %error,
            "alert not sent: the level change is recorded, so it is not sent again"
        );
    }
    if let Some((_, first)) = report.unsent.first() {
        return Err(AlarmError::AlertsNotSent {
            count: report.unsent.len(),
            first: first.clone(),
        });
    }
    Ok(serde_json::json!({
        "scopes_evaluated": report.evaluations.len() / 2,
        "alerts": report.alerts.iter().map(|a| &a.subject).collect::<Vec<_>>(),
    }))
}
