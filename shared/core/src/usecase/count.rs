//! The counting use case: one batch of the ledger table's change stream into the hourly
//! counters, exactly once (see `tally` for why).

use std::collections::BTreeSet;

use futures::stream::{self, StreamExt, TryStreamExt};

use crate::ports::{CounterWriter, CounterWritten, StoreError};
use crate::tally::{plan, CountedChange, CounterPlan, SequenceNumber};

/// Counter items written at once. A batch of 1,000 records touches a few dozen counters; Lambda
/// bills the wait, so they go out together rather than one after another.
const WRITES_IN_FLIGHT: usize = 16;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CountReport {
    /// Records of the batch that add to some counter and were counted now.
    pub counted: usize,
    /// Records that add to some counter, all of whose counters an earlier attempt wrote.
    pub already_counted: usize,
    /// Counter items written.
    pub writes: usize,
    /// Counter items found already written (a redelivered batch).
    pub found: usize,
}

pub struct Count<W> {
    pub counters: W,
}

/// What writing one counter did: the records it counted now, and the items written and found.
struct CounterOutcome<'a> {
    counted: Vec<&'a SequenceNumber>,
    writes: usize,
    found: usize,
}

impl<W: CounterWriter> Count<W> {
    pub async fn batch(&self, changes: &[CountedChange]) -> Result<CountReport, StoreError> {
        let plans = plan(changes);
        let outcomes: Vec<CounterOutcome> = stream::iter(plans.iter().map(|p| self.counter(p)))
            .buffer_unordered(WRITES_IN_FLIGHT)
            .try_collect()
            .await?;
        let counting: BTreeSet<&SequenceNumber> = changes
            .iter()
            .filter(|c| !c.increments.is_empty())
            .map(|c| &c.sequence)
            .collect();
        let counted: BTreeSet<&SequenceNumber> =
            outcomes.iter().flat_map(|o| o.counted.clone()).collect();
        Ok(CountReport {
            counted: counted.len(),
            already_counted: counting.len() - counted.len(),
            writes: outcomes.iter().map(|o| o.writes).sum(),
            found: outcomes.iter().map(|o| o.found).sum(),
        })
    }

    /// Writes what the batch adds to one counter past the items earlier attempts wrote.
    async fn counter<'a>(&self, plan: &CounterPlan<'a>) -> Result<CounterOutcome<'a>, StoreError> {
        let mut covered: Option<SequenceNumber> = None;
        let mut found = 0;
        while let Some(write) = plan.write_after(covered.as_ref()) {
            match self.counters.write_new(&write).await? {
                CounterWritten::New => {
                    return Ok(CounterOutcome {
                        counted: plan.records_after(covered.as_ref()),
                        writes: 1,
                        found,
                    })
                }
                // Every item covers at least the record that names it, so this moves forward.
                CounterWritten::Exists { last } if last >= write.first => {
                    found += 1;
                    covered = Some(last);
                }
                CounterWritten::Exists { last } => {
                    return Err(StoreError::Corrupt {
                        key: format!("counter {} {}", write.scope.key(), write.first.as_str()),
                        message: format!(
                            "covers up to {}, before its own first record",
                            last.as_str()
                        ),
                    })
                }
            }
        }
        Ok(CounterOutcome {
            counted: Vec::new(),
            writes: 0,
            found,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LedgerConfig;
    use crate::counters::{CounterIncrement, Metric, Scope};
    use crate::testkit::memory::InMemoryLedger;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn changes(n: u64, hours: &[u32]) -> Vec<CountedChange> {
        (1..=n)
            .map(|i| {
                let h = hours[(i as usize) % hours.len()];
                let bucket = chrono::Utc
                    .with_ymd_and_hms(2026, 11, 20, h, 0, 0)
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
            })
            .collect()
    }

    #[tokio::test]
    async fn a_lost_response_and_the_retried_batch_count_once() {
        let ledger = InMemoryLedger::new(&LedgerConfig::default());
        let count = Count { counters: &ledger };
        let stream = changes(10, &[10]);
        ledger.lose_next_responses(1);
        assert!(count.batch(&stream[..6]).await.is_err());
        // Lambda retries the failed batch from its first record, here with more behind it.
        let report = count.batch(&stream).await.expect("retry");
        assert_eq!(report.counted + report.already_counted, 10, "{report:?}");
        assert_eq!(
            ledger.counter_total(&Scope::Account, Metric::Deliveries),
            10
        );
        // The retry again: nothing moves.
        let again = count.batch(&stream).await.expect("again");
        assert_eq!(
            (again.counted, again.already_counted, again.writes),
            (0, 10, 0)
        );
        // The next batch starts after it.
        let next = changes(12, &[10]);
        count.batch(&next[10..]).await.expect("next batch");
        assert_eq!(
            ledger.counter_total(&Scope::Account, Metric::Deliveries),
            12
        );
        for p in 0..3 {
            let scope = Scope::Provider(format!("p{p}"));
            assert_eq!(ledger.counter_total(&scope, Metric::Deliveries), 4);
        }
    }

    proptest! {
        /// However the stream is cut into batches, whichever counter writes of an attempt land
        /// before it dies, and however long the retry of a batch is (it starts at the same first
        /// record and is never shorter), every record counts once in every counter it adds to.
        #[test]
        fn attempts_that_die_anywhere_count_every_record_once(
            n in 1u64..60,
            hours in proptest::collection::vec(0u32..4, 1..5),
            cuts in proptest::collection::vec(1usize..12, 1..12),
            deaths in proptest::collection::vec(0usize..8, 0..6),
            longer in proptest::collection::vec(0usize..5, 1..6),
        ) {
            let stream = changes(n, &hours);
            let ledger = InMemoryLedger::new(&LedgerConfig::default());
            let count = Count { counters: &ledger };
            let mut deaths = deaths.into_iter();
            let (mut start, mut i) = (0, 0);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                while start < stream.len() {
                    let mut end = (start + cuts[i % cuts.len()]).min(stream.len());
                    // An attempt dies after some of its writes, then the batch is retried,
                    // perhaps with more records behind it.
                    for after in deaths.by_ref() {
                        ledger.fail_writes_after(after);
                        let died = count.batch(&stream[start..end]).await.is_err();
                        ledger.fail_writes_after(usize::MAX);
                        if !died {
                            break;
                        }
                        end = (end + longer[i % longer.len()]).min(stream.len());
                    }
                    count.batch(&stream[start..end]).await.expect("retry succeeds");
                    start = end;
                    i += 1;
                }
            });
            prop_assert_eq!(
                ledger.counter_total(&Scope::Account, Metric::Deliveries),
                n
            );
            for p in 0..3u64 {
                let expected = (1..=n).filter(|i| i % 3 == p).count() as u64;
                prop_assert_eq!(
                    ledger.counter_total(&Scope::Provider(format!("p{p}")), Metric::Deliveries),
                    expected
                );
            }
        }
    }
}
