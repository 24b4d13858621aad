//! DynamoDB adapter: owns every AttributeValue mapping and the exactly-once write.
//!
//! One recipient event is one `TransactWriteItems`: the message item (conditional on not
//! existing: the dedupe), the history item, the summary (conditional on the version read just
//! before: an optimistic lock) and the counter increments. A duplicate cancels the whole
//! transaction, so nothing moves twice; a crash before commit leaves nothing half done.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration as TimeDelta, SecondsFormat, Utc};

use ses_ledger::alarm::{Level, RateKind};
use ses_ledger::config::LedgerConfig;
use ses_ledger::counters::{ComplaintBreakdown, CounterIncrement, Metric, Scope};
use ses_ledger::event::{EventType, RecipientEvent};
pub mod keys;
use ses_ledger::ports::{
    AlertStateStore, CounterReader, EventStore, LedgerReader, RecordOutcome, StoreError,
};
use ses_ledger::rates::{HourlyCounts, Totals};
use ses_ledger::summary::{RecipientSummary, SoftBouncePolicy, Suppression, SuppressionReason};

/// How often a transaction is retried when another writer touched the same summary or counter.
const MAX_CONFLICT_ATTEMPTS: u32 = 20;

type Item = HashMap<String, AttributeValue>;

pub struct DynamoLedger {
    client: Client,
    config: LedgerConfig,
    /// Scopes registered by this instance today: registration costs a write per scope per day per
    /// instance instead of one per event.
    registered: Mutex<HashSet<(String, String)>>,
}

impl DynamoLedger {
    pub fn new(client: Client, config: LedgerConfig) -> Self {
        DynamoLedger {
            client,
            config,
            registered: Mutex::new(HashSet::new()),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn config(&self) -> &LedgerConfig {
        &self.config
    }

    fn policy(&self) -> SoftBouncePolicy {
        SoftBouncePolicy {
            limit: self.config.soft_bounce_limit,
            window: TimeDelta::days(i64::from(self.config.soft_bounce_window_days)),
        }
    }

    fn event_expiry(&self, event: &RecipientEvent) -> i64 {
        (event.ingested_at + TimeDelta::days(i64::from(self.config.history_ttl_days))).timestamp()
    }

    async fn read_summary(&self, address: &str) -> Result<RecipientSummary, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.config.table_name)
            .key(keys::PK, s(keys::recipient_pk(address)))
            .key(keys::SK, s(keys::SUMMARY_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::service("GetItem (summary)", e))?;
        match out.item {
            None => Ok(RecipientSummary::default()),
            Some(item) => summary_from_item(&item).map_err(|message| StoreError::Corrupt {
                key: keys::recipient_pk(address),
                message,
            }),
        }
    }

    fn transaction(
        &self,
        event: &RecipientEvent,
        increments: &[CounterIncrement],
        summary: Option<(&RecipientSummary, &RecipientSummary)>,
        attempt: u32,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let table = &self.config.table_name;
        let record = serde_json::to_string(event).map_err(|e| StoreError::Corrupt {
            key: event.event_id.clone(),
            message: e.to_string(),
        })?;
        let expires = n(self.event_expiry(event));
        let mut items = Vec::with_capacity(3 + increments.len());

        let mut message_item = event_attributes(event, &record);
        message_item.insert(keys::PK.into(), s(keys::message_pk(&event.ses_message_id)));
        message_item.insert(keys::SK.into(), s(keys::message_event_sk(&event.event_id)));
        message_item.insert(keys::EXPIRES_AT.into(), expires.clone());
        message_item.insert("logged".into(), AttributeValue::Bool(false));
        if !increments.is_empty() {
            message_item.insert(
                "scopes".into(),
                AttributeValue::Ss(increments.iter().map(|i| i.scope.key()).collect()),
            );
        }
        items.push(put(Put::builder()
            .table_name(table)
            .set_item(Some(message_item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(
                ReturnValuesOnConditionCheckFailure::AllOld,
            ))?);

        if let (Some(address), Some((before, after))) = (&event.recipient, summary) {
            let mut history = event_attributes(event, &record);
            history.insert(keys::PK.into(), s(keys::recipient_pk(address)));
            history.insert(
                keys::SK.into(),
                s(keys::history_sk(event.event_time, &event.event_id)),
            );
            history.insert(keys::EXPIRES_AT.into(), expires.clone());
            items.push(put(Put::builder()
                .table_name(table)
                .set_item(Some(history)))?);

            let mut summary_item = summary_to_item(after);
            summary_item.insert(keys::PK.into(), s(keys::recipient_pk(address)));
            summary_item.insert(keys::SK.into(), s(keys::SUMMARY_SK));
            summary_item.insert("address".into(), s(address));
            summary_item.insert(keys::EXPIRES_AT.into(), expires);
            let builder = Put::builder()
                .table_name(table)
                .set_item(Some(summary_item));
            let builder = if before.version == 0 {
                builder.condition_expression("attribute_not_exists(pk)")
            } else {
                builder
                    .condition_expression("version = :v")
                    .expression_attribute_values(":v", n(before.version as i64))
            };
            items.push(put(builder)?);
        }

        let shard = keys::counter_shard(&event.event_id, attempt, self.config.counter_shards);
        for inc in increments {
            items.push(self.counter_update(inc, shard)?);
        }
        Ok(items)
    }

    /// `ADD` one increment to its counter shard.
    fn counter_update(
        &self,
        inc: &CounterIncrement,
        shard: u32,
    ) -> Result<TransactWriteItem, StoreError> {
        let counter_expiry =
            (inc.bucket + TimeDelta::days(i64::from(self.config.counter_ttl_days))).timestamp();
        let mut adds = Vec::new();
        let mut names = HashMap::new();
        let attributes = inc
            .metrics
            .iter()
            .map(|m| m.attribute().to_string())
            .chain(inc.details.iter().map(|d| d.attribute()));
        for (i, attribute) in attributes.enumerate() {
            adds.push(format!("#m{i} :one"));
            names.insert(format!("#m{i}"), attribute);
        }
        names.insert("#x".into(), keys::EXPIRES_AT.into());
        names.insert("#b".into(), "bucket".into());
        let update = Update::builder()
            .table_name(&self.config.table_name)
            .key(keys::PK, s(keys::counter_pk(&inc.scope)))
            .key(keys::SK, s(keys::counter_sk(inc.bucket, shard)))
            .update_expression(format!(
                "ADD {} SET #x = if_not_exists(#x, :x), #b = if_not_exists(#b, :b)",
                adds.join(", ")
            ))
            .set_expression_attribute_names(Some(names))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":x", n(counter_expiry))
            .expression_attribute_values(":b", s(keys::bucket_label(inc.bucket)))
            .build()
            .map_err(|e| StoreError::service("build Update", e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// A duplicate may know scopes the first copy did not: a complaint that arrived first as an
    /// identity notification has no configuration set or tags; its event-publishing copy does.
    /// Counts the event in those scopes, once: the message item records which scopes counted it,
    /// and the transaction is conditional on none of the new ones being there yet.
    async fn count_in_new_scopes(
        &self,
        event: &RecipientEvent,
        increments: &[CounterIncrement],
        mut counted: HashSet<String>,
    ) -> Result<(), StoreError> {
        for attempt in 0..MAX_CONFLICT_ATTEMPTS {
            let missing: Vec<&CounterIncrement> = increments
                .iter()
                .filter(|i| !counted.contains(&i.scope.key()))
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            let mut values: HashMap<String, AttributeValue> = HashMap::new();
            let mut conditions = vec!["attribute_exists(pk)".to_string()];
            for (i, inc) in missing.iter().enumerate() {
                values.insert(format!(":s{i}"), s(inc.scope.key()));
                conditions.push(format!("NOT contains(scopes, :s{i})"));
            }
            values.insert(
                ":new".into(),
                AttributeValue::Ss(missing.iter().map(|i| i.scope.key()).collect()),
            );
            let mark = Update::builder()
                .table_name(&self.config.table_name)
                .key(keys::PK, s(keys::message_pk(&event.ses_message_id)))
                .key(keys::SK, s(keys::message_event_sk(&event.event_id)))
                .update_expression("ADD scopes :new")
                .condition_expression(conditions.join(" AND "))
                .set_expression_attribute_values(Some(values))
                .build()
                .map_err(|e| StoreError::service("build Update", e))?;
            let shard = keys::counter_shard(&event.event_id, attempt, self.config.counter_shards);
            let mut items = vec![TransactWriteItem::builder().update(mark).build()];
            for inc in &missing {
                items.push(self.counter_update(inc, shard)?);
            }
            match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
            {
                Ok(_) => return Ok(()),
                Err(error) if classify_cancellation(&error).is_some() => {
                    // Another copy counted some of these scopes first, or a counter was busy:
                    // read what is counted now and try again with what is still missing.
                    tokio::time::sleep(backoff(attempt, &event.event_id)).await;
                    counted = self.counted_scopes(event).await?;
                }
                Err(error) => {
                    return Err(StoreError::service("TransactWriteItems (scopes)", error))
                }
            }
        }
        Err(StoreError::Exhausted {
            operation: "TransactWriteItems (scopes)",
            attempts: MAX_CONFLICT_ATTEMPTS,
            message: "scopes changed by concurrent writers".into(),
        })
    }

    async fn counted_scopes(&self, event: &RecipientEvent) -> Result<HashSet<String>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.config.table_name)
            .key(keys::PK, s(keys::message_pk(&event.ses_message_id)))
            .key(keys::SK, s(keys::message_event_sk(&event.event_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::service("GetItem (message)", e))?;
        Ok(out.item.as_ref().map(scopes_of).unwrap_or_default())
    }
}

/// The scopes a message item says its event was counted in.
fn scopes_of(item: &Item) -> HashSet<String> {
    match item.get("scopes") {
        Some(AttributeValue::Ss(v)) => v.iter().cloned().collect(),
        _ => HashSet::new(),
    }
}

fn put(
    builder: aws_sdk_dynamodb::types::builders::PutBuilder,
) -> Result<TransactWriteItem, StoreError> {
    let put = builder
        .build()
        .map_err(|e| StoreError::service("build Put", e))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Why a transaction was cancelled, from its per-item reasons.
enum Cancelled {
    Duplicate {
        logged: bool,
        /// Scopes the recorded copy was counted in.
        counted: HashSet<String>,
    },
    /// Another writer changed the summary or a counter first: read again and retry.
    Contention,
    Other(String),
}

fn classify_cancellation(error: &SdkError<TransactWriteItemsError>) -> Option<Cancelled> {
    let TransactWriteItemsError::TransactionCanceledException(tce) = error.as_service_error()?
    else {
        return None;
    };
    let reasons = tce.cancellation_reasons();
    let code = |i: usize| reasons.get(i).and_then(|r| r.code()).unwrap_or("None");
    if code(0) == "ConditionalCheckFailed" {
        let existing = reasons.first().and_then(|r| r.item());
        let logged = existing
            .and_then(|item| item.get("logged"))
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false);
        let counted = existing.map(scopes_of).unwrap_or_default();
        return Some(Cancelled::Duplicate { logged, counted });
    }
    if reasons.iter().any(|r| {
        matches!(
            r.code(),
            Some("ConditionalCheckFailed" | "TransactionConflict")
        )
    }) {
        return Some(Cancelled::Contention);
    }
    let codes: Vec<&str> = (0..reasons.len()).map(code).collect();
    Some(Cancelled::Other(format!(
        "transaction cancelled: {}",
        codes.join(", ")
    )))
}

/// Exponential backoff with jitter derived from the attempt and a caller value (no RNG needed).
fn backoff(attempt: u32, salt: &str) -> Duration {
    let base = 20u64 << attempt.min(5);
    let jitter = salt.bytes().fold(attempt as u64, |a, b| {
        a.wrapping_mul(31).wrapping_add(b as u64)
    }) % base;
    Duration::from_millis(base + jitter)
}

impl EventStore for DynamoLedger {
    async fn record(
        &self,
        event: &RecipientEvent,
        increments: &[CounterIncrement],
    ) -> Result<RecordOutcome, StoreError> {
        let mut last_problem = String::new();
        for attempt in 0..MAX_CONFLICT_ATTEMPTS {
            let summaries = match &event.recipient {
                Some(address) => {
                    let before = self.read_summary(address).await?;
                    let after = before.apply(event, self.policy());
                    Some((before, after))
                }
                None => None,
            };
            let items = self.transaction(
                event,
                increments,
                summaries.as_ref().map(|(b, a)| (b, a)),
                attempt,
            )?;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(RecordOutcome::New),
                Err(error) => match classify_cancellation(&error) {
                    Some(Cancelled::Duplicate { logged, counted }) => {
                        self.count_in_new_scopes(event, increments, counted).await?;
                        return Ok(RecordOutcome::Duplicate { logged });
                    }
                    Some(Cancelled::Contention) => {
                        last_problem = "summary or counter changed by a concurrent writer".into();
                        tokio::time::sleep(backoff(attempt, &event.event_id)).await;
                    }
                    Some(Cancelled::Other(message)) => {
                        return Err(StoreError::Refused {
                            operation: "TransactWriteItems",
                            message,
                        })
                    }
                    None => return Err(StoreError::service("TransactWriteItems", error)),
                },
            }
        }
        Err(StoreError::Exhausted {
            operation: "TransactWriteItems",
            attempts: MAX_CONFLICT_ATTEMPTS,
            message: last_problem,
        })
    }

    async fn mark_logged(&self, event: &RecipientEvent) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.config.table_name)
            .key(keys::PK, s(keys::message_pk(&event.ses_message_id)))
            .key(keys::SK, s(keys::message_event_sk(&event.event_id)))
            .update_expression("SET logged = :t")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .send()
            .await
            .map_err(|e| StoreError::service("UpdateItem (logged)", e))?;
        Ok(())
    }

    async fn register_scopes(&self, scopes: &[Scope]) -> Result<(), StoreError> {
        let today = Utc::now().format("%Y-%m-%d").to_string();
        for scope in scopes {
            let key = (scope.key(), today.clone());
            if self
                .registered
                .lock()
                .map(|r| r.contains(&key))
                .unwrap_or(false)
            {
                continue;
            }
            self.client
                .update_item()
                .table_name(&self.config.table_name)
                .key(keys::PK, s(keys::SCOPES_PK))
                .key(keys::SK, s(scope.key()))
                .update_expression("SET last_seen = :d")
                .expression_attribute_values(":d", s(&today))
                .send()
                .await
                .map_err(|e| StoreError::service("UpdateItem (scope registry)", e))?;
            if let Ok(mut r) = self.registered.lock() {
                r.insert(key);
            }
        }
        Ok(())
    }
}

impl LedgerReader for DynamoLedger {
    async fn recipient_history(
        &self,
        address: &str,
        limit: usize,
    ) -> Result<Vec<RecipientEvent>, StoreError> {
        let pk = keys::recipient_pk(address);
        self.query_events(&pk, false, limit).await
    }

    async fn recipient_summary(
        &self,
        address: &str,
    ) -> Result<Option<RecipientSummary>, StoreError> {
        let summary = self.read_summary(address).await?;
        Ok((summary.version > 0).then_some(summary))
    }

    async fn message_events(
        &self,
        ses_message_id: &str,
    ) -> Result<Vec<RecipientEvent>, StoreError> {
        let pk = keys::message_pk(ses_message_id);
        let mut events = self.query_events(&pk, true, usize::MAX).await?;
        events.sort_by(|a, b| {
            (a.event_time, &a.recipient, a.event_type).cmp(&(
                b.event_time,
                &b.recipient,
                b.event_type,
            ))
        });
        Ok(events)
    }
}

impl DynamoLedger {
    /// Events under one partition, skipping items whose TTL has passed but that DynamoDB has not
    /// deleted yet.
    async fn query_events(
        &self,
        pk: &str,
        forward: bool,
        limit: usize,
    ) -> Result<Vec<RecipientEvent>, StoreError> {
        let now = Utc::now().timestamp();
        let mut events = Vec::new();
        let mut items = self
            .client
            .query()
            .table_name(&self.config.table_name)
            .key_condition_expression("pk = :pk AND begins_with(sk, :evt)")
            .filter_expression("attribute_not_exists(#x) OR #x > :now")
            .expression_attribute_names("#x", keys::EXPIRES_AT)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":evt", s(keys::EVENT_SK_PREFIX))
            .expression_attribute_values(":now", n(now))
            .scan_index_forward(forward)
            .into_paginator()
            .items()
            .send();
        while events.len() < limit {
            let Some(item) = items.next().await else {
                break;
            };
            let item = item.map_err(|e| StoreError::service("Query (events)", e))?;
            events.push(event_from_item(&item)?);
        }
        Ok(events)
    }
}

impl CounterReader for DynamoLedger {
    async fn scopes(&self) -> Result<Vec<Scope>, StoreError> {
        let mut scopes = Vec::new();
        let mut items = self
            .client
            .query()
            .table_name(&self.config.table_name)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::SCOPES_PK))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = items.next().await {
            let item = item.map_err(|e| StoreError::service("Query (scopes)", e))?;
            if let Some(scope) = item
                .get(keys::SK)
                .and_then(|v| v.as_s().ok())
                .and_then(|k| Scope::parse(k))
            {
                scopes.push(scope);
            }
        }
        Ok(scopes)
    }

    async fn hourly(
        &self,
        scope: &Scope,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HourlyCounts>, StoreError> {
        let mut by_bucket: BTreeMap<String, Totals> = BTreeMap::new();
        let mut items = self
            .client
            .query()
            .table_name(&self.config.table_name)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(keys::counter_pk(scope)))
            .expression_attribute_values(":from", s(keys::counter_sk_from(from)))
            .expression_attribute_values(":to", s(keys::counter_sk_to(to)))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = items.next().await {
            let item = item.map_err(|e| StoreError::service("Query (counters)", e))?;
            let Some(bucket) = item.get("bucket").and_then(|v| v.as_s().ok()) else {
                continue;
            };
            let totals = by_bucket.entry(bucket.clone()).or_default();
            for (name, value) in &item {
                let Ok(v) = value.as_n() else { continue };
                let count: u64 = v.parse().map_err(|_| StoreError::Corrupt {
                    key: keys::counter_pk(scope),
                    message: format!("{name} is not a count: {v}"),
                })?;
                if let Some(metric) = Metric::ALL.iter().find(|m| m.attribute() == name) {
                    *totals.metrics.entry(*metric).or_default() += count;
                } else if ComplaintBreakdown::parse(name).is_some() {
                    *totals.details.entry(name.clone()).or_default() += count;
                }
            }
        }
        by_bucket
            .into_iter()
            .map(|(label, totals)| {
                let bucket = chrono::NaiveDateTime::parse_from_str(
                    &format!("{label}:00:00"),
                    "%Y-%m-%dT%H:%M:%S",
                )
                .map(|t| t.and_utc())
                .map_err(|e| StoreError::Corrupt {
                    key: keys::counter_pk(scope),
                    message: format!("bucket {label:?}: {e}"),
                })?;
                Ok(HourlyCounts { bucket, totals })
            })
            .collect()
    }
}

impl AlertStateStore for DynamoLedger {
    async fn alert_level(&self, scope: &Scope, kind: RateKind) -> Result<Level, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.config.table_name)
            .key(keys::PK, s(keys::alert_pk(scope)))
            .key(keys::SK, s(kind.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::service("GetItem (alert state)", e))?;
        let Some(level) = out
            .item
            .as_ref()
            .and_then(|i| i.get("level"))
            .and_then(|v| v.as_s().ok())
        else {
            return Ok(Level::Normal);
        };
        Level::parse(level).ok_or_else(|| StoreError::Corrupt {
            key: keys::alert_pk(scope),
            message: format!("unknown level {level:?}"),
        })
    }

    async fn set_alert_level(
        &self,
        scope: &Scope,
        kind: RateKind,
        level: Level,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.config.table_name)
            .item(keys::PK, s(keys::alert_pk(scope)))
            .item(keys::SK, s(kind.as_str()))
            .item("level", s(level.as_str()))
            .item("changed_at", time(at))
            .send()
            .await
            .map_err(|e| StoreError::service("PutItem (alert state)", e))?;
        Ok(())
    }
}

// ---- AttributeValue mapping -------------------------------------------------------------------

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn time(t: DateTime<Utc>) -> AttributeValue {
    s(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// The full record as JSON (what readers return) plus top-level copies of what filters need.
fn event_attributes(event: &RecipientEvent, record: &str) -> Item {
    let mut item = Item::new();
    item.insert("record".into(), s(record));
    item.insert("event_id".into(), s(&event.event_id));
    item.insert("event_type".into(), s(event.event_type.as_str()));
    item.insert("event_time".into(), time(event.event_time));
    item.insert("ses_message_id".into(), s(&event.ses_message_id));
    if let Some(r) = &event.recipient {
        item.insert("recipient".into(), s(r));
    }
    if let Some(st) = &event.event_subtype {
        item.insert("event_subtype".into(), s(st));
    }
    item
}

fn event_from_item(item: &Item) -> Result<RecipientEvent, StoreError> {
    let key = || {
        format!(
            "{}/{}",
            item.get(keys::PK)
                .and_then(|v| v.as_s().ok())
                .map_or("?", |v| v),
            item.get(keys::SK)
                .and_then(|v| v.as_s().ok())
                .map_or("?", |v| v)
        )
    };
    let record = item
        .get("record")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt {
            key: key(),
            message: "no record attribute".into(),
        })?;
    serde_json::from_str(record).map_err(|e| StoreError::Corrupt {
        key: key(),
        message: e.to_string(),
    })
}

fn summary_to_item(summary: &RecipientSummary) -> Item {
    let mut item = Item::new();
    let counts: HashMap<String, AttributeValue> = summary
        .counts
        .iter()
        .map(|(t, c)| (t.as_str().to_string(), n(*c as i64)))
        .collect();
    item.insert("counts".into(), AttributeValue::M(counts));
    item.insert("version".into(), n(summary.version as i64));
    if let Some(t) = summary.first_event_at {
        item.insert("first_event_at".into(), time(t));
    }
    if let Some(t) = summary.last_event_at {
        item.insert("last_event_at".into(), time(t));
    }
    if let Some(t) = summary.last_event_type {
        item.insert("last_event_type".into(), s(t.as_str()));
    }
    if !summary.recent_soft_bounces.is_empty() {
        item.insert(
            "recent_soft_bounces".into(),
            AttributeValue::L(
                summary
                    .recent_soft_bounces
                    .iter()
                    .map(|t| time(*t))
                    .collect(),
            ),
        );
    }
    item.insert(
        "suppressed".into(),
        AttributeValue::Bool(summary.suppression.is_some()),
    );
    if let Some(sup) = &summary.suppression {
        item.insert("suppression_reason".into(), s(sup.reason.as_str()));
        item.insert("suppressed_since".into(), time(sup.since));
    }
    item
}

fn summary_from_item(item: &Item) -> Result<RecipientSummary, String> {
    let parse_time = |v: &AttributeValue| -> Result<DateTime<Utc>, String> {
        let text = v
            .as_s()
            .map_err(|_| "timestamp is not a string".to_string())?;
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("timestamp {text:?}: {e}"))
    };
    let opt_time = |name: &str| item.get(name).map(parse_time).transpose();
    let number = |v: &AttributeValue| -> Result<u64, String> {
        v.as_n()
            .map_err(|_| "count is not a number".to_string())?
            .parse::<u64>()
            .map_err(|e| e.to_string())
    };
    let mut counts = BTreeMap::new();
    if let Some(AttributeValue::M(m)) = item.get("counts") {
        for (k, v) in m {
            counts.insert(EventType::from_ses(k), number(v)?);
        }
    }
    let suppression = match item.get("suppression_reason").and_then(|v| v.as_s().ok()) {
        None => None,
        Some(reason) => Some(Suppression {
            reason: match reason.as_str() {
                "complaint" => SuppressionReason::Complaint,
                "hard_bounce" => SuppressionReason::HardBounce,
                "soft_bounces" => SuppressionReason::SoftBounces,
                other => return Err(format!("unknown suppression reason {other:?}")),
            },
            since: opt_time("suppressed_since")?.ok_or("suppressed without a time")?,
        }),
    };
    let recent_soft_bounces = match item.get("recent_soft_bounces") {
        Some(AttributeValue::L(list)) => list.iter().map(parse_time).collect::<Result<_, _>>()?,
        _ => Vec::new(),
    };
    Ok(RecipientSummary {
        counts,
        first_event_at: opt_time("first_event_at")?,
        last_event_at: opt_time("last_event_at")?,
        last_event_type: item
            .get("last_event_type")
            .and_then(|v| v.as_s().ok())
            .map(|v| EventType::from_ses(v)),
        recent_soft_bounces,
        suppression,
        version: item.get("version").map(number).transpose()?.unwrap_or(0),
    })
}

/// Creates the ledger table as template.yaml declares it (for local stacks and tests; in AWS the
/// stack creates it). Waits until it is active.
pub async fn create_table(client: &Client, table_name: &str) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        TimeToLiveSpecification,
    };
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| StoreError::service("build AttributeDefinition", e))
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|e| StoreError::service("build KeySchemaElement", e))
    };
    client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(keys::PK)?)
        .attribute_definitions(attr(keys::SK)?)
        .key_schema(key(keys::PK, KeyType::Hash)?)
        .key_schema(key(keys::SK, KeyType::Range)?)
        .send()
        .await
        .map_err(|e| StoreError::service("CreateTable", e))?;
    client
        .update_time_to_live()
        .table_name(table_name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(keys::EXPIRES_AT)
                .enabled(true)
                .build()
                .map_err(|e| StoreError::service("build TimeToLiveSpecification", e))?,
        )
        .send()
        .await
        .map_err(|e| StoreError::service("UpdateTimeToLive", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn summary_round_trips_through_attributes() {
        let t = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap();
        let summary = RecipientSummary {
            counts: [(EventType::Delivery, 3), (EventType::RenderingFailure, 1)].into(),
            first_event_at: Some(t),
            last_event_at: Some(t + TimeDelta::hours(1)),
            last_event_type: Some(EventType::Delivery),
            recent_soft_bounces: vec![t],
            suppression: Some(Suppression {
                reason: SuppressionReason::SoftBounces,
                since: t,
            }),
            version: 4,
        };
        assert_eq!(summary_from_item(&summary_to_item(&summary)), Ok(summary));
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        assert!(backoff(0, "a") < backoff(5, "a"));
        assert!(backoff(50, "abc") <= Duration::from_millis(2 * (20 << 5)));
    }
}
