//! The DynamoDB key design, in one place. docs/dynamodb-design.md explains it and its costs.
//!
//! | item                 | pk                      | sk                                  |
//! |----------------------|-------------------------|-------------------------------------|
//! | event of a message   | `MSG#<ses message id>`  | `EVT#<event id>`                    |
//! | recipient suppression state | `RCPT#<address>` | `SUMMARY`                          |
//! | scope registry       | `SCOPES`                | `<scope>`                           |
//! | alert state          | `ALERT#<scope>`         | `<rate name>`                       |
//! | hourly counter, from the stream | `CNT#<scope>` | `H#<yyyy-mm-ddThh>#all`             |
//!
//! The recipient history is the index `by_recipient` over event items: partition `rcpt` (the
//! normalised address), sort `at` (the event time, millisecond RFC 3339 in UTC, which sorts as
//! text in time order). Events without a recipient have no `rcpt` and stay out of it.

use chrono::{DateTime, Utc};

use ses_ledger::counters::Scope;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// The table's TTL attribute (epoch seconds).
pub const EXPIRES_AT: &str = "expires_at";

pub const SUMMARY_SK: &str = "SUMMARY";
pub const SCOPES_PK: &str = "SCOPES";
/// Prefix of every event sort key, for `begins_with` queries.
pub const EVENT_SK_PREFIX: &str = "EVT#";

pub const MESSAGE_PK_PREFIX: &str = "MSG#";
pub const RECIPIENT_PK_PREFIX: &str = "RCPT#";

pub fn message_pk(ses_message_id: &str) -> String {
    format!("{MESSAGE_PK_PREFIX}{ses_message_id}")
}

pub fn message_event_sk(event_id: &str) -> String {
    format!("{EVENT_SK_PREFIX}{event_id}")
}

/// The SES message id and event id of an event item's keys; None for any other item.
pub fn event_of_keys(pk: &str, sk: &str) -> Option<(String, String)> {
    Some((
        pk.strip_prefix(MESSAGE_PK_PREFIX)?.to_string(),
        sk.strip_prefix(EVENT_SK_PREFIX)?.to_string(),
    ))
}

pub fn recipient_pk(address: &str) -> String {
    format!("{RECIPIENT_PK_PREFIX}{address}")
}

/// The address of a recipient item's partition key; None for any other item.
pub fn recipient_of_pk(pk: &str) -> Option<&str> {
    pk.strip_prefix(RECIPIENT_PK_PREFIX)
}

pub fn counter_pk(scope: &Scope) -> String {
    format!("CNT#{}", scope.key())
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

/// The counter of a scope in an hour, written from the stream by every shard under its own
/// high-water mark (`ses_ledger::tally`). Readers sum every item of the hour, so items of earlier
/// layouts (one per writer, `H#<hour>#<writer>`) still count.
pub fn counter_sk(bucket: DateTime<Utc>) -> String {
    format!("H#{}#all", bucket_label(bucket))
}

pub fn alert_pk(scope: &Scope) -> String {
    format!("ALERT#{}", scope.key())
}
