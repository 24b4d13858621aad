//! Erasure requests: every item that names one recipient, found and deleted.
//!
//! A recipient is named by its event items (listed by the recipient index, `rcpt`) and its
//! suppression state (`RCPT#<address>`). Deleting an event item sends a REMOVE record down the
//! table's stream, which the count function ignores (as it ignores TTL deletions), so the counters
//! keep what the events added.

use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
use ses_ledger::ports::{RecipientEraser, RecipientItems, StoredEvent};

use super::items::{attr, attr_text, s};
use super::*;

/// BatchWriteItem's limit on requests per call.
const BATCH_SIZE: usize = 25;
/// Rounds of BatchWriteItem for the items a throttled call left unprocessed.
const MAX_BATCH_ATTEMPTS: u32 = 10;

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([(keys::PK.to_string(), s(pk)), (keys::SK.to_string(), s(sk))])
}

impl RecipientEraser for DynamoLedger {
    async fn recipient_items(&self, address: &str) -> Result<RecipientItems, StoreError> {
        // Keys only, and expired items too: an erasure does not wait for TTL.
        let mut pages = self
            .client
            .query()
            .table_name(&self.config.table_name)
            .index_name(RECIPIENT_INDEX)
            .key_condition_expression("#r = :r")
            .expression_attribute_names("#r", attr::RECIPIENT)
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":r", s(address))
            .projection_expression("#pk, #sk")
            .into_paginator()
            .items()
            .send();
        let mut events = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| StoreError::service("Query (recipient items)", e))?;
            let (pk, sk) = (attr_text(&item, keys::PK), attr_text(&item, keys::SK));
            let (ses_message_id, event_id) =
                keys::event_of_keys(pk, sk).ok_or_else(|| StoreError::Corrupt {
                    key: format!("{pk}/{sk}"),
                    message: "the recipient index lists an item that is no event item".into(),
                })?;
            events.push(StoredEvent {
                ses_message_id,
                event_id,
            });
        }
        events.sort();
        let summary = self
            .client
            .get_item()
            .table_name(&self.config.table_name)
            .set_key(Some(key(keys::recipient_pk(address), keys::SUMMARY_SK)))
            .projection_expression("#pk")
            .expression_attribute_names("#pk", keys::PK)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::service("GetItem (recipient items)", e))?;
        Ok(RecipientItems {
            events,
            suppression_state: summary.item.is_some(),
        })
    }

    /// One read of the whole recipient index (keys only): DynamoDB compares keys exactly, and a
    /// case variant of a partition key can only be found by reading them. About 0.5 read units
    /// per 4 KB of index (eventually consistent), a few cents for ten million events.
    async fn case_variants(&self, address: &str) -> Result<Vec<String>, StoreError> {
        let wanted = address.to_lowercase();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.config.table_name)
            .index_name(RECIPIENT_INDEX)
            .projection_expression("#r")
            .expression_attribute_names("#r", attr::RECIPIENT)
            .into_paginator()
            .items()
            .send();
        let mut found = std::collections::BTreeSet::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| StoreError::service("Scan (recipient index)", e))?;
            let recipient = attr_text(&item, attr::RECIPIENT);
            if recipient.to_lowercase() == wanted {
                found.insert(recipient.to_string());
            }
        }
        Ok(found.into_iter().collect())
    }

    async fn erase(&self, address: &str, items: &RecipientItems) -> Result<(), StoreError> {
        let mut keys: Vec<Item> = items
            .events
            .iter()
            .map(|e| {
                key(
                    keys::message_pk(&e.ses_message_id),
                    &keys::message_event_sk(&e.event_id),
                )
            })
            .collect();
        if items.suppression_state {
            keys.push(key(keys::recipient_pk(address), keys::SUMMARY_SK));
        }
        for chunk in keys.chunks(BATCH_SIZE) {
            self.delete_batch(address, chunk).await?;
        }
        Ok(())
    }
}

impl DynamoLedger {
    /// Deletes up to 25 items (a delete of an absent item succeeds), retrying what DynamoDB
    /// leaves unprocessed under throttling.
    async fn delete_batch(&self, address: &str, keys: &[Item]) -> Result<(), StoreError> {
        let mut pending: Vec<WriteRequest> = keys
            .iter()
            .map(|k| {
                DeleteRequest::builder()
                    .set_key(Some(k.clone()))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
                    .map_err(|e| StoreError::service("BatchWriteItem (forget)", e))
            })
            .collect::<Result<_, _>>()?;
        for attempt in 0..MAX_BATCH_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(super::write::backoff(attempt, address)).await;
            }
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.config.table_name, pending)
                .send()
                .await
                .map_err(|e| StoreError::service("BatchWriteItem (forget)", e))?;
            pending = out
                .unprocessed_items
                .and_then(|mut u| u.remove(&self.config.table_name))
                .unwrap_or_default();
            if pending.is_empty() {
                return Ok(());
            }
        }
        Err(StoreError::Exhausted {
            operation: "BatchWriteItem (forget)",
            attempts: MAX_BATCH_ATTEMPTS,
            message: format!("{} deletes still unprocessed (throttled)", pending.len()),
        })
    }
}
