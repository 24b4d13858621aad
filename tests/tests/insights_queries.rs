//! Every Logs Insights query we ship keeps the rules AWS documents for the query language
//! (src/insights_grammar.rs names them and their pages): the saved queries of both stacks, for
//! both sets of parameters, the dashboard's log widget, and the queries the alarm and `evidence`
//! generate. They name only fields the event log lines carry, and the saved complaint-rate query
//! is the alarm's and evidence's to the character. Then each runs on the local CloudWatch Logs
//! (moto accepts StartQuery but evaluates only `fields`, `sort`, `limit`: filter and stats
//! semantics can only be checked against AWS, see docs/queries.md).

// Needs the local stack and the templates that scripts/test.sh starts and synthesises; `cargo test
// --workspace` alone compiles this file to nothing (see tests/Cargo.toml).
#![cfg(feature = "local-stack")]

use std::collections::BTreeSet;

use ses_ledger::counters::Scope;
use ses_ledger::insights;
use ses_ledger_integration_tests::insights_grammar;
use ses_ledger_integration_tests::template::{cdk_output, sam_expansion, Deployment};
use ses_ledger_integration_tests::*;

/// The parameters of the suite's alternative deployment that change a query (scripts/test.sh
/// synthesises the CDK app with the same).
const ALTERNATIVE_PROVIDERS: &str = "yahoo,gmx";

/// Each deployment under test, with the feedback-loop providers it was given.
fn deployments() -> Vec<(String, Deployment, Vec<String>)> {
    let defaults: Vec<String> = ses_ledger::config::LedgerConfig::default().feedback_loop_providers;
    let alternative: Vec<String> = ALTERNATIVE_PROVIDERS
        .split(',')
        .map(str::to_string)
        .collect();
    vec![
        (
            "SAM defaults".into(),
            Deployment::load(&sam_expansion(), &[]),
            defaults.clone(),
        ),
        (
            "SAM alternative".into(),
            Deployment::load(
                &sam_expansion(),
                &[("FeedbackLoopProviders", ALTERNATIVE_PROVIDERS)],
            ),
            alternative.clone(),
        ),
        (
            "CDK defaults".into(),
            Deployment::load(&cdk_output("default"), &[]),
            defaults,
        ),
        (
            "CDK alternative".into(),
            Deployment::load(&cdk_output("alternative"), &[]),
            alternative,
        ),
    ]
}

/// A deployment's saved queries, by resource id, as CloudFormation would store them.
fn saved_queries(d: &Deployment) -> Vec<(String, String)> {
    d.of_kind("AWS::Logs::QueryDefinition")
        .map(|q| {
            let text = q
                .prop("QueryString")
                .and_then(|v| v.as_str())
                .unwrap_or_else(|| {
                    panic!("{}: {}'s query does not resolve to text", d.source, q.id)
                });
            (q.id.clone(), text.trim().to_string())
        })
        .collect()
}

/// The queries of a deployment's dashboard log widgets. The body is JSON inside an intrinsic
/// (`Fn::Sub` in SAM, `Fn::Join` in CDK): its text, with each value CloudFormation fills in
/// standing as `X`, is parsed and each log widget's `query` read.
fn dashboard_queries(d: &Deployment) -> Vec<String> {
    fn text(v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Object(o) if o.contains_key("Fn::Sub") => match &o["Fn::Sub"] {
                serde_json::Value::Array(a) => text(&a[0]),
                other => text(other),
            },
            serde_json::Value::Object(o) if o.contains_key("Fn::Join") => o["Fn::Join"][1]
                .as_array()
                .into_iter()
                .flatten()
                .map(|part| part.as_str().map_or("X".to_string(), str::to_string))
                .collect(),
            _ => "X".into(),
        }
    }
    let placeholders = regex::Regex::new(r"\$\{[^}]*\}").expect("regex");
    d.of_kind("AWS::CloudWatch::Dashboard")
        .flat_map(|r| {
            let body = text(r.prop("DashboardBody").unwrap_or(&serde_json::Value::Null));
            let body = placeholders.replace_all(&body, "X").to_string();
            let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| {
                panic!("{}: the dashboard body is not JSON: {e}\n{body}", d.source)
            });
            json["widgets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|w| w["properties"]["query"].as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The queries the alarm and `evidence` generate, for every kind of scope.
fn generated_queries() -> Vec<String> {
    let scopes = [
        Scope::Account,
        Scope::ConfigurationSet("marketing".into()),
        Scope::Identity("example.com".into()),
        Scope::FromDomain("example.com".into()),
        Scope::Provider("yahoo".into()),
        Scope::Tenant("acme".into()),
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

fn assert_valid(what: &str, query: &str, fields: &BTreeSet<String>) {
    if let Err(problems) = insights_grammar::check(query, fields) {
        panic!(
            "{what} breaks what AWS documents:\n- {}\n{query}",
            problems.join("\n- ")
        );
    }
}

#[test]
fn every_saved_dashboard_and_generated_query_keeps_the_documented_grammar() {
    let fields = insights_grammar::event_log_fields();
    for (name, d, _) in deployments() {
        let saved = saved_queries(&d);
        assert_eq!(saved.len(), 7, "{name}: the seven saved queries");
        for (id, q) in &saved {
            assert_valid(&format!("{name}: {id}"), q, &fields);
        }
        let widgets = dashboard_queries(&d);
        assert_eq!(widgets.len(), 1, "{name}: the dashboard's log widget");
        for q in &widgets {
            assert_valid(&format!("{name}: the dashboard"), q, &fields);
        }
    }
    for q in generated_queries() {
        assert_valid("a generated query", &q, &fields);
    }
}

/// The saved complaint-rate query follows `FeedbackLoopProviders` and is, to the character, the
/// query the alarm's alerts and `ses-ledger evidence` name for the account.
#[test]
fn the_saved_complaint_rate_query_is_the_one_the_alerts_name_for_the_providers_given() {
    for (name, d, providers) in deployments() {
        let saved: Vec<String> = saved_queries(&d)
            .into_iter()
            .filter(|(id, _)| id.starts_with("ComplaintRateQuery"))
            .map(|(_, q)| q)
            .collect();
        assert_eq!(
            saved,
            vec![insights::complaint_rate(&Scope::Account, &providers)],
            "{name}"
        );
    }
}

/// The queries the project shipped before, which AWS rejects (`dedup` before `stats` and `sort`),
/// and a from-domain filter without backticks: the checker must refuse each.
#[test]
fn the_checker_refuses_the_queries_aws_rejected() {
    let fields = insights_grammar::event_log_fields();
    for old in [
        "filter event_type in [\"Complaint\", \"Delivery\"]\n| dedup event_id\n| stats sum(event_type = \"Complaint\") as complaints, sum(event_type = \"Delivery\") as deliveries by bin(1h), mailbox_provider\n| sort complaints desc",
        "fields event_time, event_type, ses_message_id\n| filter recipient = \"alice@example.com\"\n| dedup event_id\n| sort event_time desc",
        "filter event_type in [\"Open\", \"Click\"]\n| dedup event_id\n| stats sum(event_type = \"Open\") as opens, count_distinct(ses_message_id) as messages by bin(1d)",
        "fields event_time | filter event_type = \"Complaint\" and (tags.ses:from-domain.0 = \"x\" or source_domain = \"x\") | limit 5",
        "filter event_typ = \"Bounce\" | limit 5",
    ] {
        assert!(
            insights_grammar::check(old, &fields).is_err(),
            "the checker lets through\n{old}"
        );
    }
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
    let saved: Vec<String> = saved_queries(&Deployment::load(&sam_expansion(), &[]))
        .into_iter()
        .map(|(_, q)| q)
        .collect();
    for q in saved.iter().chain(&generated_queries()) {
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
        // Rows carry `@timestamp` where the query's `fields` selects it (moto honours that).
        if q.starts_with("fields @timestamp") {
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
    assert_eq!(checked, 7 + 21);
}
