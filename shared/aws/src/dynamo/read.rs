//! Reads: recipient history and summary, a message's events, counters, alert state.

use super::items::{attr, n, s, time, EventItem};
use super::*;

impl LedgerReader for DynamoLedger {
    async fn recipient_history(
        &self,
        address: &str,
        limit: usize,
    ) -> Result<Vec<RecipientEvent>, StoreError> {
        self.query_events(EventQuery::Recipient(address), false, limit)
            .await
    }

    async fn recipient_summary(
        &self,
        address: &str,
    ) -> Result<Option<RecipientSummary>, StoreError> {
        // Folded from the history (expired items already filtered out), so it agrees with the
        // stored suppression state, which only bounces and complaints write.
        let history = self
            .query_events(EventQuery::Recipient(address), true, usize::MAX)
            .await?;
        Ok((!history.is_empty()).then(|| RecipientSummary::of(&history, self.policy())))
    }

    async fn suppression(&self, address: &str) -> Result<Option<Suppression>, StoreError> {
        // Every read filters expired items: TTL deletes them only "typically within two days".
        let (summary, expires_at) = self.read_summary(address).await?;
        let expired = expires_at.is_some_and(|at| at <= Utc::now().timestamp());
        Ok(summary.suppression.filter(|_| !expired))
    }

    async fn message_events(
        &self,
        ses_message_id: &str,
    ) -> Result<Vec<RecipientEvent>, StoreError> {
        let mut events = self
            .query_events(EventQuery::Message(ses_message_id), true, usize::MAX)
            .await?;
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
    /// The scopes each event item of one message is counted in, as stored (the `scopes` the
    /// count function reads from the stream), by event type: what `doctor --canary` checks to
    /// see that mailbox-simulator mail stays out of every rate.
    pub async fn message_event_scopes(
        &self,
        ses_message_id: &str,
    ) -> Result<Vec<(String, std::collections::BTreeSet<String>)>, StoreError> {
        let mut items = self
            .client
            .query()
            .table_name(&self.config.table_name)
            .key_condition_expression("pk = :pk AND begins_with(sk, :evt)")
            .expression_attribute_values(":pk", s(keys::message_pk(ses_message_id)))
            .expression_attribute_values(":evt", s(keys::EVENT_SK_PREFIX))
            .projection_expression("#t, #s")
            .expression_attribute_names("#t", attr::TYPE)
            .expression_attribute_names("#s", super::stream::SCOPES)
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(item) = items.next().await {
            let item = item.map_err(|e| StoreError::service("Query (event scopes)", e))?;
            let kind = item
                .get(attr::TYPE)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            let scopes = item
                .get(super::stream::SCOPES)
                .and_then(|v| v.as_ss().ok())
                .map(|ss| ss.iter().cloned().collect())
                .unwrap_or_default();
            out.push((kind, scopes));
        }
        Ok(out)
    }
}

/// Where events are listed: a message's items in the table, or a recipient's in the index.
#[derive(Clone, Copy)]
enum EventQuery<'a> {
    Message(&'a str),
    Recipient(&'a str),
}

impl DynamoLedger {
    /// Events of a message or a recipient, skipping items whose TTL has passed but that DynamoDB
    /// has not deleted yet.
    async fn query_events(
        &self,
        query: EventQuery<'_>,
        forward: bool,
        limit: usize,
    ) -> Result<Vec<RecipientEvent>, StoreError> {
        let now = Utc::now().timestamp();
        let request = self
            .client
            .query()
            .table_name(&self.config.table_name)
            .filter_expression("attribute_not_exists(#x) OR #x > :now")
            .expression_attribute_names("#x", keys::EXPIRES_AT)
            .expression_attribute_values(":now", n(now))
            .scan_index_forward(forward)
            // A page no larger than what is wanted, so a one-item lookup reads one item.
            .set_limit(i32::try_from(limit).ok().filter(|l| *l <= 1000));
        let request = match query {
            EventQuery::Message(id) => request
                .key_condition_expression("pk = :pk AND begins_with(sk, :evt)")
                .expression_attribute_values(":pk", s(keys::message_pk(id)))
                .expression_attribute_values(":evt", s(keys::EVENT_SK_PREFIX)),
            EventQuery::Recipient(address) => request
                .index_name(RECIPIENT_INDEX)
                .key_condition_expression("#r = :r")
                .expression_attribute_names("#r", attr::RECIPIENT)
                .expression_attribute_values(":r", s(address)),
        };
        let mut items = request.into_paginator().items().send();
        let mut events = Vec::new();
        while events.len() < limit {
            let Some(item) = items.next().await else {
                break;
            };
            let item = item.map_err(|e| StoreError::service("Query (events)", e))?;
            events.push(RecipientEvent::try_from(EventItem(item))?);
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
            // An item a count function before `fbl_complaints` wrote has none: its feedback-loop
            // numerator was every complaint not from the suppression list, which is read in its
            // place (an upper bound, as the figure was then; docs/rates.md, "Upgrading"). Every
            // item the count function writes now carries the attribute, zero or not.
            let earlier_layout = !item.contains_key(Metric::FeedbackLoopComplaints.attribute());
            for (name, value) in &item {
                let Ok(v) = value.as_n() else { continue };
                let count: u64 = v.parse().map_err(|_| StoreError::Corrupt {
                    key: keys::counter_pk(scope),
                    message: format!("{name} is not a count: {v}"),
                })?;
                if let Some(metric) = Metric::ALL.iter().find(|m| m.attribute() == name) {
                    *totals.metrics.entry(*metric).or_default() += count;
                    if earlier_layout && *metric == Metric::ComplaintsNotSuppressed {
                        *totals
                            .metrics
                            .entry(Metric::FeedbackLoopComplaints)
                            .or_default() += count;
                    }
                } else if ComplaintBreakdown::parse(name).is_some() {
                    *totals.details.entry(name.clone()).or_default() += count;
                }
            }
        }
        by_bucket
            .into_iter()
            .map(|(label, totals)| {
                let bucket =
                    keys::parse_bucket_label(&label).map_err(|message| StoreError::Corrupt {
                        key: keys::counter_pk(scope),
                        message,
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

    async fn claim_level_change(
        &self,
        scope: &Scope,
        kind: RateKind,
        from: Level,
        to: Level,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.config.table_name)
            .item(keys::PK, s(keys::alert_pk(scope)))
            .item(keys::SK, s(kind.as_str()))
            .item("level", s(to.as_str()))
            .item("changed_at", time(at))
            .expression_attribute_names("#level", "level")
            .expression_attribute_values(":from", s(from.as_str()));
        // No item reads as Normal.
        let request = if from == Level::Normal {
            request.condition_expression("attribute_not_exists(#level) OR #level = :from")
        } else {
            request.condition_expression("#level = :from")
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error().is_some_and(|e| {
                    matches!(
                        e,
                        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(_)
                    )
                }) =>
            {
                Ok(false)
            }
            Err(e) => Err(StoreError::service("PutItem (alert state)", e)),
        }
    }
}
