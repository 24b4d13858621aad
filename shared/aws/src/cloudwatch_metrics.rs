//! SES's own reputation figures from CloudWatch (`AWS/SES`, `Reputation.ComplaintRate` and
//! `Reputation.BounceRate`, fractions). SES publishes them for the account and, when enabled, per
//! configuration set; for other scopes there is nothing to compare with.

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_sdk_cloudwatch::Client;
use chrono::{DateTime, Duration, Utc};

use ses_ledger::alarm::{RateKind, SesFigure};
use ses_ledger::counters::Scope;
use ses_ledger::ports::{ReputationSource, StoreError};

pub const SES_NAMESPACE: &str = "AWS/SES";
/// SES's dimension for per-configuration-set reputation metrics.
pub const CONFIGURATION_SET_DIMENSION: &str = "ses:configuration-set";
/// How far back to look for the latest data point (SES emits them irregularly).
const LOOKBACK: Duration = Duration::days(2);

pub struct CloudWatchReputation {
    client: Client,
}

impl CloudWatchReputation {
    pub fn new(client: Client) -> Self {
        CloudWatchReputation { client }
    }
}

impl ReputationSource for CloudWatchReputation {
    async fn ses_figure(
        &self,
        scope: &Scope,
        kind: RateKind,
        now: DateTime<Utc>,
    ) -> Result<SesFigure, StoreError> {
        let mut metric = Metric::builder()
            .namespace(SES_NAMESPACE)
            .metric_name(kind.ses_metric());
        match scope {
            Scope::Account => {}
            Scope::ConfigurationSet(name) => {
                metric = metric.dimensions(
                    Dimension::builder()
                        .name(CONFIGURATION_SET_DIMENSION)
                        .value(name)
                        .build(),
                );
            }
            _ => return Ok(SesFigure::NotPublished),
        }
        let query = MetricDataQuery::builder()
            .id("ses")
            .metric_stat(
                MetricStat::builder()
                    .metric(metric.build())
                    .period(300)
                    .stat("Maximum")
                    .build(),
            )
            .return_data(true)
            .build();
        let to = now + Duration::minutes(5);
        let out = self
            .client
            .get_metric_data()
            .metric_data_queries(query)
            .start_time(aws_smithy_types::DateTime::from_secs(
                (to - LOOKBACK).timestamp(),
            ))
            .end_time(aws_smithy_types::DateTime::from_secs(to.timestamp()))
            .scan_by(aws_sdk_cloudwatch::types::ScanBy::TimestampDescending)
            .send()
            .await
            .map_err(|e| StoreError::service("GetMetricData (SES reputation)", e))?;
        // The newest point, whatever order the service returned them in.
        let newest = out
            .metric_data_results()
            .iter()
            .flat_map(|r| r.timestamps().iter().zip(r.values()))
            .max_by_key(|(t, _)| t.secs())
            .map(|(_, v)| *v);
        Ok(newest.map_or(SesFigure::Missing, SesFigure::Reported))
    }
}
