//! The counting Lambda, fed by the ledger table's DynamoDB stream with a tumbling window: adds
//! each batch to the shard's window, which Lambda hands from one invocation to the next as
//! `state`, and writes every counter once when the window closes (`usecase::Count`). A failed
//! invocation is retried with the same records and state.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use ses_ledger::ports::{CounterWriter, StoreError};
use ses_ledger::usecase::Count;
use ses_ledger_aws::dynamo::stream::{
    counted_changes, window_invocation, StreamError, WindowError,
};

#[derive(Debug, thiserror::Error)]
pub enum CountError {
    /// A record we cannot read: retrying will not help, and the batch stays until the record
    /// leaves the stream (24 hours), then goes to the on-failure destination.
    #[error("unreadable stream batch: {0}")]
    Unreadable(#[from] StreamError),
    /// Not an invocation of a tumbling window (a mapping set up without one).
    #[error("{0}")]
    NotAWindow(#[from] WindowError),
    #[error("counters not written: {0}")]
    Store(#[from] StoreError),
}

impl From<CountError> for Diagnostic {
    fn from(error: CountError) -> Diagnostic {
        let error_type = match &error {
            CountError::Unreadable(_) => "StreamRecordUnreadable",
            CountError::NotAWindow(_) => "StreamWindowMissing",
            CountError::Store(_) => "StoreUnavailable",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

/// One invocation: the batch into the window, and the window's counters written if it closes.
/// The answer is Lambda's `TimeWindowEventResponse` (`state` is required, or Lambda counts the
/// invocation as failed), with what was done beside it.
pub async fn handle<W: CounterWriter>(
    app: &Count<W>,
    event: LambdaEvent<Value>,
) -> Result<Value, CountError> {
    let invocation = window_invocation(&event.payload)?;
    let changes = counted_changes(&event.payload)?;
    let (window, report) = app
        .invocation(
            &invocation.shard,
            invocation.window,
            &changes,
            invocation.closes,
        )
        .await?;
    tracing::info!(
        shard = %invocation.shard,
        records = changes.len(),
        counted = report.counted,
        redelivered = report.redelivered,
        closes = invocation.closes,
        writes = report.writes,
        found = report.found,
        "counted"
    );
    Ok(serde_json::json!({
        "state": window.to_state(),
        "batchItemFailures": [],
        "records": changes.len(),
        "counted": report.counted,
        "redelivered": report.redelivered,
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

    /// An invocation as the mapping sends it: `n` records from `first` on, the state handed on,
    /// and whether it closes the window.
    fn invocation(first: u64, n: u64, state: &Value, closes: bool) -> Value {
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
        serde_json::json!({
            "Records": records,
            "window": {"start": "2026-11-20T10:00:00Z", "end": "2026-11-20T10:15:00Z"},
            "state": state,
            "shardId": "shardId-00000001700000000000-0a1b2c3d",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/ledger/stream/2026-11-01T00:00:00.000",
            "isFinalInvokeForWindow": closes,
            "isWindowTerminatedEarly": false
        })
    }

    #[tokio::test]
    async fn a_window_counts_once_however_often_its_batches_and_close_arrive() {
        let ledger = InMemoryLedger::new(&LedgerConfig::default());
        let app = Count { counters: &ledger };
        let call = |payload: Value| handle(&app, LambdaEvent::new(payload, Context::default()));
        let empty = serde_json::json!({});
        let first = call(invocation(1, 50, &empty, false)).await.expect("first");
        assert_eq!(
            (first["counted"].clone(), first["writes"].clone()),
            (50.into(), 0.into())
        );
        assert_eq!(ledger.counter_total(&Scope::Account, Metric::Deliveries), 0);
        // A redelivery of the same batch, with the state it produced.
        let again = call(invocation(1, 50, &first["state"], false))
            .await
            .expect("redelivered");
        assert_eq!(
            (again["counted"].clone(), again["redelivered"].clone()),
            (0.into(), 50.into())
        );
        let close = invocation(51, 10, &again["state"], true);
        let closed = call(close.clone()).await.expect("close");
        // One hour, two scopes: two counter updates; the next window starts empty.
        assert_eq!(
            (closed["writes"].clone(), closed["state"].clone()),
            (2.into(), empty.clone())
        );
        // Lambda retries the close with the same records and state.
        let retried = call(close).await.expect("retried close");
        assert_eq!(
            (retried["writes"].clone(), retried["found"].clone()),
            (0.into(), 2.into())
        );
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
    async fn an_unreadable_record_or_window_fails_the_invocation_and_counts_nothing() {
        let ledger = InMemoryLedger::new(&LedgerConfig::default());
        let app = Count { counters: &ledger };
        let mut payload = invocation(1, 3, &serde_json::json!({}), true);
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

        let mut no_window = invocation(1, 3, &serde_json::json!({}), true);
        no_window.as_object_mut().map(|o| o.remove("shardId"));
        let diagnostic = Diagnostic::from(
            handle(&app, LambdaEvent::new(no_window, Context::default()))
                .await
                .expect_err("no shard"),
        );
        assert_eq!(diagnostic.error_type, "StreamWindowMissing");
        assert!(diagnostic.error_message.contains("TumblingWindowInSeconds"));

        let foreign_state = invocation(1, 3, &serde_json::json!({"count": "7"}), true);
        let diagnostic = Diagnostic::from(
            handle(&app, LambdaEvent::new(foreign_state, Context::default()))
                .await
                .expect_err("not our state"),
        );
        assert_eq!(diagnostic.error_type, "StreamWindowMissing");
        assert_eq!(ledger.counter_total(&Scope::Account, Metric::Deliveries), 0);
    }
}
