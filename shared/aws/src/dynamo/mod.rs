//! DynamoDB adapter: owns every AttributeValue mapping and the exactly-once write.
//!
//! One recipient event is one compact item under its message, put on the condition that it does
//! not exist (the dedupe); the recipient index lists it in the recipient's history. A bounce or
//! complaint puts it in one transaction with the recipient's suppression state (conditional on
//! the version read just before: an optimistic lock). Counters are written from the table's
//! change stream, one conditional update per counter per stream batch (`tally`), so a single
//! write is all an event costs on the ingest side and a crash leaves nothing half done.
//!
//! The adapter is split by what it does: `keys` (the key design), `items` (every AttributeValue
//! mapping, each forward beside its reverse), `write` (the exactly-once `EventStore`), `stream`
//! and `tally` (counting from the change stream), `read`
//! (history, summaries, counters, alert state), `erase` (a recipient's items, for erasure requests),
//! `suppressed` (every suppressed address) and `table` (creating the table for local stacks).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration as TimeDelta, Utc};

use ses_ledger::alarm::{Level, RateKind};
use ses_ledger::config::LedgerConfig;
use ses_ledger::counters::{ComplaintBreakdown, CounterIncrement, Metric, Scope};
use ses_ledger::event::{EventType, PayloadFormat, RecipientEvent, TypeSpecificFields};
use ses_ledger::ports::{
    AlertStateStore, CounterReader, EventStore, LedgerReader, RecordOutcome, StoreError,
};
use ses_ledger::rates::{HourlyCounts, Totals};
use ses_ledger::summary::{RecipientSummary, Suppression, SuppressionPolicy, SuppressionReason};

mod capacity;
mod erase;
mod items;
pub mod keys;
mod read;
pub mod stream;
mod suppressed;
mod table;
mod tally;
mod write;

pub use capacity::{
    item_size, put_write_units, recipient_index_entry_size, CapacityMeter, Consumed,
};
pub use items::{RECIPIENT_INDEX, RECIPIENT_INDEX_PROJECTION};
pub use table::{create_table, create_table_with_stream};

/// How often a transaction is retried when another writer touched the same summary.
const MAX_CONFLICT_ATTEMPTS: u32 = 20;

type Item = HashMap<String, AttributeValue>;

pub struct DynamoLedger {
    client: Client,
    config: LedgerConfig,
    /// Scopes registered by this instance today: registration costs a write per scope per day per
    /// instance instead of one per event.
    registered: Mutex<HashSet<(String, String)>>,
    /// What the event path's requests consumed, as DynamoDB reports it.
    meter: CapacityMeter,
    /// Suppression-state writes retried after a concurrent writer won (see `contention_retries`).
    contention: std::sync::atomic::AtomicU64,
}

impl DynamoLedger {
    pub fn new(client: Client, config: LedgerConfig) -> Self {
        DynamoLedger {
            client,
            config,
            registered: Mutex::new(HashSet::new()),
            meter: CapacityMeter::default(),
            contention: Default::default(),
        }
    }

    /// Capacity consumed by this instance's event-path requests so far.
    pub fn meter(&self) -> &CapacityMeter {
        &self.meter
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn config(&self) -> &LedgerConfig {
        &self.config
    }

    fn policy(&self) -> SuppressionPolicy {
        SuppressionPolicy::of(&self.config)
    }

    fn event_expiry(&self, event: &RecipientEvent) -> i64 {
        (event.ingested_at + TimeDelta::days(i64::from(self.config.history_ttl_days))).timestamp()
    }
}
