//! What the event path costs in DynamoDB, measured rather than estimated: a month of the
//! simulator's SES stream (duplicates, both formats, shuffled) ingested into DynamoDB Local
//! through the ingest use case, with `ReturnConsumedCapacity` on every request; then its change
//! records counted through the count function's handler in stream batches of 1000; then the
//! table scanned and sized by DynamoDB's rules, index entries included; last, the same stream put
//! through the naive handler (one `PutItem` per recipient event) for comparison. Prints the
//! Markdown tables docs/benchmarks.md quotes.
//!
//! Run with `scripts/measure-write-cost.sh [SENDS_PER_DAY] [DAYS]`, which starts the local stack.

use std::collections::BTreeMap;
use std::time::Instant;

use futures::stream::{self, StreamExt};
use ses_ledger::config::LedgerConfig;
use ses_ledger::simulate::{generate, Scenario, TenantProfile};
use ses_ledger::usecase::Ingest;
use ses_ledger_aws::cloudwatch_logs::CloudWatchEventLog;
use ses_ledger_aws::dynamo::{item_size, recipient_index_entry_size, DynamoLedger};
use ses_ledger_integration_tests::{local_aws, scan_all, Arrival, StreamBatching, TableDiffStream};

/// AWS list prices, us-east-1, on-demand (docs/dynamodb-design.md gives the source).
const USD_PER_MILLION_WRITE_UNITS: f64 = 0.625;
const USD_PER_MILLION_READ_UNITS: f64 = 0.125;
const USD_PER_GB_MONTH: f64 = 0.25;
/// Storage adds this much per item (and per index entry) to the item's own size.
const ITEM_OVERHEAD_BYTES: usize = 100;

fn arg(i: usize, default: u64) -> u64 {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let sends_per_day = arg(1, 1000);
    let days = arg(2, 30) as u32;
    let aws = local_aws().await;
    let config = LedgerConfig {
        table_name: format!(
            "write-cost-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ),
        event_log_group: "/ses-ledger/write-cost".into(),
        ..LedgerConfig::default()
    };
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    ses_ledger_aws::dynamo::create_table(&ddb, &config.table_name)
        .await
        .expect("create table");
    let logs = aws_sdk_cloudwatchlogs::Client::new(&aws);
    let _ = logs
        .create_log_group()
        .log_group_name(&config.event_log_group)
        .send()
        .await;

    let scenario = Scenario {
        tenants: vec![
            TenantProfile::seed_story("acme", sends_per_day, 3),
            TenantProfile::healthy("globex", (sends_per_day / 5).max(1)),
        ],
        start: chrono::Utc::now() - chrono::Duration::days(i64::from(days)),
        days,
        seed: 42,
        duplicate_rate: 0.02,
        notification_share: 0.5,
        shuffle: true,
    };
    let messages = generate(&scenario);
    let app = Ingest {
        store: DynamoLedger::new(ddb.clone(), config.clone()),
        log: CloudWatchEventLog::new(logs, &config.event_log_group, "write-cost"),
        config: config.clone(),
    };
    let started = Instant::now();
    let now = chrono::Utc::now();
    let reports: Vec<_> = stream::iter(&messages)
        .map(|m| app.document(m, now))
        .buffer_unordered(16)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let (mut new, mut duplicate, mut failed) = (0usize, 0usize, 0usize);
    for report in reports {
        let report = report.expect("simulated messages are well-formed");
        let counts = report.counts();
        new += counts.new;
        duplicate += counts.duplicate;
        failed += report.failures().count();
    }
    assert_eq!(failed, 0, "every simulated message is recorded");

    // The count function's part, cut as its mapping would have cut the month live; a third
    // argument overrides the batching window (0: by size alone), a fourth the tumbling window.
    let batching = StreamBatching {
        window_seconds: match arg(3, u64::MAX) {
            u64::MAX => StreamBatching::COUNT_FUNCTION.window_seconds,
            0 => None,
            w => Some(w as u32),
        },
        tumbling_window_seconds: arg(
            4,
            u64::from(StreamBatching::COUNT_FUNCTION.tumbling_window_seconds),
        ) as u32,
        ..StreamBatching::COUNT_FUNCTION
    };
    let counting = DynamoLedger::new(ddb.clone(), config.clone());
    let count_started = Instant::now();
    let counted = TableDiffStream::default()
        .count_into(&counting, batching, Arrival::EventTime)
        .await;
    let count_elapsed = count_started.elapsed();

    let mut meter = app.store.meter().snapshot();
    meter.extend(counting.meter().snapshot());
    let items = scan_all(&ddb, &config.table_name).await;
    let mut by_kind: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for item in &items {
        let pk = item
            .get("pk")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        let kind = match pk.split('#').next().unwrap_or("") {
            "MSG" => "event item",
            "RCPT" => "recipient suppression state",
            "CNT" => "hourly counter",
            _ => "other (scopes, alert state)",
        };
        let entry = by_kind.entry(kind.to_string()).or_default();
        entry.0 += 1;
        entry.1 += item_size(item);
        let index_bytes = recipient_index_entry_size(item);
        if index_bytes > 0 {
            let entry = by_kind
                .entry("recipient index entry".to_string())
                .or_default();
            entry.0 += 1;
            entry.1 += index_bytes - ITEM_OVERHEAD_BYTES;
        }
    }
    let stored: usize = by_kind
        .values()
        .map(|(count, bytes)| bytes + count * ITEM_OVERHEAD_BYTES)
        .sum();

    let per = |x: f64| x / new as f64;
    let is_write = |name: &str| {
        name.starts_with("Transact")
            || name.starts_with("UpdateItem")
            || name.starts_with("PutItem")
    };
    let reported_writes: f64 = meter
        .iter()
        .filter(|(k, _)| is_write(k))
        .map(|(_, c)| c.units)
        .sum();
    // A write that fails its condition is billed, but DynamoDB reports nothing for it: 1 unit
    // for a single write (every item here is under 1 KB), 2 per item of a cancelled transaction.
    let failed_writes: f64 = meter
        .iter()
        .filter(|(k, _)| is_write(k))
        .map(|(k, c)| {
            let per_request = if k.starts_with("Transact") {
                2.0 * c.items as f64 / c.requests.max(1) as f64
            } else {
                1.0
            };
            per_request * c.unreported_failures as f64
        })
        .sum();
    let reads: f64 = meter
        .iter()
        .filter(|(k, _)| k.starts_with("GetItem"))
        .map(|(_, c)| c.units)
        .sum();
    let conflicts: u64 = meter.values().map(|c| c.conflicts).sum();

    println!("## Write cost, measured on DynamoDB Local\n");
    println!(
        "{} SES messages over {days} days ({sends_per_day} sends a day for the main tenant), ingested in {:.1} s, counted from the change records in {:.1} s (tumbling windows of {} s; batches of at most {} records{})\n",
        messages.len(),
        elapsed.as_secs_f64(),
        count_elapsed.as_secs_f64(),
        batching.tumbling_window_seconds,
        batching.max_records,
        match batching.window_seconds {
            Some(w) => format!(" or {w} s, arriving at the events' own times"),
            None => ", in ingestion order".into(),
        }
    );
    println!("| measure | total | per new recipient event |");
    println!("|---|---|---|");
    println!("| recipient events, new | {new} | 1 |");
    println!(
        "| recipient events, duplicate | {duplicate} | {:.3} |",
        per(duplicate as f64)
    );
    println!(
        "| events counted from the stream | {} | {:.3} |",
        counted.records,
        per(counted.records as f64)
    );
    println!(
        "| count function invocations (batches and window closes) | {} | {:.3} |",
        counted.invocations,
        per(counted.invocations as f64)
    );
    println!(
        "| write units reported (index writes and transactions at DynamoDB's rules) | {reported_writes:.0} | {:.2} |",
        per(reported_writes)
    );
    println!(
        "| write units billed for failed conditions (duplicates) | {failed_writes:.0} | {:.2} |",
        per(failed_writes)
    );
    println!(
        "| write units, all | {:.0} | {:.2} |",
        reported_writes + failed_writes,
        per(reported_writes + failed_writes)
    );
    println!(
        "| read units (suppression state) | {reads:.1} | {:.3} |",
        per(reads)
    );
    println!("| transaction conflicts | {conflicts} | |");
    println!(
        "| DynamoDB storage, bytes (items and index entries + 100 B each) | {stored} | {:.0} |",
        per(stored as f64)
    );
    println!();
    println!("| item kind | items | average bytes |");
    println!("|---|---|---|");
    for (kind, (count, bytes)) in &by_kind {
        println!("| {kind} | {count} | {} |", bytes / count.max(&1));
    }
    println!();
    println!("| operation | requests | units | failed (billed, not reported) |");
    println!("|---|---|---|---|");
    for (op, c) in &meter {
        println!(
            "| {op} | {} | {:.0} | {} |",
            c.requests, c.units, c.unreported_failures
        );
    }
    println!();
    let naive = naive_handler(&ddb, &messages).await;
    let ours = reported_writes + failed_writes;
    println!("The naive handler on the same stream (one unconditional `PutItem` of the SES JSON per recipient event, keyed by recipient and time: no idempotency, no counters, no suppression state; the simulator's SES JSON averages {:.0} bytes):\n", naive.payload_bytes);
    println!("| handler | write requests per new recipient event | write units per new recipient event | ratio to naive (units) |");
    println!("|---|---|---|---|");
    println!(
        "| naive one-PutItem-per-event | {:.3} | {:.2} | 1.00x |",
        per(naive.requests as f64),
        per(naive.units)
    );
    let our_requests: u64 = meter
        .iter()
        .filter(|(k, _)| is_write(k))
        .map(|(_, c)| c.requests)
        .sum();
    println!(
        "| ses-ledger (ingest and count) | {:.3} | {:.2} | {:.2}x |",
        per(our_requests as f64),
        per(ours),
        ours / naive.units
    );
    println!();
    println!(
        "Per million new recipient events at list prices: writes ${:.2}, reads ${:.3}, a month of storage ${:.2}.",
        per(reported_writes + failed_writes) * USD_PER_MILLION_WRITE_UNITS,
        per(reads) * USD_PER_MILLION_READ_UNITS,
        per(stored as f64) * 1e6 / 1e9 * USD_PER_GB_MONTH,
    );
}

/// What the naive handler wrote: requests and the write units DynamoDB reported for them.
struct NaiveCost {
    requests: u64,
    units: f64,
    /// Average size of the SES JSON each put stored.
    payload_bytes: f64,
}

/// The handler users write first (the baseline of issue 12): for every recipient of every
/// delivered SES message, one unconditional `PutItem` of the SES JSON, so a redelivery writes
/// again. Run against its own table on the same DynamoDB Local, with consumed capacity reported.
async fn naive_handler(
    ddb: &aws_sdk_dynamodb::Client,
    messages: &[serde_json::Value],
) -> NaiveCost {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
        ReturnConsumedCapacity, ScalarAttributeType,
    };
    let table = format!("naive-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute definition")
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("key schema")
    };
    ddb.create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await
        .expect("create the naive handler's table");
    let now = chrono::Utc::now();
    let mut puts = Vec::new();
    for message in messages {
        for inbound in ses_ledger::envelope::split_document(message).expect("simulated documents") {
            let Some(ses) = inbound.content.ses() else {
                continue;
            };
            let payload = ses.to_string();
            for record in ses_ledger::normalise::normalise(ses, &inbound.origin, now)
                .expect("simulated messages are well-formed")
            {
                let pk = record
                    .recipient
                    .clone()
                    .unwrap_or_else(|| record.ses_message_id.clone());
                let sk = format!(
                    "{}#{:?}#{}",
                    record.event_time.to_rfc3339(),
                    record.event_type,
                    record.ses_message_id
                );
                puts.push((pk, sk, payload.clone()));
            }
        }
    }
    let payload_bytes =
        puts.iter().map(|(_, _, p)| p.len()).sum::<usize>() as f64 / puts.len().max(1) as f64;
    let units: Vec<f64> = stream::iter(puts)
        .map(|(pk, sk, payload)| {
            ddb.put_item()
                .table_name(&table)
                .item("pk", AttributeValue::S(pk))
                .item("sk", AttributeValue::S(sk))
                .item("payload", AttributeValue::S(payload))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
        })
        .buffer_unordered(16)
        .map(|answer| {
            answer
                .expect("naive put")
                .consumed_capacity()
                .and_then(|c| c.capacity_units())
                .unwrap_or(0.0)
        })
        .collect()
        .await;
    NaiveCost {
        requests: units.len() as u64,
        units: units.iter().sum(),
        payload_bytes,
    }
}
