//! The seed story at full scale (hundreds of thousands of deliveries a day, almost all to Gmail, a
//! handful of Yahoo/Microsoft complaints): the naive rate is far below 0.1%, the feedback-loop
//! rate above it, and the alarm raises one review alert for the account naming both figures.
//! Runs the real ingest and alarm code over the in-memory ports, whose ledger adds each event's
//! increments to its counters directly: the stream and the count function are not in this test
//! (they are in count_local_stack.rs and, scaled down with the alarm, alarm_local_stack.rs). The
//! day's figures are held to what the stream's SES JSON adds up to, counted without the crate
//! (`truth::Truth`).

use chrono::{Duration, DurationRound, Utc};
use ses_ledger::alarm::{AlarmConfig, Level, RateKind};
use ses_ledger::config::LedgerConfig;
use ses_ledger::counters::Scope;
use ses_ledger::envelope::split_document;
use ses_ledger::simulate::{generate, Scenario, TenantProfile};
use ses_ledger::testkit::memory::{
    FixedReputation, InMemoryEventLog, InMemoryLedger, InMemoryPublisher,
};
use ses_ledger::usecase::{Alarm, Ingest};

#[tokio::test]
async fn hundreds_of_thousands_of_gmail_deliveries_hide_a_review_level_complaint_rate() {
    let now = Utc::now();
    let hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    // 200,000 sends a day: 98.5% Gmail, 1% Yahoo, 0.5% Outlook; 5 complaints a day.
    let mut acme = TenantProfile::seed_story("acme", 200_000, 5);
    acme.domains = vec![
        ("gmail.com".into(), 197),
        ("yahoo.com".into(), 2),
        ("outlook.com".into(), 1),
    ];
    let stream = generate(&Scenario {
        tenants: vec![acme],
        start: hour - Duration::hours(23),
        days: 1,
        seed: 2022,
        duplicate_rate: 0.001,
        notification_share: 0.5,
        shuffle: false,
    });
    let config = LedgerConfig::default();
    let ledger = InMemoryLedger::new(&config);
    let log = InMemoryEventLog::default();
    for chunk in stream.chunks(5000) {
        let inbound = chunk
            .iter()
            .flat_map(|m| split_document(m).expect("SES document"))
            .collect();
        let report = Ingest {
            store: &ledger,
            log: &log,
            config: config.clone(),
        }
        .inbound(inbound, now)
        .await;
        assert_eq!(report.failures().count(), 0);
    }

    let publisher = InMemoryPublisher::default();
    let alarm = Alarm {
        counters: &ledger,
        state: &ledger,
        publisher: &publisher,
        reputation: FixedReputation(Some(0.0028)),
        config: AlarmConfig::default(),
        log_group: "/ses-ledger/events".to_string(),
    };
    let report = alarm.run(now).await.expect("alarm");
    let account = report
        .evaluations
        .iter()
        .find(|e| e.scope == Scope::Account && e.kind == RateKind::Complaint)
        .expect("account judged");
    let day = &account.windows[0];
    assert!(
        day.naive_complaint.denominator >= 190_000,
        "{:?}",
        day.naive_complaint
    );
    // The figures the alarm judged, against the stream counted by the documented definitions,
    // over the same hours.
    let truth = ses_ledger_integration_tests::truth::Truth::of(
        &stream,
        ses_ledger::provider::DEFAULT_FEEDBACK_LOOP_PROVIDERS,
        &["tenant"],
    );
    assert_eq!(
        (
            day.naive_complaint.numerator,
            day.naive_complaint.denominator,
            day.feedback_loop_complaint.numerator,
            day.feedback_loop_complaint.denominator,
        ),
        (
            truth.total_between("account", "complaints", day.from, day.to),
            truth.total_between("account", "deliveries", day.from, day.to),
            truth.total_between("account", "fbl_complaints", day.from, day.to),
            truth.total_between("account", "fbl_deliveries", day.from, day.to),
        )
    );
    let naive = day.naive_complaint.value().expect("naive");
    let fbl = day.feedback_loop_complaint.value().expect("fbl");
    assert!(naive < 0.0001, "naive {naive}");
    assert!((0.001..0.005).contains(&fbl), "feedback-loop {fbl}");
    assert!(
        fbl / naive > 10.0,
        "an order of magnitude apart, as in the seed story"
    );
    assert_eq!(account.level, Level::Review);

    let alerts = publisher.take();
    let account_alerts: Vec<_> = alerts.iter().filter(|a| a.scope == "account").collect();
    assert_eq!(account_alerts.len(), 1);
    let alert = account_alerts[0];
    assert_eq!(alert.severity, Level::Review);
    assert!(
        alert.subject.contains("REVIEW") && alert.subject.contains("account"),
        "{}",
        alert.subject
    );
    assert!(
        alert.body.contains(&day.naive_complaint.describe()),
        "{}",
        alert.body
    );
    assert!(
        alert.body.contains(&day.feedback_loop_complaint.describe()),
        "{}",
        alert.body
    );
    assert!(
        alert.body.contains("0.280%"),
        "SES's figure:\n{}",
        alert.body
    );

    // The next run changes nothing.
    alarm.run(now).await.expect("alarm");
    assert!(publisher.take().is_empty());
}
