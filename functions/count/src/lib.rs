//! The counting Lambda, fed by the ledger table's DynamoDB stream: writes what each batch adds
//! to the hourly counters (`usecase::Count`), once, on every invocation, so nothing waits in the
//! tumbling window's state (the window is there for the shard id it gives each invocation). A
//! failed invocation is retried with the batch; what cannot be read is left out, logged and
//! counted (`SesLedger` `CountSkipped`), never failed.

use chrono::Utc;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use ses_ledger::emf::Line;
use ses_ledger::ports::{CounterWriter, StoreError};
use ses_ledger::usecase::{Count, CountReport};
use ses_ledger_aws::dynamo::stream::{
    counted_changes, window_invocation, Skipped, StreamError, WindowError,
};

#[derive(Debug, thiserror::Error)]
pub enum CountError {
    /// An event that is no DynamoDB stream event.
    #[error("{0}")]
    NotAStream(#[from] StreamError),
    /// Not an invocation of a tumbling window (a mapping set up without one): no shard id.
    #[error("{0}")]
    NotAWindow(#[from] WindowError),
    #[error("counters not written: {0}")]
    Store(#[from] StoreError),
}

impl From<CountError> for Diagnostic {
    fn from(error: CountError) -> Diagnostic {
        let error_type = match &error {
            CountError::NotAStream(_) => "NotAStreamEvent",
            CountError::NotAWindow(_) => "StreamWindowMissing",
            CountError::Store(_) => "StoreUnavailable",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

/// What one invocation did: the shard, the records it was given, what it wrote, and what it
/// left out.
#[derive(Debug, Clone)]
pub struct Counted {
    pub shard: String,
    pub records: usize,
    pub report: CountReport,
    pub skipped: Vec<Skipped>,
    /// Whether Lambda said the window ends with this invocation.
    pub window_closes: bool,
}

/// The batch of one stream event written to the counters.
pub async fn count<W: CounterWriter>(app: &Count<W>, event: &Value) -> Result<Counted, CountError> {
    let invocation = window_invocation(event)?;
    let batch = counted_changes(event)?;
    let report = app
        .batch(&invocation.shard, invocation.carried, &batch.changes)
        .await?;
    Ok(Counted {
        shard: invocation.shard,
        records: batch.changes.len() + batch.skipped.iter().filter(|s| s.index.is_some()).count(),
        report,
        skipped: invocation
            .unreadable_state
            .into_iter()
            .chain(batch.skipped)
            .collect(),
        window_closes: invocation.closes,
    })
}

/// One invocation. The answer is what AWS documents for a tumbling window: `state` (required,
/// or Lambda counts the invocation as failed; empty, since every batch is written) and
/// `batchItemFailures` (none: the batch is written whole or the invocation fails). The figures
/// go to the log, and what was left out to the `CountSkipped` metric.
pub async fn handle<W: CounterWriter>(
    app: &Count<W>,
    event: LambdaEvent<Value>,
) -> Result<Value, CountError> {
    let done = count(app, &event.payload).await?;
    let shard = &done.shard;
    for skip in &done.skipped {
        tracing::warn!(
            shard = %shard,
            reason = skip.reason.code(),
            "{skip}: left out; the rest of the batch is counted"
        );
    }
    if done.report.carried_in_part > 0 {
        tracing::warn!(
            shard = %shard,
            counters = done.report.carried_in_part,
            "the window state an earlier version handed on was already written in part; those counters were left as they are"
        );
    }
    let skipped: Vec<&Skipped> = done.skipped.iter().collect();
    for line in skip_metrics(&skipped, done.report.carried_in_part) {
        println!("{line}");
    }
    let r = &done.report;
    tracing::info!(
        shard = %shard,
        records = done.records,
        counted = r.counted,
        redelivered = r.redelivered,
        writes = r.writes,
        found = r.found,
        resumed = r.resumed,
        carried = r.carried,
        skipped = done.skipped.len(),
        window_closes = done.window_closes,
        "counted"
    );
    Ok(response())
}

/// The answer to every successful invocation.
pub fn response() -> Value {
    serde_json::json!({"state": {}, "batchItemFailures": []})
}

/// `SesLedger` `CountSkipped` by `Reason`: what the invocation left out. One line per reason;
/// none when nothing was left out.
fn skip_metrics(skipped: &[&Skipped], carried_in_part: usize) -> Vec<Value> {
    let mut by_reason: std::collections::BTreeMap<&str, u64> = Default::default();
    for skip in skipped {
        *by_reason.entry(skip.reason.code()).or_default() += 1;
    }
    if carried_in_part > 0 {
        by_reason.insert("CarriedStateWrittenInPart", carried_in_part as u64);
    }
    let now = Utc::now();
    by_reason
        .into_iter()
        .filter_map(|(reason, n)| {
            Line::new(now, &[&["Reason"], &[]])
                .dimension("Reason", reason)
                .count("CountSkipped", n)
                .to_json()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_runtime::Context;
    use ses_ledger::config::LedgerConfig;
    use ses_ledger::counters::{Metric, Scope};
    use ses_ledger::tally::{CountedChange, CounterWindow};
    use ses_ledger::testkit::memory::InMemoryLedger;
    use ses_ledger_aws::dynamo::stream::SkipReason;

    const SHARD: &str = "shardId-00000001700000000000-0a1b2c3d";

    /// Records `first..first + n` as the mapping sends them: deliveries in the account and at
    /// gmail, in one hour.
    fn records(first: u64, n: u64) -> Vec<Value> {
        (first..first + n)
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
            .collect()
    }

    /// An invocation of `shard`'s tumbling window with these records and flags.
    fn invocation(
        shard: &str,
        records: Vec<Value>,
        state: Value,
        last: bool,
        early: bool,
    ) -> Value {
        serde_json::json!({
            "Records": records,
            "window": {"start": "2026-11-20T10:00:00Z", "end": "2026-11-20T10:15:00Z"},
            "state": state,
            "shardId": shard,
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/ledger/stream/2026-11-01T00:00:00.000",
            "isFinalInvokeForWindow": last,
            "isWindowTerminatedEarly": early
        })
    }

    async fn call(app: &Count<&InMemoryLedger>, payload: Value) -> Result<Value, CountError> {
        handle(app, LambdaEvent::new(payload, Context::default())).await
    }

    fn totals(ledger: &InMemoryLedger) -> (u64, u64) {
        (
            ledger.counter_total(&Scope::Account, Metric::Deliveries),
            ledger.counter_total(&Scope::Provider("gmail".into()), Metric::Deliveries),
        )
    }

    #[tokio::test]
    async fn every_invocation_writes_its_batch_and_answers_only_what_aws_documents() {
        let ledger = InMemoryLedger::new(&LedgerConfig::default());
        let app = Count { counters: &ledger };
        let empty = serde_json::json!({});
        let answer = call(
            &app,
            invocation(SHARD, records(1, 50), empty.clone(), false, false),
        )
        .await
        .expect("first");
        assert_eq!(
            answer,
            serde_json::json!({"state": {}, "batchItemFailures": []})
        );
        // Written now, not when the window closes.
        assert_eq!(totals(&ledger), (50, 50));
        // A redelivery of the same batch, and the window's close: nothing more.
        call(
            &app,
            invocation(SHARD, records(1, 50), empty.clone(), false, false),
        )
        .await
        .expect("redelivered");
        call(&app, invocation(SHARD, vec![], empty, true, false))
            .await
            .expect("close");
        assert_eq!(totals(&ledger), (50, 50));
    }

    #[tokio::test]
    async fn a_window_left_open_when_its_shard_ends_or_ended_early_loses_nothing() {
        let ledger = InMemoryLedger::new(&LedgerConfig::default());
        let app = Count { counters: &ledger };
        let empty = serde_json::json!({});
        // The parent shard's window gets two batches and never a final invocation: the shard
        // ended.
        for first in [1, 21] {
            call(
                &app,
                invocation(SHARD, records(first, 20), empty.clone(), false, false),
            )
            .await
            .expect("parent");
        }
        // Its child shard starts its own window with a fresh state; Lambda cuts one of its
        // windows short (state over 1 MB), and the window goes on with a fresh state.
        let child = "shardId-00000001700000000999-ffffffff";
        call(
            &app,
            invocation(child, records(41, 10), empty.clone(), false, true),
        )
        .await
        .expect("ended early");
        call(
            &app,
            invocation(child, records(51, 10), empty, false, false),
        )
        .await
        .expect("goes on");
        assert_eq!(totals(&ledger), (60, 60));
    }

    #[tokio::test]
    async fn a_window_state_from_the_earlier_version_is_written_once_and_a_foreign_one_ignored() {
        let ledger = InMemoryLedger::new(&LedgerConfig::default());
        let app = Count { counters: &ledger };
        // The earlier version held records 1..=30 in its window and had written none of them.
        let held = counted_changes(&serde_json::json!({"Records": records(1, 30)}))
            .expect("readable")
            .changes;
        let state = serde_json::json!(CounterWindow::of(&held).to_state());
        let upgrade = invocation(SHARD, records(31, 10), state, false, false);
        call(&app, upgrade.clone()).await.expect("after the deploy");
        assert_eq!(totals(&ledger), (40, 40));
        // Lambda retries that invocation: nothing doubles.
        call(&app, upgrade).await.expect("retried");
        assert_eq!(totals(&ledger), (40, 40));
        // A state no version of ours wrote does not stop the shard.
        for foreign in [
            serde_json::json!({"count": 7}),
            serde_json::json!({"2026-11-20T10:00:00|account": "{\"first\":\"1\"}"}),
            serde_json::json!([1, 2]),
        ] {
            call(
                &app,
                invocation(SHARD, records(41, 5), foreign, false, false),
            )
            .await
            .expect("foreign state");
        }
        assert_eq!(totals(&ledger), (45, 45));
    }

    #[tokio::test]
    async fn an_empty_tag_value_or_an_unknown_metric_leaves_out_that_part_and_counts_the_rest() {
        let ledger = InMemoryLedger::new(&LedgerConfig::default());
        let app = Count { counters: &ledger };
        let mut batch = records(1, 3);
        // As a version before empty values were dropped wrote a message tagged
        // "ses:configuration-set": [""].
        batch[1]["dynamodb"]["NewImage"]["scopes"] =
            serde_json::json!({"SS": ["account", "configuration-set:", "provider:gmail"]});
        batch[2]["dynamodb"]["NewImage"]["count_metrics"] =
            serde_json::json!({"SS": ["deliveries", "bogus"]});
        call(
            &app,
            invocation(SHARD, batch, serde_json::json!({}), false, false),
        )
        .await
        .expect("not failed");
        assert_eq!(totals(&ledger), (3, 3));
        assert_eq!(ledger.scopes().len(), 2, "{:?}", ledger.scopes());
    }

    #[tokio::test]
    async fn only_an_event_without_a_shard_or_records_fails() {
        let ledger = InMemoryLedger::new(&LedgerConfig::default());
        let app = Count { counters: &ledger };
        let mut no_window = invocation(SHARD, records(1, 3), serde_json::json!({}), true, false);
        no_window.as_object_mut().map(|o| o.remove("shardId"));
        let diagnostic = Diagnostic::from(call(&app, no_window).await.expect_err("no shard"));
        assert_eq!(diagnostic.error_type, "StreamWindowMissing");
        assert!(diagnostic.error_message.contains("TumblingWindowInSeconds"));
        let mut not_a_stream = invocation(SHARD, vec![], serde_json::json!({}), true, false);
        not_a_stream["Records"] = serde_json::json!("x");
        let diagnostic = Diagnostic::from(call(&app, not_a_stream).await.expect_err("no list"));
        assert_eq!(diagnostic.error_type, "NotAStreamEvent");
        assert_eq!(totals(&ledger), (0, 0));
    }

    #[test]
    fn what_was_left_out_becomes_one_valid_metric_line_per_reason() {
        let skip = |reason| Skipped {
            index: Some(0),
            reason,
            detail: String::new(),
        };
        let (a, b, c) = (
            skip(SkipReason::UnknownScope),
            skip(SkipReason::UnknownScope),
            skip(SkipReason::UnreadableRecord),
        );
        let lines = skip_metrics(&[&a, &b, &c], 1);
        let counts: Vec<(String, u64)> = lines
            .iter()
            .map(|l| {
                assert_eq!(ses_ledger::emf::check(l), Ok(()), "{l}");
                (
                    l["Reason"].as_str().unwrap_or_default().to_string(),
                    l["CountSkipped"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        assert_eq!(
            counts,
            vec![
                ("CarriedStateWrittenInPart".to_string(), 1),
                ("UnknownScope".to_string(), 2),
                ("UnreadableRecord".to_string(), 1),
            ]
        );
        assert!(skip_metrics(&[], 0).is_empty());
        let _: Vec<CountedChange> = Vec::new();
    }
}
