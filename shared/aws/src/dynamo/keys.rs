//! The DynamoDB key design, in one place. docs/dynamodb-design.md explains it and its costs.
//!
//! | item                 | pk                      | sk                                  |
//! |----------------------|-------------------------|-------------------------------------|
//! | event of a message   | `MSG#<ses message id>`  | `EVT#<event id>`                    |
//! | recipient history    | `RCPT#<address>`        | `EVT#<event time>#<event id>`       |
//! | recipient summary    | `RCPT#<address>`        | `SUMMARY`                           |
//! | hourly counter shard | `CNT#<scope>`           | `H#<yyyy-mm-ddThh>#<shard>`         |
//! | scope registry       | `SCOPES`                | `<scope>`                           |
//! | alert state          | `ALERT#<scope>`         | `<rate name>`                       |
//! | hourly counter, from the stream | `CNT#<scope>` | `H#<yyyy-mm-ddThh>#<writer>`       |
//! | stream batch checkpoint | `CKPT#<first sequence number>` | `COUNTERS`                |

use chrono::{DateTime, SecondsFormat, Utc};

use ses_ledger::counters::Scope;
use ses_ledger::tally::SequenceNumber;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// The table's TTL attribute (epoch seconds).
pub const EXPIRES_AT: &str = "expires_at";

pub const SUMMARY_SK: &str = "SUMMARY";
pub const SCOPES_PK: &str = "SCOPES";
/// Prefix of every event sort key, for `begins_with` queries.
pub const EVENT_SK_PREFIX: &str = "EVT#";

pub fn message_pk(ses_message_id: &str) -> String {
    format!("MSG#{ses_message_id}")
}

pub fn message_event_sk(event_id: &str) -> String {
    format!("{EVENT_SK_PREFIX}{event_id}")
}

pub fn recipient_pk(address: &str) -> String {
    format!("RCPT#{address}")
}

/// Millisecond RFC 3339 in UTC sorts as text in time order, so `ScanIndexForward=false` reads the
/// history newest first.
pub fn history_sk(event_time: DateTime<Utc>, event_id: &str) -> String {
    format!(
        "{EVENT_SK_PREFIX}{}#{event_id}",
        event_time.to_rfc3339_opts(SecondsFormat::Millis, true)
    )
}

pub fn counter_pk(scope: &Scope) -> String {
    format!("CNT#{}", scope.key())
}

pub fn counter_sk(bucket: DateTime<Utc>, shard: u32) -> String {
    format!("H#{}#{shard:03}", bucket_label(bucket))
}

/// `2026-11-23T10`: the hour a counter covers.
pub fn bucket_label(bucket: DateTime<Utc>) -> String {
    bucket.format("%Y-%m-%dT%H").to_string()
}

/// The hour a [`bucket_label`] names.
pub fn parse_bucket_label(label: &str) -> Result<DateTime<Utc>, String> {
    chrono::NaiveDateTime::parse_from_str(&format!("{label}:00:00"), "%Y-%m-%dT%H:%M:%S")
        .map(|t| t.and_utc())
        .map_err(|e| format!("bucket {label:?}: {e}"))
}

/// Lowest sort key of the counters of hours at or after `bucket`.
pub fn counter_sk_from(bucket: DateTime<Utc>) -> String {
    format!("H#{}#", bucket_label(bucket))
}

/// A sort key above every counter of hours at or before `bucket`.
pub fn counter_sk_to(bucket: DateTime<Utc>) -> String {
    format!("H#{}#~", bucket_label(bucket))
}

/// The counters' checkpoint of one batch of the table's change stream, named by its first record.
pub fn checkpoint_pk(batch: &SequenceNumber) -> String {
    format!("CKPT#{}", batch.as_str())
}

/// A counter written from the stream: one item per hour per writer (a Lambda execution
/// environment, which runs one batch at a time), so no two concurrent transactions ever touch the
/// same counter item.
pub fn writer_counter_sk(bucket: DateTime<Utc>, writer: &str) -> String {
    format!("H#{}#{writer}", bucket_label(bucket))
}

pub fn alert_pk(scope: &Scope) -> String {
    format!("ALERT#{}", scope.key())
}

/// The shard an attempt's counter increments go to. It need not be stable across attempts (the
/// transaction is all or nothing), so a retry after a conflict moves to another shard.
pub fn counter_shard(event_id: &str, attempt: u32, shards: u32) -> u32 {
    let prefix = event_id.get(..8).unwrap_or("0");
    let spread = u32::from_str_radix(prefix, 16).unwrap_or(0);
    spread.wrapping_add(attempt.wrapping_mul(7919)) % shards.max(1)
}
