//! What one alarm run costs in computation: rates for every standard window over 30 days of
//! hourly counters, for 100 scopes. Run: `cargo bench -p ses-ledger-core --bench rates`.

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ses_ledger::alarm::{evaluate, AlarmConfig, Level, RateKind, SesFigure};
use ses_ledger::counters::{Metric, Scope};
use ses_ledger::rates::{compute, standard_windows, HourlyCounts, Totals};

fn thirty_days(seed: u64) -> Vec<HourlyCounts> {
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
    (0..24 * 30)
        .map(|h| {
            let x = (h as u64 + 1) * (seed + 7);
            let metrics: BTreeMap<Metric, u64> = [
                (Metric::Sends, 10_000 + x % 500),
                (Metric::Deliveries, 9_900 + x % 400),
                (Metric::FeedbackLoopDeliveries, 150 + x % 20),
                (Metric::CountedHardBounces, x % 30),
                (Metric::OtherBounces, x % 17),
                (Metric::Complaints, x % 3),
                (Metric::ComplaintsNotSuppressed, x % 3),
            ]
            .into();
            HourlyCounts {
                bucket: now - Duration::hours(h),
                totals: Totals {
                    metrics,
                    details: [("complaint_domain:yahoo.com".to_string(), x % 3)].into(),
                },
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 30, 0).unwrap();
    let scopes: Vec<(Scope, Vec<HourlyCounts>)> = (0..100)
        .map(|i| {
            (
                Scope::Tag {
                    name: "tenant".into(),
                    value: format!("t{i}"),
                },
                thirty_days(i),
            )
        })
        .collect();
    let windows = standard_windows(100_000, 90);
    let config = AlarmConfig::default();
    c.bench_function("rates+judge: 100 scopes x 30 days hourly", |b| {
        b.iter(|| {
            for (scope, hours) in &scopes {
                let rates = compute(black_box(hours), now, &windows);
                for kind in [RateKind::Complaint, RateKind::Bounce] {
                    black_box(evaluate(
                        scope.clone(),
                        kind,
                        rates.clone(),
                        Level::Normal,
                        SesFigure::Missing,
                        &config,
                    ));
                }
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
