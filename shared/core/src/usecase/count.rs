//! The counting use case: one invocation of the count function over a batch of a stream
//! shard's records, exactly once (see `tally` for why).

use futures::stream::{self, StreamExt, TryStreamExt};

use crate::ledger::tally::{CountedChange, CounterWindow, CounterWrite};
use crate::ports::{CounterAdded, CounterWriter, StoreError};

/// Counter updates sent at once. A batch touches a few dozen counters; Lambda bills the wait, so
/// they go out together rather than one after another.
const WRITES_IN_FLIGHT: usize = 16;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CountReport {
    /// Records of the batch that add to some counter (before the counters' marks are read).
    pub counted: usize,
    /// Records the batch held twice.
    pub redelivered: usize,
    /// Counter updates written.
    pub writes: usize,
    /// Counter updates an earlier attempt had written whole (a retried batch).
    pub found: usize,
    /// Counter updates an earlier attempt had written up to a record inside the batch (a retry
    /// that Lambda cut differently): the rest was written.
    pub resumed: usize,
    /// Counters of the window state an earlier version of the function handed on, written.
    pub carried: usize,
    /// Counters of such a state that an earlier attempt had written in part. A state carries
    /// sums, not records, so the rest cannot be told apart: they are left out and reported.
    pub carried_in_part: usize,
}

pub struct Count<W> {
    pub counters: W,
}

/// What one counter update came to.
enum Applied {
    Written,
    Found,
    Resumed,
    /// A carried counter already written in part.
    InPart,
}

impl<W: CounterWriter> Count<W> {
    /// Writes what a batch of `shard`'s records adds to each counter, once, and before it what
    /// `carried` holds: the window an earlier version of the function handed on in Lambda's state
    /// (empty once this version runs). Nothing is left for a later invocation.
    pub async fn batch(
        &self,
        shard: &str,
        carried: CounterWindow,
        changes: &[CountedChange],
    ) -> Result<CountReport, StoreError> {
        let mut report = CountReport::default();
        let applied: Vec<Applied> = stream::iter(
            carried
                .writes()
                .map(|counter| self.apply_carried(shard, counter))
                .collect::<Vec<_>>(),
        )
        .buffer_unordered(WRITES_IN_FLIGHT)
        .try_collect()
        .await?;
        for a in applied {
            match a {
                Applied::InPart => report.carried_in_part += 1,
                _ => report.carried += 1,
            }
        }

        let mut window = CounterWindow::default();
        let added = window.add(changes);
        report.counted = added.counted;
        report.redelivered = added.redelivered;
        let applied: Vec<Applied> = stream::iter(
            window
                .writes()
                .map(|counter| self.apply(shard, counter, changes)),
        )
        .buffer_unordered(WRITES_IN_FLIGHT)
        .try_collect()
        .await?;
        for a in applied {
            match a {
                Applied::Written => report.writes += 1,
                Applied::Found => report.found += 1,
                Applied::Resumed => report.resumed += 1,
                Applied::InPart => report.carried_in_part += 1,
            }
        }
        Ok(report)
    }

    /// One counter of the batch; where an earlier attempt counted part of it, the rest.
    async fn apply(
        &self,
        shard: &str,
        counter: &CounterWrite,
        changes: &[CountedChange],
    ) -> Result<Applied, StoreError> {
        let mark = match self.counters.add_once(shard, counter).await? {
            CounterAdded::Added => return Ok(Applied::Written),
            CounterAdded::AlreadyAdded => return Ok(Applied::Found),
            CounterAdded::CountedThrough(mark) => mark,
        };
        let Some(rest) = CounterWindow::after(changes, &counter.scope, counter.bucket, &mark)
        else {
            return Ok(Applied::Found);
        };
        match self.counters.add_once(shard, &rest).await? {
            CounterAdded::Added => Ok(Applied::Resumed),
            CounterAdded::AlreadyAdded => Ok(Applied::Found),
            // One batch per shard at a time: nothing else moves this shard's mark.
            CounterAdded::CountedThrough(moved) => Err(StoreError::Corrupt {
                key: format!("counter {} {}", counter.scope.key(), counter.bucket),
                message: format!(
                    "shard {shard}'s mark moved from {} to {} while this batch wrote",
                    mark.as_str(),
                    moved.as_str()
                ),
            }),
        }
    }

    async fn apply_carried(
        &self,
        shard: &str,
        counter: &CounterWrite,
    ) -> Result<Applied, StoreError> {
        Ok(match self.counters.add_once(shard, counter).await? {
            CounterAdded::Added => Applied::Written,
            CounterAdded::AlreadyAdded => Applied::Found,
            CounterAdded::CountedThrough(_) => Applied::InPart,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LedgerConfig;
    use crate::ledger::counters::{CounterIncrement, Metric, Scope};
    use crate::ledger::tally::SequenceNumber;
    use crate::testkit::memory::InMemoryLedger;
    use chrono::TimeZone;
    use proptest::prelude::*;

    /// Records `1..=n` of a shard: record `i` is a delivery in the account and in provider
    /// `p{i % 3}`, in the hour `hours[i % hours.len()]`.
    fn changes(n: u64, hours: &[u32]) -> Vec<CountedChange> {
        (1..=n)
            .map(|i| change(i, hours[(i as usize) % hours.len()]))
            .collect()
    }

    fn change(i: u64, hour: u32) -> CountedChange {
        let bucket = chrono::Utc
            .with_ymd_and_hms(2026, 11, 20, hour, 0, 0)
            .single()
            .expect("valid");
        CountedChange {
            sequence: SequenceNumber::parse(&(1000 + i).to_string()).expect("digits"),
            increments: [Scope::Account, Scope::Provider(format!("p{}", i % 3))]
                .into_iter()
                .map(|scope| CounterIncrement {
                    scope,
                    bucket,
                    metrics: vec![Metric::Deliveries],
                    details: vec![],
                })
                .collect(),
        }
    }

    /// Deliveries per provider among records `1..=n`, counted from the records' numbers.
    fn provider_total(n: u64, p: u64) -> u64 {
        (1..=n).filter(|i| i % 3 == p).count() as u64
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[tokio::test]
    async fn a_lost_response_and_the_retried_batch_count_once() {
        let ledger = InMemoryLedger::new(&LedgerConfig::default());
        let count = Count { counters: &ledger };
        let stream = changes(10, &[10]);
        let first = count
            .batch("s1", CounterWindow::default(), &stream[..6])
            .await
            .expect("first batch");
        // Two hours' worth of nothing else: one account and three provider counters.
        assert_eq!((first.counted, first.writes, first.found), (6, 4, 0));
        assert_eq!(ledger.counter_total(&Scope::Account, Metric::Deliveries), 6);
        // The next batch's first write lands but its response is lost.
        ledger.lose_next_responses(1);
        assert!(count
            .batch("s1", CounterWindow::default(), &stream[6..])
            .await
            .is_err());
        // Lambda retries it.
        let retry = count
            .batch("s1", CounterWindow::default(), &stream[6..])
            .await
            .expect("retry");
        assert_eq!((retry.writes, retry.found), (3, 1), "{retry:?}");
        assert_eq!(
            ledger.counter_total(&Scope::Account, Metric::Deliveries),
            10
        );
        for p in 0..3 {
            assert_eq!(
                ledger.counter_total(&Scope::Provider(format!("p{p}")), Metric::Deliveries),
                provider_total(10, p)
            );
        }
        // Another shard adds to the same counters under its own mark.
        let more = changes(12, &[10]);
        count
            .batch("s2", CounterWindow::default(), &more[10..])
            .await
            .expect("other shard");
        assert_eq!(
            ledger.counter_total(&Scope::Account, Metric::Deliveries),
            12
        );
    }

    #[tokio::test]
    async fn a_retry_cut_longer_or_shorter_than_the_attempt_adds_only_what_the_attempt_did_not() {
        let ledger = InMemoryLedger::new(&LedgerConfig::default());
        let count = Count { counters: &ledger };
        let stream = changes(20, &[10]);
        // The first attempt of records 1..=8 writes every counter, then the function dies
        // before it answers: Lambda retries with records 1..=14.
        count
            .batch("s", CounterWindow::default(), &stream[..8])
            .await
            .expect("attempt");
        let longer = count
            .batch("s", CounterWindow::default(), &stream[..14])
            .await
            .expect("longer retry");
        // The account's and every provider's mark (at 8, 7, 6 for p2, p1, p0) lies inside.
        assert_eq!(
            (longer.resumed, longer.writes, longer.found),
            (4, 0, 0),
            "{longer:?}"
        );
        assert_eq!(
            ledger.counter_total(&Scope::Account, Metric::Deliveries),
            14
        );
        // A retry cut shorter than what was written adds nothing.
        let shorter = count
            .batch("s", CounterWindow::default(), &stream[2..9])
            .await
            .expect("shorter retry");
        assert_eq!((shorter.found, shorter.writes, shorter.resumed), (4, 0, 0));
        // Then the stream goes on.
        count
            .batch("s", CounterWindow::default(), &stream[14..])
            .await
            .expect("rest");
        assert_eq!(
            ledger.counter_total(&Scope::Account, Metric::Deliveries),
            20
        );
        for p in 0..3 {
            assert_eq!(
                ledger.counter_total(&Scope::Provider(format!("p{p}")), Metric::Deliveries),
                provider_total(20, p)
            );
        }
    }

    #[tokio::test]
    async fn a_window_state_an_earlier_version_handed_on_is_written_once_before_the_batch() {
        let ledger = InMemoryLedger::new(&LedgerConfig::default());
        let count = Count { counters: &ledger };
        let stream = changes(9, &[10, 11]);
        // The earlier version held records 1..=5 in its window, unwritten.
        let carried = CounterWindow::of(&stream[..5]);
        let report = count
            .batch("s", carried.clone(), &stream[5..])
            .await
            .expect("batch");
        assert_eq!(report.carried, carried.writes().count());
        assert_eq!(ledger.counter_total(&Scope::Account, Metric::Deliveries), 9);
        // Lambda retries the invocation with the same state and records: nothing more.
        let again = count
            .batch("s", carried, &stream[5..])
            .await
            .expect("again");
        assert_eq!((again.writes, again.resumed), (0, 0));
        assert_eq!(ledger.counter_total(&Scope::Account, Metric::Deliveries), 9);
        for p in 0..3 {
            assert_eq!(
                ledger.counter_total(&Scope::Provider(format!("p{p}")), Metric::Deliveries),
                provider_total(9, p)
            );
        }
    }

    /// One invocation of the stream emulation below.
    #[derive(Debug, Clone)]
    enum Step {
        /// The next `len` records of `shard` as a batch. With `dies_after`, its first attempt
        /// dies after that many counter updates (or, if it had no more to make, its answer is
        /// lost), and Lambda retries the batch cut `recut` records longer (shorter when
        /// negative, never empty); the shard then goes on after the retry's last record.
        Batch {
            shard: usize,
            len: usize,
            dies_after: Option<usize>,
            recut: i8,
        },
        /// A batch the last shard was given before, `back` batches ago, delivered again (a record
        /// Lambda delivers again is one it delivered before).
        Redeliver { back: usize },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0usize..3, 1usize..7, proptest::option::of(0usize..6), -3i8..4).prop_map(
                |(shard, len, dies_after, recut)| Step::Batch { shard, len, dies_after, recut }
            ),
            1 => (0usize..4).prop_map(|back| Step::Redeliver { back }),
        ]
    }

    proptest! {
        /// However three shards' streams are cut into batches, however Lambda retries a batch
        /// (after an attempt that died after any number of updates, cut longer or shorter than
        /// the attempt) or delivers an earlier one again, whichever hours the records fall in,
        /// every record counts once in every counter it adds to, the three shards adding to the
        /// same counters.
        #[test]
        fn batches_retried_recut_and_redelivered_count_every_record_once(
            hours in proptest::collection::vec(0u32..4, 1..5),
            steps in proptest::collection::vec(step(), 1..40),
        ) {
            let ledger = InMemoryLedger::new(&LedgerConfig::default());
            let count = Count { counters: &ledger };
            // Shard k's record j is record 100 k + j.
            let streams: Vec<Vec<CountedChange>> = (0..3u64)
                .map(|k| {
                    (1..=60)
                        .map(|j| change(100 * k + j, hours[(j as usize) % hours.len()]))
                        .collect()
                })
                .collect();
            let mut next = [0usize; 3];
            let mut delivered: Vec<Vec<std::ops::Range<usize>>> = vec![Vec::new(); 3];
            let mut last_shard = 0;
            run(async {
                for step in steps {
                    match step {
                        Step::Batch { shard, len, dies_after, recut } => {
                            let name = format!("shard-{shard}");
                            let from = next[shard];
                            let to = (from + len).min(streams[shard].len());
                            if from == to {
                                continue;
                            }
                            let mut end = to;
                            if let Some(writes) = dies_after {
                                ledger.fail_writes_after(writes);
                                let _ = count
                                    .batch(&name, CounterWindow::default(), &streams[shard][from..to])
                                    .await;
                                ledger.fail_writes_after(usize::MAX);
                                end = (to as i64 + i64::from(recut))
                                    .clamp(from as i64 + 1, streams[shard].len() as i64)
                                    as usize;
                            }
                            count
                                .batch(&name, CounterWindow::default(), &streams[shard][from..end])
                                .await
                                .expect("batch");
                            next[shard] = end;
                            delivered[shard].push(from..end);
                            last_shard = shard;
                        }
                        Step::Redeliver { back } => {
                            let shard = last_shard;
                            let n = delivered[shard].len();
                            if n == 0 {
                                continue;
                            }
                            let range = delivered[shard][n - 1 - back.min(n - 1)].clone();
                            let report = count
                                .batch(&format!("shard-{shard}"), CounterWindow::default(), &streams[shard][range])
                                .await
                                .expect("redelivery");
                            assert_eq!((report.writes, report.resumed), (0, 0));
                        }
                    }
                }
                // The streams go on to their end: what a retry cut shorter left behind comes
                // again, after the records an attempt already counted in some counters.
                for (shard, stream) in streams.iter().enumerate() {
                    for batch in stream[next[shard]..].chunks(7) {
                        count
                            .batch(&format!("shard-{shard}"), CounterWindow::default(), batch)
                            .await
                            .expect("the rest");
                    }
                }
            });
            // Every record of the three shards, counted from the records' numbers.
            let numbers: Vec<u64> = (0..3u64)
                .flat_map(|k| (1..=60u64).map(move |j| 100 * k + j))
                .collect();
            prop_assert_eq!(
                ledger.counter_total(&Scope::Account, Metric::Deliveries),
                numbers.len() as u64
            );
            for p in 0..3u64 {
                prop_assert_eq!(
                    ledger.counter_total(&Scope::Provider(format!("p{p}")), Metric::Deliveries),
                    numbers.iter().filter(|i| *i % 3 == p).count() as u64
                );
            }
        }
    }

    #[test]
    fn the_emulation_reaches_the_resumed_branch() {
        // A shard whose first batch dies after the account's update and is retried longer: the
        // account's mark is inside the retry.
        let ledger = InMemoryLedger::new(&LedgerConfig::default());
        let count = Count { counters: &ledger };
        let stream = changes(6, &[10]);
        let resumed = run(async {
            ledger.fail_writes_after(1);
            let _ = count
                .batch("s", CounterWindow::default(), &stream[..3])
                .await;
            ledger.fail_writes_after(usize::MAX);
            count
                .batch("s", CounterWindow::default(), &stream)
                .await
                .expect("retry")
                .resumed
        });
        assert_eq!(resumed, 1);
        assert_eq!(ledger.counter_total(&Scope::Account, Metric::Deliveries), 6);
    }
}
