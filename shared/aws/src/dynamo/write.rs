//! The exactly-once write: one conditional transaction per recipient event.

// The adapter's imports, types and helpers are shared by its parts.
use super::capacity::transaction_write_units;
#[allow(unused_imports)]
use super::items::*;
use super::stream::count_attributes;
use super::*;
use ses_ledger::summary::affects_suppression;

impl DynamoLedger {
    /// The stored summary (default when none), with its TTL. The write path continues a summary
    /// whose TTL has passed but that DynamoDB has not deleted yet (its version is what the
    /// optimistic lock compares, and a suppression must not lapse between two events); readers
    /// treat it as gone.
    pub(super) async fn read_summary(
        &self,
        address: &str,
    ) -> Result<(RecipientSummary, Option<i64>), StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.config.table_name)
            .key(keys::PK, s(keys::recipient_pk(address)))
            .key(keys::SK, s(keys::SUMMARY_SK))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| StoreError::service("GetItem (summary)", e))?;
        self.meter
            .consumed("GetItem (summary)", 1, out.consumed_capacity());
        let Some(item) = out.item else {
            return Ok((RecipientSummary::default(), None));
        };
        let expires_at = item
            .get(keys::EXPIRES_AT)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok());
        let summary = RecipientSummary::try_from(SummaryItem(item)).map_err(|message| {
            StoreError::Corrupt {
                key: keys::recipient_pk(address),
                message,
            }
        })?;
        Ok((summary, expires_at))
    }

    fn transaction(
        &self,
        event: &RecipientEvent,
        increments: &[CounterIncrement],
        summary: Option<(&RecipientSummary, &RecipientSummary)>,
        attempt: u32,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let table = &self.config.table_name;
        let EventItem(event_item) = EventItem::try_from(event)?;
        let expires = n(self.event_expiry(event));
        let mut items = Vec::with_capacity(3 + increments.len());

        let mut message_item = event_item.clone();
        message_item.insert(keys::PK.into(), s(keys::message_pk(&event.ses_message_id)));
        message_item.insert(keys::SK.into(), s(keys::message_event_sk(&event.event_id)));
        message_item.insert(keys::EXPIRES_AT.into(), expires.clone());
        message_item.insert("logged".into(), AttributeValue::Bool(false));
        if let Some(first) = increments.first() {
            message_item.insert(
                "scopes".into(),
                AttributeValue::Ss(increments.iter().map(|i| i.scope.key()).collect()),
            );
            // What the event counts toward in each scope, so the table's change stream can
            // count it (see `stream`).
            message_item.extend(count_attributes(first));
        }
        items.push(put(Put::builder()
            .table_name(table)
            .set_item(Some(message_item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(
                ReturnValuesOnConditionCheckFailure::AllOld,
            ))?);

        if let Some(address) = &event.recipient {
            let mut history = event_item;
            history.insert(keys::PK.into(), s(keys::recipient_pk(address)));
            history.insert(
                keys::SK.into(),
                s(keys::history_sk(event.event_time, &event.event_id)),
            );
            history.insert(keys::EXPIRES_AT.into(), expires.clone());
            items.push(put(Put::builder()
                .table_name(table)
                .set_item(Some(history)))?);
        }

        // Only bounces and complaints write the suppression state (`summary` is None otherwise).
        if let (Some(address), Some((before, after))) = (&event.recipient, summary) {
            let SummaryItem(mut summary_item) = SummaryItem::from(after);
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
            let (count, units) = (items.len(), transaction_write_units(&items));
            match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
            {
                Ok(out) => {
                    self.meter.transaction(
                        "TransactWriteItems (scopes)",
                        count,
                        units,
                        out.consumed_capacity(),
                    );
                    return Ok(());
                }
                Err(error) if classify_cancellation(&error).is_some() => {
                    self.meter.failed("TransactWriteItems (scopes)", count);
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
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| StoreError::service("GetItem (message)", e))?;
        self.meter
            .consumed("GetItem (message)", 1, out.consumed_capacity());
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

/// Why a transaction was cancelled, from its per-item reasons (the first item is the guarded one).
pub(super) enum Cancelled {
    Duplicate {
        logged: bool,
        /// Scopes the recorded copy was counted in.
        counted: HashSet<String>,
    },
    /// Another writer changed the summary or a counter first: read again and retry.
    Contention,
    Other(String),
}

pub(super) fn classify_cancellation(
    error: &SdkError<TransactWriteItemsError>,
) -> Option<Cancelled> {
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
pub(super) fn backoff(attempt: u32, salt: &str) -> Duration {
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
                Some(address) if affects_suppression(event) => {
                    let (before, _) = self.read_summary(address).await?;
                    let after = before.apply(event, self.policy());
                    Some((before, after))
                }
                _ => None,
            };
            let items = self.transaction(
                event,
                increments,
                summaries.as_ref().map(|(b, a)| (b, a)),
                attempt,
            )?;
            let (count, units) = (items.len(), transaction_write_units(&items));
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            match result {
                Ok(out) => {
                    self.meter.transaction(
                        "TransactWriteItems",
                        count,
                        units,
                        out.consumed_capacity(),
                    );
                    return Ok(RecordOutcome::New);
                }
                Err(error) => match classify_cancellation(&error) {
                    Some(Cancelled::Duplicate { logged, counted }) => {
                        self.meter.failed("TransactWriteItems", count);
                        self.count_in_new_scopes(event, increments, counted).await?;
                        return Ok(RecordOutcome::Duplicate { logged });
                    }
                    Some(Cancelled::Contention) => {
                        self.meter.failed("TransactWriteItems", count);
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
        let out = self
            .client
            .update_item()
            .table_name(&self.config.table_name)
            .key(keys::PK, s(keys::message_pk(&event.ses_message_id)))
            .key(keys::SK, s(keys::message_event_sk(&event.event_id)))
            .update_expression("SET logged = :t")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| StoreError::service("UpdateItem (logged)", e))?;
        self.meter
            .consumed("UpdateItem (logged)", 1, out.consumed_capacity());
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
            let out = self
                .client
                .update_item()
                .table_name(&self.config.table_name)
                .key(keys::PK, s(keys::SCOPES_PK))
                .key(keys::SK, s(scope.key()))
                .update_expression("SET last_seen = :d")
                .expression_attribute_values(":d", s(&today))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| StoreError::service("UpdateItem (scope registry)", e))?;
            self.meter
                .consumed("UpdateItem (scope registry)", 1, out.consumed_capacity());
            if let Ok(mut r) = self.registered.lock() {
                r.insert(key);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        assert!(backoff(0, "a") < backoff(5, "a"));
        assert!(backoff(50, "abc") <= Duration::from_millis(2 * (20 << 5)));
    }
}
