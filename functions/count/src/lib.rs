//! The counting Lambda, fed by the ledger table's DynamoDB stream: sums a batch's increments and
//! writes them as hourly counter items exactly once (`usecase::Count`). A failed batch is retried
//! whole by the event source mapping, which must neither bisect batches nor take partial
//! failures: counter items are named by the first record that contributes to them.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use ses_ledger::ports::{CounterWriter, StoreError};
use ses_ledger::usecase::Count;
use ses_ledger_aws::dynamo::stream::{counted_changes, StreamError};

#[derive(Debug, thiserror::Error)]
pub enum CountError {
    /// A record we cannot read: retrying will not help, and the batch stays until the record
    /// leaves the stream (24 hours), then goes to the on-failure destination.
    #[error("unreadable stream batch: {0}")]
    Unreadable(#[from] StreamError),
    #[error("counters not written: {0}")]
    Store(#[from] StoreError),
}

impl From<CountError> for Diagnostic {
    fn from(error: CountError) -> Diagnostic {
        let error_type = match &error {
            CountError::Unreadable(_) => "StreamRecordUnreadable",
            CountError::Store(_) => "StoreUnavailable",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

/// One stream batch: its changes, written as the counter items earlier attempts did not write.
pub async fn handle<W: CounterWriter>(
    app: &Count<W>,
    event: LambdaEvent<Value>,
) -> Result<Value, CountError> {
    let changes = counted_changes(&event.payload)?;
    let report = app.batch(&changes).await?;
    tracing::info!(
        records = changes.len(),
        counted = report.counted,
        already_counted = report.already_counted,
        writes = report.writes,
        found = report.found,
        "counted"
    );
    Ok(serde_json::json!({
        "records": changes.len(),
        "counted": report.counted,
        "already_counted": report.already_counted,
        "writes": report.writes,
        "found": report.found,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_runtime::Context;
    use ses_ledger::config::LedgerConfig;
    use ses_ledger::counters::{Metric, Scope};
    use ses_ledger::testkit::memory::InMemoryLedger;

    fn batch(first: u64, n: u64) -> Value {
        let records: Vec<Value> = (first..first + n)
            .map(|i| {
                serde_json::json!({
                    "eventID": format!("e{i}"),
                    "eventName": "INSERT",
                    "eventSource": "aws:dynamodb",
                    "dynamodb": {
                        "SequenceNumber": format!("{}", 1_000_000 + i),
                        "NewImage": {
                            "pk": {"S": format!("MSG#m{i}")},
                            "sk": {"S": format!("EVT#e{i}")},
                            "scopes": {"SS": ["account", "provider:gmail"]},
                            "count_bucket": {"S": "2026-11-20T10"},
                            "count_metrics": {"SS": ["deliveries"]}
                        }
                    }
                })
            })
            .collect();
        serde_json::json!({ "Records": records })
    }

    #[tokio::test]
    async fn a_batch_counts_once_however_often_it_arrives() {
        let ledger = InMemoryLedger::new(&LedgerConfig::default());
        let app = Count { counters: &ledger };
        let call = |payload: Value| handle(&app, LambdaEvent::new(payload, Context::default()));
        let first = call(batch(1, 50)).await.expect("first");
        // One hour, two scopes: two counter items.
        assert_eq!(
            (first["counted"].clone(), first["writes"].clone()),
            (50.into(), 2.into())
        );
        let again = call(batch(1, 50)).await.expect("redelivered");
        assert_eq!(
            (
                again["counted"].clone(),
                again["already_counted"].clone(),
                again["writes"].clone()
            ),
            (0.into(), 50.into(), 0.into())
        );
        call(batch(51, 10)).await.expect("next");
        assert_eq!(
            ledger.counter_total(&Scope::Account, Metric::Deliveries),
            60
        );
        assert_eq!(
            ledger.counter_total(&Scope::Provider("gmail".into()), Metric::Deliveries),
            60
        );
    }

    #[tokio::test]
    async fn an_unreadable_record_fails_the_batch_and_counts_nothing() {
        let ledger = InMemoryLedger::new(&LedgerConfig::default());
        let app = Count { counters: &ledger };
        let mut payload = batch(1, 3);
        payload["Records"][2]["dynamodb"]["NewImage"]["count_metrics"] =
            serde_json::json!({"SS": ["deliveries", "bogus"]});
        let error = handle(&app, LambdaEvent::new(payload, Context::default()))
            .await
            .expect_err("unknown metric");
        let diagnostic = Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "StreamRecordUnreadable");
        assert!(
            diagnostic
                .error_message
                .contains("stream record 2: unknown metric \"bogus\""),
            "{}",
            diagnostic.error_message
        );
        assert_eq!(ledger.counter_total(&Scope::Account, Metric::Deliveries), 0);
    }
}
