//! What SES says of one of its tenants, shown in an alert for that tenant's scope beside the
//! ledger's figures: its sending status, and the reputation entity's SES-managed and
//! customer-managed statuses and impact (SES v2 `GetTenant`, `GetReputationEntity`).

use serde::Serialize;

/// One of a reputation entity's two status records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusRecord {
    /// `ENABLED`, `REINSTATED` or `DISABLED`.
    pub status: Option<String>,
    pub cause: Option<String>,
}

impl StatusRecord {
    fn describe(&self) -> String {
        let status = self.status.as_deref().unwrap_or("unknown");
        match self.cause.as_deref().filter(|c| !c.trim().is_empty()) {
            Some(cause) => format!("{status} ({cause})"),
            None => status.to_string(),
        }
    }
}

/// SES's view of one tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TenantStanding {
    /// The tenant's sending status (`GetTenant`).
    pub sending_status: Option<String>,
    /// Set by SES from its findings: `DISABLED` means SES stopped this tenant's sending.
    pub ses_managed: Option<StatusRecord>,
    /// Set by the account owner.
    pub customer_managed: Option<StatusRecord>,
    /// `LOW` or `HIGH`: the highest-impact reputation finding SES holds for it.
    pub reputation_impact: Option<String>,
    /// The reputation management policy (`…:reputation-policy/standard`, `strict`, `none`).
    pub policy: Option<String>,
}

/// SES's tenant status as an alert shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "value")]
pub enum TenantStatus {
    Reported(TenantStanding),
    /// SES could not be asked or did not answer: why (no permission, no such tenant, ...).
    Unavailable(String),
}

impl TenantStatus {
    /// One line for an alert.
    pub fn describe(&self) -> String {
        match self {
            TenantStatus::Unavailable(why) => format!("unavailable ({why})"),
            TenantStatus::Reported(t) => {
                let mut parts = vec![format!(
                    "sending {}",
                    t.sending_status.as_deref().unwrap_or("unknown")
                )];
                if let Some(s) = &t.ses_managed {
                    parts.push(format!("SES-managed status {}", s.describe()));
                }
                if let Some(s) = &t.customer_managed {
                    parts.push(format!("customer-managed status {}", s.describe()));
                }
                if let Some(i) = &t.reputation_impact {
                    parts.push(format!("reputation impact {i}"));
                }
                if let Some(p) = &t.policy {
                    let short = p.rsplit('/').next().unwrap_or(p);
                    parts.push(format!("policy {short}"));
                }
                parts.join("; ")
            }
        }
    }

    /// True when SES has stopped the tenant's sending, whatever our figures say.
    pub fn sending_stopped(&self) -> bool {
        match self {
            TenantStatus::Reported(t) => {
                t.sending_status.as_deref() == Some("DISABLED")
                    || t.ses_managed.as_ref().and_then(|s| s.status.as_deref()) == Some("DISABLED")
            }
            TenantStatus::Unavailable(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_ses_stopped_says_so_with_its_cause() {
        let status = TenantStatus::Reported(TenantStanding {
            sending_status: Some("DISABLED".into()),
            ses_managed: Some(StatusRecord {
                status: Some("DISABLED".into()),
                cause: Some("complaint rate above the policy's limit".into()),
            }),
            customer_managed: Some(StatusRecord {
                status: Some("ENABLED".into()),
                cause: None,
            }),
            reputation_impact: Some("HIGH".into()),
            policy: Some("arn:aws:ses:us-east-1:aws:reputation-policy/standard".into()),
        });
        assert_eq!(
            status.describe(),
            "sending DISABLED; SES-managed status DISABLED (complaint rate above the policy's limit); \
             customer-managed status ENABLED; reputation impact HIGH; policy standard"
        );
        assert!(status.sending_stopped());
        assert!(!TenantStatus::Unavailable("AccessDenied".into()).sending_stopped());
        assert!(!TenantStatus::Reported(TenantStanding {
            sending_status: Some("ENABLED".into()),
            ..TenantStanding::default()
        })
        .sending_stopped());
    }
}
