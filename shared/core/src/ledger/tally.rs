//! Counting from the ledger table's change stream: what a stream batch's records add to the
//! hourly counters, one update per counter. Pure; `usecase::Count` writes through the
//! `CounterWriter` port.
//!
//! Why this is exactly once. Lambda delivers a shard's records in order the first time, one
//! batch at a time, and may deliver a record again (AWS: "Lambda processes each record at least
//! once ... Records are always processed in order the first time"). Each counter remembers, per
//! stream shard, the last record it has counted (its high-water mark), so:
//! - within a batch, a record at or before the last one the batch already added to a counter is
//!   a redelivery and adds nothing ([`CounterWindow::add`]);
//! - each counter the batch touches gets one update that adds the batch's sum and moves the
//!   shard's mark, on the condition that the stored mark is still before the batch's first
//!   record for that counter. A retried batch finds the updates that landed (the condition fails)
//!   and makes only the others; a retry that Lambda cut differently (more records, or fewer)
//!   finds the mark inside its range and adds only what lies after it
//!   ([`CounterWindow::after`]).
//!
//! Every invocation writes what its batch adds, so nothing is held in Lambda's window state:
//! what happens to an open tumbling window when its shard ends (AWS does not say) cannot lose a
//! count. [`CounterWindow`] is also the form in which an earlier version of the function carried
//! a window's counts from one invocation to the next; such a state is written as it is found.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::ledger::counters::{ComplaintBreakdown, CounterIncrement, Metric, Scope};

/// A position in a stream shard. DynamoDB Streams sequence numbers are decimal strings of
/// varying length (up to 40 digits) that increase within a shard; zero-padded to 40 they order
/// as text, which is how a counter's high-water mark is compared and stored.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct SequenceNumber(String);

impl TryFrom<String> for SequenceNumber {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        SequenceNumber::parse(&text)
    }
}

impl From<SequenceNumber> for String {
    fn from(s: SequenceNumber) -> String {
        s.0
    }
}

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
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CounterDelta {
    #[serde(with = "metric_counts")]
    pub metrics: BTreeMap<Metric, u64>,
    #[serde(with = "detail_counts")]
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

/// One counter update: what a window's records from `first` to `last` (stream order) of one
/// shard add to `scope` in the hour `bucket`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterWrite {
    pub scope: Scope,
    pub bucket: DateTime<Utc>,
    pub first: SequenceNumber,
    pub last: SequenceNumber,
    pub delta: CounterDelta,
}

/// A [`CounterWrite`] in the window's state, under its `<hour>|<scope>` key.
#[derive(serde::Serialize, serde::Deserialize)]
struct StateEntry {
    first: SequenceNumber,
    last: SequenceNumber,
    #[serde(flatten)]
    delta: CounterDelta,
}

/// What a run of one stream shard's records adds to each counter: a batch, or (in the state an
/// earlier version handed on) a tumbling window's batches so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterWindow {
    counters: BTreeMap<(Scope, DateTime<Utc>), CounterWrite>,
}

/// What [`CounterWindow::add`] did with a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Added {
    /// Records that added to some counter.
    pub counted: usize,
    /// Records the window had already counted (redelivered).
    pub redelivered: usize,
}

impl CounterWindow {
    /// What `changes` add, each counter once.
    pub fn of(changes: &[CountedChange]) -> CounterWindow {
        let mut window = CounterWindow::default();
        window.add(changes);
        window
    }

    /// What the records of `changes` after `mark` add to the counter of `scope` in the hour
    /// `bucket`; `None` when none of them adds to it. For a batch whose earlier records an
    /// earlier attempt has already added to that counter (the shard's mark on it is `mark`).
    pub fn after(
        changes: &[CountedChange],
        scope: &Scope,
        bucket: DateTime<Utc>,
        mark: &SequenceNumber,
    ) -> Option<CounterWrite> {
        let rest: Vec<CountedChange> = changes
            .iter()
            .filter(|c| c.sequence > *mark)
            .map(|c| CountedChange {
                sequence: c.sequence.clone(),
                increments: c
                    .increments
                    .iter()
                    .filter(|i| i.scope == *scope && i.bucket == bucket)
                    .cloned()
                    .collect(),
            })
            .collect();
        CounterWindow::of(&rest).counters.into_values().next()
    }

    /// Adds a batch's records, in stream order, skipping what the window already holds.
    pub fn add(&mut self, changes: &[CountedChange]) -> Added {
        let mut records: Vec<&CountedChange> = changes
            .iter()
            .filter(|c| !c.increments.is_empty())
            .collect();
        records.sort_by(|a, b| a.sequence.cmp(&b.sequence));
        let mut added = Added::default();
        for record in records {
            let mut counted = false;
            for increment in &record.increments {
                match self
                    .counters
                    .entry((increment.scope.clone(), increment.bucket))
                {
                    Entry::Vacant(slot) => {
                        let mut delta = CounterDelta::default();
                        delta.add(increment);
                        slot.insert(CounterWrite {
                            scope: increment.scope.clone(),
                            bucket: increment.bucket,
                            first: record.sequence.clone(),
                            last: record.sequence.clone(),
                            delta,
                        });
                    }
                    // Redelivered: the window has counted this record, or one after it.
                    Entry::Occupied(held) if held.get().last >= record.sequence => continue,
                    Entry::Occupied(mut held) => {
                        let counter = held.get_mut();
                        counter.delta.add(increment);
                        counter.last = record.sequence.clone();
                    }
                }
                counted = true;
            }
            if counted {
                added.counted += 1;
            } else {
                added.redelivered += 1;
            }
        }
        added
    }

    /// The updates that write the window, one per counter.
    pub fn writes(&self) -> impl Iterator<Item = &CounterWrite> {
        self.counters.values()
    }

    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }

    /// The window as an earlier version handed it from one invocation to the next in Lambda's
    /// `state` (a map of strings): one entry per counter. Kept so the tests can write such a
    /// state; the function now hands on an empty one.
    pub fn to_state(&self) -> BTreeMap<String, String> {
        self.counters
            .iter()
            .map(|((scope, bucket), write)| {
                let entry = StateEntry {
                    first: write.first.clone(),
                    last: write.last.clone(),
                    delta: write.delta.clone(),
                };
                // Strings and numbers only, so this cannot fail; were it to, the empty entry
                // would fail the next invocation's `from_state` rather than lose a count.
                (
                    format!("{}|{}", bucket.format(BUCKET_FORMAT), scope.key()),
                    serde_json::to_string(&entry).unwrap_or_default(),
                )
            })
            .collect()
    }

    /// The window an earlier version of the function handed on in Lambda's `state`.
    pub fn from_state<'a>(
        state: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Result<CounterWindow, String> {
        let mut counters = BTreeMap::new();
        for (key, value) in state {
            let (bucket, scope) = key
                .split_once('|')
                .ok_or_else(|| format!("window state key {key:?} is not <hour>|<scope>"))?;
            let bucket = chrono::NaiveDateTime::parse_from_str(bucket, BUCKET_FORMAT)
                .map_err(|e| format!("window state key {key:?}: {e}"))?
                .and_utc();
            let scope =
                Scope::parse(scope).ok_or_else(|| format!("window state key {key:?}: scope"))?;
            let entry: StateEntry =
                serde_json::from_str(value).map_err(|e| format!("window state {key:?}: {e}"))?;
            let write = CounterWrite {
                scope: scope.clone(),
                bucket,
                first: entry.first,
                last: entry.last,
                delta: entry.delta,
            };
            counters.insert((scope, bucket), write);
        }
        Ok(CounterWindow { counters })
    }
}

const BUCKET_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// Metric counts by their attribute names, so the state reads as the counter items do.
mod metric_counts {
    use super::*;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &BTreeMap<Metric, u64>, s: S) -> Result<S::Ok, S::Error> {
        v.iter()
            .map(|(m, n)| (m.attribute(), *n))
            .collect::<BTreeMap<_, _>>()
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<Metric, u64>, D::Error> {
        BTreeMap::<String, u64>::deserialize(d)?
            .into_iter()
            .map(|(name, n)| {
                Metric::ALL
                    .iter()
                    .find(|m| m.attribute() == name)
                    .map(|m| (*m, n))
                    .ok_or_else(|| serde::de::Error::custom(format!("unknown metric {name:?}")))
            })
            .collect()
    }
}

mod detail_counts {
    use super::*;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        v: &BTreeMap<ComplaintBreakdown, u64>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        v.iter()
            .map(|(d, n)| (d.attribute(), *n))
            .collect::<BTreeMap<_, _>>()
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<ComplaintBreakdown, u64>, D::Error> {
        BTreeMap::<String, u64>::deserialize(d)?
            .into_iter()
            .map(|(name, n)| {
                ComplaintBreakdown::parse(&name)
                    .map(|b| (b, n))
                    .ok_or_else(|| serde::de::Error::custom(format!("unknown detail {name:?}")))
            })
            .collect()
    }
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
    fn a_window_sums_each_counter_once_in_stream_order() {
        let both = [Scope::Account, Scope::Provider("gmail".into())];
        let a = [Scope::Account];
        let mut window = CounterWindow::default();
        // Out of order within the batch, one record twice.
        let added = window.add(&[
            change(3, &a, 10),
            change(1, &both, 10),
            change(2, &a, 11),
            change(1, &both, 10),
        ]);
        assert_eq!(
            added,
            Added {
                counted: 3,
                redelivered: 1
            }
        );
        // The next batch, with a redelivery of the first record.
        let added = window.add(&[change(1, &both, 10), change(5, &a, 10)]);
        assert_eq!(
            added,
            Added {
                counted: 1,
                redelivered: 1
            }
        );
        let writes: Vec<(String, u32, u64, u64, u64)> = window
            .writes()
            .map(|w| {
                (
                    w.scope.key(),
                    w.bucket.format("%H").to_string().parse().unwrap_or(99),
                    w.delta.metrics[&Metric::Deliveries],
                    w.first.as_str().parse().unwrap_or(0),
                    w.last.as_str().parse().unwrap_or(0),
                )
            })
            .collect();
        assert_eq!(
            writes,
            vec![
                ("account".into(), 10, 3, 1, 5),
                ("account".into(), 11, 1, 2, 2),
                ("provider:gmail".into(), 10, 1, 1, 1),
            ]
        );
    }

    #[test]
    fn a_window_survives_the_trip_through_lambdas_state() {
        let mut window = CounterWindow::default();
        let mut complaint = change(
            7,
            &[Scope::Tag {
                name: "tenant".into(),
                value: "a|b".into(),
            }],
            3,
        );
        complaint.increments[0].metrics = vec![Metric::Complaints];
        complaint.increments[0].details =
            vec![ComplaintBreakdown::ComplaintFeedbackType("abuse".into())];
        window.add(&[change(4, &[Scope::Account], 2), complaint]);
        let state = window.to_state();
        assert_eq!(CounterWindow::from_state(&state), Ok(window));
        let mut broken = state.clone();
        broken.insert(
            "2026-11-20T02:00:00|account".into(),
            "{\"first\":\"1\"}".into(),
        );
        assert!(CounterWindow::from_state(&broken).is_err());
        let mut unknown = BTreeMap::new();
        unknown.insert("not a key".to_string(), "{}".to_string());
        assert!(CounterWindow::from_state(&unknown)
            .expect_err("bad key")
            .contains("not a key"));
    }
}
