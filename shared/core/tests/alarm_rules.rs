//! The alarm's rules through `evaluate` and the `Alarm` use case: every level change, both rates,
//! the minimum-volume boundary, hysteresis, and a publish that fails. Counters are given per
//! hour, so each expected level follows from numbers written here, not from the code.

use std::sync::Mutex;

use chrono::{DateTime, Duration, TimeZone, Utc};
use ses_ledger::alarm::{evaluate, AlarmConfig, Alert, Level, RateKind, SesFigure};
use ses_ledger::config::LedgerConfig;
use ses_ledger::counters::{bucket_of, Metric, Scope};
use ses_ledger::ports::{AlertPublisher, AlertStateStore, CounterReader, StoreError};
use ses_ledger::rates::{compute, standard_windows, HourlyCounts, Totals};
use ses_ledger::testkit::memory::{FixedReputation, InMemoryLedger, InMemoryPublisher};
use ses_ledger::usecase::Alarm;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 30, 0)
        .single()
        .expect("valid")
}

/// One hour of account counters, an hour ago: `fbl` feedback-loop deliveries and `complaints`
/// from those providers, and `sends` messages sent elsewhere of which `hard` bounced hard and the
/// rest were delivered (so `sends` delivery attempts).
fn hour(fbl: u64, complaints: u64, sends: u64, hard: u64) -> HourlyCounts {
    let mut totals = Totals::default();
    for (metric, n) in [
        (Metric::Deliveries, fbl + sends.saturating_sub(hard)),
        (Metric::FeedbackLoopDeliveries, fbl),
        (Metric::Complaints, complaints),
        (Metric::ComplaintsNotSuppressed, complaints),
        (Metric::FeedbackLoopComplaints, complaints),
        (Metric::Sends, sends),
        (Metric::CountedHardBounces, hard),
    ] {
        totals.metrics.insert(metric, n);
    }
    HourlyCounts {
        bucket: bucket_of(now()) - Duration::hours(1),
        totals,
    }
}

fn level(kind: RateKind, counts: HourlyCounts, previous: Level) -> (Level, bool) {
    let config = AlarmConfig::default();
    let windows = compute(&[counts], now(), &standard_windows(100_000, 90));
    let e = evaluate(
        Scope::Account,
        kind,
        windows,
        previous,
        SesFigure::NotPublished,
        &config,
    );
    (e.level, e.changed())
}

#[test]
fn complaint_levels_rise_through_every_threshold_including_review_to_pause() {
    let c = RateKind::Complaint;
    assert_eq!(
        level(c, hour(10_000, 4, 0, 0), Level::Normal),
        (Level::Normal, false)
    );
    assert_eq!(
        level(c, hour(10_000, 5, 0, 0), Level::Normal),
        (Level::Warning, true)
    );
    assert_eq!(
        level(c, hour(10_000, 10, 0, 0), Level::Warning),
        (Level::Review, true)
    );
    assert_eq!(
        level(c, hour(10_000, 49, 0, 0), Level::Review),
        (Level::Review, false)
    );
    assert_eq!(
        level(c, hour(10_000, 50, 0, 0), Level::Review),
        (Level::Pause, true)
    );
    assert_eq!(
        level(c, hour(10_000, 0, 0, 0), Level::Pause),
        (Level::Normal, true)
    );
}

#[test]
fn bounce_levels_use_counted_hard_bounces_over_sends() {
    let b = RateKind::Bounce;
    assert_eq!(
        level(b, hour(0, 0, 10_000, 199), Level::Normal),
        (Level::Normal, false)
    );
    assert_eq!(
        level(b, hour(0, 0, 10_000, 200), Level::Normal),
        (Level::Warning, true)
    );
    assert_eq!(
        level(b, hour(0, 0, 10_000, 500), Level::Normal),
        (Level::Review, true)
    );
    assert_eq!(
        level(b, hour(0, 0, 10_000, 1_000), Level::Review),
        (Level::Pause, true)
    );
    // Complaints do not move the bounce level, nor bounces the complaint level.
    assert_eq!(
        level(b, hour(10_000, 60, 10_000, 0), Level::Normal),
        (Level::Normal, false)
    );
    assert_eq!(
        level(
            RateKind::Complaint,
            hour(10_000, 0, 10_000, 1_000),
            Level::Normal
        ),
        (Level::Normal, false)
    );
}

#[test]
fn the_minimum_volume_is_judged_at_the_boundary_and_not_one_below() {
    // 1,000 feedback-loop deliveries (the default minimum) with 1 complaint: 0.1%, review.
    assert_eq!(
        level(RateKind::Complaint, hour(1_000, 1, 0, 0), Level::Normal),
        (Level::Review, true)
    );
    // 999 with 1 complaint is a higher rate but too little volume: not judged, level kept.
    assert_eq!(
        level(RateKind::Complaint, hour(999, 1, 0, 0), Level::Normal),
        (Level::Normal, false)
    );
    assert_eq!(
        level(RateKind::Complaint, hour(999, 1, 0, 0), Level::Review),
        (Level::Review, false),
        "too little volume never lowers a level either"
    );
    assert_eq!(
        level(RateKind::Bounce, hour(0, 0, 1_000, 50), Level::Normal),
        (Level::Review, true)
    );
    assert_eq!(
        level(RateKind::Bounce, hour(0, 0, 999, 50), Level::Normal),
        (Level::Normal, false)
    );
}

#[test]
fn hysteresis_holds_a_level_until_the_rate_is_below_eighty_percent_of_its_threshold() {
    let c = RateKind::Complaint;
    // Review at 0.1%: held at 0.09% and at exactly 0.08%, dropped to warning at 0.079%.
    assert_eq!(
        level(c, hour(100_000, 90, 0, 0), Level::Review),
        (Level::Review, false)
    );
    assert_eq!(
        level(c, hour(100_000, 80, 0, 0), Level::Review),
        (Level::Review, false)
    );
    assert_eq!(
        level(c, hour(100_000, 79, 0, 0), Level::Review),
        (Level::Warning, true)
    );
    // Rising has no band: 0.09% from normal is a warning, not a review.
    assert_eq!(
        level(c, hour(100_000, 90, 0, 0), Level::Normal),
        (Level::Warning, true)
    );
}

/// Counters of the account only, as given.
struct FixedCounters(Vec<HourlyCounts>);

impl CounterReader for FixedCounters {
    async fn scopes(&self) -> Result<Vec<Scope>, StoreError> {
        Ok(vec![Scope::Account])
    }
    async fn hourly(
        &self,
        _scope: &Scope,
        _from: DateTime<Utc>,
        _to: DateTime<Utc>,
    ) -> Result<Vec<HourlyCounts>, StoreError> {
        Ok(self.0.clone())
    }
}

/// Refuses the first `n` publishes, then keeps alerts like the in-memory publisher.
struct FlakyPublisher {
    refusals: Mutex<usize>,
    inner: InMemoryPublisher,
}

impl AlertPublisher for FlakyPublisher {
    async fn publish(&self, alert: &Alert) -> Result<(), StoreError> {
        {
            let mut left = self.refusals.lock().expect("lock");
            if *left > 0 {
                *left -= 1;
                return Err(StoreError::Refused {
                    operation: "Publish",
                    message: "throttled".into(),
                });
            }
        }
        self.inner.publish(alert).await
    }
}

#[tokio::test]
async fn a_publish_that_fails_after_sns_accepted_it_is_not_sent_again() {
    let state = InMemoryLedger::new(&LedgerConfig::default());
    let alarm = Alarm {
        counters: FixedCounters(vec![hour(10_000, 20, 10_000, 0)]),
        state: &state,
        publisher: InMemoryPublisher::default(),
        reputation: FixedReputation(Some(0.0015)),
        config: AlarmConfig::default(),
        log_group: "events".into(),
    };
    alarm.publisher.fail_after_accepting(1);
    let report = alarm.run(now()).await.expect("the run finishes");
    assert_eq!(report.unsent.len(), 1, "reported as not confirmed");
    assert!(report.alerts.is_empty());
    let sent = alarm.publisher.take();
    assert_eq!(sent.len(), 1, "the topic has it once");
    assert_eq!(
        (sent[0].severity, sent[0].metric),
        (Level::Review, RateKind::Complaint)
    );
    assert!(sent[0].body.contains("0.150%"), "SES's figure beside ours");
    assert_eq!(
        state
            .alert_level(&Scope::Account, RateKind::Complaint)
            .await
            .expect("state"),
        Level::Review,
        "the change was claimed before the publish"
    );
    let again = alarm.run(now()).await.expect("second run");
    assert!(
        alarm.publisher.take().is_empty() && again.unsent.is_empty(),
        "at most once per level change: no second copy"
    );
}

#[tokio::test]
async fn a_refused_publish_is_reported_and_the_price_is_that_it_is_not_retried() {
    let state = InMemoryLedger::new(&LedgerConfig::default());
    let alarm = Alarm {
        counters: FixedCounters(vec![hour(10_000, 20, 10_000, 0)]),
        state: &state,
        publisher: FlakyPublisher {
            refusals: Mutex::new(1),
            inner: InMemoryPublisher::default(),
        },
        reputation: FixedReputation(Some(0.0015)),
        config: AlarmConfig::default(),
        log_group: "events".into(),
    };
    let report = alarm.run(now()).await.expect("the run finishes");
    assert_eq!(report.unsent.len(), 1);
    assert!(matches!(report.unsent[0].1, StoreError::Refused { .. }));
    assert!(alarm.publisher.inner.take().is_empty());
    alarm.run(now()).await.expect("second run");
    assert!(
        alarm.publisher.inner.take().is_empty(),
        "not sent again: the function's Errors alarm and its log carry it instead"
    );
}

/// Alert state as two overlapping runs see it: both read the level before either writes.
struct ReadsBeforeEitherWrites<'a>(&'a InMemoryLedger);

impl AlertStateStore for ReadsBeforeEitherWrites<'_> {
    async fn alert_level(&self, _scope: &Scope, _kind: RateKind) -> Result<Level, StoreError> {
        Ok(Level::Normal)
    }
    async fn claim_level_change(
        &self,
        scope: &Scope,
        kind: RateKind,
        from: Level,
        to: Level,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.0.claim_level_change(scope, kind, from, to, at).await
    }
}

#[tokio::test]
async fn two_overlapping_runs_send_one_alert() {
    let state = InMemoryLedger::new(&LedgerConfig::default());
    let publisher = InMemoryPublisher::default();
    for _ in 0..2 {
        let run = Alarm {
            counters: FixedCounters(vec![hour(10_000, 20, 10_000, 0)]),
            state: ReadsBeforeEitherWrites(&state),
            publisher: &publisher,
            reputation: FixedReputation(None),
            config: AlarmConfig::default(),
            log_group: "events".into(),
        };
        run.run(now()).await.expect("run");
    }
    assert_eq!(
        publisher.take().len(),
        1,
        "the second run saw the change too, but the first had claimed it"
    );
}

#[tokio::test]
async fn a_bounce_alert_goes_out_beside_a_complaint_alert() {
    let state = InMemoryLedger::new(&LedgerConfig::default());
    let alarm = Alarm {
        // 60 complaints of 10,000 feedback-loop deliveries (0.6%: pause); 1,200 hard bounces of
        // 20,000 delivery attempts, those deliveries included (6%: review).
        counters: FixedCounters(vec![hour(10_000, 60, 10_000, 1_200)]),
        state: &state,
        publisher: InMemoryPublisher::default(),
        reputation: FixedReputation(None),
        config: AlarmConfig::default(),
        log_group: "events".into(),
    };
    alarm.run(now()).await.expect("run");
    let mut sent: Vec<(RateKind, Level)> = alarm
        .publisher
        .take()
        .iter()
        .map(|a| (a.metric, a.severity))
        .collect();
    sent.sort_by_key(|(k, _)| k.ses_metric());
    assert_eq!(
        sent,
        vec![
            (RateKind::Bounce, Level::Review),
            (RateKind::Complaint, Level::Pause)
        ]
    );
}

/// The same counters in every scope given.
struct ScopedCounters(Vec<Scope>, Vec<HourlyCounts>);

impl CounterReader for ScopedCounters {
    async fn scopes(&self) -> Result<Vec<Scope>, StoreError> {
        Ok(self.0.clone())
    }
    async fn hourly(
        &self,
        _scope: &Scope,
        _from: DateTime<Utc>,
        _to: DateTime<Utc>,
    ) -> Result<Vec<HourlyCounts>, StoreError> {
        Ok(self.1.clone())
    }
}

/// SES's tenant status goes into the alert of a tenant scope: reported (and loud when SES stopped
/// the tenant), unavailable with the reason when the call fails, and never asked for other scopes
/// or for a run that changes no level.
#[tokio::test]
async fn an_alert_for_a_tenant_shows_ses_own_status_of_that_tenant() {
    use ses_ledger::alarm::{StatusRecord, TenantStanding};
    use ses_ledger::testkit::memory::TenantReputation;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let stopped = TenantStanding {
        sending_status: Some("DISABLED".into()),
        ses_managed: Some(StatusRecord {
            status: Some("DISABLED".into()),
            cause: Some("complaint rate".into()),
        }),
        customer_managed: None,
        reputation_impact: Some("HIGH".into()),
        policy: None,
    };
    let state = InMemoryLedger::new(&LedgerConfig::default());
    let alarm = Alarm {
        counters: ScopedCounters(
            vec![
                Scope::Account,
                Scope::Tenant("acme".into()),
                Scope::Tenant("globex".into()),
            ],
            // Complaints at 0.2%: review, bounces normal.
            vec![hour(10_000, 20, 10_000, 0)],
        ),
        state: &state,
        publisher: InMemoryPublisher::default(),
        reputation: TenantReputation {
            figures: FixedReputation(None),
            tenants: [
                ("acme".to_string(), Ok(stopped)),
                (
                    "globex".to_string(),
                    Err("AccessDeniedException".to_string()),
                ),
            ]
            .into(),
            asked: AtomicUsize::new(0),
        },
        config: AlarmConfig::default(),
        log_group: "events".into(),
    };
    let report = alarm.run(now()).await.expect("run");
    let sent = alarm.publisher.take();
    assert_eq!(sent.len(), 3, "one complaint alert per scope");
    let body = |scope: &str| {
        sent.iter()
            .find(|a| a.scope == scope)
            .map(|a| a.body.clone())
            .unwrap_or_default()
    };
    assert!(
        body("tenant:acme").contains(
            "SES's own status of this tenant: sending DISABLED; SES-managed status DISABLED (complaint rate); reputation impact HIGH\nSES HAS STOPPED THIS TENANT'S SENDING"
        ),
        "{}",
        body("tenant:acme")
    );
    assert!(
        body("tenant:globex").contains(
            "SES's own status of this tenant: unavailable (GetTenant refused: AccessDeniedException)\n"
        ),
        "{}",
        body("tenant:globex")
    );
    assert!(!body("account").contains("status of this tenant"));
    assert_eq!(
        alarm.reputation.asked.load(Ordering::SeqCst),
        2,
        "only tenant scopes are asked"
    );
    assert!(
        report
            .evaluations
            .iter()
            .filter(|e| e.kind == RateKind::Bounce)
            .all(|e| e.ses_tenant.is_none()),
        "no alert, no question"
    );
    // A second run changes no level: SES is not asked again.
    alarm.run(now()).await.expect("run");
    assert!(alarm.publisher.take().is_empty());
    assert_eq!(alarm.reputation.asked.load(Ordering::SeqCst), 2);
}
