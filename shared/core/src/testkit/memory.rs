//! In-memory versions of the ports, for unit tests of the orchestration and for `ses-ledger
//! simulate --dry-run`. The real adapters are tested against DynamoDB Local and moto.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::config::LedgerConfig;
use crate::ledger::counters::{CounterIncrement, Metric, Scope};
use crate::ledger::summary::{
    affects_suppression, RecipientSummary, Suppression, SuppressionPolicy,
};
use crate::model::event::RecipientEvent;
use crate::ports::{EventLog, EventStore, LedgerReader, RecordOutcome, StoreError};

#[derive(Default)]
struct State {
    /// (message id, event id) -> what the ledger keeps of the event
    events: BTreeMap<(String, String), RecipientEvent>,
    /// (message id, event id) -> scopes the event was counted in
    counted: HashMap<(String, String), BTreeSet<Scope>>,
    summaries: HashMap<String, RecipientSummary>,
    counters: BTreeMap<(Scope, DateTime<Utc>), BTreeMap<Metric, u64>>,
    details: HashMap<(Scope, DateTime<Utc>), BTreeMap<String, u64>>,
    scopes: BTreeSet<Scope>,
    alert_levels: HashMap<(Scope, crate::alarm::RateKind), crate::alarm::Level>,
    /// (scope, hour, stream shard) -> the last record of the shard the counter has counted
    counter_marks: HashMap<(Scope, DateTime<Utc>, String), crate::ledger::tally::SequenceNumber>,
    /// Counter writes that land and then report a failure, as a lost response would.
    lost_responses: usize,
    /// Counter writes still allowed before every further one fails unwritten (a dying consumer);
    /// `None`: no limit.
    writes_left: Option<usize>,
}

pub struct InMemoryLedger {
    policy: SuppressionPolicy,
    state: Mutex<State>,
}

impl InMemoryLedger {
    pub fn new(config: &LedgerConfig) -> Self {
        InMemoryLedger {
            policy: SuppressionPolicy::of(config),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, StoreError> {
        self.state.lock().map_err(|_| StoreError::Refused {
            operation: "in-memory ledger",
            message: "lock poisoned".into(),
        })
    }

    /// Counters of one scope, summed over buckets and shards.
    pub fn counter_total(&self, scope: &Scope, metric: Metric) -> u64 {
        self.lock()
            .map(|s| {
                s.counters
                    .iter()
                    .filter(|((sc, _), _)| sc == scope)
                    .map(|(_, m)| m.get(&metric).copied().unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0)
    }

    /// The next `n` counter writes land, then fail as if the response were lost.
    pub fn lose_next_responses(&self, n: usize) {
        if let Ok(mut s) = self.lock() {
            s.lost_responses = n;
        }
    }

    /// After `n` more counter writes, every one fails without landing, as when the consumer dies;
    /// `usize::MAX` lifts the limit.
    pub fn fail_writes_after(&self, n: usize) {
        if let Ok(mut s) = self.lock() {
            s.writes_left = (n != usize::MAX).then_some(n);
        }
    }

    pub fn event_count(&self) -> usize {
        self.lock().map(|s| s.events.len()).unwrap_or(0)
    }

    pub fn scopes(&self) -> Vec<Scope> {
        self.lock()
            .map(|s| s.scopes.iter().cloned().collect())
            .unwrap_or_default()
    }
}

impl EventStore for InMemoryLedger {
    async fn record(
        &self,
        event: &RecipientEvent,
        increments: &[CounterIncrement],
    ) -> Result<RecordOutcome, StoreError> {
        let mut s = self.lock()?;
        let key = (event.ses_message_id.clone(), event.event_id.clone());
        let duplicate = s.events.contains_key(&key);
        if !duplicate {
            s.events.insert(key.clone(), event.ledger_view());
            if let (Some(address), true) = (&event.recipient, affects_suppression(event)) {
                let next = s
                    .summaries
                    .get(address)
                    .cloned()
                    .unwrap_or_default()
                    .apply(event, self.policy);
                s.summaries.insert(address.clone(), next);
            }
        }
        // As in DynamoDB: a copy that knows more scopes counts the event in those, once.
        let counted = s.counted.entry(key).or_default().clone();
        for inc in increments.iter().filter(|i| !counted.contains(&i.scope)) {
            let metrics = s
                .counters
                .entry((inc.scope.clone(), inc.bucket))
                .or_default();
            for m in &inc.metrics {
                *metrics.entry(*m).or_default() += 1;
            }
            let details = s
                .details
                .entry((inc.scope.clone(), inc.bucket))
                .or_default();
            for d in &inc.details {
                *details.entry(d.attribute()).or_default() += 1;
            }
            let key = (event.ses_message_id.clone(), event.event_id.clone());
            s.counted.entry(key).or_default().insert(inc.scope.clone());
        }
        if duplicate {
            return Ok(RecordOutcome::Duplicate);
        }
        Ok(RecordOutcome::New)
    }

    async fn register_scopes(&self, scopes: &[Scope]) -> Result<(), StoreError> {
        self.lock()?.scopes.extend(scopes.iter().cloned());
        Ok(())
    }
}

impl LedgerReader for InMemoryLedger {
    async fn recipient_history(
        &self,
        address: &str,
        limit: usize,
    ) -> Result<Vec<RecipientEvent>, StoreError> {
        let s = self.lock()?;
        let mut events: Vec<RecipientEvent> = s
            .events
            .values()
            .filter(|e| e.recipient.as_deref() == Some(address))
            .cloned()
            .collect();
        events.sort_by(|a, b| (b.event_time, &b.event_id).cmp(&(a.event_time, &a.event_id)));
        events.truncate(limit);
        Ok(events)
    }

    async fn recipient_summary(
        &self,
        address: &str,
    ) -> Result<Option<RecipientSummary>, StoreError> {
        let s = self.lock()?;
        let events: Vec<&RecipientEvent> = s
            .events
            .values()
            .filter(|e| e.recipient.as_deref() == Some(address))
            .collect();
        Ok((!events.is_empty()).then(|| RecipientSummary::of(events, self.policy)))
    }

    async fn suppression(&self, address: &str) -> Result<Option<Suppression>, StoreError> {
        Ok(self
            .lock()?
            .summaries
            .get(address)
            .and_then(|s| s.suppression.clone()))
    }

    async fn message_events(
        &self,
        ses_message_id: &str,
    ) -> Result<Vec<RecipientEvent>, StoreError> {
        let s = self.lock()?;
        let mut events: Vec<RecipientEvent> = s
            .events
            .iter()
            .filter(|((m, _), _)| m == ses_message_id)
            .map(|(_, e)| e.clone())
            .collect();
        events.sort_by(|a, b| (a.event_time, &a.recipient).cmp(&(b.event_time, &b.recipient)));
        Ok(events)
    }
}

/// An event log that keeps lines in memory and can be told to fail.
#[derive(Default)]
pub struct InMemoryEventLog {
    lines: Mutex<Vec<RecipientEvent>>,
    failures_left: AtomicUsize,
}

impl InMemoryEventLog {
    /// The next `n` appends fail.
    pub fn fail_next(&self, n: usize) {
        self.failures_left.store(n, Ordering::SeqCst);
    }

    pub fn lines(&self) -> Vec<RecipientEvent> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl EventLog for InMemoryEventLog {
    async fn append(&self, events: &[RecipientEvent]) -> Result<(), StoreError> {
        let left = self.failures_left.load(Ordering::SeqCst);
        if left > 0 {
            self.failures_left.store(left - 1, Ordering::SeqCst);
            return Err(StoreError::Refused {
                operation: "PutLogEvents",
                message: "injected failure".into(),
            });
        }
        self.lines
            .lock()
            .map_err(|_| StoreError::Refused {
                operation: "in-memory log",
                message: "lock poisoned".into(),
            })?
            .extend_from_slice(events);
        Ok(())
    }
}

impl crate::ports::CounterReader for InMemoryLedger {
    async fn scopes(&self) -> Result<Vec<Scope>, StoreError> {
        Ok(self.scopes())
    }

    async fn hourly(
        &self,
        scope: &Scope,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<crate::ledger::rates::HourlyCounts>, StoreError> {
        let s = self.lock()?;
        Ok(s.counters
            .iter()
            .filter(|((sc, bucket), _)| sc == scope && *bucket >= from && *bucket <= to)
            .map(
                |((_, bucket), metrics)| crate::ledger::rates::HourlyCounts {
                    bucket: *bucket,
                    totals: crate::ledger::rates::Totals {
                        metrics: metrics.clone(),
                        details: s
                            .details
                            .get(&(scope.clone(), *bucket))
                            .cloned()
                            .unwrap_or_default(),
                    },
                },
            )
            .collect())
    }
}

impl crate::ports::AlertStateStore for InMemoryLedger {
    async fn alert_level(
        &self,
        scope: &Scope,
        kind: crate::alarm::RateKind,
    ) -> Result<crate::alarm::Level, StoreError> {
        Ok(self
            .lock()?
            .alert_levels
            .get(&(scope.clone(), kind))
            .copied()
            .unwrap_or(crate::alarm::Level::Normal))
    }

    async fn claim_level_change(
        &self,
        scope: &Scope,
        kind: crate::alarm::RateKind,
        from: crate::alarm::Level,
        to: crate::alarm::Level,
        _at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock()?;
        let stored = state
            .alert_levels
            .entry((scope.clone(), kind))
            .or_insert(crate::alarm::Level::Normal);
        if *stored != from {
            return Ok(false);
        }
        *stored = to;
        Ok(true)
    }
}

/// Keeps published alerts.
#[derive(Default)]
pub struct InMemoryPublisher {
    alerts: Mutex<Vec<crate::alarm::Alert>>,
    /// The next this many publishes are accepted, then answered with an error: SNS took the
    /// message, the client was told it failed.
    fail_after_accepting: Mutex<usize>,
}

impl InMemoryPublisher {
    pub fn fail_after_accepting(&self, n: usize) {
        if let Ok(mut f) = self.fail_after_accepting.lock() {
            *f = n;
        }
    }

    /// Alerts published since the last call.
    pub fn take(&self) -> Vec<crate::alarm::Alert> {
        self.alerts
            .lock()
            .map(|mut a| std::mem::take(&mut *a))
            .unwrap_or_default()
    }
}

impl crate::ports::AlertPublisher for InMemoryPublisher {
    async fn publish(&self, alert: &crate::alarm::Alert) -> Result<(), StoreError> {
        self.alerts
            .lock()
            .map_err(|_| StoreError::Refused {
                operation: "in-memory publisher",
                message: "lock poisoned".into(),
            })?
            .push(alert.clone());
        let mut fail = self
            .fail_after_accepting
            .lock()
            .map_err(|_| StoreError::Refused {
                operation: "in-memory publisher",
                message: "lock poisoned".into(),
            })?;
        if *fail > 0 {
            *fail -= 1;
            return Err(StoreError::Refused {
                operation: "Publish",
                message: "connection reset after the topic accepted the message".into(),
            });
        }
        Ok(())
    }
}

/// SES's figure for the account only, as given; other scopes are not published.
pub struct FixedReputation(pub Option<f64>);

impl crate::ports::ReputationSource for FixedReputation {
    async fn ses_figure(
        &self,
        scope: &Scope,
        _kind: crate::alarm::RateKind,
        _now: DateTime<Utc>,
    ) -> Result<crate::alarm::SesFigure, StoreError> {
        use crate::alarm::SesFigure;
        Ok(match (scope, self.0) {
            (Scope::Account, Some(v)) => SesFigure::Reported(v),
            (Scope::Account, None) => SesFigure::Missing,
            _ => SesFigure::NotPublished,
        })
    }
}

/// SES's figures as [`FixedReputation`] gives them, and each named tenant's status as given
/// (`Err`: the call failed); a tenant not named is one SES does not know.
pub struct TenantReputation {
    pub figures: FixedReputation,
    pub tenants: std::collections::BTreeMap<String, Result<crate::alarm::TenantStanding, String>>,
    /// How many times SES was asked.
    pub asked: std::sync::atomic::AtomicUsize,
}

impl crate::ports::ReputationSource for TenantReputation {
    async fn ses_figure(
        &self,
        scope: &Scope,
        kind: crate::alarm::RateKind,
        now: DateTime<Utc>,
    ) -> Result<crate::alarm::SesFigure, StoreError> {
        self.figures.ses_figure(scope, kind, now).await
    }

    async fn tenant_status(&self, tenant: &str) -> Result<crate::alarm::TenantStatus, StoreError> {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match self.tenants.get(tenant) {
            Some(Ok(standing)) => Ok(crate::alarm::TenantStatus::Reported(standing.clone())),
            Some(Err(message)) => Err(StoreError::Refused {
                operation: "GetTenant",
                message: message.clone(),
            }),
            None => Ok(crate::alarm::TenantStatus::Unavailable(format!(
                "SES knows no tenant {tenant:?}"
            ))),
        }
    }
}

impl crate::ports::CounterWriter for InMemoryLedger {
    async fn add_once(
        &self,
        shard: &str,
        counter: &crate::ledger::tally::CounterWrite,
    ) -> Result<crate::ports::CounterAdded, StoreError> {
        let mut s = self.lock()?;
        match &mut s.writes_left {
            Some(0) => {
                return Err(StoreError::Refused {
                    operation: "UpdateItem (counter)",
                    message: "injected: the consumer died".into(),
                })
            }
            Some(left) => *left -= 1,
            None => {}
        }
        let key = (counter.scope.clone(), counter.bucket, shard.to_string());
        if let Some(mark) = s.counter_marks.get(&key) {
            if *mark >= counter.last {
                return Ok(crate::ports::CounterAdded::AlreadyAdded);
            }
            if *mark >= counter.first {
                return Ok(crate::ports::CounterAdded::CountedThrough(mark.clone()));
            }
        }
        s.counter_marks.insert(key, counter.last.clone());
        let cell = (counter.scope.clone(), counter.bucket);
        let metrics = s.counters.entry(cell.clone()).or_default();
        for (m, n) in &counter.delta.metrics {
            *metrics.entry(*m).or_default() += n;
        }
        let details = s.details.entry(cell).or_default();
        for (d, n) in &counter.delta.details {
            *details.entry(d.attribute()).or_default() += n;
        }
        s.scopes.insert(counter.scope.clone());
        if s.lost_responses > 0 {
            s.lost_responses -= 1;
            return Err(StoreError::Refused {
                operation: "UpdateItem (counter)",
                message: "injected: written, response lost".into(),
            });
        }
        Ok(crate::ports::CounterAdded::Added)
    }
}
