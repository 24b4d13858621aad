//! The alarm's tenant status adapter (`SesReputation::tenant_status`) over the wire, against the
//! SES v2 stand-in of src/ses_v2.rs (moto has no tenants): the real SDK's requests, SES's
//! answers mapped field by field, an unknown tenant and a missing reputation entity.

use ses_ledger::alarm::{StatusRecord, TenantStanding, TenantStatus};
use ses_ledger::ports::ReputationSource;
use ses_ledger_aws::ses_reputation::SesReputation;
use ses_ledger_integration_tests::ses_v2::SesV2Stub;

async fn reputation(stub: &SesV2Stub) -> SesReputation {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sesv2::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .endpoint_url(&stub.url)
        .load()
        .await;
    SesReputation::new(
        aws_sdk_cloudwatch::Client::new(&sdk),
        aws_sdk_sesv2::Client::new(&sdk),
    )
}

#[tokio::test]
async fn a_tenant_s_status_is_read_from_get_tenant_and_its_reputation_entity() {
    let stub = SesV2Stub::start(10, &[]).await;
    stub.add_tenant(
        "acme",
        "DISABLED",
        Some(serde_json::json!({
            "AwsSesManagedStatus": { "Status": "DISABLED", "Cause": "complaint rate", "LastUpdatedTimestamp": 1_760_000_000 },
            "CustomerManagedStatus": { "Status": "ENABLED" },
            "SendingStatusAggregate": "DISABLED",
            "ReputationImpact": "HIGH",
            "ReputationManagementPolicy": "arn:aws:ses:us-east-1:aws:reputation-policy/standard",
        })),
    );
    stub.add_tenant("globex", "ENABLED", None);
    let ses = reputation(&stub).await;

    assert_eq!(
        ses.tenant_status("acme").await.expect("answered"),
        TenantStatus::Reported(TenantStanding {
            sending_status: Some("DISABLED".into()),
            ses_managed: Some(StatusRecord {
                status: Some("DISABLED".into()),
                cause: Some("complaint rate".into()),
            }),
            customer_managed: Some(StatusRecord {
                status: Some("ENABLED".into()),
                cause: None,
            }),
            reputation_impact: Some("HIGH".into()),
            policy: Some("arn:aws:ses:us-east-1:aws:reputation-policy/standard".into()),
        })
    );
    // No reputation entity: the tenant's own sending status is still reported.
    assert_eq!(
        ses.tenant_status("globex").await.expect("answered"),
        TenantStatus::Reported(TenantStanding {
            sending_status: Some("ENABLED".into()),
            ..TenantStanding::default()
        })
    );
    assert_eq!(
        ses.tenant_status("initech").await.expect("answered"),
        TenantStatus::Unavailable("SES knows no tenant named \"initech\"".into())
    );
}
