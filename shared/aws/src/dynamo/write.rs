//! The exactly-once write: one conditional `PutItem` per recipient event (a two-item transaction
//! when a bounce or complaint moves the suppression state). Counters are not written here: the
//! table's change stream counts each inserted item, and the scopes a duplicate adds (`tally`).

// The adapter's imports, types and helpers are shared by its parts.
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;

use super::capacity::{index_write_units, put_write_units, transaction_write_units};
use super::items::{expires_at, n, s, EventItem, SummaryItem};
use super::stream::{count_attributes, SCOPES};
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
        let expires_at = expires_at(&item);
        let summary = RecipientSummary::try_from(SummaryItem(item)).map_err(|message| {
            StoreError::Corrupt {
                key: keys::recipient_pk(address),
                message,
            }
        })?;
        Ok((summary, expires_at))
    }

    /// The event's item: what the ledger keeps of it, its TTL, and what the change stream counts
    /// it toward (`scopes` and the count attributes; none for events that count nothing).
    fn event_item(&self, event: &RecipientEvent, increments: &[CounterIncrement]) -> Item {
        let EventItem(mut item) = EventItem::from(event);
        item.insert(keys::EXPIRES_AT.into(), n(self.event_expiry(event)));
        if let Some(first) = increments.first() {
            item.insert(
                SCOPES.into(),
                AttributeValue::Ss(increments.iter().map(|i| i.scope.key()).collect()),
            );
            item.extend(count_attributes(first));
        }
        item
    }

    /// Most events: one conditional put, which is the dedupe, the message lookup and (through the
    /// recipient index) the history.
    async fn put_event(
        &self,
        event: &RecipientEvent,
        item: Item,
        increments: &[CounterIncrement],
    ) -> Result<RecordOutcome, StoreError> {
        let units = put_write_units(&item);
        let result = self
            .client
            .put_item()
            .table_name(&self.config.table_name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.meter
                    .computed("PutItem (event)", 1, units, out.consumed_capacity());
                Ok(RecordOutcome::New)
            }
            Err(error) => match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(e)) => {
                    self.meter.failed("PutItem (event)", 1);
                    let counted = e.item().map(scopes_of).unwrap_or_default();
                    self.add_scopes(event, increments, counted).await?;
                    Ok(RecordOutcome::Duplicate)
                }
                _ => Err(StoreError::service("PutItem (event)", error)),
            },
        }
    }

    /// A bounce or complaint: the event and the recipient's suppression state together, the
    /// state conditional on the version read just before (an optimistic lock).
    async fn put_event_with_suppression(
        &self,
        event: &RecipientEvent,
        address: &str,
        item: Item,
        increments: &[CounterIncrement],
    ) -> Result<RecordOutcome, StoreError> {
        let table = &self.config.table_name;
        let mut last_problem = String::new();
        for attempt in 0..MAX_CONFLICT_ATTEMPTS {
            let (before, _) = self.read_summary(address).await?;
            let after = before.apply(event, self.policy());
            let SummaryItem(mut summary_item) = SummaryItem::from(&after);
            summary_item.insert(keys::PK.into(), s(keys::recipient_pk(address)));
            summary_item.insert(keys::SK.into(), s(keys::SUMMARY_SK));
            summary_item.insert("address".into(), s(address));
            summary_item.insert(keys::EXPIRES_AT.into(), n(self.event_expiry(event)));
            let summary = Put::builder()
                .table_name(table)
                .set_item(Some(summary_item));
            let summary = if before.version == 0 {
                summary.condition_expression("attribute_not_exists(pk)")
            } else {
                summary
                    .condition_expression("version = :v")
                    .expression_attribute_values(":v", n(before.version as i64))
            };
            let items = vec![
                put(Put::builder()
                    .table_name(table)
                    .set_item(Some(item.clone()))
                    .condition_expression("attribute_not_exists(pk)")
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    ))?,
                put(summary)?,
            ];
            // The index entry of the event item is a plain write (indexes are not transactional).
            let index_units = index_write_units(&item);
            let Err(error) = self
                .transact(
                    "TransactWriteItems (event, suppression)",
                    items,
                    index_units,
                )
                .await
            else {
                return Ok(RecordOutcome::New);
            };
            match classify_cancellation(&error) {
                Some(Cancelled::Duplicate { counted }) => {
                    self.add_scopes(event, increments, counted).await?;
                    return Ok(RecordOutcome::Duplicate);
                }
                Some(Cancelled::Contention) => {
                    self.contention
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    last_problem = "suppression state changed by a concurrent writer".into();
                    tokio::time::sleep(backoff(attempt, &event.event_id)).await;
                }
                Some(Cancelled::Other(message)) => {
                    return Err(StoreError::Refused {
                        operation: "TransactWriteItems (event, suppression)",
                        message,
                    })
                }
                None => {
                    return Err(StoreError::service(
                        "TransactWriteItems (event, suppression)",
                        error,
                    ))
                }
            }
        }
        Err(StoreError::Exhausted {
            operation: "TransactWriteItems (event, suppression)",
            attempts: MAX_CONFLICT_ATTEMPTS,
            message: last_problem,
        })
    }

    /// One transaction with its consumed capacity metered: `units` computed by DynamoDB's rules
    /// before sending (DynamoDB Local under-reports transactions), a failure counted as billed.
    async fn transact(
        &self,
        operation: &'static str,
        items: Vec<TransactWriteItem>,
        extra_units: f64,
    ) -> Result<(), SdkError<TransactWriteItemsError>> {
        let (count, units) = (items.len(), transaction_write_units(&items) + extra_units);
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.meter
                    .computed(operation, count, units, out.consumed_capacity());
                Ok(())
            }
            Err(error) => {
                self.meter.failed(operation, count);
                Err(error)
            }
        }
    }

    /// A duplicate may know scopes the first copy did not: a complaint that arrived first as an
    /// identity notification has no configuration set or tags; its event-publishing copy does.
    /// Adds them to the recorded item, conditional on none being there yet, so the change stream
    /// counts the event in each once (a MODIFY whose `scopes` grew).
    async fn add_scopes(
        &self,
        event: &RecipientEvent,
        increments: &[CounterIncrement],
        mut counted: HashSet<String>,
    ) -> Result<(), StoreError> {
        for attempt in 0..MAX_CONFLICT_ATTEMPTS {
            let missing: Vec<String> = increments
                .iter()
                .map(|i| i.scope.key())
                .filter(|k| !counted.contains(k))
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            let mut values: HashMap<String, AttributeValue> = HashMap::new();
            let mut conditions = vec!["attribute_exists(pk)".to_string()];
            for (i, scope) in missing.iter().enumerate() {
                values.insert(format!(":s{i}"), s(scope));
                conditions.push(format!("NOT contains(#scopes, :s{i})"));
            }
            values.insert(":new".into(), AttributeValue::Ss(missing.clone()));
            let result = self
                .client
                .update_item()
                .table_name(&self.config.table_name)
                .key(keys::PK, s(keys::message_pk(&event.ses_message_id)))
                .key(keys::SK, s(keys::message_event_sk(&event.event_id)))
                .update_expression("ADD #scopes :new")
                .condition_expression(conditions.join(" AND "))
                .expression_attribute_names("#scopes", SCOPES)
                .set_expression_attribute_values(Some(values))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            match result {
                Ok(out) => {
                    self.meter
                        .consumed("UpdateItem (scopes)", 1, out.consumed_capacity());
                    return Ok(());
                }
                Err(error) => match error.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(e)) => {
                        self.meter.failed("UpdateItem (scopes)", 1);
                        // Another copy added some of them first: go on with what is missing.
                        match e.item() {
                            Some(item) => counted = scopes_of(item),
                            None => {
                                return Err(StoreError::Refused {
                                    operation: "UpdateItem (scopes)",
                                    message: "the recorded event is gone (expired?)".into(),
                                })
                            }
                        }
                        tokio::time::sleep(backoff(attempt, &event.event_id)).await;
                    }
                    _ => return Err(StoreError::service("UpdateItem (scopes)", error)),
                },
            }
        }
        Err(StoreError::Exhausted {
            operation: "UpdateItem (scopes)",
            attempts: MAX_CONFLICT_ATTEMPTS,
            message: "scopes changed by concurrent writers".into(),
        })
    }
}

/// The scopes a message item says its event was counted in.
fn scopes_of(item: &Item) -> HashSet<String> {
    match item.get(SCOPES) {
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
enum Cancelled {
    Duplicate {
        /// Scopes the recorded copy was counted in.
        counted: HashSet<String>,
    },
    /// Another writer changed the suppression state first: read again and retry.
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
        let counted = reasons
            .first()
            .and_then(|r| r.item())
            .map(scopes_of)
            .unwrap_or_default();
        return Some(Cancelled::Duplicate { counted });
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
    fn contention_retries(&self) -> u64 {
        self.contention.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn record(
        &self,
        event: &RecipientEvent,
        increments: &[CounterIncrement],
    ) -> Result<RecordOutcome, StoreError> {
        let item = self.event_item(event, increments);
        match &event.recipient {
            Some(address) if affects_suppression(event) => {
                self.put_event_with_suppression(event, address, item, increments)
                    .await
            }
            _ => self.put_event(event, item, increments).await,
        }
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
