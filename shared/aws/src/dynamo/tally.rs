//! The counters written from the table's change stream: one conditional `PutItem` per counter a
//! batch adds to, named by the first stream record that contributes to it (see `ses_ledger::tally`
//! for why that is exactly once). No transaction and no checkpoint: each item is written once
//! and never updated, so concurrent consumers (one per stream shard) never touch the same item
//! and there is nothing to conflict or throttle on one key. Readers sum a scope's items per hour.

use aws_sdk_dynamodb::operation::put_item::PutItemError;

use super::capacity::put_write_units;
// The adapter's imports, types and helpers are shared by its parts.
#[allow(unused_imports)]
use super::items::*;
use super::*;
use ses_ledger::ports::{CounterWriter, CounterWritten};
use ses_ledger::tally::{CounterWrite, SequenceNumber};

/// The attribute holding the last stream record a counter item covers.
const LAST_RECORD: &str = "last";

impl DynamoLedger {
    fn counter_item(&self, counter: &CounterWrite) -> Item {
        let expires =
            (counter.bucket + TimeDelta::days(i64::from(self.config.counter_ttl_days))).timestamp();
        let mut item = Item::from([
            (keys::PK.to_string(), s(keys::counter_pk(&counter.scope))),
            (
                keys::SK.to_string(),
                s(keys::counter_sk(counter.bucket, &counter.first)),
            ),
            ("bucket".to_string(), s(keys::bucket_label(counter.bucket))),
            (LAST_RECORD.to_string(), s(counter.last.as_str())),
            (keys::EXPIRES_AT.to_string(), n(expires)),
        ]);
        for (metric, amount) in &counter.delta.metrics {
            item.insert(metric.attribute().to_string(), n(*amount as i64));
        }
        for (detail, amount) in &counter.delta.details {
            item.insert(detail.attribute(), n(*amount as i64));
        }
        item
    }
}

impl CounterWriter for DynamoLedger {
    async fn write_new(&self, counter: &CounterWrite) -> Result<CounterWritten, StoreError> {
        const OPERATION: &str = "PutItem (counter)";
        let item = self.counter_item(counter);
        let units = put_write_units(&item);
        let result = self
            .client
            .put_item()
            .table_name(&self.config.table_name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        let error = match result {
            Ok(out) => {
                self.meter
                    .computed(OPERATION, 1, units, out.consumed_capacity());
                return Ok(CounterWritten::New);
            }
            Err(error) => error,
        };
        let Some(PutItemError::ConditionalCheckFailedException(e)) = error.as_service_error()
        else {
            return Err(StoreError::service(OPERATION, error));
        };
        self.meter.failed(OPERATION, 1);
        let corrupt = |message: String| StoreError::Corrupt {
            key: format!(
                "{} {}",
                keys::counter_pk(&counter.scope),
                keys::counter_sk(counter.bucket, &counter.first)
            ),
            message,
        };
        let last = e
            .item()
            .and_then(|i| i.get(LAST_RECORD))
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| corrupt(format!("no {LAST_RECORD:?} attribute")))?;
        let last = SequenceNumber::parse(last).map_err(corrupt)?;
        Ok(CounterWritten::Exists { last })
    }
}
