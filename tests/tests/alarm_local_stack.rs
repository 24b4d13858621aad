//! Counters, rates and the alarm against DynamoDB Local, moto's SNS -> SQS and CloudWatch metrics.

// Needs the local stack that scripts/test.sh starts; `cargo test --workspace` alone compiles
// this file to nothing (see tests/Cargo.toml).
#![cfg(feature = "local-stack")]

use aws_config::SdkConfig;
use chrono::{DateTime, Duration, DurationRound, Utc};
use ses_ledger::alarm::{AlarmConfig, Level, RateKind, SesFigure};
use ses_ledger::config::LedgerConfig;
use ses_ledger::counters::{Metric, Scope};
use ses_ledger::envelope::split_document;
use ses_ledger::ports::CounterReader;
use ses_ledger::rates::{compute, Rate, Window};
use ses_ledger::simulate::{generate, Scenario, TenantProfile};
use ses_ledger::usecase::{Alarm, AlarmReport, Ingest};
use ses_ledger_aws::cloudwatch_logs::CloudWatchEventLog;
use ses_ledger_aws::cloudwatch_metrics::CloudWatchReputation;
use ses_ledger_aws::dynamo::DynamoLedger;
use ses_ledger_aws::sns::SnsAlertPublisher;
use ses_ledger_integration_tests::*;

struct Stack {
    aws: SdkConfig,
    config: LedgerConfig,
    ledger: DynamoLedger,
    log: CloudWatchEventLog,
    publisher: SnsAlertPublisher,
    reputation: CloudWatchReputation,
    inbox: Inbox,
    stream: tokio::sync::Mutex<TableDiffStream>,
}

async fn stack(name: &str) -> Stack {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, name).await;
    let (topic, inbox) = Inbox::subscribe(
        &aws,
        &format!("{}-alerts", config.table_name),
        &format!("{}-inbox", config.table_name),
    )
    .await;
    Stack {
        ledger: DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws), config.clone()),
        log: CloudWatchEventLog::new(
            aws_sdk_cloudwatchlogs::Client::new(&aws),
            &config.event_log_group,
            "test",
        ),
        publisher: SnsAlertPublisher::new(aws_sdk_sns::Client::new(&aws), topic),
        // CloudWatch metrics are account-wide in moto: each test reads them in a region of its
        // own, so one test's seeded SES figure is not another's.
        reputation: CloudWatchReputation::new(aws_sdk_cloudwatch::Client::from_conf(
            aws_sdk_cloudwatch::config::Builder::from(&aws)
                .region(aws_sdk_cloudwatch::config::Region::new(region_for(name)))
                .build(),
        )),
        inbox,
        stream: Default::default(),
        config,
        aws,
    }
}

impl Stack {
    async fn ingest(&self, messages: &[serde_json::Value]) {
        for chunk in messages.chunks(400) {
            let inbound = chunk
                .iter()
                .flat_map(|m| split_document(m).expect("SES document"))
                .collect();
            let app = Ingest {
                store: &self.ledger,
                log: &self.log,
                config: self.config.clone(),
            };
            let report = app.inbound(inbound, Utc::now()).await;
            let failures: Vec<String> = report
                .failures()
                .map(|f| format!("{:?}", f.result))
                .collect();
            assert!(failures.is_empty(), "{failures:?}");
        }
        // The count function's part: what the table's stream would carry, into the counters.
        let mut stream = self.stream.lock().await;
        stream.count(&self.aws, &self.config).await;
    }

    async fn alarm(&self, config: &AlarmConfig, now: DateTime<Utc>) -> AlarmReport {
        Alarm {
            counters: &self.ledger,
            state: &self.ledger,
            publisher: &self.publisher,
            reputation: &self.reputation,
            config: config.clone(),
            log_group: self.config.event_log_group.clone(),
        }
        .run(now)
        .await
        .expect("alarm run")
    }

    /// Alerts that reached the subscribed queue since the last call (SNS envelopes), every one
    /// published before the call (`Inbox::receive`).
    async fn inbox(&self) -> Vec<serde_json::Value> {
        self.inbox.receive().await
    }
}

fn region_for(test: &str) -> &'static str {
    match test {
        "seedstory" => "us-west-2",
        "smallscope" => "eu-west-1",
        _ => "ap-southeast-2",
    }
}

fn attribute<'a>(alert: &'a serde_json::Value, name: &str) -> &'a str {
    alert["MessageAttributes"][name]["Value"]
        .as_str()
        .unwrap_or_default()
}

fn hour_start(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::hours(1)).unwrap_or(t)
}

/// A scaled-down seed story: mostly Gmail, 8% to feedback-loop providers, one complaint a day.
fn seed_story(now: DateTime<Utc>, sends_per_day: u64, seed: u64) -> Vec<serde_json::Value> {
    let mut acme = TenantProfile::seed_story("acme", sends_per_day, 1);
    acme.domains = vec![
        ("gmail.com".into(), 92),
        ("yahoo.com".into(), 4),
        ("outlook.com".into(), 4),
    ];
    acme.hard_bounce_rate = 0.0;
    acme.soft_bounce_rate = 0.0;
    generate(&Scenario {
        tenants: vec![acme],
        start: hour_start(now) - Duration::hours(23),
        days: 1,
        seed,
        duplicate_rate: 0.02,
        notification_share: 1.0,
        shuffle: true,
    })
}

fn alarm_config() -> AlarmConfig {
    AlarmConfig {
        min_complaint_volume: 150,
        min_bounce_volume: 150,
        windows: vec![Window::Hours(24), Window::Hours(24 * 7)],
        ..AlarmConfig::default()
    }
}

async fn put_ses_complaint_rate(
    aws: &SdkConfig,
    region: &'static str,
    value: f64,
    at: DateTime<Utc>,
) {
    use aws_sdk_cloudwatch::types::MetricDatum;
    let config = aws_sdk_cloudwatch::config::Builder::from(aws)
        .region(aws_sdk_cloudwatch::config::Region::new(region))
        .build();
    aws_sdk_cloudwatch::Client::from_conf(config)
        .put_metric_data()
        .namespace("AWS/SES")
        .metric_data(
            MetricDatum::builder()
                .metric_name("Reputation.ComplaintRate")
                .value(value)
                .timestamp(aws_smithy_types_datetime(at))
                .build(),
        )
        .send()
        .await
        .expect("PutMetricData");
}

fn aws_smithy_types_datetime(t: DateTime<Utc>) -> aws_sdk_cloudwatch::primitives::DateTime {
    aws_sdk_cloudwatch::primitives::DateTime::from_secs(t.timestamp())
}

#[tokio::test]
async fn rates_equal_hand_computed_values_and_duplicates_change_nothing() {
    let s = stack("rates").await;
    let t = "2026-11-20T10:00:00.000Z";
    let mut stream = Vec::new();
    // 10 deliveries to Gmail, 5 to Yahoo; 1 Yahoo complaint; 2 hard bounces, 1 suppressed bounce.
    for i in 0..10 {
        stream.push(delivery(&format!("g{i}"), &[&format!("g{i}@gmail.com")], t));
    }
    for i in 0..5 {
        stream.push(delivery(&format!("y{i}"), &[&format!("y{i}@yahoo.com")], t));
    }
    let mut complaint = fixture("ses/event-publishing/complaint-record.json");
    complaint["mail"]["messageId"] = "y0".into();
    complaint["complaint"]["complainedRecipients"] =
        serde_json::json!([{"emailAddress": "y0@yahoo.com"}]);
    complaint["complaint"]["timestamp"] = t.into();
    complaint["complaint"]["complaintSubType"] = serde_json::Value::Null;
    stream.push(complaint);
    stream.push(bounce("b1", "b1@gmail.com", "Permanent", t));
    stream.push(bounce("b2", "b2@gmail.com", "Permanent", t));
    let mut suppressed = bounce("b3", "b3@gmail.com", "Permanent", t);
    suppressed["bounce"]["bounceSubType"] = "OnAccountSuppressionList".into();
    stream.push(suppressed);
    s.ingest(&stream).await;
    s.ingest(&stream).await;

    let now = "2026-11-20T12:00:00Z".parse().expect("time");
    let hours = s
        .ledger
        .hourly(&Scope::Account, now - Duration::days(1), now)
        .await
        .expect("counters");
    let rates = compute(&hours, now, &[Window::Hours(24)]);
    let r = &rates[0];
    assert_eq!(
        r.naive_complaint,
        Rate {
            numerator: 1,
            denominator: 15
        }
    );
    assert_eq!(
        r.feedback_loop_complaint,
        Rate {
            numerator: 1,
            denominator: 5
        }
    );
    assert_eq!(
        r.bounce,
        Rate {
            numerator: 2,
            denominator: 18
        },
        "no Send events: deliveries + all bounces"
    );
    assert_eq!(r.totals.get(Metric::OtherBounces), 1);
    let yahoo = s
        .ledger
        .hourly(
            &Scope::Provider("yahoo".into()),
            now - Duration::days(1),
            now,
        )
        .await
        .expect("counters");
    assert_eq!(
        compute(&yahoo, now, &[Window::Hours(24)])[0].feedback_loop_complaint,
        Rate {
            numerator: 1,
            denominator: 5
        }
    );
}

#[tokio::test]
async fn the_seed_story_raises_one_review_alert_then_none_then_recovers() {
    let s = stack("seedstory").await;
    // The clock is pinned to the last millisecond of the current hour: the day of traffic below
    // then lies wholly at or before `now`, whatever the minute the test runs at.
    let now = hour_start(Utc::now()) + Duration::hours(1) - Duration::milliseconds(1);
    let stream = seed_story(now, 5_000, 7);
    s.ingest(&stream).await;
    put_ses_complaint_rate(
        &s.aws,
        region_for("seedstory"),
        0.0031,
        now - Duration::hours(1),
    )
    .await;
    let config = alarm_config();

    let report = s.alarm(&config, now).await;
    let account = report
        .evaluations
        .iter()
        .find(|e| e.scope == Scope::Account && e.kind == RateKind::Complaint)
        .expect("account evaluated");
    let day = &account.windows[0];
    let naive = day.naive_complaint.value().expect("deliveries");
    let fbl = day
        .feedback_loop_complaint
        .value()
        .expect("feedback-loop deliveries");
    assert!(naive < 0.0005, "naive rate {naive} far below 0.1%");
    assert!(
        (0.001..0.005).contains(&fbl),
        "feedback-loop rate {fbl} in the review band"
    );
    assert_eq!(account.level, Level::Review);
    assert_eq!(account.ses, SesFigure::Reported(0.0031));

    let alerts = s.inbox().await;
    let mine: Vec<&serde_json::Value> = alerts
        .iter()
        .filter(|a| attribute(a, "scope") == "account")
        .collect();
    assert_eq!(
        mine.len(),
        1,
        "exactly one alert for the account: {alerts:#?}"
    );
    let alert = mine[0];
    assert_eq!(attribute(alert, "severity"), "review");
    assert_eq!(attribute(alert, "metric"), "complaint");
    let subject = alert["Subject"].as_str().unwrap_or_default();
    assert!(
        subject.contains("REVIEW") && subject.contains("account"),
        "{subject}"
    );
    let body = alert["Message"].as_str().unwrap_or_default();
    assert!(
        body.contains(&day.naive_complaint.describe()),
        "naive figure in the body:\n{body}"
    );
    assert!(
        body.contains(&day.feedback_loop_complaint.describe()),
        "feedback-loop figure in the body:\n{body}"
    );
    assert!(
        body.contains("0.310%"),
        "SES's own figure in the body:\n{body}"
    );
    assert!(
        body.contains("filter event_type = \"Complaint\""),
        "the Logs Insights query:\n{body}"
    );
    assert!(
        alerts.iter().all(|a| attribute(a, "metric") == "complaint"),
        "bounces stay normal"
    );

    // Unchanged level: nothing new.
    s.alarm(&config, now).await;
    assert!(
        s.inbox().await.is_empty(),
        "an unchanged level is not announced again"
    );

    // Recovery: ten times the feedback-loop deliveries and no new complaints.
    let recovery: Vec<serde_json::Value> = (0..3000)
        .map(|i| {
            delivery(
                &format!("rec-{i}"),
                &[&format!("r{i}@yahoo.com")],
                &(now - Duration::minutes(30)).to_rfc3339(),
            )
        })
        .collect();
    s.ingest(&recovery).await;
    s.alarm(&config, now).await;
    let recovered: Vec<serde_json::Value> = s
        .inbox()
        .await
        .into_iter()
        .filter(|a| attribute(a, "scope") == "account")
        .collect();
    assert_eq!(recovered.len(), 1, "{recovered:#?}");
    assert_eq!(attribute(&recovered[0], "severity"), "normal");
    assert!(recovered[0]["Subject"]
        .as_str()
        .is_some_and(|s| s.contains("RECOVERED")));
}

#[tokio::test]
async fn small_scopes_are_not_judged_and_a_missing_ses_figure_says_so() {
    let s = stack("smallscope").await;
    let now = Utc::now();
    let t = (now - Duration::hours(1)).to_rfc3339();
    // 20 Yahoo deliveries and a complaint: 5%, but far below the minimum volume.
    let mut stream: Vec<serde_json::Value> = (0..20)
        .map(|i| delivery(&format!("s{i}"), &[&format!("s{i}@yahoo.com")], &t))
        .collect();
    let mut complaint = fixture("ses/event-publishing/complaint-record.json");
    complaint["mail"]["messageId"] = "s0".into();
    complaint["complaint"]["complainedRecipients"] =
        serde_json::json!([{"emailAddress": "s0@yahoo.com"}]);
    complaint["complaint"]["timestamp"] = t.clone().into();
    stream.push(complaint);
    s.ingest(&stream).await;
    let report = s.alarm(&alarm_config(), now).await;
    assert!(!report.evaluations.is_empty());
    for e in &report.evaluations {
        assert_eq!(e.judged, None, "{} is below the minimum volume", e.scope);
        assert_eq!(e.level, Level::Normal);
    }
    assert!(s.inbox().await.is_empty());
    let account = report
        .evaluations
        .iter()
        .find(|e| e.scope == Scope::Account)
        .expect("account");
    assert_eq!(
        account.ses,
        SesFigure::Missing,
        "no data points is missing, not zero"
    );
    let provider = report
        .evaluations
        .iter()
        .find(|e| e.scope == Scope::Provider("yahoo".into()))
        .expect("provider");
    assert_eq!(provider.ses, SesFigure::NotPublished);
    assert!(report.metrics.iter().any(|m| m["Scope"] == "account"
        && m["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "SesLedger"));
}

#[tokio::test]
async fn a_level_change_is_claimed_once_in_dynamodb() {
    use ses_ledger::ports::AlertStateStore;
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "claim").await;
    let state = DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws), config);
    let scope = Scope::Account;
    let now = Utc::now();
    let claim = |from, to| state.claim_level_change(&scope, RateKind::Complaint, from, to, now);
    assert!(
        claim(Level::Normal, Level::Review).await.expect("claim"),
        "no item reads as Normal"
    );
    assert!(
        !claim(Level::Normal, Level::Review).await.expect("claim"),
        "a second run that read Normal too loses"
    );
    assert_eq!(
        state
            .alert_level(&scope, RateKind::Complaint)
            .await
            .expect("read"),
        Level::Review
    );
    assert!(claim(Level::Review, Level::Normal).await.expect("claim"));
    assert!(!claim(Level::Review, Level::Warning).await.expect("claim"));
}
