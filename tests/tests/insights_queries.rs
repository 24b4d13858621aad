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

#[test]
fn every_query_names_only_fields_the_log_lines_carry() {
    let fields = log_fields();
    let saved = template_queries();
    assert_eq!(saved.len(), 6, "the six saved queries of template.yaml");
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

#[tokio::test]
async fn queries_start_and_return_the_fields_they_select_on_local_cloudwatch_logs() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "insights").await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&aws);
    let log = ses_ledger_aws::cloudwatch_logs::CloudWatchEventLog::new(
        logs.clone(),
        &config.event_log_group,
        "q",
    );
    let events = normalised_events(&fixture("sns/batch-all-types.json"));
    ses_ledger::ports::EventLog::append(&log, &events)
        .await
        .expect("append");
    let now = chrono::Utc::now().timestamp();
    for q in template_queries() {
        let started = logs
            .start_query()
            .log_group_name(&config.event_log_group)
            .start_time(now - 86_400 * 3650)
            .end_time(now + 3600)
            .query_string(&q)
            .send()
            .await
            .unwrap_or_else(|e| panic!("StartQuery refused\n{q}\n{e:?}"));
        let id = started.query_id().expect("query id").to_string();
        let result = logs
            .get_query_results()
            .query_id(&id)
            .send()
            .await
            .expect("results");
        assert!(result.status().is_some(), "{q}");
    }
}
