//! The counters written from the table's change stream: for each stream batch, one `UpdateItem`
//! per counter (scope and hour) that adds the batch's sum and moves the shard's high-water mark
//! on the item, on the condition that the mark is still before the batch's first record for that
//! counter (see `ses_ledger::tally` for why that is exactly once). No transaction, no checkpoint
//! item, no read: an update is one item, and updates of different shards to a hot counter are
//! serialised by DynamoDB rather than refused. Readers sum a scope's items per hour.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;

use super::items::{n, s};
use super::*;
use ses_ledger::counters::Metric;
use ses_ledger::ports::{CounterAdded, CounterWriter};
use ses_ledger::tally::{CounterWrite, SequenceNumber};

/// The attribute holding a stream shard's high-water mark on a counter item: the last record of
/// that shard the counter has counted.
fn mark_attribute(shard: &str) -> String {
    format!("seq#{shard}")
}

impl CounterWriter for DynamoLedger {
    async fn add_once(
        &self,
        shard: &str,
        counter: &CounterWrite,
    ) -> Result<CounterAdded, StoreError> {
        const OPERATION: &str = "UpdateItem (counter)";
        let expires =
            (counter.bucket + TimeDelta::days(i64::from(self.config.counter_ttl_days))).timestamp();
        let mut adds = Vec::new();
        let mut names = HashMap::from([
            ("#mark".to_string(), mark_attribute(shard)),
            ("#x".to_string(), keys::EXPIRES_AT.to_string()),
            ("#b".to_string(), "bucket".to_string()),
        ]);
        let mut values = HashMap::from([
            (":first".to_string(), s(counter.first.as_str())),
            (":last".to_string(), s(counter.last.as_str())),
            (":x".to_string(), n(expires)),
            (":b".to_string(), s(keys::bucket_label(counter.bucket))),
        ]);
        // `fbl_complaints` on every item, zero or not: its presence tells readers the item was
        // counted with the feedback-loop numerator of today (read.rs).
        let fbl = Metric::FeedbackLoopComplaints;
        let amounts = counter
            .delta
            .metrics
            .iter()
            .map(|(m, v)| (m.attribute().to_string(), *v))
            .chain(
                (!counter.delta.metrics.contains_key(&fbl))
                    .then(|| (fbl.attribute().to_string(), 0)),
            )
            .chain(
                counter
                    .delta
                    .details
                    .iter()
                    .map(|(d, v)| (d.attribute(), *v)),
            );
        for (i, (attribute, amount)) in amounts.enumerate() {
            adds.push(format!("#m{i} :v{i}"));
            names.insert(format!("#m{i}"), attribute);
            values.insert(format!(":v{i}"), n(amount as i64));
        }
        let add = if adds.is_empty() {
            String::new()
        } else {
            format!("ADD {} ", adds.join(", "))
        };
        let key = || {
            format!(
                "{} {}",
                keys::counter_pk(&counter.scope),
                keys::counter_sk(counter.bucket)
            )
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.config.table_name)
            .key(keys::PK, s(keys::counter_pk(&counter.scope)))
            .key(keys::SK, s(keys::counter_sk(counter.bucket)))
            .update_expression(format!(
                "{add}SET #mark = :last, #x = if_not_exists(#x, :x), #b = if_not_exists(#b, :b)"
            ))
            .condition_expression("attribute_not_exists(#mark) OR #mark < :first")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        let error = match result {
            Ok(out) => {
                self.meter.consumed(OPERATION, 1, out.consumed_capacity());
                return Ok(CounterAdded::Added);
            }
            Err(error) => error,
        };
        let Some(UpdateItemError::ConditionalCheckFailedException(e)) = error.as_service_error()
        else {
            return Err(StoreError::service(OPERATION, error));
        };
        self.meter.failed(OPERATION, 1);
        let corrupt = |message: String| StoreError::Corrupt {
            key: key(),
            message,
        };
        let mark = e
            .item()
            .and_then(|i| i.get(&mark_attribute(shard)))
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| corrupt(format!("no mark of shard {shard}")))?;
        let mark = SequenceNumber::parse(mark).map_err(corrupt)?;
        if mark >= counter.last {
            return Ok(CounterAdded::AlreadyAdded);
        }
        if mark >= counter.first {
            return Ok(CounterAdded::CountedThrough(mark));
        }
        // The condition failed although the mark is before the range: another writer moved it
        // between the request and the answer, which one batch per shard at a time rules out.
        Err(corrupt(format!(
            "shard {shard}'s mark {} is before {}, yet the update was refused",
            mark.as_str(),
            counter.first.as_str()
        )))
    }
}
