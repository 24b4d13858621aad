//! What the event path's DynamoDB requests consumed, as DynamoDB reports it
//! (`ReturnConsumedCapacity=TOTAL`, free to ask for). The write-cost measurement
//! (tests/examples/write_cost.rs) sums it over a month of events; the functions do not report it
//! yet (a per-invocation metric is part of issue 11's switch-over).
//!
//! DynamoDB reports nothing for a request that fails its condition or a cancelled transaction,
//! though both are billed; those are counted here, with the items they named, so a report can
//! price them by the documented rule instead of leaving them out.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity, TransactWriteItem};

/// One operation's totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Consumed {
    pub requests: u64,
    /// Capacity units DynamoDB reported for successful requests (writes and reads together, as
    /// `CapacityUnits` gives them; the operation says which).
    pub units: f64,
    /// Requests that failed a condition or were cancelled: billed, but not reported.
    pub unreported_failures: u64,
    /// Items named by the requests (transactions name several).
    pub items: u64,
    /// Transactions cancelled because another one held an item (`TransactionConflict`).
    pub conflicts: u64,
}

#[derive(Debug, Default)]
pub struct CapacityMeter(Mutex<BTreeMap<&'static str, Consumed>>);

impl CapacityMeter {
    fn with(&self, operation: &'static str, f: impl FnOnce(&mut Consumed)) {
        if let Ok(mut totals) = self.0.lock() {
            f(totals.entry(operation).or_default());
        }
    }

    /// A successful request and what DynamoDB said it consumed.
    pub fn consumed<'a>(
        &self,
        operation: &'static str,
        items: usize,
        capacity: impl IntoIterator<Item = &'a ConsumedCapacity>,
    ) {
        self.succeeded(operation, items, reported_units(capacity));
    }

    /// A committed write whose units are also computed by DynamoDB's rules, and the larger
    /// figure kept. DynamoDB Local reports a transaction as if it wrote one item (measured: nine
    /// counter updates reported as 2 units) and reports no index writes, so `computed` is
    /// [`transaction_write_units`] or [`put_write_units`] of the items, taken before they were
    /// sent.
    pub fn computed<'a>(
        &self,
        operation: &'static str,
        items: usize,
        computed: f64,
        reported: impl IntoIterator<Item = &'a ConsumedCapacity>,
    ) {
        self.succeeded(operation, items, reported_units(reported).max(computed));
    }

    fn succeeded(&self, operation: &'static str, items: usize, units: f64) {
        self.with(operation, |c| {
            c.requests += 1;
            c.units += units;
            c.items += items as u64;
        });
    }

    /// A request that failed its condition or a cancelled transaction.
    pub fn failed(&self, operation: &'static str, items: usize) {
        self.with(operation, |c| {
            c.requests += 1;
            c.unreported_failures += 1;
            c.items += items as u64;
        });
    }

    /// A transaction cancelled by a conflict (already counted as failed).
    pub fn conflict(&self, operation: &'static str) {
        self.with(operation, |c| c.conflicts += 1);
    }

    /// Totals per operation since the meter was made.
    pub fn snapshot(&self) -> BTreeMap<&'static str, Consumed> {
        self.0.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Reported units over every operation.
    pub fn total_units(&self) -> f64 {
        self.snapshot().values().map(|c| c.units).sum()
    }
}

fn reported_units<'a>(capacity: impl IntoIterator<Item = &'a ConsumedCapacity>) -> f64 {
    capacity
        .into_iter()
        .filter_map(ConsumedCapacity::capacity_units)
        .sum()
}

fn kb(bytes: usize) -> f64 {
    bytes.max(1).div_ceil(1024) as f64
}

/// Write units of a plain put by DynamoDB's rules: 1 per started KB of the item, plus the same
/// for its entry in the recipient index.
pub fn put_write_units(item: &HashMap<String, AttributeValue>) -> f64 {
    kb(item_size(item)) + index_write_units(item)
}

/// Write units of an item's entry in the recipient index (0 when it has none).
pub fn index_write_units(item: &HashMap<String, AttributeValue>) -> f64 {
    super::items::recipient_index_entry(item).map_or(0.0, |entry| kb(item_size(&entry)))
}

/// Stored bytes of an item's recipient index entry, DynamoDB's 100 bytes of overhead included (0
/// when the index does not hold it): for measuring storage.
pub fn recipient_index_entry_size(item: &HashMap<String, AttributeValue>) -> usize {
    super::items::recipient_index_entry(item).map_or(0, |entry| item_size(&entry) + 100)
}

/// Write units of a transaction by DynamoDB's rules: each action at twice the units of its item
/// (1 per started KB). An update is sized by its key and the values it writes, which is exact for
/// the small items the event path updates (counters, markers) and a lower bound otherwise.
pub fn transaction_write_units(items: &[TransactWriteItem]) -> f64 {
    items
        .iter()
        .map(|action| {
            let bytes = if let Some(put) = action.put() {
                item_size(put.item())
            } else if let Some(update) = action.update() {
                item_size(update.key())
                    + update
                        .expression_attribute_values()
                        .map(|v| v.values().map(value_size).sum::<usize>())
                        .unwrap_or(0)
            } else if let Some(delete) = action.delete() {
                item_size(delete.key())
            } else if let Some(check) = action.condition_check() {
                item_size(check.key())
            } else {
                0
            };
            2.0 * kb(bytes)
        })
        .sum()
}

/// An item's size by DynamoDB's rules: attribute names plus values, where a number takes about
/// one byte per two significant digits plus one, a boolean or null one byte, and a list or map 3
/// bytes plus 1 per element. Capacity is billed per started KB (writes) or 4 KB (reads) of this;
/// storage adds 100 bytes of overhead per item (and per index entry).
pub fn item_size(item: &std::collections::HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(v) => 3 + v.iter().map(|e| 1 + value_size(e)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, e)| 1 + k.len() + value_size(e))
                .sum::<usize>()
        }
        _ => 0,
    }
}

fn number_size(n: &str) -> usize {
    let digits = n
        .trim_start_matches('-')
        .split(['e', 'E'])
        .next()
        .unwrap_or("")
        .replace('.', "");
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_cost_twice_their_items_by_the_started_kilobyte() {
        use aws_sdk_dynamodb::types::{Put, Update};
        let big = Put::builder()
            .table_name("t")
            .item("pk", AttributeValue::S("a".into()))
            .item("record", AttributeValue::S("x".repeat(1500)))
            .build()
            .expect("put");
        let counter = Update::builder()
            .table_name("t")
            .key("pk", AttributeValue::S("CNT#account".into()))
            .update_expression("ADD deliveries :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .build()
            .expect("update");
        let items = vec![
            TransactWriteItem::builder().put(big).build(),
            TransactWriteItem::builder().update(counter.clone()).build(),
            TransactWriteItem::builder().update(counter).build(),
        ];
        assert_eq!(transaction_write_units(&items), 2.0 * 2.0 + 2.0 + 2.0);
        let meter = CapacityMeter::default();
        let under_reported = ConsumedCapacity::builder().capacity_units(2.0).build();
        meter.computed("TransactWriteItems", 3, 8.0, [&under_reported]);
        assert_eq!(meter.total_units(), 8.0);
    }

    #[test]
    fn item_sizes_follow_dynamodb_rules() {
        let item: std::collections::HashMap<String, AttributeValue> = [
            ("pk".to_string(), AttributeValue::S("MSG#abc".into())),
            ("n".to_string(), AttributeValue::N("12345".into())),
            ("b".to_string(), AttributeValue::Bool(true)),
            (
                "l".to_string(),
                AttributeValue::L(vec![AttributeValue::S("ab".into())]),
            ),
        ]
        .into_iter()
        .collect();
        // pk 2+7, n 1+(3+1), b 1+1, l 1+(3+1+2)
        assert_eq!(item_size(&item), 9 + 5 + 2 + 7);
        assert_eq!(number_size("100"), 2);
        assert_eq!(number_size("-0.0015"), 2);
    }

    #[test]
    fn sums_reported_units_and_counts_what_is_not_reported() {
        let meter = CapacityMeter::default();
        let two = ConsumedCapacity::builder().capacity_units(2.0).build();
        let six = ConsumedCapacity::builder().capacity_units(6.0).build();
        meter.consumed("TransactWriteItems", 3, [&two, &six]);
        meter.consumed("TransactWriteItems", 2, [&two]);
        meter.failed("TransactWriteItems", 4);
        meter.consumed("GetItem", 1, None);
        let totals = meter.snapshot();
        assert_eq!(
            totals["TransactWriteItems"],
            Consumed {
                requests: 3,
                units: 10.0,
                unreported_failures: 1,
                items: 9,
                conflicts: 0
            }
        );
        assert_eq!(totals["GetItem"].units, 0.0);
        assert_eq!(meter.total_units(), 10.0);
    }
}
