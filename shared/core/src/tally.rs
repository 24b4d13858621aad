//! Counting from the ledger table's change stream: the increments of a batch of newly recorded
//! events, summed per counter, and cut into chunks that each move the batch's checkpoint. Pure;
//! `usecase::Count` applies the chunks through the `CounterWriter` port.
//!
//! Why this is exactly once: a stream shard delivers its records in order, and Lambda retries a
//! failed batch whole, from its first record (the event source mapping neither bisects batches
//! nor reports partial failures; template.yaml says so). The batch's checkpoint is named by that
//! first record. Each chunk is applied in one transaction that moves the checkpoint from the
//! value the plan started from to the chunk's last sequence number, so a chunk is applied whole or
//! not at all, and a retry skips every record at or before the checkpoint. Batches that follow
//! one another never overlap, so they need no shared checkpoint, and two stream shards never
//! write the same checkpoint item.

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

/// The counters a chunk adds to, by scope and hour.
pub type Deltas = BTreeMap<(Scope, DateTime<Utc>), CounterDelta>;

/// Changes applied together, moving the checkpoint to `last`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub last: SequenceNumber,
    pub deltas: Deltas,
    /// Records in the chunk (some may add to no counter).
    pub records: usize,
    /// Those of them that add to some counter (recipient events, or the scopes a duplicate added).
    pub counting: usize,
}

fn add(deltas: &mut Deltas, increment: &CounterIncrement) {
    let delta = deltas
        .entry((increment.scope.clone(), increment.bucket))
        .or_default();
    for m in &increment.metrics {
        *delta.metrics.entry(*m).or_default() += 1;
    }
    for d in &increment.details {
        *delta.details.entry(d.clone()).or_default() += 1;
    }
}

/// The changes after `checkpoint`, in sequence order, summed into chunks of at most
/// `max_counters` counters each (a transaction holds 100 items: the checkpoint and 99 counters).
/// A record is never split between chunks.
pub fn plan(
    changes: &[CountedChange],
    checkpoint: Option<&SequenceNumber>,
    max_counters: usize,
) -> Vec<Chunk> {
    let mut pending: Vec<&CountedChange> = changes
        .iter()
        .filter(|c| checkpoint.is_none_or(|cp| c.sequence > *cp))
        .collect();
    pending.sort_by(|a, b| a.sequence.cmp(&b.sequence));
    pending.dedup_by(|a, b| a.sequence == b.sequence);
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut current: Option<Chunk> = None;
    for change in pending {
        if let Some(chunk) = current.as_mut() {
            let mut wider = chunk.deltas.clone();
            for i in &change.increments {
                add(&mut wider, i);
            }
            if wider.len() <= max_counters.max(1) {
                chunk.deltas = wider;
                chunk.last = change.sequence.clone();
                chunk.records += 1;
                chunk.counting += usize::from(!change.increments.is_empty());
                continue;
            }
            chunks.extend(current.take());
        }
        let mut deltas = Deltas::new();
        for i in &change.increments {
            add(&mut deltas, i);
        }
        current = Some(Chunk {
            last: change.sequence.clone(),
            deltas,
            records: 1,
            counting: usize::from(!change.increments.is_empty()),
        });
    }
    chunks.extend(current);
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

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
    fn a_plan_skips_what_the_checkpoint_covers_and_sums_the_rest() {
        let a = [Scope::Account];
        let changes = vec![change(3, &a, 10), change(1, &a, 10), change(2, &a, 11)];
        let chunks = plan(&changes, Some(&seq(1)), 99);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].last, seq(3));
        assert_eq!(chunks[0].records, 2);
        let deliveries =
            |h| chunks[0].deltas[&(Scope::Account, hour(h))].metrics[&Metric::Deliveries];
        assert_eq!((deliveries(10), deliveries(11)), (1, 1));
        assert!(plan(&changes, Some(&seq(3)), 99).is_empty());
    }

    #[test]
    fn chunks_hold_at_most_the_counters_a_transaction_can_take() {
        let scopes: Vec<Scope> = (0..5).map(|i| Scope::Provider(format!("p{i}"))).collect();
        // Every record adds to 5 new counters (a new hour each): 2 records fit in 10.
        let changes: Vec<CountedChange> = (1..=5).map(|n| change(n, &scopes, n as u32)).collect();
        let chunks = plan(&changes, None, 10);
        assert_eq!(
            chunks.iter().map(|c| c.records).collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
        assert!(chunks.iter().all(|c| c.deltas.len() <= 10));
        assert_eq!(
            chunks.iter().map(|c| c.last.clone()).collect::<Vec<_>>(),
            vec![seq(2), seq(4), seq(5)]
        );
    }

    proptest! {
        /// However a stream is cut into batches and redelivered, applying each batch's plan
        /// behind the checkpoint counts every record once.
        #[test]
        fn redelivered_batches_count_every_record_once(
            hours in proptest::collection::vec(0u32..3, 1..40),
            cuts in proptest::collection::vec(1usize..8, 1..20),
            replays in proptest::collection::vec(any::<bool>(), 20),
            max in 1usize..6,
        ) {
            let scopes = [Scope::Account, Scope::Provider("gmail".into())];
            let changes: Vec<CountedChange> = hours
                .iter()
                .enumerate()
                .map(|(i, h)| change(i as u64 + 1, &scopes, *h))
                .collect();
            let mut applied = Deltas::new();
            let mut checkpoint: Option<SequenceNumber> = None;
            let mut start = 0;
            for (i, cut) in cuts.iter().cycle().enumerate() {
                if start >= changes.len() { break; }
                let end = (start + cut).min(changes.len());
                let batch = &changes[start..end];
                // A redelivery sends an earlier overlapping batch again.
                let rounds = if replays[i % replays.len()] { 2 } else { 1 };
                for _ in 0..rounds {
                    for chunk in plan(batch, checkpoint.as_ref(), max) {
                        for (key, d) in chunk.deltas {
                            let into = applied.entry(key).or_default();
                            for (m, n) in d.metrics { *into.metrics.entry(m).or_default() += n; }
                        }
                        checkpoint = Some(chunk.last);
                    }
                }
                start = end.saturating_sub(if replays[i % replays.len()] { 1 } else { 0 }).max(start + 1);
            }
            let total: u64 = applied.values().map(|d| d.metrics[&Metric::Deliveries]).sum();
            prop_assert_eq!(total, (changes.len() * scopes.len()) as u64);
            for h in 0..3u32 {
                let expected = hours.iter().filter(|x| **x == h).count() as u64;
                let got = applied.get(&(Scope::Account, hour(h))).map_or(0, |d| d.metrics[&Metric::Deliveries]);
                prop_assert_eq!(got, expected);
            }
        }
    }
}
