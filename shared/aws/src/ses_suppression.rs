//! SES's account-level suppression list (SES v2 `ListSuppressedDestinations`,
//! `PutSuppressedDestination`) as core's [`SesSuppressionList`].

use aws_sdk_sesv2::types::SuppressionListReason;
use chrono::{DateTime, Utc};
use ses_ledger::ports::{SesSuppressionList, StoreError};
use ses_ledger::suppression_list::{SesSuppressed, SesSuppressionReason};

/// The largest page SES returns.
const PAGE_SIZE: i32 = 1000;

pub struct SesAccountSuppressionList {
    client: aws_sdk_sesv2::Client,
}

impl SesAccountSuppressionList {
    pub fn new(client: aws_sdk_sesv2::Client) -> Self {
        SesAccountSuppressionList { client }
    }
}

fn ses_reason(reason: SesSuppressionReason) -> SuppressionListReason {
    match reason {
        SesSuppressionReason::Bounce => SuppressionListReason::Bounce,
        SesSuppressionReason::Complaint => SuppressionListReason::Complaint,
    }
}

fn reason_of(reason: &SuppressionListReason) -> Option<SesSuppressionReason> {
    match reason {
        SuppressionListReason::Bounce => Some(SesSuppressionReason::Bounce),
        SuppressionListReason::Complaint => Some(SesSuppressionReason::Complaint),
        _ => None,
    }
}

impl SesSuppressionList for SesAccountSuppressionList {
    async fn entries(&self) -> Result<Vec<SesSuppressed>, StoreError> {
        let mut pages = self
            .client
            .list_suppressed_destinations()
            .page_size(PAGE_SIZE)
            .into_paginator()
            .send();
        let mut entries = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| StoreError::service("ListSuppressedDestinations", e))?;
            for summary in page.suppressed_destination_summaries() {
                let updated = summary.last_update_time();
                entries.push(SesSuppressed {
                    address: summary.email_address().to_string(),
                    reason: reason_of(summary.reason()),
                    last_update: DateTime::<Utc>::from_timestamp(
                        updated.secs(),
                        updated.subsec_nanos(),
                    ),
                });
            }
        }
        Ok(entries)
    }

    async fn add(&self, address: &str, reason: SesSuppressionReason) -> Result<(), StoreError> {
        self.client
            .put_suppressed_destination()
            .email_address(address)
            .reason(ses_reason(reason))
            .send()
            .await
            .map_err(|e| StoreError::service("PutSuppressedDestination", e))?;
        Ok(())
    }
}
