//! Every address the ledger suppresses, for the comparison with SES's suppression list.
//!
//! Suppression states are the `RCPT#<address>`/`SUMMARY` items. No index lists them (ingest would
//! pay for it on every bounce and complaint, for a command an operator runs now and then), so
//! this is a Scan of the table that returns only suppressed summaries: it reads every item once,
//! about 0.5 read units per 4 KB eventually consistent (docs/dynamodb-design.md has the price).

use super::items::{attr_text, expires_at, s, SummaryItem};
use super::*;

use ses_ledger::ports::SuppressedAddresses;
use ses_ledger::suppression_list::LedgerSuppressed;

impl SuppressedAddresses for DynamoLedger {
    async fn suppressed_addresses(&self) -> Result<Vec<LedgerSuppressed>, StoreError> {
        let now = Utc::now().timestamp();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.config.table_name)
            .filter_expression("#sk = :summary AND #suppressed = :yes")
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_names("#suppressed", "suppressed")
            .expression_attribute_values(":summary", s(keys::SUMMARY_SK))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .into_paginator()
            .items()
            .send();
        let mut found = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| StoreError::service("Scan (suppressed addresses)", e))?;
            let pk = attr_text(&item, keys::PK).to_string();
            let Some(address) = keys::recipient_of_pk(&pk) else {
                continue;
            };
            // Expired items linger until TTL deletes them; every read leaves them out.
            if expires_at(&item).is_some_and(|at| at <= now) {
                continue;
            }
            let summary = RecipientSummary::try_from(SummaryItem(item)).map_err(|message| {
                StoreError::Corrupt {
                    key: pk.clone(),
                    message,
                }
            })?;
            if let Some(suppression) = summary.suppression {
                found.push(LedgerSuppressed {
                    address: address.to_string(),
                    suppression,
                });
            }
        }
        found.sort_by(|a, b| a.address.cmp(&b.address));
        Ok(found)
    }
}
