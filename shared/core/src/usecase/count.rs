//! The counting use case: one invocation of the count function over a stream shard's tumbling
//! window, exactly once (see `tally` for why).

use futures::stream::{self, StreamExt, TryStreamExt};

use crate::ports::{CounterAdded, CounterWriter, StoreError};
use crate::tally::{CountedChange, CounterWindow};

/// Counter updates sent at once when a window closes. A window touches a few dozen counters;
/// Lambda bills the wait, so they go out together rather than one after another.
const WRITES_IN_FLIGHT: usize = 16;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CountReport {
    /// Records of the batch that added to the window's counters.
    pub counted: usize,
    /// Records of the batch the window had already counted (redelivered).
    pub redelivered: usize,
    /// Counter updates written as the window closed.
    pub writes: usize,
    /// Counter updates an earlier attempt to close the window had written.
    pub found: usize,
}

pub struct Count<W> {
    pub counters: W,
}

impl<W: CounterWriter> Count<W> {
    /// Adds a batch of `shard`'s records to its window; when the window `closes`, writes each
    /// counter once. Returns the window to hand to the next invocation (empty once closed).
    pub async fn invocation(
        &self,
        shard: &str,
        mut window: CounterWindow,
        changes: &[CountedChange],
        closes: bool,
    ) -> Result<(CounterWindow, CountReport), StoreError> {
        let added = window.add(changes);
        let mut report = CountReport {
            counted: added.counted,
            redelivered: added.redelivered,
            ..CountReport::default()
        };
        if !closes {
            return Ok((window, report));
        }
        let outcomes: Vec<CounterAdded> = stream::iter(
            window
                .writes()
                .map(|counter| self.counters.add_once(shard, counter)),
        )
        .buffer_unordered(WRITES_IN_FLIGHT)
        .try_collect()
        .await?;
        report.writes = outcomes
            .iter()
            .filter(|o| **o == CounterAdded::Added)
            .count();
        report.found = outcomes.len() - report.writes;
        Ok((CounterWindow::default(), report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LedgerConfig;
    use crate::counters::{CounterIncrement, Metric, Scope};
    use crate::tally::SequenceNumber;
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
    async fn a_lost_response_and_the_retried_close_count_once() {
        let ledger = InMemoryLedger::new(&LedgerConfig::default());
        let count = Count { counters: &ledger };
        let stream = changes(10, &[10]);
        let (window, report) = count
            .invocation("s1", CounterWindow::default(), &stream[..6], false)
            .await
            .expect("first batch");
        assert_eq!((report.counted, report.writes), (6, 0));
        assert_eq!(ledger.counter_total(&Scope::Account, Metric::Deliveries), 0);
        // The closing invocation's first write lands but its response is lost.
        ledger.lose_next_responses(1);
        assert!(count
            .invocation("s1", window.clone(), &stream[6..], true)
            .await
            .is_err());
        // Lambda retries it with the same state and records.
        let (left, report) = count
            .invocation("s1", window, &stream[6..], true)
            .await
            .expect("retry");
        assert!(left.is_empty());
        assert_eq!((report.writes, report.found), (3, 1), "{report:?}");
        assert_eq!(
            ledger.counter_total(&Scope::Account, Metric::Deliveries),
            10
        );
        for p in 0..3 {
            let scope = Scope::Provider(format!("p{p}"));
            let expected = (1..=10u64).filter(|i| i % 3 == p).count() as u64;
            assert_eq!(ledger.counter_total(&scope, Metric::Deliveries), expected);
        }
        // Another shard's window adds to the same counters under its own mark.
        let more = changes(12, &[10]);
        count
            .invocation("s2", CounterWindow::default(), &more[10..], true)
            .await
            .expect("other shard");
        assert_eq!(
            ledger.counter_total(&Scope::Account, Metric::Deliveries),
            12
        );
    }

    proptest! {
        /// However a shard's stream is cut into windows and batches, however often Lambda
        /// redelivers a batch (in order, or a record it delivered before), and whichever writes
        /// of a closing invocation land before it dies, every record counts once in every
        /// counter it adds to.
        #[test]
        fn windows_that_die_anywhere_count_every_record_once(
            n in 1u64..60,
            hours in proptest::collection::vec(0u32..4, 1..5),
            windows in proptest::collection::vec(1usize..20, 1..8),
            batches in proptest::collection::vec(1usize..6, 1..8),
            redeliver in proptest::collection::vec(any::<bool>(), 1..8),
            deaths in proptest::collection::vec(0usize..8, 0..6),
        ) {
            let stream = changes(n, &hours);
            let ledger = InMemoryLedger::new(&LedgerConfig::default());
            let count = Count { counters: &ledger };
            let mut deaths = deaths.into_iter();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let (mut start, mut w, mut b) = (0, 0, 0);
                while start < stream.len() {
                    let end = (start + windows[w % windows.len()]).min(stream.len());
                    w += 1;
                    let mut window = CounterWindow::default();
                    let mut at = start;
                    while at < end {
                        let to = (at + batches[b % batches.len()]).min(end);
                        let again = redeliver[b % redeliver.len()];
                        b += 1;
                        let (next, _) = count
                            .invocation("shard", window, &stream[at..to], false)
                            .await
                            .expect("no writes before the close");
                        window = next;
                        if again {
                            // A redelivery of records the window holds.
                            let (next, report) = count
                                .invocation("shard", window, &stream[start..to], false)
                                .await
                                .expect("redelivery");
                            assert_eq!(report.counted, 0);
                            window = next;
                        }
                        at = to;
                    }
                    // The close dies after some writes, and is retried with the same state.
                    for after in deaths.by_ref() {
                        ledger.fail_writes_after(after);
                        let died = count
                            .invocation("shard", window.clone(), &[], true)
                            .await
                            .is_err();
                        ledger.fail_writes_after(usize::MAX);
                        if !died {
                            break;
                        }
                    }
                    count
                        .invocation("shard", window, &[], true)
                        .await
                        .expect("close succeeds");
                    start = end;
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
