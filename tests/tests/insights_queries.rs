//! The Logs Insights queries (saved in template.yaml and generated for alerts and evidence) only
//! name fields the event log lines carry, use only Logs Insights commands, and run on the local
//! CloudWatch Logs (moto accepts StartQuery but evaluates only `fields`, `sort`, `limit`: filter
//! and stats semantics can only be checked against AWS, see docs/queries.md).

// Needs the local stack that scripts/test.sh starts; `cargo test --workspace` alone compiles
// this file to nothing (see tests/Cargo.toml).
#![cfg(feature = "local-stack")]

use std::collections::BTreeSet;

use ses_ledger::counters::Scope;
use ses_ledger::insights;
use ses_ledger_integration_tests::*;

/// `QueryString: |` blocks of template.yaml.
fn template_queries() -> Vec<String> {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).expect("template");
    let mut queries = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "QueryString: |" {
            let indent = line.len() - line.trim_start().len() + 2;
            let mut q = Vec::new();
            while let Some(next) = lines.peek() {
                if !next.trim().is_empty() && next.len() - next.trim_start().len() < indent {
                    break;
                }
                q.push(next.get(indent..).unwrap_or("").to_string());
                lines.next();
            }
            queries.push(q.join("\n").trim().to_string());
        }
    }
    queries
}

/// Every field name a log line can carry (from a fully populated record of every fixture).
fn log_fields() -> BTreeSet<String> {
    let mut fields = BTreeSet::new();
    for folder in ["sns", "oddities"] {
        for (_, doc) in fixtures_in(folder) {
            for event in normalised_events(&doc) {
                collect(
                    &serde_json::to_value(&event).expect("json"),
                    "",
                    &mut fields,
                );
            }
        }
    }
    fields
}

fn collect(v: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Some(map) = v.as_object() {
        for (k, v) in map {
            let name = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            out.insert(name.clone());
            collect(v, &name, out);
        }
    }
}

const COMMANDS: &[&str] = &[
    "fields", "filter", "stats", "sort", "limit", "dedup", "parse", "display",
];
const WORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "like",
    "as",
    "by",
    "asc",
    "desc",
    "count",
    "sum",
    "count_distinct",
    "bin",
    "ispresent",
    "true",
    "false",
    "SOURCE",
];

/// Identifiers a query uses as fields: words outside string literals that are not commands,
/// keywords, functions, aliases (`as x`) or numbers.
fn referenced_fields(query: &str) -> BTreeSet<String> {
    let mut stripped = String::new();
    let mut in_string = false;
    let mut escaped = false;
    for c in query.chars() {
        match (in_string, c) {
            (true, '\\') if !escaped => escaped = true,
            (true, '"') if !escaped => in_string = false,
            (true, _) => escaped = false,
            (false, '"') => in_string = true,
            (false, c) => stripped.push(c),
        }
    }
    let aliases: BTreeSet<String> = stripped
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] == "as")
        .map(|w| w[1].trim_end_matches(',').to_string())
        .collect();
    stripped
        .split(|c: char| {
            !(c.is_alphanumeric()
                || c == '_'
                || c == '.'
                || c == '@'
                || c == ':'
                || c == '-'
                || c == '`')
        })
        .map(|w| w.trim_matches('`').trim_end_matches('.'))
        .filter(|w| !w.is_empty() && !w.starts_with('@'))
        .filter(|w| !w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .filter(|w| !COMMANDS.contains(w) && !WORDS.contains(w) && !aliases.contains(*w))
        .map(str::to_string)
        .collect()
}

fn check(query: &str, fields: &BTreeSet<String>) {
    let mut quotes = 0;
    let mut escaped = false;
    for c in query.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => quotes += 1,
            _ => escaped = false,
        }
    }
    assert_eq!(quotes % 2, 0, "unbalanced quotes in\n{query}");
    for stage in query.split('|') {
        let command = stage.split_whitespace().next().unwrap_or_default();
        assert!(
            COMMANDS.contains(&command),
            "unknown command {command:?} in\n{query}"
        );
    }
    for field in referenced_fields(query) {
        // `tags.<name>.0` fields exist whenever the tag does.
        let known = fields.contains(&field) || field.starts_with("tags.");
        assert!(
            known,
            "{field:?} is not a field of the event log lines, in\n{query}"
        );
    }
}

/// The queries the alarm and `evidence` generate, for every kind of scope.
fn generated_queries() -> Vec<String> {
    let scopes = [
        Scope::Account,
        Scope::ConfigurationSet("marketing".into()),
        Scope::Identity("example.com".into()),
        Scope::FromDomain("example.com".into()),
        Scope::Provider("yahoo".into()),
        Scope::Tag {
            name: "tenant".into(),
            value: "acme".into(),
        },
    ];
    let mut generated = Vec::new();
    for s in &scopes {
        generated.push(insights::complaints(s));
        generated.push(insights::hard_bounces(s));
        generated.push(insights::complaint_rate(
            s,
            &["yahoo".into(), "microsoft".into()],
        ));
    }
    generated
}

#[test]
fn every_query_names_only_fields_the_log_lines_carry() {
    let fields = log_fields();
    let saved = template_queries();
    assert_eq!(saved.len(), 7, "the seven saved queries of template.yaml");
    let generated = generated_queries();
    for q in saved.iter().chain(&generated) {
        check(q, &fields);
    }
}

#[test]
fn the_checker_catches_a_misspelt_field() {
    let fields = log_fields();
    let result =
        std::panic::catch_unwind(|| check("filter event_typ = \"Bounce\" | limit 5", &fields));
    assert!(result.is_err());
}

/// Runs a query to completion and returns its rows as `field -> value` maps.
async fn run_query(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    query: &str,
    range: std::ops::Range<chrono::DateTime<chrono::Utc>>,
) -> Vec<std::collections::BTreeMap<String, String>> {
    use aws_sdk_cloudwatchlogs::types::QueryStatus;
    let id = logs
        .start_query()
        .log_group_name(group)
        .start_time(range.start.timestamp())
        .end_time(range.end.timestamp())
        .query_string(query)
        .send()
        .await
        .unwrap_or_else(|e| panic!("StartQuery refused\n{query}\n{e:?}"))
        .query_id
        .expect("query id");
    for _ in 0..100 {
        let result = logs
            .get_query_results()
            .query_id(&id)
            .send()
            .await
            .expect("GetQueryResults");
        match result.status() {
            Some(QueryStatus::Complete) => {
                return result
                    .results()
                    .iter()
                    .map(|row| {
                        row.iter()
                            .filter_map(|f| Some((f.field()?.to_string(), f.value()?.to_string())))
                            .collect()
                    })
                    .collect()
            }
            Some(QueryStatus::Running | QueryStatus::Scheduled) | None => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await
            }
            Some(other) => panic!("query ended {other:?}\n{query}"),
        }
    }
    panic!("query did not complete in 10 s\n{query}")
}

/// Every saved and generated query runs to completion on the local CloudWatch Logs and returns
/// the lines of its time range. moto evaluates the time range, `limit`, `sort @timestamp` and
/// the `@` fields of `fields`; it ignores `filter`, `stats`, `dedup`, `bin`, `parse`, `display`
/// and non-`@` fields, so each query answers every line in its range (docs/queries.md).
/// That still checks what is ours: the line timestamps the queries' time ranges select on.
#[tokio::test]
async fn queries_complete_over_the_lines_of_their_time_range_on_local_cloudwatch_logs() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "insights").await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&aws);
    let log = ses_ledger_aws::cloudwatch_logs::CloudWatchEventLog::new(
        logs.clone(),
        &config.event_log_group,
        "q",
    );
    let now = chrono::Utc::now();
    // The official examples date from 2016-2022: too old for CloudWatch, so stamped "now".
    let backfill = normalised_events(&fixture("sns/batch-all-types.json"));
    assert_eq!(backfill.len(), 16);
    // Three recent deliveries keep their own time, three hours ago.
    let three_hours_ago = now - chrono::Duration::hours(3);
    let recent = normalised_events(&delivery(
        "recent",
        &["a@example.com", "b@example.com", "c@example.com"],
        &three_hours_ago.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    ));
    assert_eq!(recent.len(), 3);
    for batch in [&backfill, &recent] {
        ses_ledger::ports::EventLog::append(&log, batch)
            .await
            .expect("append");
    }
    let hour = chrono::Duration::hours(1);
    let mut checked = 0;
    for q in template_queries().iter().chain(&generated_queries()) {
        let latest = run_query(&logs, &config.event_log_group, q, now - hour..now + hour).await;
        assert_eq!(latest.len(), backfill.len(), "backfilled lines\n{q}");
        let earlier = run_query(
            &logs,
            &config.event_log_group,
            q,
            now - hour * 4..now - hour * 2,
        )
        .await;
        assert_eq!(earlier.len(), recent.len(), "recent lines\n{q}");
        if q.contains("@timestamp") {
            let stamps: BTreeSet<String> = earlier
                .iter()
                .map(|row| row.get("@timestamp").cloned().unwrap_or_default())
                .collect();
            assert_eq!(
                stamps,
                BTreeSet::from([three_hours_ago.timestamp_millis().to_string()]),
                "recent lines carry their event time\n{q}"
            );
            let stamped_now = latest.iter().all(|row| {
                row.get("@timestamp")
                    .and_then(|t| t.parse::<i64>().ok())
                    .is_some_and(|t| (t - now.timestamp_millis()).abs() < 600_000)
            });
            assert!(
                stamped_now,
                "backfilled lines carry the ingestion time\n{q}"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 7 + 18);
}
