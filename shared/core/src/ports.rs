//! One small trait per AWS capability. Handlers and the CLI take only the port they need; the
//! adapters (`dynamo`, `cloudwatch_logs`, ...) own the SDK mapping, and `memory` holds in-memory
//! versions for unit tests of the pure orchestration.

use std::future::Future;
use std::sync::Arc;

use thiserror::Error;

use crate::ledger::counters::{CounterIncrement, Scope};

/// The longest text a ledger store keys by: an SES message id, a recipient, a scope. DynamoDB
/// holds sort keys of 1,024 bytes and partition keys of 2,048; with the key prefixes this leaves
/// room. No SES message id, address (254 bytes at most) or tag value (256) comes near it, so a
/// longer one is hostile or broken input, rejected before anything is written.
pub const MAX_KEY_TEXT_BYTES: usize = 1000;
use crate::ledger::summary::RecipientSummary;
use crate::model::event::RecipientEvent;

/// A failed call to an AWS service, or an item we cannot read back. Cloneable, so one failure of a
/// batch call can be reported on every record it concerned without losing its source.
#[derive(Debug, Clone, Error)]
pub enum StoreError {
    /// The call failed; the SDK's error (with its chain) is the source.
    #[error("{operation} failed: {}", chain(source.as_ref()))]
    Service {
        operation: &'static str,
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The service answered, but refused what we sent (a rejected log event, a cancelled
    /// transaction for a reason other than our own condition).
    #[error("{operation} refused: {message}")]
    Refused {
        operation: &'static str,
        message: String,
    },
    #[error("stored item {key} is unreadable: {message}")]
    Corrupt { key: String, message: String },
    #[error("{operation} gave up after {attempts} attempts: {message}")]
    Exhausted {
        operation: &'static str,
        attempts: u32,
        message: String,
    },
}

impl StoreError {
    /// A `Service` error keeping the SDK's error as its source.
    pub fn service(
        operation: &'static str,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Service {
            operation,
            source: Arc::new(error),
        }
    }
}

/// An error and its sources, joined: the SDK's own `Display` says only "service error", and the
/// message an operator needs is further down the chain.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

/// Whether an event was new to the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Recorded now.
    New,
    /// Recorded before. It counts again only in scopes the recorded copy did not know.
    Duplicate,
}

/// Records recipient events exactly once (DynamoDB in production).
pub trait EventStore: Send + Sync {
    /// Records what the ledger keeps of the event ([`RecipientEvent::ledger_view`]), with what
    /// it adds to each scope's counters (`increments`), only if it is not already recorded; a
    /// duplicate that knows more scopes adds those. Bounces and complaints move the recipient's
    /// suppression state in the same write. Counters follow from what is recorded (DynamoDB: the
    /// table's change stream, see [`CounterWriter`]).
    fn record(
        &self,
        event: &RecipientEvent,
        increments: &[CounterIncrement],
    ) -> impl Future<Output = Result<RecordOutcome, StoreError>> + Send;

    /// Makes scopes known to the alarm function (idempotent).
    fn register_scopes(
        &self,
        scopes: &[Scope],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Writes retried so far because another writer changed the same item first (contention on
    /// a hot recipient): reported per invocation, for operators and load tests. Stores without
    /// contention report 0.
    fn contention_retries(&self) -> u64 {
        0
    }
}

/// The hourly counters, written from the ledger table's change stream (see `tally`).
pub trait CounterWriter: Send + Sync {
    /// Adds `counter` to its counter and moves `shard`'s high-water mark there to
    /// `counter.last`, on the condition that the mark is before `counter.first`. Otherwise adds
    /// nothing and says where the mark is: at or past `counter.last` (an earlier attempt added
    /// all of it), or inside the range (an earlier attempt added its records up to the mark).
    fn add_once(
        &self,
        shard: &str,
        counter: &crate::ledger::tally::CounterWrite,
    ) -> impl Future<Output = Result<CounterAdded, StoreError>> + Send;
}

/// What [`CounterWriter::add_once`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CounterAdded {
    Added,
    /// An earlier attempt added it.
    AlreadyAdded,
    /// Nothing: the shard's mark on the counter is inside the range, at this record. The records
    /// up to it are counted, the rest are not (an earlier attempt of a batch that Lambda cut
    /// differently).
    CountedThrough(crate::ledger::tally::SequenceNumber),
}

/// The structured event stream (CloudWatch Logs in production).
pub trait EventLog: Send + Sync {
    /// Appends one line per event; all or error.
    fn append(
        &self,
        events: &[RecipientEvent],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Reads what the ledger knows about recipients and messages.
pub trait LedgerReader: Send + Sync {
    /// Newest first, at most `limit` events.
    fn recipient_history(
        &self,
        address: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecipientEvent>, StoreError>> + Send;

    /// Counts, first and last event and suppression, from the whole history.
    fn recipient_summary(
        &self,
        address: &str,
    ) -> impl Future<Output = Result<Option<RecipientSummary>, StoreError>> + Send;

    /// Whether and why the address is suppressed: one small read, for senders asking before
    /// every send.
    fn suppression(
        &self,
        address: &str,
    ) -> impl Future<Output = Result<Option<crate::ledger::summary::Suppression>, StoreError>> + Send;

    /// Every recipient event of one SES message, oldest first.
    fn message_events(
        &self,
        ses_message_id: &str,
    ) -> impl Future<Output = Result<Vec<RecipientEvent>, StoreError>> + Send;
}

/// One stored event of a recipient, by what identifies it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoredEvent {
    pub ses_message_id: String,
    pub event_id: String,
}

/// Everything the ledger stores that names one recipient: what `ses-ledger forget` erases. The
/// counters and the scope registry name no address and are not part of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecipientItems {
    /// The recipient's event items, expired or not.
    pub events: Vec<StoredEvent>,
    /// Whether a suppression state is stored for the address.
    pub suppression_state: bool,
}

impl RecipientItems {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && !self.suppression_state
    }

    /// How many SES messages the events belong to.
    pub fn messages(&self) -> usize {
        let ids: std::collections::BTreeSet<&str> = self
            .events
            .iter()
            .map(|e| e.ses_message_id.as_str())
            .collect();
        ids.len()
    }
}

/// Erases what the ledger stores about one recipient (erasure requests).
pub trait RecipientEraser: Send + Sync {
    /// Finds every item that names the (normalised) address.
    fn recipient_items(
        &self,
        address: &str,
    ) -> impl Future<Output = Result<RecipientItems, StoreError>> + Send;

    /// Every recipient the ledger keeps that is `address` in another case (their lower cases
    /// equal, the local part's too), `address` itself among them when it is kept. SES reports an
    /// address as the sender wrote it and the ledger keeps its local part's case, so one person
    /// can be kept under several; an erasure request must find them all.
    fn case_variants(
        &self,
        address: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Deletes `items`, the recipient's as [`RecipientEraser::recipient_items`] found them. An
    /// item already gone is no error, so a repeated erasure succeeds and changes nothing.
    fn erase(
        &self,
        address: &str,
        items: &RecipientItems,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Every address the ledger suppresses (`ses-ledger suppression diff`).
pub trait SuppressedAddresses: Send + Sync {
    fn suppressed_addresses(
        &self,
    ) -> impl Future<
        Output = Result<Vec<crate::ledger::suppression_list::LedgerSuppressed>, StoreError>,
    > + Send;
}

/// SES's account-level suppression list.
pub trait SesSuppressionList: Send + Sync {
    /// Every entry, all pages.
    fn entries(
        &self,
    ) -> impl Future<Output = Result<Vec<crate::ledger::suppression_list::SesSuppressed>, StoreError>>
           + Send;

    /// Adds one address (SES keeps one entry per address, so adding it twice is one entry).
    fn add(
        &self,
        address: &str,
        reason: crate::ledger::suppression_list::SesSuppressionReason,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Reads hourly counters and the scopes that have them.
pub trait CounterReader: Send + Sync {
    /// Every scope that has counted something.
    fn scopes(&self) -> impl Future<Output = Result<Vec<Scope>, StoreError>> + Send;

    /// One scope's hourly counters for `from..=to` (bucket starts), shards summed, oldest first.
    fn hourly(
        &self,
        scope: &Scope,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = Result<Vec<crate::ledger::rates::HourlyCounts>, StoreError>> + Send;
}

/// Remembers each scope's alert level between alarm runs.
pub trait AlertStateStore: Send + Sync {
    fn alert_level(
        &self,
        scope: &Scope,
        kind: crate::alarm::RateKind,
    ) -> impl Future<Output = Result<crate::alarm::Level, StoreError>> + Send;

    /// Moves the stored level from `from` to `to`, only if it is still `from` (an absent level is
    /// `Normal`); false when another run moved it first. The alarm claims a level change this way
    /// before it sends the alert, so each change is sent at most once.
    fn claim_level_change(
        &self,
        scope: &Scope,
        kind: crate::alarm::RateKind,
        from: crate::alarm::Level,
        to: crate::alarm::Level,
        at: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Sends alerts to people (SNS in production).
pub trait AlertPublisher: Send + Sync {
    fn publish(
        &self,
        alert: &crate::alarm::Alert,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// SES's own reputation figures (CloudWatch `AWS/SES` in production).
pub trait ReputationSource: Send + Sync {
    fn ses_figure(
        &self,
        scope: &Scope,
        kind: crate::alarm::RateKind,
        now: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = Result<crate::alarm::SesFigure, StoreError>> + Send;

    /// SES's status of one of its tenants. A source that cannot ask SES says so, which the alert
    /// shows as "unavailable".
    fn tenant_status(
        &self,
        _tenant: &str,
    ) -> impl Future<Output = Result<crate::alarm::TenantStatus, StoreError>> + Send {
        async {
            Ok(crate::alarm::TenantStatus::Unavailable(
                "this reader does not ask SES for tenant status".into(),
            ))
        }
    }
}

// A use case may borrow an adapter that another use case also holds (one DynamoDB adapter serves
// as counter reader and alert-state store; the CLI replays and reports through one client).
impl<T: EventStore> EventStore for &T {
    fn record(
        &self,
        event: &RecipientEvent,
        increments: &[CounterIncrement],
    ) -> impl Future<Output = Result<RecordOutcome, StoreError>> + Send {
        (**self).record(event, increments)
    }
    fn register_scopes(
        &self,
        scopes: &[Scope],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).register_scopes(scopes)
    }
    fn contention_retries(&self) -> u64 {
        (**self).contention_retries()
    }
}

impl<T: EventLog> EventLog for &T {
    fn append(
        &self,
        events: &[RecipientEvent],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).append(events)
    }
}

impl<T: CounterReader> CounterReader for &T {
    fn scopes(&self) -> impl Future<Output = Result<Vec<Scope>, StoreError>> + Send {
        (**self).scopes()
    }
    fn hourly(
        &self,
        scope: &Scope,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = Result<Vec<crate::ledger::rates::HourlyCounts>, StoreError>> + Send
    {
        (**self).hourly(scope, from, to)
    }
}

impl<T: CounterWriter> CounterWriter for &T {
    fn add_once(
        &self,
        shard: &str,
        counter: &crate::ledger::tally::CounterWrite,
    ) -> impl Future<Output = Result<CounterAdded, StoreError>> + Send {
        (**self).add_once(shard, counter)
    }
}

impl<T: AlertStateStore> AlertStateStore for &T {
    fn alert_level(
        &self,
        scope: &Scope,
        kind: crate::alarm::RateKind,
    ) -> impl Future<Output = Result<crate::alarm::Level, StoreError>> + Send {
        (**self).alert_level(scope, kind)
    }
    fn claim_level_change(
        &self,
        scope: &Scope,
        kind: crate::alarm::RateKind,
        from: crate::alarm::Level,
        to: crate::alarm::Level,
        at: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).claim_level_change(scope, kind, from, to, at)
    }
}

impl<T: AlertPublisher> AlertPublisher for &T {
    fn publish(
        &self,
        alert: &crate::alarm::Alert,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).publish(alert)
    }
}

impl<T: ReputationSource> ReputationSource for &T {
    fn ses_figure(
        &self,
        scope: &Scope,
        kind: crate::alarm::RateKind,
        now: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = Result<crate::alarm::SesFigure, StoreError>> + Send {
        (**self).ses_figure(scope, kind, now)
    }
    fn tenant_status(
        &self,
        tenant: &str,
    ) -> impl Future<Output = Result<crate::alarm::TenantStatus, StoreError>> + Send {
        (**self).tenant_status(tenant)
    }
}
