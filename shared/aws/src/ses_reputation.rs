//! Everything SES says about reputation, as core's [`ReputationSource`]: its rate figures from
//! CloudWatch ([`CloudWatchReputation`]) and a tenant's status from SES v2 (`GetTenant` for its
//! ARN and sending status, then `GetReputationEntity` on that ARN for the SES-managed and
//! customer-managed statuses, impact and policy).

use aws_sdk_sesv2::types::{ReputationEntityType, SendingStatus};
use chrono::{DateTime, Utc};
use ses_ledger::alarm::{RateKind, SesFigure, StatusRecord, TenantStanding, TenantStatus};
use ses_ledger::counters::Scope;
use ses_ledger::ports::{ReputationSource, StoreError};

use crate::cloudwatch_metrics::CloudWatchReputation;

pub struct SesReputation {
    metrics: CloudWatchReputation,
    ses: aws_sdk_sesv2::Client,
}

impl SesReputation {
    pub fn new(cloudwatch: aws_sdk_cloudwatch::Client, ses: aws_sdk_sesv2::Client) -> Self {
        SesReputation {
            metrics: CloudWatchReputation::new(cloudwatch),
            ses,
        }
    }
}

fn status_text(status: Option<&SendingStatus>) -> Option<String> {
    status.map(|s| s.as_str().to_string())
}

impl ReputationSource for SesReputation {
    async fn ses_figure(
        &self,
        scope: &Scope,
        kind: RateKind,
        now: DateTime<Utc>,
    ) -> Result<SesFigure, StoreError> {
        self.metrics.ses_figure(scope, kind, now).await
    }

    async fn tenant_status(&self, tenant: &str) -> Result<TenantStatus, StoreError> {
        let found = match self.ses.get_tenant().tenant_name(tenant).send().await {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_not_found_exception()) =>
            {
                return Ok(TenantStatus::Unavailable(format!(
                    "SES knows no tenant named {tenant:?}"
                )))
            }
            Err(e) => return Err(StoreError::service("GetTenant", e)),
        };
        let Some(t) = found.tenant() else {
            return Ok(TenantStatus::Unavailable(
                "GetTenant returned no tenant".into(),
            ));
        };
        let mut standing = TenantStanding {
            sending_status: status_text(t.sending_status()),
            ..TenantStanding::default()
        };
        let Some(arn) = t.tenant_arn() else {
            return Ok(TenantStatus::Reported(standing));
        };
        match self
            .ses
            .get_reputation_entity()
            .reputation_entity_type(ReputationEntityType::Resource)
            .reputation_entity_reference(arn)
            .send()
            .await
        {
            Ok(out) => {
                if let Some(entity) = out.reputation_entity() {
                    let record = |r: Option<&aws_sdk_sesv2::types::StatusRecord>| {
                        r.map(|r| StatusRecord {
                            status: status_text(r.status()),
                            cause: r.cause().map(str::to_string),
                        })
                    };
                    standing.ses_managed = record(entity.aws_ses_managed_status());
                    standing.customer_managed = record(entity.customer_managed_status());
                    standing.reputation_impact =
                        entity.reputation_impact().map(|i| i.as_str().to_string());
                    standing.policy = entity.reputation_management_policy().map(str::to_string);
                }
            }
            // The tenant's own sending status is the part that matters most: keep it, and say
            // in the function's log why the rest is missing.
            Err(e) => tracing::warn!(
                tenant,
                error = %StoreError::service("GetReputationEntity", e),
                "tenant reputation entity unavailable"
            ),
        }
        Ok(TenantStatus::Reported(standing))
    }
}
