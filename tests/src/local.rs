//! The local stack as the tests reach it: the SDK configuration pointed at it, a fresh table
//! and log group per test, scans of what was written, and the lines of a log group.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use ses_ledger::config::LedgerConfig;

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
