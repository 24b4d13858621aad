//! Counting from the table's change stream, against DynamoDB Local: a batch retried whole, cut
//! longer or shorter, or delivered again counts once; a consumer that dies between two writes
//! neither loses nor doubles a count; concurrent shards on one hot counter are never refused.

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

/// A batch of `shard`, and Lambda's retry of it (as after a lost response).
async fn delivered_twice<W: ses_ledger::ports::CounterWriter>(
    count: &Count<W>,
    shard: &str,
    batch: &[CountedChange],
) -> (CountReport, CountReport) {
    let first = count
        .batch(shard, CounterWindow::default(), batch)
        .await
        .expect("batch");
    let retried = count
        .batch(shard, CounterWindow::default(), batch)
        .await
        .expect("retried batch");
    (first, retried)
}

#[tokio::test]
async fn batches_retried_recut_or_delivered_again_count_once() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "count").await;
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    let count = Count {
        counters: DynamoLedger::new(ddb.clone(), config.clone()),
    };
    let records = stream(1, 300);
    // One hour, three counters (account, gmail, yahoo): written, then found.
    let (first, retried) = delivered_twice(&count, "shard-a", &records[..120]).await;
    assert_eq!((first.writes, first.found), (3, 0), "{first:?}");
    assert_eq!((retried.writes, retried.found), (0, 3), "{retried:?}");
    // Lambda's next batch starts twenty records back (a retry cut differently): each counter's
    // mark is inside it, and only what lies after the mark is added.
    let recut = count
        .batch("shard-a", CounterWindow::default(), &records[100..200])
        .await
        .expect("recut");
    assert_eq!(
        (recut.resumed, recut.writes, recut.found),
        (3, 0, 0),
        "{recut:?}"
    );
    // The first batch once more, and the rest of the stream.
    let again = count
        .batch("shard-a", CounterWindow::default(), &records[..120])
        .await
        .expect("again");
    assert_eq!((again.writes, again.resumed, again.found), (0, 0, 3));
    let (rest, _) = delivered_twice(&count, "shard-a", &records[200..]).await;
    assert_eq!(rest.writes, 3);

    // Read back through another instance, as the alarm would: records 1..=300, every tenth a
    // complaint from yahoo and the rest deliveries to gmail. A record counted twice anywhere
    // above would show here.
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
    // five batches of 100 records, each retried once.
    let consumers: Vec<Count<DynamoLedger>> = (0..8)
        .map(|_| Count {
            counters: DynamoLedger::new(ddb.clone(), config.clone()),
        })
        .collect();
    let runs = consumers.iter().enumerate().map(|(w, count)| async move {
        let records = stream(w as u64 * 1_000_000 + 1, 500);
        let shard = format!("shardId-{w}");
        for batch in records.chunks(100) {
            delivered_twice(count, &shard, batch).await;
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
    // Three counters a batch (account, gmail, yahoo): each updated once, found once; no other
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
/// Every hourly counter of every scope, complaint breakdowns included, must equal what
/// `truth::Truth` counts from the same SES JSON by the documentation's definitions, without the
/// crate's parser or increments. Kept small: DynamoDB Local with a stream enabled writes about 15
/// times slower (docs/local-stack.md).
#[tokio::test]
async fn the_stream_counts_exactly_what_the_events_add_up_to() {
    use ses_ledger::simulate::{generate, Scenario, TenantProfile};
    use ses_ledger::usecase::Ingest;
    use ses_ledger_aws::cloudwatch_logs::CloudWatchEventLog;
    use ses_ledger_integration_tests::truth::Truth;
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
    let providers: Vec<&str> = config
        .feedback_loop_providers
        .iter()
        .map(String::as_str)
        .collect();
    let tenant_tags: Vec<&str> = config.tenant_tags.iter().map(String::as_str).collect();
    let truth = Truth::of(&messages, &providers, &tenant_tags);
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

    let shards = stream_batches(&aws, &config.table_name).await;
    assert!(!shards.is_empty());
    let modified_scopes: usize = shards
        .iter()
        .flat_map(|(_, batches)| batches.iter().flatten())
        .filter(|r| r["eventName"] == "MODIFY")
        .filter(|r| {
            ses_ledger_aws::dynamo::stream::counted_changes(&serde_json::json!({ "Records": [r] }))
                .expect("readable")
                .changes
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
        scopes
            .iter()
            .map(Scope::key)
            .collect::<std::collections::BTreeSet<_>>(),
        truth.scopes()
    );
    // The fixture's complaint is from 2017.
    let from = Utc
        .with_ymd_and_hms(2017, 1, 1, 0, 0, 0)
        .single()
        .expect("valid");
    for scope in scopes {
        let got: std::collections::BTreeMap<
            DateTime<Utc>,
            std::collections::BTreeMap<String, u64>,
        > = streamed
            .hourly(&scope, from, now)
            .await
            .expect("read")
            .into_iter()
            .map(|h| {
                let mut cell: std::collections::BTreeMap<String, u64> = h
                    .totals
                    .metrics
                    .iter()
                    .filter(|(m, n)| **m != Metric::Undocumented && **n > 0)
                    .map(|(m, n)| (m.attribute().to_string(), *n))
                    .collect();
                cell.extend(
                    h.totals
                        .details
                        .iter()
                        .filter(|(_, n)| **n > 0)
                        .map(|(d, n)| (d.clone(), *n)),
                );
                (h.bucket, cell)
            })
            .filter(|(_, cell)| !cell.is_empty())
            .collect();
        let want = truth.hourly(&scope.key());
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
    // 60 records, each in its own hour: 120 counters to update for the batch.
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
    assert!(dying
        .batch("shard-d", CounterWindow::default(), &records[..40])
        .await
        .is_err());
    // Lambda retries the batch, cut longer, and then again.
    let count = Count { counters: &ledger };
    let retry = count
        .batch("shard-d", CounterWindow::default(), &records)
        .await
        .expect("retry");
    // The attempt's 80 counters were written or not (at most 45, and updates in flight when it
    // died may have landed after it); the retry's other 40 are new.
    assert_eq!(retry.found + retry.writes, 120, "{retry:?}");
    assert!(
        (1..=45).contains(&retry.found) && retry.resumed == 0,
        "{retry:?}"
    );
    let again = count
        .batch("shard-d", CounterWindow::default(), &records)
        .await
        .expect("again");
    assert_eq!((again.found, again.writes, again.resumed), (120, 0, 0));
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

#[tokio::test]
async fn a_mark_inside_a_retried_batch_reads_back_from_dynamodb_and_the_rest_is_added() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "resume").await;
    let ledger = DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws), config);
    let count = Count { counters: &ledger };
    let records = stream(1, 40);
    count
        .batch("shard-r", CounterWindow::default(), &records[..25])
        .await
        .expect("attempt");
    let retry = count
        .batch("shard-r", CounterWindow::default(), &records[5..])
        .await
        .expect("retry cut longer");
    // account (mark 25), gmail (mark 25), yahoo (mark 20): each inside 6..=40.
    assert_eq!(
        (retry.resumed, retry.writes, retry.found),
        (3, 0, 0),
        "{retry:?}"
    );
    assert_eq!(
        total(&ledger, &Scope::Account, Metric::Deliveries).await,
        36
    );
    assert_eq!(total(&ledger, &Scope::Account, Metric::Complaints).await, 4);
    assert_eq!(
        total(
            &ledger,
            &Scope::Provider("yahoo".into()),
            Metric::Complaints
        )
        .await,
        4
    );
}

/// A complaint (event publishing) from `recipient` to one message.
fn complaint(message_id: &str, recipient: &str, time: &str) -> serde_json::Value {
    let mut ses = fixture("ses/event-publishing/complaint-record.json");
    ses["mail"]["messageId"] = message_id.into();
    ses["mail"]["timestamp"] = time.into();
    ses["mail"]["destination"] = serde_json::json!([recipient]);
    ses["complaint"]["complainedRecipients"] = serde_json::json!([{ "emailAddress": recipient }]);
    ses["complaint"]["feedbackId"] = format!("feedback-{message_id}").into();
    ses["complaint"]["timestamp"] = time.into();
    ses
}

/// Ten deliveries to Yahoo (a feedback-loop provider) and ten to a corporate domain (its own
/// "provider", with no feedback loop), one complaint from each, through the real ingest path,
/// the table's stream and the count function: the feedback-loop rate divides like by like, 1 of
/// 10, and the corporate complaint shows in the naive rate, 2 of 20.
#[tokio::test]
async fn a_complaint_from_outside_the_feedback_loop_list_is_in_the_naive_rate_only() {
    use ses_ledger::rates::{compute, Window};
    use ses_ledger::usecase::Ingest;
    let aws = local_aws().await;
    let config = fresh_ledger_with_stream(&aws, "fbl").await;
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    let ingest = Ingest {
        store: DynamoLedger::new(ddb.clone(), config.clone()),
        log: ses_ledger_aws::cloudwatch_logs::CloudWatchEventLog::new(
            aws_sdk_cloudwatchlogs::Client::new(&aws),
            &config.event_log_group,
            "fbl",
        ),
        config: config.clone(),
    };
    let now = Utc::now();
    let time =
        (now - chrono::Duration::hours(2)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut messages = Vec::new();
    for (domain, tag) in [("yahoo.com", "y"), ("corp.example", "c")] {
        for i in 0..10 {
            messages.push(delivery(
                &format!("fbl-{tag}{i}"),
                &[&format!("person{i}@{domain}")],
                &time,
            ));
        }
        messages.push(complaint(
            &format!("fbl-{tag}0"),
            &format!("person0@{domain}"),
            &time,
        ));
    }
    let report = ingest
        .document(&sns_event(&messages), now)
        .await
        .expect("ingested");
    assert_eq!(report.counts().new, 22);
    let count = Count {
        counters: DynamoLedger::new(ddb.clone(), config.clone()),
    };
    for (shard, batches) in stream_batches(&aws, &config.table_name).await {
        count_window(&count, &shard, &batches).await;
    }
    let reader = DynamoLedger::new(ddb, config);
    let hours = reader
        .hourly(&Scope::Account, now - chrono::Duration::days(1), now)
        .await
        .expect("counters");
    let rates = &compute(&hours, now, &[Window::Hours(24)])[0];
    assert_eq!(
        (
            rates.feedback_loop_complaint.numerator,
            rates.feedback_loop_complaint.denominator
        ),
        (1, 10)
    );
    assert_eq!(
        (
            rates.naive_complaint.numerator,
            rates.naive_complaint.denominator
        ),
        (2, 20)
    );
}

/// A counter item a count function before `fbl_complaints` wrote has no such attribute; its
/// feedback-loop numerator was every complaint not from the suppression list, and is read so
/// (an upper bound) rather than as zero, which would hide complaints from the alarm after an
/// upgrade. An item written now carries the attribute, zero or not.
#[tokio::test]
async fn counters_of_the_earlier_layout_read_their_old_numerator_and_new_ones_their_own() {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "layout").await;
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    let old_hour = ten_o_clock() - chrono::Duration::hours(1);
    ddb.put_item()
        .table_name(&config.table_name)
        .item("pk", A::S("CNT#account".into()))
        .item(
            "sk",
            A::S(format!("H#{}#all", old_hour.format("%Y-%m-%dT%H"))),
        )
        .item("bucket", A::S(old_hour.format("%Y-%m-%dT%H").to_string()))
        .item("complaints", A::N("3".into()))
        .item("complaints_not_suppressed", A::N("2".into()))
        .item("fbl_deliveries", A::N("500".into()))
        .send()
        .await
        .expect("an item of the earlier layout");
    let ledger = DynamoLedger::new(ddb.clone(), config.clone());
    // This hour: one complaint from gmail (not a feedback-loop provider), counted now.
    let records = stream(10, 1);
    Count { counters: &ledger }
        .batch("shard-l", CounterWindow::default(), &records)
        .await
        .expect("counted");
    let hours = ledger
        .hourly(&Scope::Account, old_hour, ten_o_clock())
        .await
        .expect("counters");
    let fbl: Vec<(u32, u64)> = hours
        .iter()
        .map(|h| {
            (
                h.bucket.format("%H").to_string().parse().unwrap_or(99),
                h.totals.get(Metric::FeedbackLoopComplaints),
            )
        })
        .collect();
    // Record 10 of `stream` is a complaint whose metrics name no fbl_complaints: its hour's item
    // is written with the attribute at zero, and reads as zero, not as the old numerator.
    assert_eq!(fbl, vec![(9, 2), (10, 0)]);
    let item = scan_all(&ddb, &config.table_name)
        .await
        .into_iter()
        .find(|i| attr_s(i, "sk").starts_with("H#2026-11-20T10"))
        .expect("this hour's counter");
    assert_eq!(attr_n(&item, "fbl_complaints"), 0, "{item:?}");
}
