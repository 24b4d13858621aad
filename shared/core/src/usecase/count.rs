//! The counting use case: one batch of the ledger table's change stream into the hourly
//! counters, exactly once (see `tally` for why).

use crate::ports::{CounterWriter, StoreError};
use crate::tally::{plan, CountedChange};

/// Counters one transaction may hold beside the checkpoint (DynamoDB allows 100 items).
pub const MAX_COUNTERS_PER_TRANSACTION: usize = 99;

/// How often a batch is re-planned when its checkpoint moved under it. Lambda runs one batch per
/// stream shard at a time, so this happens only when a retry overlaps an attempt that committed.
const MAX_REPLANS: u32 = 5;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CountReport {
    /// Records of the batch applied now.
    pub applied: usize,
    /// Those of them that added to a counter.
    pub counted: usize,
    /// Records the checkpoint already covered (a redelivered batch).
    pub already_counted: usize,
    /// Counter transactions committed.
    pub transactions: usize,
}

pub struct Count<W> {
    pub counters: W,
}

impl<W: CounterWriter> Count<W> {
    pub async fn batch(&self, changes: &[CountedChange]) -> Result<CountReport, StoreError> {
        let mut report = CountReport::default();
        let Some(batch) = changes.iter().map(|c| &c.sequence).min() else {
            return Ok(report);
        };
        let mut checkpoint = self.counters.checkpoint(batch).await?;
        'replan: for _ in 0..MAX_REPLANS {
            let chunks = plan(changes, checkpoint.as_ref(), MAX_COUNTERS_PER_TRANSACTION);
            let pending: usize = chunks.iter().map(|c| c.records).sum();
            report.already_counted = changes.len().saturating_sub(pending + report.applied);
            for chunk in &chunks {
                if !self
                    .counters
                    .apply(batch, checkpoint.as_ref(), chunk)
                    .await?
                {
                    checkpoint = self.counters.checkpoint(batch).await?;
                    continue 'replan;
                }
                checkpoint = Some(chunk.last.clone());
                report.applied += chunk.records;
                report.counted += chunk.counting;
                report.transactions += 1;
            }
            return Ok(report);
        }
        Err(StoreError::Exhausted {
            operation: "counter checkpoint",
            attempts: MAX_REPLANS,
            message: format!("the checkpoint of batch {} kept moving", batch.as_str()),
        })
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

    fn changes(n: u64) -> Vec<CountedChange> {
        let bucket = chrono::Utc
            .with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
            .single()
            .expect("valid");
        (1..=n)
            .map(|i| CountedChange {
                sequence: SequenceNumber::parse(&(1000 + i).to_string()).expect("digits"),
                increments: vec![CounterIncrement {
                    scope: Scope::Account,
                    bucket,
                    metrics: vec![Metric::Deliveries],
                    details: vec![],
                }],
            })
            .collect()
    }

    #[tokio::test]
    async fn a_lost_response_and_the_retried_batch_count_once() {
        let ledger = InMemoryLedger::new(&LedgerConfig::default());
        let count = Count { counters: &ledger };
        let stream = changes(10);
        ledger.lose_next_responses(1);
        assert!(count.batch(&stream[..6]).await.is_err());
        assert_eq!(ledger.counter_total(&Scope::Account, Metric::Deliveries), 6);
        // Lambda retries the failed batch from its first record, here with more behind it.
        let report = count.batch(&stream).await.expect("retry");
        assert_eq!(
            report,
            CountReport {
                applied: 4,
                counted: 4,
                already_counted: 6,
                transactions: 1
            }
        );
        assert_eq!(
            ledger.counter_total(&Scope::Account, Metric::Deliveries),
            10
        );
        // The retry again: nothing moves.
        let again = count.batch(&stream).await.expect("again");
        assert_eq!((again.applied, again.already_counted), (0, 10));
        // The next batch starts after it and has its own checkpoint.
        let next = changes(12);
        count.batch(&next[10..]).await.expect("next batch");
        assert_eq!(
            ledger.counter_total(&Scope::Account, Metric::Deliveries),
            12
        );
    }
}
