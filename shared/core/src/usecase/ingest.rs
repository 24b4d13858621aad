//! The ingest use case: one Lambda input (or file document) in, every recipient event logged at
//! least once and recorded exactly once. Shared by the ingest function and `ses-ledger replay`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use thiserror::Error;

use crate::config::LedgerConfig;
use crate::input::envelope::{split_document, Content, Inbound, InputError, Skip};
use crate::input::normalise::normalise_with;
use crate::ledger::counters::{increments_for, scopes_for, CounterIncrement, Scope};
use crate::model::documented::Field;
use crate::model::event::{Origin, RecipientEvent, Transport};
use crate::ports::{EventLog, EventStore, RecordOutcome, StoreError, MAX_KEY_TEXT_BYTES};

/// Recipient events written at once per invocation; DynamoDB transactions are independent.
const WRITE_CONCURRENCY: usize = 16;

#[derive(Debug, Error)]
pub enum IngestFailure {
    #[error("bad input: {0}")]
    Input(#[from] InputError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("event log: {0}")]
    Log(StoreError),
    /// A pseudonymisation key is configured but was not loaded: nothing is recorded rather than
    /// addresses in clear, and the message is retried.
    #[error("the pseudonymisation key in {parameter} is configured but not loaded; nothing was recorded")]
    KeyNotLoaded { parameter: String },
}

/// What happened to one SES message.
#[derive(Debug)]
pub struct MessageOutcome {
    pub origin: Origin,
    /// New and duplicate recipient events, or why the message could not be recorded. A skipped
    /// message is `Ok` with no events.
    pub result: Result<Counts, IngestFailure>,
    /// Why the message was skipped, when it is no SES sending event.
    pub skipped: Option<Skip>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub new: usize,
    pub duplicate: usize,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, other: Counts) {
        self.new += other.new;
        self.duplicate += other.duplicate;
    }
}

#[derive(Debug, Default)]
pub struct IngestReport {
    pub messages: Vec<MessageOutcome>,
    /// Recipient events with a value SES does not document, by field (`bounce.bounceType`).
    pub undocumented: BTreeMap<String, usize>,
}

impl IngestReport {
    /// Skipped messages, by reason.
    pub fn skipped(&self) -> BTreeMap<Skip, usize> {
        let mut by_reason = BTreeMap::new();
        for skip in self.messages.iter().filter_map(|m| m.skipped) {
            *by_reason.entry(skip).or_insert(0) += 1;
        }
        by_reason
    }

    pub fn counts(&self) -> Counts {
        let mut total = Counts::default();
        for m in &self.messages {
            if let Ok(c) = &m.result {
                total += *c;
            }
        }
        total
    }

    pub fn failures(&self) -> impl Iterator<Item = &MessageOutcome> {
        self.messages.iter().filter(|m| m.result.is_err())
    }

    /// Embedded Metric Format lines (`SesLedger` namespace) for what an operator must notice
    /// without reading every log line: skipped messages by `Reason`, and recipient events with
    /// values SES does not document by `Field`. None when there is nothing to report, so the
    /// usual invocation writes no metric at all.
    pub fn emf_lines(&self, now: DateTime<Utc>) -> Vec<serde_json::Value> {
        let skipped = self
            .skipped()
            .into_iter()
            .filter_map(|(skip, n)| emf_count("SkippedMessages", "Reason", skip.code(), n, now));
        let undocumented = self
            .undocumented
            .iter()
            .filter_map(|(field, n)| emf_count("UndocumentedValues", "Field", field, *n, now));
        skipped.chain(undocumented).collect()
    }

    /// SQS message ids to hand back in `batchItemFailures`.
    pub fn failed_sqs_message_ids(&self) -> Vec<String> {
        self.failures()
            .filter_map(|m| m.origin.sqs_message_id.clone())
            .collect()
    }

    /// True when the input came through SQS, where failures are reported per record.
    pub fn is_sqs_batch(&self) -> bool {
        self.messages.iter().any(|m| {
            matches!(
                m.origin.transport,
                Some(Transport::SqsSns | Transport::SqsRaw)
            )
        })
    }
}

/// Why an event cannot be keyed in the ledger: a text longer than [`MAX_KEY_TEXT_BYTES`].
fn oversize_key(event: &RecipientEvent, config: &LedgerConfig) -> Option<InputError> {
    let too_long = |what: &str, text: &str| {
        (text.len() > MAX_KEY_TEXT_BYTES).then(|| InputError::Invalid {
            path: what.into(),
            message: format!(
                "is {} bytes, more than the {MAX_KEY_TEXT_BYTES} a ledger key holds (no SES message id, address or tag value comes near it)",
                text.len()
            ),
        })
    };
    too_long("mail.messageId", &event.ses_message_id)
        .or_else(|| {
            event
                .recipient
                .as_deref()
                .and_then(|r| too_long("a recipient", r))
        })
        .or_else(|| {
            scopes_for(event, config)
                .iter()
                .find_map(|s| too_long(&format!("the scope {:.40}...", s.key()), &s.key()))
        })
}

fn emf_count(
    metric: &str,
    dimension: &str,
    value: &str,
    count: usize,
    now: DateTime<Utc>,
) -> Option<serde_json::Value> {
    crate::emf::Line::new(now, &[&[dimension]])
        .dimension(dimension, value)
        .count(metric, count as u64)
        .to_json()
}

/// A readable label for a message's origin in error logs.
pub fn describe_origin(origin: &Origin) -> String {
    let mut parts = Vec::new();
    if let Some(id) = &origin.sqs_message_id {
        parts.push(format!("SQS message {id}"));
    }
    if let Some(id) = &origin.sns_message_id {
        parts.push(format!("SNS message {id}"));
    }
    if let Some(id) = &origin.eventbridge_id {
        parts.push(format!("EventBridge event {id}"));
    }
    if parts.is_empty() {
        "input document".into()
    } else {
        parts.join(", ")
    }
}

/// The ingest use case over its two ports: the ledger store and the event log, with the ledger's
/// configuration. Built once per cold start (or once per CLI replay).
pub struct Ingest<S, L> {
    pub store: S,
    pub log: L,
    pub config: LedgerConfig,
}

impl<S: EventStore, L: EventLog> Ingest<S, L> {
    /// Records every recipient event in `doc`. The whole-document error is for input that is no
    /// known envelope at all; everything else is reported per SES message.
    pub async fn document(
        &self,
        doc: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<IngestReport, InputError> {
        let inbound = split_document(doc)?;
        Ok(self.inbound(inbound, now).await)
    }

    /// Records SES messages already split from their envelopes (several documents at once, so a
    /// backfill writes one log batch per chunk rather than per line).
    pub async fn inbound(&self, inbound: Vec<Inbound>, now: DateTime<Utc>) -> IngestReport {
        let mut messages = Vec::with_capacity(inbound.len());
        let mut events: Vec<(usize, RecipientEvent)> = Vec::new();
        let mut undocumented = BTreeMap::new();
        for (i, msg) in inbound.into_iter().enumerate() {
            let (result, skipped) = match (self.config.unloaded_pseudonym_key(), msg.content) {
                (Some(parameter), _) => (
                    Err(IngestFailure::KeyNotLoaded {
                        parameter: parameter.to_string(),
                    }),
                    None,
                ),
                (None, Content::Ses(ses)) => (
                    normalise_with(&ses, &msg.origin, now, &self.config.addresses)
                        .and_then(|events| {
                            match events.iter().find_map(|e| oversize_key(e, &self.config)) {
                                Some(e) => Err(e),
                                None => Ok(events),
                            }
                        })
                        .map_err(IngestFailure::from),
                    None,
                ),
                (None, Content::Skipped(skip)) => (Ok(Vec::new()), Some(skip)),
                (None, Content::Invalid(e)) => (Err(e.into()), None),
            };
            match result {
                Ok(normalised) => {
                    for entry in normalised.iter().flat_map(|e| &e.undocumented_values) {
                        *undocumented
                            .entry(Field::path_of(entry).to_string())
                            .or_insert(0) += 1;
                    }
                    events.extend(normalised.into_iter().map(|e| (i, e)));
                    messages.push(MessageOutcome {
                        origin: msg.origin,
                        result: Ok(Counts::default()),
                        skipped,
                    });
                }
                Err(e) => messages.push(MessageOutcome {
                    origin: msg.origin,
                    result: Err(e),
                    skipped,
                }),
            }
        }
        self.record(events, &mut messages).await;
        IngestReport {
            messages,
            undocumented,
        }
    }

    /// Records already-normalised events that belong to `messages` (by index).
    ///
    /// The log comes first: every event of the input reaches the event log before the ledger
    /// records it, so a crash or failure after the log write is retried whole and the log holds
    /// every recorded event at least once (a retry logs it again; `event_id` dedupes). No marker
    /// write is needed to know what was logged.
    pub async fn record(
        &self,
        events: Vec<(usize, RecipientEvent)>,
        messages: &mut [MessageOutcome],
    ) {
        let (store, log, config) = (&self.store, &self.log, &self.config);
        if events.is_empty() {
            return;
        }
        // The same event twice in one input (a complaint in both formats) is logged once.
        let mut queued = std::collections::HashSet::new();
        let lines: Vec<RecipientEvent> = events
            .iter()
            .filter(|(_, e)| queued.insert(e.event_id.as_str()))
            .map(|(_, e)| e.clone())
            .collect();
        if let Err(e) = log.append(&lines).await {
            for (i, _) in &events {
                if let Some(m) = messages.get_mut(*i) {
                    fail(m, IngestFailure::Log(e.clone()));
                }
            }
            return;
        }

        let events: Vec<(usize, RecipientEvent, Vec<CounterIncrement>)> = events
            .into_iter()
            .map(|(i, e)| {
                let increments = increments_for(&e, config);
                (i, e, increments)
            })
            .collect();
        let mut scopes: Vec<Scope> = events
            .iter()
            .flat_map(|(_, _, increments)| increments.iter().map(|inc| inc.scope.clone()))
            .collect();
        scopes.sort();
        scopes.dedup();
        if let Err(e) = store.register_scopes(&scopes).await {
            for m in messages.iter_mut() {
                fail(m, IngestFailure::Store(e.clone()));
            }
            return;
        }

        let outcomes: Vec<(usize, Result<RecordOutcome, StoreError>)> =
            stream::iter(events)
                .map(|(i, event, increments)| async move {
                    (i, store.record(&event, &increments).await)
                })
                .buffer_unordered(WRITE_CONCURRENCY)
                .collect()
                .await;
        for (i, result) in outcomes {
            let Some(message) = messages.get_mut(i) else {
                continue;
            };
            match result {
                Ok(RecordOutcome::New) => add(
                    message,
                    Counts {
                        new: 1,
                        duplicate: 0,
                    },
                ),
                Ok(RecordOutcome::Duplicate) => add(
                    message,
                    Counts {
                        new: 0,
                        duplicate: 1,
                    },
                ),
                Err(e) => fail(message, IngestFailure::Store(e)),
            }
        }
    }
}

fn add(message: &mut MessageOutcome, counts: Counts) {
    if let Ok(c) = &mut message.result {
        *c += counts;
    }
}

/// The first failure of a message is the one reported.
fn fail(message: &mut MessageOutcome, failure: IngestFailure) {
    if message.result.is_ok() {
        message.result = Err(failure);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::counters::Metric;
    use crate::testkit::memory::{InMemoryEventLog, InMemoryLedger};

    fn delivery(message_id: &str, recipients: &[&str]) -> serde_json::Value {
        serde_json::json!({
            "eventType": "Delivery",
            "mail": {
                "timestamp": "2026-11-20T10:00:00.000Z",
                "messageId": message_id,
                "source": "sender@example.com",
                "destination": recipients,
                "tags": {"tenant": ["acme"]}
            },
            "delivery": {
                "timestamp": "2026-11-20T10:00:01.000Z",
                "recipients": recipients,
                "smtpResponse": "250 OK"
            }
        })
    }

    #[tokio::test]
    async fn every_recipient_is_recorded_once_and_logged_at_least_once_across_redeliveries() {
        let config = LedgerConfig::default();
        let app = in_memory(&config);
        let (store, log) = (&app.store, &app.log);
        let doc = delivery("m1", &["a@example.com", "b@yahoo.com", "c@gmail.com"]);
        let first = app.document(&doc, Utc::now()).await.expect("known shape");
        assert_eq!(
            first.counts(),
            Counts {
                new: 3,
                duplicate: 0
            }
        );
        let again = app.document(&doc, Utc::now()).await.expect("known shape");
        assert_eq!(
            again.counts(),
            Counts {
                new: 0,
                duplicate: 3
            }
        );
        let logged: std::collections::BTreeSet<String> =
            log.lines().into_iter().map(|e| e.event_id).collect();
        assert_eq!(log.lines().len(), 6, "each delivery logged at least once");
        assert_eq!(logged.len(), 3);
        assert_eq!(store.counter_total(&Scope::Account, Metric::Deliveries), 3);
        assert_eq!(
            store.counter_total(&Scope::Account, Metric::FeedbackLoopDeliveries),
            1
        );
        assert_eq!(
            store.counter_total(
                &Scope::Tag {
                    name: "tenant".into(),
                    value: "acme".into()
                },
                Metric::Deliveries
            ),
            3
        );
    }

    #[tokio::test]
    async fn a_failed_log_write_fails_the_message_before_anything_is_recorded() {
        let config = LedgerConfig::default();
        let app = in_memory(&config);
        let (store, log) = (&app.store, &app.log);
        log.fail_next(1);
        let doc = delivery("m2", &["a@example.com"]);
        let failed = app.document(&doc, Utc::now()).await.expect("shape");
        assert!(matches!(
            failed.messages[0].result,
            Err(IngestFailure::Log(_))
        ));
        assert!(log.lines().is_empty());
        assert_eq!(
            store.event_count(),
            0,
            "nothing recorded that is not logged"
        );
        let retried = app.document(&doc, Utc::now()).await.expect("shape");
        assert_eq!(
            retried.counts(),
            Counts {
                new: 1,
                duplicate: 0
            }
        );
        assert_eq!(log.lines().len(), 1, "logged on the retry");
        app.document(&doc, Utc::now()).await.expect("shape");
        assert_eq!(
            log.lines().len(),
            2,
            "a redelivery logs again: at least once"
        );
        assert_eq!(store.counter_total(&Scope::Account, Metric::Deliveries), 1);
    }

    #[tokio::test]
    async fn bad_records_fail_alone_and_unknown_shapes_fail_the_document() {
        let app = in_memory(&LedgerConfig::default());
        let good = delivery("m3", &["a@example.com"]).to_string();
        let doc = serde_json::json!({"Records": [
            {"messageId": "ok", "eventSource": "aws:sqs", "body": good},
            {"messageId": "bad", "eventSource": "aws:sqs", "body": "{\"eventType\": \"Delivery\""}
        ]});
        let report = app.document(&doc, Utc::now()).await.expect("shape");
        assert!(report.is_sqs_batch());
        assert_eq!(report.failed_sqs_message_ids(), vec!["bad".to_string()]);
        assert_eq!(report.counts().new, 1);
        // What the ingest function's on-failure destination keeps: the original event inside.
        let dlq_record = serde_json::json!({
            "version": "1.0",
            "requestContext": {"requestId": "r", "condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "requestPayload": {"Records": [{"Sns": {"Type": "Notification", "MessageId": "sns-1", "Message": delivery("m4", &["d@example.com"]).to_string()}}]},
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"}
        });
        let replayed = app.document(&dlq_record, Utc::now()).await.expect("shape");
        assert_eq!(replayed.counts().new, 1);
        assert_eq!(
            replayed.messages[0].origin.sns_message_id.as_deref(),
            Some("sns-1")
        );
        let unknown = serde_json::json!({"hello": "world"});
        assert!(app.document(&unknown, Utc::now()).await.is_err());
    }

    #[tokio::test]
    async fn skipped_messages_pass_the_batch_and_are_counted_by_reason_and_metric() {
        let config = LedgerConfig::default();
        let app = in_memory(&config);
        let (store, log) = (&app.store, &app.log);
        let confirmation = serde_json::json!({"Type": "SubscriptionConfirmation", "MessageId": "c", "TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": "You have chosen to subscribe"});
        let received = serde_json::json!({"notificationType": "Received", "mail": {"messageId": "in-1", "timestamp": "2026-11-20T10:00:00.000Z", "destination": ["support@example.com"]}, "receipt": {}});
        let mut temporary = delivery("m5", &["a@example.com"]);
        temporary["eventType"] = "Bounce".into();
        temporary["bounce"] = serde_json::json!({"bounceType": "Temporary", "bounceSubType": "General", "feedbackId": "f", "bouncedRecipients": [{"emailAddress": "a@example.com"}]});
        let doc = serde_json::json!({"Records": [
            {"messageId": "q-confirm", "eventSource": "aws:sqs", "body": confirmation.to_string()},
            {"messageId": "q-received", "eventSource": "aws:sqs", "body": received.to_string()},
            {"messageId": "q-bounce", "eventSource": "aws:sqs", "body": temporary.to_string()},
        ]});
        let report = app.document(&doc, Utc::now()).await.expect("shape");
        assert!(report.failed_sqs_message_ids().is_empty());
        assert_eq!(
            report.skipped(),
            BTreeMap::from([
                (Skip::ReceivedMail, 1),
                (Skip::SnsSubscriptionConfirmation, 1)
            ])
        );
        assert_eq!(report.counts().new, 1);
        assert_eq!(
            log.lines().len(),
            1,
            "nothing of the skipped messages is logged as an event"
        );
        assert_eq!(
            report.undocumented,
            BTreeMap::from([("bounce.bounceType".to_string(), 1)])
        );
        assert_eq!(
            store.counter_total(&Scope::Account, Metric::Undocumented),
            1
        );
        let metrics: Vec<(String, String, u64)> = report
            .emf_lines(Utc::now())
            .iter()
            .map(|line| {
                let m = &line["_aws"]["CloudWatchMetrics"][0];
                let name = m["Metrics"][0]["Name"].as_str().unwrap_or("").to_string();
                let dimension = m["Dimensions"][0][0].as_str().unwrap_or("");
                let value = line[dimension].as_str().unwrap_or("").to_string();
                (name.clone(), value, line[&name].as_u64().unwrap_or(0))
            })
            .collect();
        assert_eq!(
            metrics,
            [
                (
                    "SkippedMessages".to_string(),
                    "received_mail".to_string(),
                    1
                ),
                (
                    "SkippedMessages".to_string(),
                    "sns_subscription_confirmation".to_string(),
                    1
                ),
                (
                    "UndocumentedValues".to_string(),
                    "bounce.bounceType".to_string(),
                    1
                ),
            ]
        );
        let quiet = app
            .document(&delivery("m6", &["b@example.com"]), Utc::now())
            .await
            .expect("shape");
        assert!(
            quiet.emf_lines(Utc::now()).is_empty(),
            "no metric when nothing is odd"
        );
    }

    /// The use case over in-memory ports, for `config`.
    fn in_memory(config: &LedgerConfig) -> Ingest<InMemoryLedger, InMemoryEventLog> {
        Ingest {
            store: InMemoryLedger::new(config),
            log: InMemoryEventLog::default(),
            config: config.clone(),
        }
    }

    fn pseudonymised() -> LedgerConfig {
        let key =
            crate::privacy::PseudonymKey::new("a test key, thirty-two bytes long").expect("key");
        LedgerConfig {
            pseudonym_key_parameter: Some("/ses-ledger/pseudonym-key".into()),
            addresses: crate::privacy::Addresses::Pseudonymised(key),
            ..LedgerConfig::default()
        }
    }

    #[tokio::test]
    async fn pseudonymised_addresses_key_history_and_leave_the_rates_by_provider_whole() {
        use crate::ports::LedgerReader;
        let config = pseudonymised();
        let app = in_memory(&config);
        let (store, log) = (&app.store, &app.log);
        let doc = delivery("m1", &["Ann@Example.com", "b@yahoo.com"]);
        let report = app.document(&doc, Utc::now()).await.expect("known shape");
        assert_eq!(report.counts().new, 2);
        for line in log.lines() {
            let text = serde_json::to_string(&line)
                .expect("serialises")
                .to_lowercase();
            assert!(
                !text.contains("ann@example.com") && !text.contains("b@yahoo.com"),
                "{text}"
            );
            assert!(crate::privacy::is_pseudonym(
                line.recipient.as_deref().unwrap_or("")
            ));
        }
        let key = config.addresses.key_of("b@YAHOO.com");
        let summary = store.recipient_summary(&key).await.expect("reads");
        assert!(
            summary.is_some(),
            "the pseudonym of a typed address finds its summary"
        );
        assert!(store
            .recipient_summary("b@yahoo.com")
            .await
            .expect("reads")
            .is_none());
        assert_eq!(
            store.counter_total(&Scope::Provider("yahoo".into()), Metric::Deliveries),
            1
        );
        assert_eq!(
            store.counter_total(&Scope::Account, Metric::FeedbackLoopDeliveries),
            1
        );
    }

    #[tokio::test]
    async fn a_configured_key_that_was_not_loaded_records_nothing() {
        let config = LedgerConfig {
            addresses: crate::privacy::Addresses::Clear,
            ..pseudonymised()
        };
        let app = in_memory(&config);
        let (store, log) = (&app.store, &app.log);
        let report = app
            .document(&delivery("m1", &["a@example.com"]), Utc::now())
            .await
            .expect("known shape");
        assert!(matches!(
            report.messages[0].result,
            Err(IngestFailure::KeyNotLoaded { ref parameter }) if parameter == "/ses-ledger/pseudonym-key"
        ));
        assert_eq!(store.event_count(), 0);
        assert!(log.lines().is_empty());
    }
}
