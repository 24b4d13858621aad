//! The table's change stream as the counting consumer sees it: Lambda's DynamoDB stream event
//! with a tumbling window (`{"Records":[{"eventName", "dynamodb":{"SequenceNumber", "NewImage",
//! "OldImage"}}], "shardId", "state", "isFinalInvokeForWindow", "isWindowTerminatedEarly"}`,
//! images in DynamoDB JSON) into the changes `usecase::Count` adds to the shard's window. An event item counts when it is
//! inserted, and again in the scopes a later copy adds (a MODIFY whose `scopes` grew: the
//! duplicate that knows more). Counters, checkpoints and summaries change too; they count nothing.

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

/// A stream record the consumer cannot read: the batch fails, and Lambda retries it (and, once
/// the record expires from the stream, reports it to the on-failure destination).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stream record {index}: {message}")]
pub struct StreamError {
    pub index: usize,
    pub message: String,
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

/// What the event source mapping says of an invocation besides its records: whose window it is,
/// the window so far, and whether this invocation closes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowInvocation {
    pub shard: String,
    pub window: CounterWindow,
    /// The last invocation of the window, or one Lambda cut short because the state grew past
    /// 1 MB (the next invocation continues the window with a fresh state, so this one must write
    /// what it holds).
    pub closes: bool,
}

/// An event that is not a stream invocation with a tumbling window: the mapping lacks
/// `TumblingWindowInSeconds`, or the state is not one this function handed on.
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
    let state: std::collections::BTreeMap<String, String> = match event.get("state") {
        None | Some(Value::Null) => Default::default(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| WindowError(format!("state is not a map of strings: {e}")))?,
    };
    let window = CounterWindow::from_state(&state).map_err(WindowError)?;
    let flag = |name: &str| event.get(name).and_then(Value::as_bool).unwrap_or(false);
    Ok(WindowInvocation {
        shard: shard.to_string(),
        window,
        closes: flag("isFinalInvokeForWindow") || flag("isWindowTerminatedEarly"),
    })
}

/// The changes of one stream event, in its order. The last invocation of a window may carry no
/// records.
pub fn counted_changes(event: &Value) -> Result<Vec<CountedChange>, StreamError> {
    let records = match event.get("Records") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(records) => records.as_array().ok_or_else(|| StreamError {
            index: 0,
            message: "not a DynamoDB stream event: Records is not a list".into(),
        })?,
    };
    let mut changes = Vec::new();
    for (index, record) in records.iter().enumerate() {
        let fail = |message: String| StreamError { index, message };
        let ddb = record
            .get("dynamodb")
            .ok_or_else(|| fail("no dynamodb object".into()))?;
        let sequence = ddb
            .get("SequenceNumber")
            .and_then(Value::as_str)
            .ok_or_else(|| fail("no SequenceNumber".into()))
            .and_then(|s| SequenceNumber::parse(s).map_err(fail))?;
        let new = ddb.get("NewImage");
        let is_event = new
            .and_then(|i| string(i, keys::PK))
            .is_some_and(|pk| pk.starts_with("MSG#"));
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
                .ok_or_else(|| fail(format!("an event item with scopes has no {BUCKET}")))
                .and_then(|label| keys::parse_bucket_label(&label).map_err(fail))?;
            let metrics = strings(image, METRICS)
                .iter()
                .map(|name| {
                    Metric::ALL
                        .into_iter()
                        .find(|m| m.attribute() == name)
                        .ok_or_else(|| fail(format!("unknown metric {name:?}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let details = strings(image, DETAILS)
                .iter()
                .map(|name| {
                    ComplaintBreakdown::parse(name)
                        .ok_or_else(|| fail(format!("unknown breakdown {name:?}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            for key in scopes {
                let scope =
                    Scope::parse(&key).ok_or_else(|| fail(format!("unknown scope {key:?}")))?;
                increments.push(CounterIncrement {
                    scope,
                    bucket,
                    metrics: metrics.clone(),
                    details: details.clone(),
                });
            }
        }
        // Every record moves the checkpoint, whether it counts or not.
        changes.push(CountedChange {
            sequence,
            increments,
        });
    }
    Ok(changes)
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
        let changes = counted_changes(&event).expect("readable");
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
    fn unreadable_records_name_themselves() {
        let no_bucket = json!({"Records": [{"eventName": "INSERT", "dynamodb": {"SequenceNumber": "1",
            "NewImage": {"pk": {"S": "MSG#m"}, "scopes": {"SS": ["account"]}}}}]});
        assert_eq!(
            counted_changes(&no_bucket).unwrap_err().to_string(),
            "stream record 0: an event item with scopes has no count_bucket"
        );
        let bad_sequence =
            json!({"Records": [{"eventName": "INSERT", "dynamodb": {"SequenceNumber": "x1"}}]});
        assert!(counted_changes(&bad_sequence)
            .unwrap_err()
            .message
            .contains("not a decimal number"));
        assert!(counted_changes(&json!({"Records": 5})).is_err());
        // A window's closing invocation may carry no records (its window properties are
        // checked by `window_invocation`).
        assert_eq!(counted_changes(&json!({"shardId": "s"})), Ok(Vec::new()));
        assert!(window_invocation(&json!({"Records": []})).is_err());
    }
}
