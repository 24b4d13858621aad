//! One alarm run as a type over its four ports: every scope, both rates.

use chrono::{DateTime, Utc};

use crate::alarm::{
    compose_alert, emf_lines, evaluate, AlarmConfig, Alert, Evaluation, RateKind, SesFigure,
    TenantStatus,
};
use crate::ledger::counters::Scope;
use crate::ports::{AlertPublisher, AlertStateStore, CounterReader, ReputationSource, StoreError};

/// What one alarm run saw and did.
#[derive(Debug, Default)]
pub struct AlarmReport {
    pub evaluations: Vec<Evaluation>,
    pub alerts: Vec<Alert>,
    /// Level changes claimed whose alert could not be sent (or may not have been: a publish that
    /// fails after SNS accepted it looks the same). They are not sent again; the function fails
    /// the run so its Errors alarm reports them, and logs each alert in full.
    pub unsent: Vec<(Alert, StoreError)>,
    /// Embedded Metric Format lines for stdout.
    pub metrics: Vec<serde_json::Value>,
}

/// The alarm over its ports: counters to read, alert state to keep, a publisher for alerts and
/// SES's own figures.
pub struct Alarm<C, S, P, R> {
    pub counters: C,
    pub state: S,
    pub publisher: P,
    pub reputation: R,
    pub config: AlarmConfig,
    /// The event log group the alert's queries name.
    pub log_group: String,
}

impl<C, S, P, R> Alarm<C, S, P, R>
where
    C: CounterReader,
    S: AlertStateStore,
    P: AlertPublisher,
    R: ReputationSource,
{
    /// One run. Reads per scope are bounded (one counter query over the longest window, two state
    /// reads, at most two metric reads), whatever the event volume.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<AlarmReport, StoreError> {
        let config = &self.config;
        let mut report = AlarmReport::default();
        let to = crate::ledger::counters::bucket_of(now);
        let from = to - crate::ledger::rates::lookback(&config.windows);
        for scope in self.counters.scopes().await? {
            if !scope.has_rates() {
                continue;
            }
            let hours = self.counters.hourly(&scope, from, to).await?;
            let windows = crate::ledger::rates::compute(&hours, now, &config.windows);
            report.metrics.extend(emf_lines(&scope, &windows, now));
            for kind in [RateKind::Complaint, RateKind::Bounce] {
                let previous = self.state.alert_level(&scope, kind).await?;
                let ses = match self.reputation.ses_figure(&scope, kind, now).await {
                    Ok(figure) => figure,
                    Err(e) => {
                        tracing::warn!(scope = %scope, metric = kind.ses_metric(), error = %e, "SES's figure unavailable");
                        SesFigure::Missing
                    }
                };
                let mut evaluation =
                    evaluate(scope.clone(), kind, windows.clone(), previous, ses, config);
                // At most once per level change: the change is claimed before the alert goes
                // out, so neither a retried publish nor a second run can send it twice. The
                // price: an alert whose publish fails is not sent again (docs/architecture.md).
                let claimed = evaluation.changed()
                    && self
                        .state
                        .claim_level_change(&scope, kind, previous, evaluation.level, now)
                        .await?;
                if claimed {
                    // Asked only for an alert: SES's tenant APIs are rate-limited, and a level
                    // change is when the answer matters.
                    if let Scope::Tenant(tenant) = &scope {
                        evaluation.ses_tenant =
                            Some(match self.reputation.tenant_status(tenant).await {
                                Ok(status) => status,
                                Err(e) => TenantStatus::Unavailable(e.to_string()),
                            });
                    }
                    let alert = compose_alert(&evaluation, config, &self.log_group);
                    match self.publisher.publish(&alert).await {
                        Ok(()) => report.alerts.push(alert),
                        Err(e) => report.unsent.push((alert, e)),
                    }
                }
                report.evaluations.push(evaluation);
            }
        }
        Ok(report)
    }
}
