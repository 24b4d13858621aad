//! Counting from the table's change stream, against DynamoDB Local: redelivered batches and
//! retried window closes count once, a consumer that dies between two writes neither loses nor
//! doubles a count, and concurrent shards on one hot counter are never refused.

// Needs the local stack that scripts/test.sh starts; `cargo test --workspace` alone compiles
// this file to nothing (see tests/Cargo.toml).
#![cfg(feature = "local-stack")]

use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use ses_ledger::counters::{ComplaintBreakdown, CounterIncrement, Metric, Scope};
use ses_ledger::ports::CounterReader;
use ses_ledger::tally::{CountedChange, CounterWindow, SequenceNumber};
use ses_ledger::usecase::{Count, CountReport};
use ses_ledger_aws::dynamo::DynamoLedger;
use ses_ledger_integration_tests::*;

fn ten_o_clock() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
        .single()
        .expect("valid")
}

/// `n` stream records from `first` on: deliveries to gmail, every tenth a complaint from yahoo.
fn stream(first: u64, n: u64) -> Vec<CountedChange> {
    (first..first + n)
        .map(|i| {
            let (provider, metrics, details) = if i % 10 == 0 {
                (
                    "yahoo",
                    vec![Metric::Complaints, Metric::ComplaintsNotSuppressed],
                    vec![ComplaintBreakdown::ComplaintFeedbackType("abuse".into())],
                )
            } else {
                ("gmail", vec![Metric::Deliveries], vec![])
            };
            CountedChange {
                sequence: SequenceNumber::parse(&format!("4{i:020}")).expect("digits"),
                increments: [Scope::Account, Scope::Provider(provider.into())]
                    .into_iter()
                    .map(|scope| CounterIncrement {
                        scope,
                        bucket: ten_o_clock(),
                        metrics: metrics.clone(),
                        details: details.clone(),
                    })
                    .collect(),
            }
        })
        .collect()
}

async fn total(ledger: &DynamoLedger, scope: &Scope, metric: Metric) -> u64 {
    ledger
        .hourly(scope, ten_o_clock(), ten_o_clock())
        .await
        .expect("counters")
        .iter()
        .map(|h| h.totals.get(metric))
        .sum()
}

/// One window of `shard`: its batches, then the close (retried once, as after a lost response).
async fn window<W: ses_ledger::ports::CounterWriter>(
    count: &Count<W>,
    shard: &str,
    batches: &[&[CountedChange]],
) -> (CountReport, CountReport) {
    let mut window = CounterWindow::default();
    for batch in batches {
        window = count
            .invocation(shard, window, batch, false)
            .await
            .expect("batch")
            .0;
    }
    let (_, closed) = count
        .invocation(shard, window.clone(), &[], true)
        .await
        .expect("close");
    let (_, retried) = count
        .invocation(shard, window, &[], true)
        .await
        .expect("retried close");
    (closed, retried)
}

#[tokio::test]
async fn redelivered_batches_and_retried_closes_count_once() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "count").await;
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    let count = Count {
        counters: DynamoLedger::new(ddb.clone(), config.clone()),
    };
    let records = stream(1, 300);
    let mut window_so_far = CounterWindow::default();
    for batch in [&records[..120], &records[100..200]] {
        let (next, report) = count
            .invocation("shard-a", window_so_far, batch, false)
            .await
            .expect("batch");
        window_so_far = next;
        // The second batch redelivers twenty records of the first.
        assert!(
            report.redelivered == 0 || report.redelivered == 20,
            "{report:?}"
        );
    }
    let (closed, retried) = window(&count, "shard-a", &[&records[..200]]).await;
    // One hour, three counters (account, gmail, yahoo).
    assert_eq!((closed.writes, closed.found), (3, 0), "{closed:?}");
    assert_eq!((retried.writes, retried.found), (0, 3), "{retried:?}");
    // The same records again in the same shard's window: found, not added.
    let (_, reprocessed) = count
        .invocation("shard-a", window_so_far, &[], true)
        .await
        .expect("a window of records already counted");
    assert_eq!(reprocessed.writes, 0, "{reprocessed:?}");
    let (closed, _) = window(&count, "shard-a", &[&records[200..]]).await;
    assert_eq!(closed.writes, 3);

    // Read back through another instance, as the alarm would.
    let reader = DynamoLedger::new(ddb, config);
    assert_eq!(
        total(&reader, &Scope::Account, Metric::Deliveries).await,
        270
    );
    assert_eq!(
        total(&reader, &Scope::Account, Metric::Complaints).await,
        30
    );
    assert_eq!(
        total(
            &reader,
            &Scope::Provider("yahoo".into()),
            Metric::Complaints
        )
        .await,
        30
    );
    assert_eq!(
        total(
            &reader,
            &Scope::Provider("gmail".into()),
            Metric::Deliveries
        )
        .await,
        270
    );
    let hours = reader
        .hourly(&Scope::Account, ten_o_clock(), ten_o_clock())
        .await
        .expect("counters");
    assert_eq!(
        hours[0].totals.details.get("complaint_feedback:abuse"),
        Some(&30)
    );
}

#[tokio::test]
async fn concurrent_shards_on_one_hot_counter_are_never_refused() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "hotcount").await;
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    // Eight stream shards, each with its own consumer, all counting the same account hour in
    // five windows of 100 records, each close retried once.
    let consumers: Vec<Count<DynamoLedger>> = (0..8)
        .map(|_| Count {
            counters: DynamoLedger::new(ddb.clone(), config.clone()),
        })
        .collect();
    let runs = consumers.iter().enumerate().map(|(w, count)| async move {
        let records = stream(w as u64 * 1_000_000 + 1, 500);
        let shard = format!("shardId-{w}");
        for batch in records.chunks(100) {
            window(count, &shard, &[batch]).await;
        }
    });
    futures::future::join_all(runs).await;

    let meters: Vec<_> = consumers
        .iter()
        .map(|c| c.counters.meter().snapshot())
        .collect();
    let updates = |f: fn(&ses_ledger_aws::dynamo::Consumed) -> u64| -> u64 {
        meters
            .iter()
            .filter_map(|m| m.get("UpdateItem (counter)"))
            .map(f)
            .sum()
    };
    let conflicts: u64 = meters
        .iter()
        .flat_map(|m| m.values())
        .map(|c| c.conflicts)
        .sum();
    assert_eq!(conflicts, 0);
    // Three counters a window (account, gmail, yahoo): each updated once, found once; no other
    // request.
    assert_eq!(updates(|c| c.requests), 8 * 5 * 3 * 2);
    assert_eq!(updates(|c| c.unreported_failures), 8 * 5 * 3);
    assert!(meters
        .iter()
        .all(|m| m.keys().all(|k| *k == "UpdateItem (counter)")));
    let reader = DynamoLedger::new(ddb, config);
    assert_eq!(
        total(&reader, &Scope::Account, Metric::Deliveries).await,
        8 * 450
    );
    assert_eq!(
        total(&reader, &Scope::Account, Metric::Complaints).await,
        8 * 50
    );
}

/// A shuffled simulated day with duplicates in both formats goes through the real ingest path
/// into a table with a stream, and the stream through the count function into its counters.
/// Every hourly counter of every scope, complaint breakdowns included, must equal what the
/// in-memory ledger counts from the same messages (it adds each event's increments directly, in
/// the scopes each copy knows). Kept small: DynamoDB Local with a stream enabled writes about 15
/// times slower (docs/local-stack.md).
#[tokio::test]
async fn the_stream_counts_exactly_what_the_events_add_up_to() {
    use ses_ledger::simulate::{generate, Scenario, TenantProfile};
    use ses_ledger::testkit::memory::{InMemoryEventLog, InMemoryLedger};
    use ses_ledger::usecase::Ingest;
    use ses_ledger_aws::cloudwatch_logs::CloudWatchEventLog;
    let aws = local_aws().await;
    let config = fresh_ledger_with_stream(&aws, "streamed").await;
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    let start = ten_o_clock() - chrono::Duration::days(1);
    let mut messages = generate(&Scenario {
        tenants: vec![
            TenantProfile::seed_story("acme", 30, 4),
            TenantProfile::healthy("globex", 10),
        ],
        start,
        days: 1,
        seed: 7,
        duplicate_rate: 0.05,
        notification_share: 0.5,
        shuffle: true,
    });
    // One complaint whose identity notification arrives before its configuration-set copy,
    // which knows more scopes: the second copy adds them (a MODIFY in the stream).
    let both = fixture("oddities/complaint-both-formats.json");
    messages.extend(
        both["Records"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|record| serde_json::json!({ "Records": [record] })),
    );
    let ingest = Ingest {
        store: DynamoLedger::new(ddb.clone(), config.clone()),
        log: CloudWatchEventLog::new(
            aws_sdk_cloudwatchlogs::Client::new(&aws),
            &config.event_log_group,
            "stream",
        ),
        config: config.clone(),
    };
    let truth = InMemoryLedger::new(&config);
    let truth_log = InMemoryEventLog::default();
    let in_memory = Ingest {
        store: &truth,
        log: &truth_log,
        config: config.clone(),
    };
    let now = Utc::now();
    // Concurrent, except the two copies of the complaint, which must arrive in order.
    let (simulated, complaint) = messages.split_at(messages.len() - 2);
    let reports: Vec<_> = futures::stream::iter(simulated)
        .map(|m| ingest.document(m, now))
        .buffer_unordered(16)
        .collect()
        .await;
    for report in reports {
        assert_eq!(report.expect("simulated message").failures().count(), 0);
    }
    for doc in complaint {
        let report = ingest.document(doc, now).await.expect("fixture");
        assert_eq!(report.failures().count(), 0);
    }
    for doc in &messages {
        in_memory.document(doc, now).await.expect("same messages");
    }

    let shards = stream_batches(&aws, &config.table_name).await;
    assert!(!shards.is_empty());
    let modified_scopes: usize = shards
        .iter()
        .flat_map(|(_, batches)| batches.iter().flatten())
        .filter(|r| r["eventName"] == "MODIFY")
        .filter(|r| {
            ses_ledger_aws::dynamo::stream::counted_changes(&serde_json::json!({ "Records": [r] }))
                .expect("readable")
                .iter()
                .any(|c| !c.increments.is_empty())
        })
        .count();
    assert!(
        modified_scopes > 0,
        "the stream holds duplicates that knew more scopes"
    );
    let count = Count {
        counters: DynamoLedger::new(ddb.clone(), config.clone()),
    };
    for round in 0..2 {
        for (shard, batches) in &shards {
            let counted = count_window(&count, shard, batches).await;
            if round == 1 {
                assert_eq!(counted.writes, 0, "a redelivered window changes nothing");
            }
        }
    }

    let streamed = DynamoLedger::new(ddb, config);
    let scopes = streamed.scopes().await.expect("scopes");
    assert!(scopes.len() > 5, "{scopes:?}");
    assert_eq!(
        scopes.iter().collect::<std::collections::BTreeSet<_>>(),
        truth.scopes().iter().collect()
    );
    // The fixture's complaint is from 2017.
    let from = Utc
        .with_ymd_and_hms(2017, 1, 1, 0, 0, 0)
        .single()
        .expect("valid");
    for scope in scopes {
        let want = truth.hourly(&scope, from, now).await.expect("read");
        let got = streamed.hourly(&scope, from, now).await.expect("read");
        assert!(!want.is_empty(), "{scope:?}");
        assert_eq!(got, want, "{scope:?}");
    }
}

/// Lets its first `writes` counter updates through to DynamoDB, then fails every further one
/// like a function that died before it.
struct DiesAfter<'a> {
    inner: &'a DynamoLedger,
    writes: std::sync::atomic::AtomicUsize,
}

impl ses_ledger::ports::CounterWriter for DiesAfter<'_> {
    async fn add_once(
        &self,
        shard: &str,
        counter: &ses_ledger::tally::CounterWrite,
    ) -> Result<ses_ledger::ports::CounterAdded, ses_ledger::ports::StoreError> {
        use std::sync::atomic::Ordering;
        let left = self
            .writes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |w| w.checked_sub(1));
        if left.is_err() {
            return Err(ses_ledger::ports::StoreError::Refused {
                operation: "test",
                message: "the function died here".into(),
            });
        }
        self.inner.add_once(shard, counter).await
    }
}

#[tokio::test]
async fn a_consumer_that_dies_between_two_writes_neither_loses_nor_doubles_a_count() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "diecount").await;
    let ledger = DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws), config);
    // 60 records, each in its own hour: 120 counters to update as the window closes.
    let records: Vec<CountedChange> = stream(1, 60)
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            for inc in &mut c.increments {
                inc.bucket = ten_o_clock() + chrono::Duration::hours(i as i64);
            }
            c
        })
        .collect();
    let dying = Count {
        counters: DiesAfter {
            inner: &ledger,
            writes: 45.into(),
        },
    };
    let (window, _) = dying
        .invocation("shard-d", CounterWindow::default(), &records, false)
        .await
        .expect("no writes before the close");
    assert!(dying
        .invocation("shard-d", window.clone(), &[], true)
        .await
        .is_err());
    let written = scan_all(
        &aws_sdk_dynamodb::Client::new(&aws),
        &ledger.config().table_name,
    )
    .await
    .len();
    // Updates in flight when the close failed may or may not have landed.
    assert!(
        written > 0 && written <= 45,
        "the close died after at most 45 updates: {written}"
    );

    // Lambda retries the close with the same state, and once more after that.
    let count = Count { counters: &ledger };
    let (_, retry) = count
        .invocation("shard-d", window.clone(), &[], true)
        .await
        .expect("retry");
    // A request the dying close had sent may still land after the scan (dropping its future
    // does not recall it), so the retry finds at least what the scan saw and at most 45.
    assert_eq!(retry.found + retry.writes, 120, "{retry:?}");
    assert!(
        (written..=45).contains(&retry.found),
        "found {} of the {written} seen, of at most 45: {retry:?}",
        retry.found
    );
    let (_, again) = count
        .invocation("shard-d", window, &[], true)
        .await
        .expect("again");
    assert_eq!((again.found, again.writes), (120, 0));
    let hours = ledger
        .hourly(
            &Scope::Account,
            ten_o_clock(),
            ten_o_clock() + chrono::Duration::hours(59),
        )
        .await
        .expect("counters");
    assert_eq!(hours.len(), 60);
    for h in &hours {
        let total = h.totals.get(Metric::Deliveries) + h.totals.get(Metric::Complaints);
        assert_eq!(total, 1, "{:?}", h.bucket);
    }
}
