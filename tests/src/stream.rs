//! The table's change stream for the tests: DynamoDB Local's own (`stream_batches`), the count
//! function run over it as the event source mapping would (`count_window`, `count_stream`), and a
//! stand-in for volumes DynamoDB Local's stream is too slow for (`TableDiffStream`).

use std::collections::{BTreeMap, HashMap};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use ses_ledger::config::LedgerConfig;

use crate::{attr_n, attr_s, scan_all, Item};

/// What handing stream records to the count function did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// Records that added to some counter.
    pub records: usize,
    /// Counter updates written.
    pub writes: usize,
    /// Counter updates found written by an earlier attempt.
    pub found: usize,
    /// Invocations of the count function, closing ones included.
    pub invocations: usize,
}

/// The shard name the emulated stream uses (a real one looks like `shardId-<digits>-<hex>`).
pub const EMULATED_SHARD: &str = "shardId-00000000000000000000-emulated";

/// One tumbling window of one shard through the count function, as the event source mapping
/// runs it: each batch with the state the invocation before returned, then the invocation that
/// closes the window (no records).
pub async fn count_window<W: ses_ledger::ports::CounterWriter>(
    count: &ses_ledger::usecase::Count<W>,
    shard: &str,
    batches: &[Vec<serde_json::Value>],
) -> Counted {
    let mut counted = Counted::default();
    let closing = std::iter::once(Vec::new());
    let invocations = batches
        .iter()
        .cloned()
        .map(|b| (b, false))
        .chain(closing.map(|b| (b, true)));
    for (records, closes) in invocations {
        let event = serde_json::json!({
            "Records": records,
            "shardId": shard,
            "state": {},
            "isFinalInvokeForWindow": closes,
            "isWindowTerminatedEarly": false,
        });
        let done = ses_ledger_count::count(count, &event)
            .await
            .expect("the count function takes every invocation");
        assert!(done.skipped.is_empty(), "{:?}", done.skipped);
        counted.records += done.report.counted;
        counted.writes += done.report.writes + done.report.resumed;
        counted.found += done.report.found;
        counted.invocations += 1;
    }
    counted
}

/// Hands everything the table's change stream holds to the count function, each shard as one
/// window of its batches, as the event source mapping would. It reads from the start of the
/// stream each time: records already counted add nothing, and records that joined the stream
/// since are added after them (the counters' marks tell them apart).
pub async fn count_stream(aws: &SdkConfig, config: &LedgerConfig) -> Counted {
    let count = ses_ledger::usecase::Count {
        counters: ses_ledger_aws::dynamo::DynamoLedger::new(
            aws_sdk_dynamodb::Client::new(aws),
            config.clone(),
        ),
    };
    let mut counted = Counted::default();
    for (shard, batches) in stream_batches(aws, &config.table_name).await {
        let window = count_window(&count, &shard, &batches).await;
        counted.records += window.records;
        counted.writes += window.writes;
        counted.found += window.found;
        counted.invocations += window.invocations;
    }
    counted
}

/// Every record of a table's change stream (DynamoDB Local's), shard by shard, in pages of 100
/// as Lambda stream events' `Records`.
pub async fn stream_batches(
    aws: &SdkConfig,
    table: &str,
) -> Vec<(String, Vec<Vec<serde_json::Value>>)> {
    use aws_sdk_dynamodbstreams::types::ShardIteratorType;
    let ddb = aws_sdk_dynamodb::Client::new(aws);
    // DynamoDB Local serves the streams API on its own port; never let the SDK fall back to AWS.
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("the local stack's DynamoDB");
    let streams = aws_sdk_dynamodbstreams::Client::from_conf(
        aws_sdk_dynamodbstreams::config::Builder::from(aws)
            .endpoint_url(endpoint)
            .build(),
    );
    let arn = ddb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .expect("DescribeTable")
        .table
        .and_then(|t| t.latest_stream_arn)
        .expect("the table has a stream");
    let shards = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .expect("DescribeStream")
        .stream_description
        .map(|d| d.shards.unwrap_or_default())
        .unwrap_or_default();
    let mut by_shard = Vec::new();
    for shard in shards {
        let mut batches = Vec::new();
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard.shard_id().unwrap_or_default())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("GetShardIterator")
            .shard_iterator;
        while let Some(it) = iterator {
            let page = streams
                .get_records()
                .shard_iterator(it)
                .limit(100)
                .send()
                .await
                .expect("GetRecords");
            let records = page.records();
            if records.is_empty() {
                break;
            }
            batches.push(records.iter().map(lambda_record).collect());
            iterator = page.next_shard_iterator;
        }
        by_shard.push((shard.shard_id().unwrap_or_default().to_string(), batches));
    }
    by_shard
}

/// A stream record as Lambda hands it to a function.
fn lambda_record(record: &aws_sdk_dynamodbstreams::types::Record) -> serde_json::Value {
    let image = |i: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
        i.map(|i| {
            serde_json::Value::Object(
                i.iter()
                    .map(|(k, v)| (k.clone(), dynamodb_json(v)))
                    .collect(),
            )
        })
    };
    let ddb = record.dynamodb();
    let mut change = serde_json::json!({
        "SequenceNumber": ddb.and_then(|d| d.sequence_number()),
    });
    if let Some(new) = image(ddb.and_then(|d| d.new_image.as_ref())) {
        change["NewImage"] = new;
    }
    if let Some(old) = image(ddb.and_then(|d| d.old_image.as_ref())) {
        change["OldImage"] = old;
    }
    serde_json::json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().map(|n| n.as_str()),
        "eventSource": "aws:dynamodb",
        "dynamodb": change,
    })
}

/// DynamoDB JSON (`{"S": ...}`, as stream images carry it) of an attribute value, for either
/// SDK's type (the streams client has its own): one definition for both.
macro_rules! attribute_json {
    ($name:ident, $value:ty) => {
        fn $name(v: &$value) -> serde_json::Value {
            use serde_json::json;
            type A = $value;
            match v {
                A::S(s) => json!({ "S": s }),
                A::N(n) => json!({ "N": n }),
                A::Bool(b) => json!({ "BOOL": b }),
                A::Null(_) => json!({ "NULL": true }),
                A::Ss(v) => json!({ "SS": v }),
                A::Ns(v) => json!({ "NS": v }),
                A::L(v) => json!({ "L": v.iter().map($name).collect::<Vec<_>>() }),
                A::M(m) => json!({
                    "M": m
                        .iter()
                        .map(|(k, v)| (k.clone(), $name(v)))
                        .collect::<serde_json::Map<_, _>>()
                }),
                other => json!({ "unsupported": format!("{other:?}") }),
            }
        }
    };
}

attribute_json!(
    dynamodb_json,
    aws_sdk_dynamodbstreams::types::AttributeValue
);
attribute_json!(attribute_value_json, AttributeValue);

/// A stand-in for the table's change stream in tests too large for DynamoDB Local's: each
/// [`TableDiffStream::count`] scans the table and hands the count function's handler what the
/// stream would have delivered since the last call, as Lambda stream events. An event item seen
/// for the first time is an INSERT; one whose `scopes` grew is a MODIFY with the old scopes; the
/// rest are skipped as the stream would never repeat them. Records come in the order of their
/// ingestion time (`ing`), as the writes were made. Sequence numbers continue from call to
/// call, so batches never overlap. Why it exists: DynamoDB Local's cost per write to a table
/// with a stream grows with every stream record the instance has ever held (measured 4 ms a put
/// fresh, 66 ms after the suite; docs/local-stack.md), so only the small tests use the real
/// stream, and the parser, use case and counter writer are the same either way.
#[derive(Default)]
pub struct TableDiffStream {
    seen: HashMap<(String, String), Vec<String>>,
    next_sequence: u64,
}

/// How the count function's event source mapping cuts the stream: into tumbling windows of
/// `tumbling_window_seconds` by arrival time, and each window into batches that close when they
/// hold `max_records` or `window_seconds` after their first record arrived.
#[derive(Debug, Clone, Copy)]
pub struct StreamBatching {
    pub max_records: usize,
    /// `None`: batches are cut by size alone, as for a backlog the mapping drains at once.
    pub window_seconds: Option<u32>,
    pub tumbling_window_seconds: u32,
}

impl StreamBatching {
    /// The count function's mapping (template.yaml, `CountStreamSource`; a template invariant
    /// holds the two equal).
    pub const COUNT_FUNCTION: StreamBatching = StreamBatching {
        max_records: 1000,
        window_seconds: Some(300),
        tumbling_window_seconds: 900,
    };
}

impl TableDiffStream {
    /// Counts what changed since the last call, as the count function's mapping would have
    /// delivered it had the changes arrived when they were ingested; returns the records that
    /// added to a counter.
    pub async fn count(&mut self, aws: &SdkConfig, config: &LedgerConfig) -> usize {
        let ledger = ses_ledger_aws::dynamo::DynamoLedger::new(
            aws_sdk_dynamodb::Client::new(aws),
            config.clone(),
        );
        self.count_into(&ledger, StreamBatching::COUNT_FUNCTION, Arrival::Ingestion)
            .await
            .records
    }

    /// [`TableDiffStream::count`] through a given counter writer (whose capacity meter then
    /// holds the counting cost), cut as `batching` says, with records arriving at their
    /// ingestion time or at their event's time. The latter batches a simulated month ingested in
    /// minutes as the month itself would have been, had the ledger run live.
    pub async fn count_into(
        &mut self,
        ledger: &ses_ledger_aws::dynamo::DynamoLedger,
        batching: StreamBatching,
        arrival_by: Arrival,
    ) -> Counted {
        let ddb = ledger.client().clone();
        let config = ledger.config().clone();
        let mut records = Vec::new();
        let mut items = scan_all(&ddb, &config.table_name).await;
        // The stream's order is the order of the writes: by ingestion time, or by the time the
        // event would have arrived.
        let arrival = |i: &Item| match arrival_by {
            Arrival::EventTime => chrono::DateTime::parse_from_rfc3339(&attr_s(i, "at"))
                .map(|t| t.timestamp_millis())
                .unwrap_or(0),
            Arrival::Ingestion => attr_n(i, "ing"),
        };
        items.sort_by_key(|i| (arrival(i), attr_s(i, "pk"), attr_s(i, "sk")));
        for item in items {
            if !item.contains_key("count_bucket") {
                continue;
            }
            let key = (attr_s(&item, "pk"), attr_s(&item, "sk"));
            let scopes: Vec<String> = match item.get("scopes") {
                Some(AttributeValue::Ss(v)) => v.clone(),
                _ => Vec::new(),
            };
            let previous = self.seen.insert(key, scopes.clone());
            let (name, old) = match previous {
                None => ("INSERT", None),
                Some(old) if old.len() < scopes.len() => ("MODIFY", Some(old)),
                Some(_) => continue,
            };
            self.next_sequence += 1;
            let mut change = serde_json::json!({
                "SequenceNumber": format!("{}", 100_000_000 + self.next_sequence),
                "NewImage": item_json(&item),
            });
            if let Some(old) = old {
                let mut image = item.clone();
                image.insert("scopes".into(), AttributeValue::Ss(old));
                change["OldImage"] = item_json(&image);
            }
            records.push((
                arrival(&item),
                serde_json::json!({
                    "eventName": name,
                    "eventSource": "aws:dynamodb",
                    "dynamodb": change,
                }),
            ));
        }
        let count = ses_ledger::usecase::Count { counters: ledger };
        let mut counted = Counted::default();
        let window_ms = i64::from(batching.tumbling_window_seconds.max(1)) * 1000;
        let mut windows: BTreeMap<i64, Vec<(i64, serde_json::Value)>> = BTreeMap::new();
        for (at, record) in records {
            windows
                .entry(at.div_euclid(window_ms))
                .or_default()
                .push((at, record));
        }
        for records in windows.into_values() {
            let batches = cut_batches(records, batching);
            let window = count_window(&count, EMULATED_SHARD, &batches).await;
            counted.records += window.records;
            counted.writes += window.writes;
            counted.found += window.found;
            counted.invocations += window.invocations;
        }
        counted
    }
}

/// When a change record reaches the stream, for [`TableDiffStream::count_into`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// When it was written (`ing`).
    Ingestion,
    /// When its event happened (`at`): as if every event had been ingested as it occurred.
    EventTime,
}

/// Cuts `(arrival in ms, record)` pairs, in arrival order, into batches.
fn cut_batches(
    records: Vec<(i64, serde_json::Value)>,
    batching: StreamBatching,
) -> Vec<Vec<serde_json::Value>> {
    let window_ms = batching.window_seconds.map(|w| i64::from(w) * 1000);
    let mut batches: Vec<Vec<serde_json::Value>> = Vec::new();
    let mut opened_at = i64::MIN;
    for (arrival, record) in records {
        let closed = match batches.last() {
            None => true,
            Some(batch) => {
                batch.len() >= batching.max_records.max(1)
                    || window_ms.is_some_and(|w| arrival.saturating_sub(opened_at) >= w)
            }
        };
        if closed {
            batches.push(Vec::new());
            opened_at = arrival;
        }
        if let Some(batch) = batches.last_mut() {
            batch.push(record);
        }
    }
    batches
}

/// An item in DynamoDB JSON, as stream images carry it.
fn item_json(item: &Item) -> serde_json::Value {
    serde_json::Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), attribute_value_json(v)))
            .collect(),
    )
}
