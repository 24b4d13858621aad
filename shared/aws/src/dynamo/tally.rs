//! The counters written from the table's change stream: one transaction per chunk, holding every
//! counter update of the chunk and the batch's checkpoint, conditional on the checkpoint being
//! where the plan started.
//!
//! Hot counters without contention, by construction: each writer (one Lambda execution
//! environment, which runs one batch at a time) adds to its own counter item per scope and hour,
//! and each batch has its own checkpoint item, so no two concurrent transactions name the same
//! item and none is cancelled by `TransactionConflict`. Readers sum a scope's items per hour, as
//! they sum shards. A conflict could only come from outside this design; it is retried with
//! backoff and counted in the meter.

// The adapter's imports, types and helpers are shared by its parts.
#[allow(unused_imports)]
use super::items::*;
use super::write::{classify_cancellation, Cancelled};
use super::*;
use ses_ledger::ports::CounterWriter;
use ses_ledger::tally::{Chunk, CounterDelta, SequenceNumber};

/// The sort key of a stream shard's counter checkpoint (`CKPT#<stream shard>`).
const CHECKPOINT_SK: &str = "COUNTERS";

impl DynamoLedger {
    fn delta_update(
        &self,
        scope: &Scope,
        bucket: DateTime<Utc>,
        delta: &CounterDelta,
    ) -> Result<TransactWriteItem, StoreError> {
        let counter_expiry =
            (bucket + TimeDelta::days(i64::from(self.config.counter_ttl_days))).timestamp();
        let mut adds = Vec::new();
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let amounts = delta
            .metrics
            .iter()
            .map(|(m, v)| (m.attribute().to_string(), *v))
            .chain(delta.details.iter().map(|(d, v)| (d.attribute(), *v)));
        for (i, (attribute, amount)) in amounts.enumerate() {
            adds.push(format!("#m{i} :v{i}"));
            names.insert(format!("#m{i}"), attribute);
            values.insert(format!(":v{i}"), n(amount as i64));
        }
        names.insert("#x".into(), keys::EXPIRES_AT.into());
        names.insert("#b".into(), "bucket".into());
        values.insert(":x".into(), n(counter_expiry));
        values.insert(":b".into(), s(keys::bucket_label(bucket)));
        let update = Update::builder()
            .table_name(&self.config.table_name)
            .key(keys::PK, s(keys::counter_pk(scope)))
            .key(keys::SK, s(keys::writer_counter_sk(bucket, &self.writer)))
            .update_expression(format!(
                "ADD {} SET #x = if_not_exists(#x, :x), #b = if_not_exists(#b, :b)",
                adds.join(", ")
            ))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::service("build Update", e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    fn checkpoint_put(
        &self,
        batch: &SequenceNumber,
        from: Option<&SequenceNumber>,
        to: &SequenceNumber,
    ) -> Result<TransactWriteItem, StoreError> {
        // A stream keeps records 24 hours, so no retry can come after two days.
        let expires = (Utc::now() + TimeDelta::days(2)).timestamp();
        let builder = Put::builder()
            .table_name(&self.config.table_name)
            .item(keys::PK, s(keys::checkpoint_pk(batch)))
            .item(keys::SK, s(CHECKPOINT_SK))
            .item("seq", s(to.as_str()))
            .item(keys::EXPIRES_AT, n(expires));
        let builder = match from {
            None => builder.condition_expression("attribute_not_exists(pk)"),
            Some(from) => builder
                .condition_expression("seq = :from")
                .expression_attribute_values(":from", s(from.as_str())),
        };
        let put = builder
            .build()
            .map_err(|e| StoreError::service("build Put", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

impl CounterWriter for DynamoLedger {
    async fn checkpoint(
        &self,
        batch: &SequenceNumber,
    ) -> Result<Option<SequenceNumber>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.config.table_name)
            .key(keys::PK, s(keys::checkpoint_pk(batch)))
            .key(keys::SK, s(CHECKPOINT_SK))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| StoreError::service("GetItem (checkpoint)", e))?;
        self.meter
            .consumed("GetItem (checkpoint)", 1, out.consumed_capacity());
        let Some(seq) = out
            .item
            .as_ref()
            .and_then(|i| i.get("seq"))
            .and_then(|v| v.as_s().ok())
        else {
            return Ok(None);
        };
        SequenceNumber::parse(seq)
            .map(Some)
            .map_err(|message| StoreError::Corrupt {
                key: keys::checkpoint_pk(batch),
                message,
            })
    }

    async fn apply(
        &self,
        batch: &SequenceNumber,
        from: Option<&SequenceNumber>,
        chunk: &Chunk,
    ) -> Result<bool, StoreError> {
        for attempt in 0..MAX_CONFLICT_ATTEMPTS {
            let mut items = vec![self.checkpoint_put(batch, from, &chunk.last)?];
            for ((scope, bucket), delta) in &chunk.deltas {
                items.push(self.delta_update(scope, *bucket, delta)?);
            }
            let Err(error) = self
                .transact("TransactWriteItems (counters)", items, 0.0)
                .await
            else {
                return Ok(true);
            };
            // The checkpoint is the first item: its condition failing means another attempt
            // applied this chunk first. Counter items have no condition, so contention here
            // can only be a conflict.
            match classify_cancellation(&error) {
                Some(Cancelled::Duplicate { .. }) => return Ok(false),
                Some(Cancelled::Contention) => {}
                Some(Cancelled::Other(message)) => {
                    return Err(StoreError::Refused {
                        operation: "TransactWriteItems (counters)",
                        message,
                    })
                }
                None => return Err(StoreError::service("TransactWriteItems (counters)", error)),
            }
            self.meter.conflict("TransactWriteItems (counters)");
            tokio::time::sleep(super::write::backoff(attempt, batch.as_str())).await;
        }
        Err(StoreError::Exhausted {
            operation: "TransactWriteItems (counters)",
            attempts: MAX_CONFLICT_ATTEMPTS,
            message: "counter items busy".into(),
        })
    }
}
