//! The table's change stream as the counting consumer sees it: Lambda's DynamoDB stream event
//! with a tumbling window (`{"Records":[{"eventName", "dynamodb":{"SequenceNumber", "NewImage",
//! "OldImage"}}], "shardId", "state", "isFinalInvokeForWindow", "isWindowTerminatedEarly"}`,
//! images in DynamoDB JSON) into the changes `usecase::Count` writes. An event item counts when
//! it is inserted, and again in the scopes a later copy adds (a MODIFY whose `scopes` grew: the
//! duplicate that knows more). Counters and summaries change too; they count nothing.
//!
//! Nothing in a record stops the shard: what the consumer cannot read (a record without a
//! sequence number, a scope, metric or detail it does not know) is left out and reported as
//! [`Skipped`], and the rest of the batch is counted. A failed batch would be retried until its
//! records left the stream, and every record in it would go uncounted.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use ses_ledger::counters::{ComplaintBreakdown, CounterIncrement, Metric, Scope};
use ses_ledger::tally::{CountedChange, CounterWindow, SequenceNumber};

use super::keys;

const BUCKET: &str = "count_bucket";
const METRICS: &str = "count_metrics";
const DETAILS: &str = "count_details";
pub(super) const SCOPES: &str = "scopes";

/// An event that is no DynamoDB stream event at all (its `Records` is not a list): the
/// invocation fails, since no event source mapping sends one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a DynamoDB stream event: {0}")]
pub struct StreamError(pub String);

/// Why part of a stream event was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// A record without a readable `SequenceNumber`, or without its `dynamodb` object.
    UnreadableRecord,
    /// An event item with scopes but no readable hour (`count_bucket`).
    NoHour,
    /// A scope the consumer does not know; the record counts in its other scopes.
    UnknownScope,
    /// A metric the consumer does not know; the record counts its other metrics.
    UnknownMetric,
    /// A complaint breakdown the consumer does not know.
    UnknownDetail,
    /// Window state it cannot read (written by another version): the window starts afresh.
    UnreadableState,
}

impl SkipReason {
    /// The `Reason` dimension of the `SesLedger` `CountSkipped` metric.
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::UnreadableRecord => "UnreadableRecord",
            SkipReason::NoHour => "NoHour",
            SkipReason::UnknownScope => "UnknownScope",
            SkipReason::UnknownMetric => "UnknownMetric",
            SkipReason::UnknownDetail => "UnknownDetail",
            SkipReason::UnreadableState => "UnreadableState",
        }
    }
}

/// What was left out: the record's index in the batch (`None` for the window state) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub index: Option<usize>,
    pub reason: SkipReason,
    pub detail: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(i) => write!(f, "stream record {i}: {}", self.detail),
            None => write!(f, "window state: {}", self.detail),
        }
    }
}

/// The attributes an event item carries so the stream can count it: the hour, and what it adds
/// to in every one of its `scopes` (all scopes of an event get the same metrics).
pub fn count_attributes(increment: &CounterIncrement) -> Vec<(String, AttributeValue)> {
    let mut out = vec![(
        BUCKET.to_string(),
        AttributeValue::S(keys::bucket_label(increment.bucket)),
    )];
    if !increment.metrics.is_empty() {
        out.push((
            METRICS.to_string(),
            AttributeValue::Ss(
                increment
                    .metrics
                    .iter()
                    .map(|m| m.attribute().to_string())
                    .collect(),
            ),
        ));
    }
    if !increment.details.is_empty() {
        out.push((
            DETAILS.to_string(),
            AttributeValue::Ss(increment.details.iter().map(|d| d.attribute()).collect()),
        ));
    }
    out
}

/// What the event source mapping says of an invocation besides its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowInvocation {
    /// The shard the records come from: the counters' high-water marks are kept per shard.
    pub shard: String,
    /// A window an earlier version of the function handed on in `state`, with counts it had not
    /// written yet (empty from this version on, which writes every batch).
    pub carried: CounterWindow,
    /// A `state` that could not be read, left out.
    pub unreadable_state: Option<Skipped>,
    /// Whether Lambda says the window ends with this invocation (logged; nothing depends on it).
    pub closes: bool,
}

/// An event without the shard it comes from: the mapping lacks `TumblingWindowInSeconds` (only
/// tumbling-window events name the shard, and the marks are kept per shard).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stream window: {0}")]
pub struct WindowError(pub String);

/// The window properties of a stream event.
pub fn window_invocation(event: &Value) -> Result<WindowInvocation, WindowError> {
    let shard = event
        .get("shardId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            WindowError("no shardId: the event source mapping needs TumblingWindowInSeconds".into())
        })?;
    let read_state = || -> Result<CounterWindow, String> {
        let state: std::collections::BTreeMap<String, String> = match event.get("state") {
            None | Some(Value::Null) => return Ok(CounterWindow::default()),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| format!("not a map of strings: {e}"))?,
        };
        CounterWindow::from_state(&state)
    };
    let (carried, unreadable_state) = match read_state() {
        Ok(window) => (window, None),
        Err(detail) => (
            CounterWindow::default(),
            Some(Skipped {
                index: None,
                reason: SkipReason::UnreadableState,
                detail,
            }),
        ),
    };
    let flag = |name: &str| event.get(name).and_then(Value::as_bool).unwrap_or(false);
    Ok(WindowInvocation {
        shard: shard.to_string(),
        carried,
        unreadable_state,
        closes: flag("isFinalInvokeForWindow") || flag("isWindowTerminatedEarly"),
    })
}

/// The records of one stream event: what they add, in the event's order, and what was left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamBatch {
    pub changes: Vec<CountedChange>,
    pub skipped: Vec<Skipped>,
}

/// The changes of one stream event. The last invocation of a window may carry no records.
pub fn counted_changes(event: &Value) -> Result<StreamBatch, StreamError> {
    let records = match event.get("Records") {
        None | Some(Value::Null) => return Ok(StreamBatch::default()),
        Some(records) => records
            .as_array()
            .ok_or_else(|| StreamError("Records is not a list".into()))?,
    };
    let mut batch = StreamBatch::default();
    for (index, record) in records.iter().enumerate() {
        let mut skip = |reason: SkipReason, detail: String| {
            batch.skipped.push(Skipped {
                index: Some(index),
                reason,
                detail,
            })
        };
        let Some(ddb) = record.get("dynamodb") else {
            skip(SkipReason::UnreadableRecord, "no dynamodb object".into());
            continue;
        };
        let sequence = match ddb.get("SequenceNumber").and_then(Value::as_str) {
            None => Err("no SequenceNumber".to_string()),
            Some(s) => SequenceNumber::parse(s),
        };
        let sequence = match sequence {
            Ok(s) => s,
            Err(detail) => {
                skip(SkipReason::UnreadableRecord, detail);
                continue;
            }
        };
        let new = ddb.get("NewImage");
        let is_event = new
            .and_then(|i| string(i, keys::PK))
            .is_some_and(|pk| pk.starts_with(keys::MESSAGE_PK_PREFIX));
        let counted_scopes = |image: Option<&Value>| -> BTreeSet<String> {
            image
                .map(|i| strings(i, SCOPES).into_iter().collect())
                .unwrap_or_default()
        };
        let scopes: Vec<String> = match record.get("eventName").and_then(Value::as_str) {
            Some("INSERT") if is_event => counted_scopes(new).into_iter().collect(),
            Some("MODIFY") if is_event => {
                let before = counted_scopes(ddb.get("OldImage"));
                counted_scopes(new)
                    .into_iter()
                    .filter(|s| !before.contains(s))
                    .collect()
            }
            _ => Vec::new(),
        };
        let mut increments = Vec::new();
        if let (false, Some(image)) = (scopes.is_empty(), new) {
            let bucket = string(image, BUCKET)
                .ok_or_else(|| format!("an event item with scopes has no {BUCKET}"))
                .and_then(|label| keys::parse_bucket_label(&label));
            let bucket = match bucket {
                Ok(b) => b,
                Err(detail) => {
                    skip(SkipReason::NoHour, detail);
                    continue;
                }
            };
            let mut metrics = Vec::new();
            for name in strings(image, METRICS) {
                match Metric::ALL.into_iter().find(|m| m.attribute() == name) {
                    Some(m) => metrics.push(m),
                    None => skip(
                        SkipReason::UnknownMetric,
                        format!("unknown metric {name:?}"),
                    ),
                }
            }
            let mut details = Vec::new();
            for name in strings(image, DETAILS) {
                match ComplaintBreakdown::parse(&name) {
                    Some(d) => details.push(d),
                    None => skip(
                        SkipReason::UnknownDetail,
                        format!("unknown breakdown {name:?}"),
                    ),
                }
            }
            for key in scopes {
                match Scope::parse(&key) {
                    Some(scope) => increments.push(CounterIncrement {
                        scope,
                        bucket,
                        metrics: metrics.clone(),
                        details: details.clone(),
                    }),
                    None => skip(SkipReason::UnknownScope, format!("unknown scope {key:?}")),
                }
            }
        }
        batch.changes.push(CountedChange {
            sequence,
            increments,
        });
    }
    Ok(batch)
}

fn string(image: &Value, name: &str) -> Option<String> {
    image.get(name)?.get("S")?.as_str().map(str::to_string)
}

fn strings(image: &Value, name: &str) -> Vec<String> {
    image
        .get(name)
        .and_then(|v| v.get("SS"))
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn image(scopes: &[&str]) -> Value {
        json!({
            "pk": {"S": "MSG#m1"},
            "sk": {"S": "EVT#e1"},
            "scopes": {"SS": scopes},
            "count_bucket": {"S": "2026-11-20T10"},
            "count_metrics": {"SS": ["complaints", "complaints_not_suppressed"]},
            "count_details": {"SS": ["complaint_feedback:abuse"]}
        })
    }

    #[test]
    fn inserts_count_in_every_scope_and_modifies_only_in_the_new_ones() {
        let event = json!({"Records": [
            {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "100", "NewImage": image(&["account", "provider:yahoo"])}},
            {"eventName": "MODIFY", "dynamodb": {"SequenceNumber": "200",
                "OldImage": image(&["account", "provider:yahoo"]),
                "NewImage": image(&["account", "provider:yahoo", "configuration-set:marketing"])}},
            {"eventName": "MODIFY", "dynamodb": {"SequenceNumber": "250",
                "OldImage": image(&["account"]), "NewImage": image(&["account"])}},
            {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "300", "NewImage": {"pk": {"S": "CNT#account"}, "sk": {"S": "H#2026-11-20T10#w1"}}}},
            {"eventName": "REMOVE", "dynamodb": {"SequenceNumber": "400", "OldImage": image(&["account"])}}
        ]});
        let changes = counted_changes(&event).expect("readable").changes;
        let scopes: Vec<Vec<String>> = changes
            .iter()
            .map(|c| c.increments.iter().map(|i| i.scope.key()).collect())
            .collect();
        assert_eq!(
            scopes,
            vec![
                vec!["account".to_string(), "provider:yahoo".to_string()],
                vec!["configuration-set:marketing".to_string()],
                vec![],
                vec![],
                vec![],
            ]
        );
        let first = &changes[0].increments[0];
        assert_eq!(
            first.metrics,
            vec![Metric::Complaints, Metric::ComplaintsNotSuppressed]
        );
        assert_eq!(
            first.details,
            vec![ComplaintBreakdown::ComplaintFeedbackType("abuse".into())]
        );
        assert_eq!(keys::bucket_label(first.bucket), "2026-11-20T10");
        assert_eq!(
            changes[4].sequence,
            SequenceNumber::parse("400").expect("digits")
        );
    }

    #[test]
    fn what_cannot_be_read_is_left_out_and_named_and_the_rest_counts() {
        let mut odd = image(&["account", "configuration-set:", "provider:yahoo"]);
        odd["count_metrics"] = json!({"SS": ["complaints", "bogus"]});
        let event = json!({"Records": [
            {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "1",
                "NewImage": {"pk": {"S": "MSG#m"}, "scopes": {"SS": ["account"]}}}},
            {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "x1"}},
            {"eventName": "INSERT"},
            {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "4", "NewImage": odd}},
            {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "5", "NewImage": image(&["account"])}}
        ]});
        let batch = counted_changes(&event).expect("a stream event");
        let skipped: Vec<(Option<usize>, &str)> = batch
            .skipped
            .iter()
            .map(|s| (s.index, s.reason.code()))
            .collect();
        assert_eq!(
            skipped,
            vec![
                (Some(0), "NoHour"),
                (Some(1), "UnreadableRecord"),
                (Some(2), "UnreadableRecord"),
                (Some(3), "UnknownMetric"),
                (Some(3), "UnknownScope"),
            ]
        );
        assert_eq!(
            batch.skipped[0].to_string(),
            "stream record 0: an event item with scopes has no count_bucket"
        );
        assert!(batch.skipped[1].detail.contains("not a decimal number"));
        assert!(batch.skipped[4].detail.contains("configuration-set:"));
        // Record 3 counts its known metric in its known scopes; record 5 as usual.
        let counted: Vec<(String, Vec<String>, Vec<Metric>)> = batch
            .changes
            .iter()
            .map(|c| {
                (
                    c.sequence.as_str().trim_start_matches('0').to_string(),
                    c.increments.iter().map(|i| i.scope.key()).collect(),
                    c.increments
                        .first()
                        .map(|i| i.metrics.clone())
                        .unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            counted,
            vec![
                (
                    "4".to_string(),
                    vec!["account".to_string(), "provider:yahoo".to_string()],
                    vec![Metric::Complaints]
                ),
                (
                    "5".to_string(),
                    vec!["account".to_string()],
                    vec![Metric::Complaints, Metric::ComplaintsNotSuppressed]
                ),
            ]
        );
        assert!(counted_changes(&json!({"Records": 5})).is_err());
        // A window's closing invocation may carry no records.
        assert_eq!(
            counted_changes(&json!({"shardId": "s"})),
            Ok(StreamBatch::default())
        );
    }

    #[test]
    fn a_window_state_is_carried_when_readable_and_left_out_when_not() {
        let mut window = CounterWindow::default();
        let batch = counted_changes(&json!({"Records": [
            {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "7", "NewImage": image(&["account"])}}
        ]}))
        .expect("readable");
        window.add(&batch.changes);
        let event = |state: Value| json!({"shardId": "shard-1", "state": state, "isFinalInvokeForWindow": true});
        let carried = window_invocation(&event(json!(window.to_state()))).expect("a window");
        assert_eq!(
            (carried.carried, carried.unreadable_state, carried.closes),
            (window, None, true)
        );
        for foreign in [
            json!({"count": 7}),
            json!({"2026|account": "{}"}),
            json!("text"),
        ] {
            let read = window_invocation(&event(foreign.clone())).expect("a window");
            assert!(read.carried.is_empty(), "{foreign}");
            let skipped = read.unreadable_state.expect("named");
            assert_eq!(
                (skipped.index, skipped.reason),
                (None, SkipReason::UnreadableState)
            );
        }
        assert!(window_invocation(&json!({"state": {}}))
            .expect_err("no shard")
            .to_string()
            .contains("TumblingWindowInSeconds"));
        let empty = window_invocation(&json!({"shardId": "s", "state": {}})).expect("a window");
        assert!(empty.carried.is_empty() && empty.unreadable_state.is_none());
    }
}
