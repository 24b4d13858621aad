//! Counting from the ledger table's change stream: a batch of newly recorded events, and the
//! counter items it writes. Pure; `usecase::Count` writes them through the `CounterWriter` port.
//!
//! Why this is exactly once without a transaction: a stream shard delivers its records in order,
//! batches that follow one another never overlap, and Lambda retries a failed batch whole, from
//! its first record (the event source mapping neither bisects batches nor reports partial
//! failures; template.yaml says so). A batch writes one new item per counter it adds to (scope
//! and hour), named by the first record that contributes to it and holding the last one, with a
//! put that succeeds only if the item is new. A retry names the same items, so each one it finds
//! already written covers its records; if the retry holds records past what the item covers, they
//! go into a further item named by the first of them. A write is one item, so a crash between
//! two writes leaves whole items, and the retry writes only the missing ones.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::counters::{ComplaintBreakdown, CounterIncrement, Metric, Scope};

/// A position in a stream shard. DynamoDB Streams sequence numbers are decimal strings of
/// varying length (up to 40 digits) that increase within a shard; zero-padded to 40 they order
/// as text, which is how the checkpoint is compared and stored.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SequenceNumber(String);

impl SequenceNumber {
    pub const DIGITS: usize = 40;

    pub fn parse(text: &str) -> Result<SequenceNumber, String> {
        let digits = text.trim_start_matches('0');
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("sequence number {text:?} is not a decimal number"));
        }
        if digits.len() > Self::DIGITS {
            return Err(format!(
                "sequence number {text:?} has more than {} digits",
                Self::DIGITS
            ));
        }
        Ok(SequenceNumber(format!(
            "{digits:0>width$}",
            width = Self::DIGITS
        )))
    }

    /// The zero-padded form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One stream record the counters act on: a newly recorded event, or scopes added to a recorded
/// event by a duplicate that knew more (its increments then name only the new scopes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedChange {
    pub sequence: SequenceNumber,
    pub increments: Vec<CounterIncrement>,
}

/// What one counter item gains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterDelta {
    pub metrics: BTreeMap<Metric, u64>,
    pub details: BTreeMap<ComplaintBreakdown, u64>,
}

impl CounterDelta {
    fn add(&mut self, increment: &CounterIncrement) {
        for m in &increment.metrics {
            *self.metrics.entry(*m).or_default() += 1;
        }
        for d in &increment.details {
            *self.details.entry(d.clone()).or_default() += 1;
        }
    }
}

/// One counter item to write: what the batch's records from `first` to `last` (stream order) add
/// to `scope` in the hour `bucket`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterWrite {
    pub scope: Scope,
    pub bucket: DateTime<Utc>,
    pub first: SequenceNumber,
    pub last: SequenceNumber,
    pub delta: CounterDelta,
}

/// What a batch adds to one counter (scope and hour), record by record in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterPlan<'a> {
    pub scope: &'a Scope,
    pub bucket: DateTime<Utc>,
    contributions: Vec<(&'a SequenceNumber, &'a CounterIncrement)>,
}

impl<'a> CounterPlan<'a> {
    fn after(
        &self,
        covered: Option<&SequenceNumber>,
    ) -> impl Iterator<Item = &(&'a SequenceNumber, &'a CounterIncrement)> {
        let covered = covered.cloned();
        self.contributions
            .iter()
            .filter(move |(seq, _)| covered.as_ref().is_none_or(|c| *seq > c))
    }

    /// The item for the contributions after `covered` (all of them for `None`); `None` when an
    /// item already covers every one.
    pub fn write_after(&self, covered: Option<&SequenceNumber>) -> Option<CounterWrite> {
        let mut pending = self.after(covered).peekable();
        let first = (*pending.peek()?.0).clone();
        let mut delta = CounterDelta::default();
        let mut last = first.clone();
        for (seq, increment) in pending {
            delta.add(increment);
            last = (*seq).clone();
        }
        Some(CounterWrite {
            scope: self.scope.clone(),
            bucket: self.bucket,
            first,
            last,
            delta,
        })
    }

    /// The records whose contributions come after `covered`.
    pub fn records_after(&self, covered: Option<&SequenceNumber>) -> Vec<&'a SequenceNumber> {
        self.after(covered).map(|(seq, _)| *seq).collect()
    }
}

/// The counters a batch adds to, each with its contributions in stream order. A record that
/// appears twice in the batch is taken once.
pub fn plan(changes: &[CountedChange]) -> Vec<CounterPlan<'_>> {
    let mut records: Vec<&CountedChange> = changes.iter().collect();
    records.sort_by(|a, b| a.sequence.cmp(&b.sequence));
    records.dedup_by(|a, b| a.sequence == b.sequence);
    let mut counters: BTreeMap<(&Scope, DateTime<Utc>), CounterPlan<'_>> = BTreeMap::new();
    for record in records {
        for increment in &record.increments {
            counters
                .entry((&increment.scope, increment.bucket))
                .or_insert_with(|| CounterPlan {
                    scope: &increment.scope,
                    bucket: increment.bucket,
                    contributions: Vec::new(),
                })
                .contributions
                .push((&record.sequence, increment));
        }
    }
    counters.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn seq(n: u64) -> SequenceNumber {
        SequenceNumber::parse(&n.to_string()).expect("digits")
    }

    fn hour(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, h, 0, 0)
            .single()
            .expect("valid")
    }

    fn change(n: u64, scopes: &[Scope], h: u32) -> CountedChange {
        CountedChange {
            sequence: seq(n),
            increments: scopes
                .iter()
                .map(|s| CounterIncrement {
                    scope: s.clone(),
                    bucket: hour(h),
                    metrics: vec![Metric::Deliveries],
                    details: vec![],
                })
                .collect(),
        }
    }

    #[test]
    fn sequence_numbers_order_by_value_not_by_length() {
        assert!(seq(9) < seq(10));
        assert!(seq(111) < seq(1000));
        assert_eq!(seq(7), SequenceNumber::parse("0007").expect("digits"));
        assert_eq!(seq(7).as_str().len(), SequenceNumber::DIGITS);
        assert!(SequenceNumber::parse("12a").is_err());
        assert!(SequenceNumber::parse("").is_err());
        assert!(SequenceNumber::parse(&"9".repeat(41)).is_err());
    }

    #[test]
    fn a_plan_sums_each_counter_in_stream_order_after_what_is_covered() {
        let both = [Scope::Account, Scope::Provider("gmail".into())];
        let a = [Scope::Account];
        // Out of order, one record twice, two hours.
        let changes = vec![
            change(3, &a, 10),
            change(1, &both, 10),
            change(2, &a, 11),
            change(1, &both, 10),
            change(5, &a, 10),
        ];
        let plans = plan(&changes);
        let keys: Vec<(String, u32)> = plans
            .iter()
            .map(|p| {
                (
                    p.scope.key(),
                    p.bucket.format("%H").to_string().parse().unwrap_or(0),
                )
            })
            .collect();
        assert_eq!(
            keys,
            vec![
                ("account".into(), 10),
                ("account".into(), 11),
                ("provider:gmail".into(), 10)
            ]
        );
        let ten = &plans[0];
        let all = ten.write_after(None).expect("pending");
        assert_eq!((all.first.clone(), all.last.clone()), (seq(1), seq(5)));
        assert_eq!(all.delta.metrics[&Metric::Deliveries], 3);
        let rest = ten.write_after(Some(&seq(1))).expect("pending");
        assert_eq!((rest.first, rest.last), (seq(3), seq(5)));
        assert_eq!(rest.delta.metrics[&Metric::Deliveries], 2);
        assert_eq!(ten.records_after(Some(&seq(3))), vec![&seq(5)]);
        assert!(ten.write_after(Some(&seq(5))).is_none());
        assert!(ten.records_after(Some(&seq(9))).is_empty());
    }
}
