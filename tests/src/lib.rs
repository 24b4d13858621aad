//! Helpers for integration tests against the local stack started by `scripts/local-stack.sh`
//! (DynamoDB Local and moto on loopback). Each test gets its own table and log group, so tests run
//! in parallel without seeing each other's writes.

pub mod faults;
pub mod insights_grammar;
pub mod ses_v2;
pub mod template;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use ses_ledger::config::LedgerConfig;

/// The repository root (fixtures live in `events/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

pub use ses_ledger::testkit::expected::{
    assert_events_in_order, assert_same_events, expected_events, ExpectedEvent,
};
pub use ses_ledger::testkit::fixtures::{fixture, fixtures_in};

/// The SDK configuration pointed at the local stack. Panics with instructions when the stack's
/// endpoints are not in the environment.
pub async fn local_aws() -> SdkConfig {
    for var in [
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
    ] {
        let value = std::env::var(var).unwrap_or_else(|_| {
            panic!("{var} is not set: run the suite with scripts/test.sh, or `scripts/local-stack.sh start` and source .local-stack/env")
        });
        assert!(
            value.starts_with("http://127.0.0.1:") || value.starts_with("http://localhost:"),
            "{var}={value} is not a loopback endpoint"
        );
    }
    ses_ledger_aws::telemetry::aws_config()
        .await
        .expect("SES_LEDGER_TLS_ROOTS names a trust store")
}

/// A fresh table and log group with a unique name, and the config that points at them.
pub async fn fresh_ledger(aws: &SdkConfig, name: &str) -> LedgerConfig {
    fresh(aws, name, false).await
}

/// [`fresh_ledger`] whose table has a change stream (new and old images).
pub async fn fresh_ledger_with_stream(aws: &SdkConfig, name: &str) -> LedgerConfig {
    fresh(aws, name, true).await
}

async fn fresh(aws: &SdkConfig, name: &str, stream: bool) -> LedgerConfig {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let config = LedgerConfig {
        table_name: format!("{name}-{}", &suffix[..8]),
        event_log_group: format!("/ses-ledger/test/{name}-{}", &suffix[..8]),
        ..LedgerConfig::default()
    };
    let ddb = aws_sdk_dynamodb::Client::new(aws);
    if stream {
        ses_ledger_aws::dynamo::create_table_with_stream(&ddb, &config.table_name).await
    } else {
        ses_ledger_aws::dynamo::create_table(&ddb, &config.table_name).await
    }
    .expect("create table");
    aws_sdk_cloudwatchlogs::Client::new(aws)
        .create_log_group()
        .log_group_name(&config.event_log_group)
        .send()
        .await
        .expect("create log group");
    config
}

pub type Item = HashMap<String, AttributeValue>;

/// Every item of a table, sorted by key, with the attributes that legitimately differ between two
/// otherwise identical ingests (ingestion time inside the record) left as they are.
pub async fn scan_all(client: &aws_sdk_dynamodb::Client, table: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        items.extend(out.items().iter().cloned());
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    items.sort_by_key(|i| (attr_s(i, "pk"), attr_s(i, "sk")));
    items
}

/// The event id of an event item (its sort key after `EVT#`; empty for other items).
pub fn event_id_of(item: &Item) -> String {
    attr_s(item, "sk")
        .strip_prefix("EVT#")
        .unwrap_or_default()
        .to_string()
}

/// Every entry of a table's index, sorted by the table's key.
pub async fn scan_index(client: &aws_sdk_dynamodb::Client, table: &str, index: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut pages = client
        .scan()
        .table_name(table)
        .index_name(index)
        .into_paginator()
        .items()
        .send();
    while let Some(item) = pages.next().await {
        items.push(item.expect("scan index"));
    }
    items.sort_by_key(|i| (attr_s(i, "pk"), attr_s(i, "sk")));
    items
}

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

pub fn attr_s(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

pub fn attr_n(item: &Item, name: &str) -> i64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Every message in every stream of a log group, oldest first.
pub async fn log_messages(
    client: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
) -> Vec<serde_json::Value> {
    log_lines_by_stream(client, group)
        .await
        .into_iter()
        .map(|(_, line)| line)
        .collect()
}

/// [`log_messages`] with the stream each line is in: one stream per function instance.
pub async fn log_lines_by_stream(
    client: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
) -> Vec<(String, serde_json::Value)> {
    // Every page of streams: a group written by many instances has more than one.
    let streams: Vec<String> = client
        .describe_log_streams()
        .log_group_name(group)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|s| s.expect("describe log streams"))
        .filter_map(|s| s.log_stream_name().map(str::to_string))
        .collect();
    let mut messages = Vec::new();
    // moto pages by position in a stream sorted by timestamp, so a line another test writes
    // meanwhile with an earlier timestamp shifts the next page back over lines already read.
    // Lines only ever move later, so paging repeats lines but never skips one: drop repeats.
    // Each delivery's lines differ (their `ingested_at`), so no real line is dropped.
    let mut seen = std::collections::HashSet::new();
    for name in &streams {
        let mut token: Option<String> = None;
        loop {
            let out = client
                .get_log_events()
                .log_group_name(group)
                .log_stream_name(name)
                .start_from_head(true)
                .set_next_token(token.clone())
                .send()
                .await
                .expect("get log events");
            for e in out.events() {
                let text = e.message().unwrap_or_default();
                if !seen.insert((name.clone(), e.timestamp(), text.to_string())) {
                    continue;
                }
                messages.push((
                    name.clone(),
                    serde_json::from_str(text)
                        .unwrap_or_else(|err| panic!("log line is not JSON ({err}): {text}")),
                ));
            }
            let next = out.next_forward_token().map(str::to_string);
            if out.events().is_empty() || next == token {
                break;
            }
            token = next;
        }
    }
    messages
}

/// Wraps SES messages as an SNS -> Lambda event, one record each.
pub fn sns_event(messages: &[serde_json::Value]) -> serde_json::Value {
    ses_ledger::simulate::sns_lambda_event(messages, "00000000-0000-4000-8000")
}

/// Wraps bodies (SNS envelopes or raw SES JSON, as text) as an SQS -> Lambda event; record i gets
/// messageId `sqs-<i>`.
pub fn sqs_event(bodies: &[String]) -> serde_json::Value {
    let records: Vec<serde_json::Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            serde_json::json!({
                "messageId": format!("sqs-{i}"),
                "receiptHandle": "handle",
                "body": body,
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ses-events",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
}

/// A Delivery (event publishing) for `recipients`, from the official example, with its own
/// message id and time.
pub fn delivery(message_id: &str, recipients: &[&str], time: &str) -> serde_json::Value {
    let mut ses = fixture("ses/event-publishing/delivery-record.json");
    ses["mail"]["messageId"] = message_id.into();
    ses["mail"]["timestamp"] = time.into();
    ses["mail"]["destination"] = serde_json::json!(recipients);
    ses["delivery"]["recipients"] = serde_json::json!(recipients);
    ses["delivery"]["timestamp"] = time.into();
    ses
}

/// A bounce (event publishing) of `kind` (`Permanent`/`Transient`) for one recipient.
pub fn bounce(message_id: &str, recipient: &str, kind: &str, time: &str) -> serde_json::Value {
    let mut ses = fixture("ses/event-publishing/bounce-record.json");
    ses["mail"]["messageId"] = message_id.into();
    ses["mail"]["timestamp"] = time.into();
    ses["mail"]["destination"] = serde_json::json!([recipient]);
    ses["bounce"]["bounceType"] = kind.into();
    ses["bounce"]["bounceSubType"] = "General".into();
    ses["bounce"]["bouncedRecipients"][0]["emailAddress"] = recipient.into();
    ses["bounce"]["feedbackId"] = format!("feedback-{message_id}").into();
    ses["bounce"]["timestamp"] = time.into();
    ses
}

/// The recipient events our own parser makes of a document: test *input* (for a log to query),
/// never an expected value, which comes from events/expected ([`expected_events`]). Skipped
/// messages (setup notices) yield nothing; an invalid one fails the test.
pub fn normalised_events(doc: &serde_json::Value) -> Vec<ses_ledger::event::RecipientEvent> {
    use ses_ledger::envelope::Content;
    ses_ledger::envelope::split_document(doc)
        .expect("fixture has a known envelope")
        .into_iter()
        .flat_map(|inbound| match &inbound.content {
            Content::Ses(ses) => {
                ses_ledger::normalise::normalise(ses, &inbound.origin, chrono::Utc::now())
                    .expect("fixture normalises")
            }
            Content::Skipped(_) => Vec::new(),
            Content::Invalid(e) => panic!("fixture record is no SES message: {e}"),
        })
        .collect()
}

/// An SQS queue subscribed to an SNS topic: a test reads exactly what the topic published.
pub struct Inbox {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl Inbox {
    /// Creates the topic (idempotent) and a queue subscribed to it; returns the topic ARN too.
    pub async fn subscribe(aws: &SdkConfig, topic_name: &str, queue_name: &str) -> (String, Inbox) {
        let sns = aws_sdk_sns::Client::new(aws);
        let sqs = aws_sdk_sqs::Client::new(aws);
        let topic = sns
            .create_topic()
            .name(topic_name)
            .send()
            .await
            .expect("topic")
            .topic_arn
            .expect("topic arn");
        let queue_url = sqs
            .create_queue()
            .queue_name(queue_name)
            .send()
            .await
            .expect("queue")
            .queue_url
            .expect("queue url");
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(format!("arn:aws:sqs:us-east-1:123456789012:{queue_name}"))
            .send()
            .await
            .expect("subscribe");
        (topic, Inbox { sqs, queue_url })
    }

    /// The messages that arrive (SNS envelopes as JSON), removed from the queue: waits until
    /// `expected` have come (at most 30 s), then until 2 s pass with nothing new. A "nothing more"
    /// assertion is therefore not fooled by a message that is only late, and a missing one shows
    /// up as a short list, not a hang.
    pub async fn receive(&self, expected: usize) -> Vec<serde_json::Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let quiet = std::time::Duration::from_secs(2);
        let mut last_arrival = std::time::Instant::now();
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("receive");
            for m in got.messages() {
                out.push(serde_json::from_str(m.body().unwrap_or("null")).expect("SNS envelope"));
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .set_receipt_handle(m.receipt_handle().map(str::to_string))
                    .send()
                    .await
                    .expect("delete");
                last_arrival = std::time::Instant::now();
            }
            let now = std::time::Instant::now();
            if (out.len() >= expected && now - last_arrival >= quiet) || now >= deadline {
                return out;
            }
        }
    }
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

fn dynamodb_json(v: &aws_sdk_dynamodbstreams::types::AttributeValue) -> serde_json::Value {
    use aws_sdk_dynamodbstreams::types::AttributeValue as A;
    use serde_json::json;
    match v {
        A::S(s) => json!({ "S": s }),
        A::N(n) => json!({ "N": n }),
        A::Bool(b) => json!({ "BOOL": b }),
        A::Null(_) => json!({ "NULL": true }),
        A::Ss(v) => json!({ "SS": v }),
        A::Ns(v) => json!({ "NS": v }),
        A::L(v) => json!({ "L": v.iter().map(dynamodb_json).collect::<Vec<_>>() }),
        A::M(m) => {
            json!({ "M": m.iter().map(|(k, v)| (k.clone(), dynamodb_json(v))).collect::<serde_json::Map<_, _>>() })
        }
        other => json!({ "unsupported": format!("{other:?}") }),
    }
}

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
    fn value(v: &AttributeValue) -> serde_json::Value {
        use serde_json::json;
        match v {
            AttributeValue::S(s) => json!({ "S": s }),
            AttributeValue::N(n) => json!({ "N": n }),
            AttributeValue::Bool(b) => json!({ "BOOL": b }),
            AttributeValue::Null(_) => json!({ "NULL": true }),
            AttributeValue::Ss(v) => json!({ "SS": v }),
            AttributeValue::Ns(v) => json!({ "NS": v }),
            AttributeValue::L(v) => json!({ "L": v.iter().map(value).collect::<Vec<_>>() }),
            AttributeValue::M(m) => json!({ "M": item_json(m) }),
            other => json!({ "unsupported": format!("{other:?}") }),
        }
    }
    serde_json::Value::Object(item.iter().map(|(k, v)| (k.clone(), value(v))).collect())
}
