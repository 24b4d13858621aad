//! `ses-ledger doctor`: proves, in the operator's own account, that what SES produces reaches
//! the ledger and is counted, or says what is missing and how to fix it. Reads the deployed
//! stack's outputs, then checks the stack (functions, errors, dead letters, the stream's lag, the
//! alarm's runs), how SES points at it (configuration sets, identities), how much of SES's own
//! count the ledger holds, the saved queries and the alert subscriptions; `--canary` also sends
//! mail to SES's mailbox simulator and follows it into the ledger.
//!
//! `rules` judges (pure), `aws` reads, `canary` sends and waits; this module puts them in order.

mod aws;
pub mod canary;
mod check;
mod rules;

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, DurationRound, TimeDelta, Utc};
use clap::{Args, ValueEnum};
use futures::StreamExt;
use ses_ledger::counters::{Metric, Scope};
use ses_ledger::ports::CounterReader;
use ses_ledger_aws::cloudformation::StackOutputs;
use ses_ledger_aws::dynamo::DynamoLedger;

use crate::common::Target;
use aws::{Clients, MetricQuery};
use check::{Check, Report};
use rules::Coverage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum DoctorOutput {
    /// One line per check.
    #[default]
    Text,
    /// One JSON document.
    Json,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[arg(long, value_enum, default_value = "text")]
    pub output: DoctorOutput,
    /// Also send one message to each SES mailbox simulator address through SES (SendEmail with
    /// the stack's configuration set) and wait until each event is in the ledger, the event log
    /// and the counters. Costs five messages at SES's price.
    #[arg(long)]
    pub canary: bool,
    /// The configuration set the canary sends with (default: the stack's ConfigurationSetName
    /// output). It must publish every counted event type to the stack's topic.
    #[arg(long)]
    pub configuration_set: Option<String>,
    /// The canary's From address, at an identity verified for sending (default:
    /// `ses-ledger-canary@` a verified domain).
    #[arg(long)]
    pub from: Option<String>,
    /// How long the canary waits for every event, in seconds.
    #[arg(long, default_value_t = 300)]
    pub canary_timeout: u64,
    /// How long each saved query may run, in seconds.
    #[arg(long, default_value_t = 60)]
    pub query_timeout: u64,
    #[command(flatten)]
    pub target: Target,
}

/// Runs every check (and the canary when asked), prints the report, and exits 0 when nothing
/// failed, 1 when something did. A stack that cannot be read at all is an error (exit 2).
pub async fn run(args: &DoctorArgs) -> anyhow::Result<ExitCode> {
    if args.target.stack.is_none() {
        anyhow::bail!(
            "doctor reads everything from the deployed stack: give --stack NAME (or SES_LEDGER_STACK)"
        );
    }
    let sdk = args.target.sdk_config().await;
    let names = args.target.names(&sdk).await?;
    let stack = names
        .stack
        .clone()
        .ok_or_else(|| anyhow::anyhow!("--stack gave no outputs"))?;
    let ledger = args.target.ledger(&sdk).await?;
    let clients = Clients::new(&sdk);
    let now = Utc::now();
    let mut report = Report {
        stack: stack.name.clone(),
        checks: Vec::new(),
    };
    report
        .checks
        .extend(stack_checks(&clients, &stack, now).await);
    let (ses_checks, publishing) = ses_checks(&clients, &stack).await;
    let cause = likely_cause(&ses_checks, &publishing);
    report.checks.extend(ses_checks);
    report
        .checks
        .extend(coverage_checks(&clients, &ledger, now, cause.as_deref()).await);
    report.checks.extend(
        query_checks(
            &clients,
            &stack,
            now,
            StdDuration::from_secs(args.query_timeout),
        )
        .await,
    );
    report.checks.extend(alert_checks(&clients, &stack).await);
    if args.canary {
        let plan = canary::Plan {
            configuration_set: args
                .configuration_set
                .clone()
                .or_else(|| stack.get("ConfigurationSetName").map(str::to_string)),
            from: args.from.clone(),
            timeout: StdDuration::from_secs(args.canary_timeout),
            publishing: publishing.clone(),
        };
        report
            .checks
            .extend(canary::run(&clients, &ledger, &names.log_group, &plan).await);
    }
    match args.output {
        DoctorOutput::Text => print!("{}", report.to_text()),
        DoctorOutput::Json => println!("{}", serde_json::to_string_pretty(&report.to_json())?),
    }
    Ok(if report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A failed check for a read that AWS refused, naming the permission it needs.
fn unreadable(
    area: &'static str,
    subject: impl Into<String>,
    error: String,
    action: &str,
) -> Check {
    Check::fail(
        area,
        subject,
        format!("could not read it: {error}"),
        format!("the caller needs {action} (README, \"Permissions of doctor\")"),
    )
}

async fn stack_checks(c: &Clients, stack: &StackOutputs, now: DateTime<Utc>) -> Vec<Check> {
    let mut checks = Vec::new();
    let missing: Vec<&str> = ses_ledger_aws::cloudformation::DOCTOR_OUTPUTS
        .iter()
        .copied()
        .filter(|o| stack.get(o).is_none())
        .collect();
    if missing.is_empty() {
        checks.push(Check::pass(
            "stack",
            "outputs",
            format!(
                "all {} outputs doctor reads are present",
                ses_ledger_aws::cloudformation::DOCTOR_OUTPUTS.len()
            ),
        ));
    } else {
        checks.push(Check::fail(
            "stack",
            "outputs",
            format!("missing {}", missing.join(", ")),
            "update the stack to this version's template (sam deploy / cdk deploy)",
        ));
    }
    let functions: Vec<(&str, &str)> = [
        "IngestFunctionName",
        "CountFunctionName",
        "AlarmFunctionName",
    ]
    .into_iter()
    .filter_map(|o| stack.get(o).map(|name| (o, name)))
    .collect();
    for (output, name) in &functions {
        checks.push(match aws::function_state(c, name).await {
            Ok(s) => rules::judge_function(
                output,
                name,
                s.state.as_deref(),
                s.last_update.as_deref(),
                s.reason.as_deref(),
            ),
            Err(e) => unreadable(
                "stack",
                format!("function {output}"),
                e,
                "lambda:GetFunction",
            ),
        });
    }
    checks.extend(function_metric_checks(c, stack, &functions, now).await);
    for (output, what, replay) in [
        (
            "IngestDeadLetterQueueUrl",
            "ingest dead-letter queue",
            "fix the cause in the ingest function's log, then move the messages back with SQS's redrive (aws sqs start-message-move-task) or save them and `ses-ledger replay` the file",
        ),
        (
            "CountDeadLetterQueueUrl",
            "count dead-letter queue",
            "each message names a stream range the counters missed; fix the count function's errors, then recount that range (docs/deployment.md, \"Counting\")",
        ),
    ] {
        if let Some(url) = stack.get(output) {
            checks.push(match aws::queue_depth(c, url).await {
                Ok(depth) => rules::judge_dead_letters(what, url, depth, replay),
                Err(e) => unreadable("stack", what, e, "sqs:GetQueueAttributes"),
            });
        }
    }
    checks
}

/// Errors and throttles of each function over the last day, the count mapping's iterator age
/// over the last hour, and the alarm function's last run without an error: three GetMetricData
/// calls, whatever the traffic.
async fn function_metric_checks(
    c: &Clients,
    stack: &StackOutputs,
    functions: &[(&str, &str)],
    now: DateTime<Utc>,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let lambda = |id: String, name: &'static str, function: &str, stat: &'static str| MetricQuery {
        id,
        namespace: "AWS/Lambda",
        name,
        dimensions: vec![("FunctionName", function.to_string())],
        stat,
    };
    let mut day = Vec::new();
    for (i, (_, name)) in functions.iter().enumerate() {
        for metric in ["Invocations", "Errors", "Throttles"] {
            day.push(lambda(
                format!("m{i}{}", metric.to_lowercase()),
                metric,
                name,
                "Sum",
            ));
        }
    }
    match aws::metric_points(c, &day, now - Duration::hours(24), now, 3600).await {
        Ok(points) => {
            let sum = |id: String| {
                points
                    .get(&id)
                    .map_or(0.0, |p| p.iter().map(|(_, v)| v).sum::<f64>()) as u64
            };
            for (i, (output, name)) in functions.iter().enumerate() {
                checks.push(rules::judge_errors(
                    output,
                    name,
                    sum(format!("m{i}invocations")),
                    sum(format!("m{i}errors")),
                    sum(format!("m{i}throttles")),
                ));
            }
        }
        Err(e) => checks.push(unreadable(
            "stack",
            "function errors and throttles",
            e,
            "cloudwatch:GetMetricData",
        )),
    }
    if let Some(count) = stack.get("CountFunctionName") {
        let q = [lambda("age".into(), "IteratorAge", count, "Maximum")];
        checks.push(
            match aws::metric_points(c, &q, now - Duration::hours(1), now, 60).await {
                Ok(points) => rules::judge_iterator_age(
                    points
                        .get("age")
                        .and_then(|p| p.iter().map(|(_, v)| *v).reduce(f64::max)),
                ),
                Err(e) => unreadable(
                    "stack",
                    "count mapping's iterator age",
                    e,
                    "cloudwatch:GetMetricData",
                ),
            },
        );
    }
    if let Some(alarm) = stack.get("AlarmFunctionName") {
        let q = [
            lambda("inv".into(), "Invocations", alarm, "Sum"),
            lambda("err".into(), "Errors", alarm, "Sum"),
        ];
        let every = stack
            .parameters
            .get("AlarmSchedule")
            .and_then(|s| rules::schedule_minutes(s))
            .unwrap_or(15);
        checks.push(
            match aws::metric_points(c, &q, now - Duration::hours(24), now, 300).await {
                Ok(points) => {
                    let errors: std::collections::BTreeMap<i64, f64> =
                        points.get("err").into_iter().flatten().copied().collect();
                    let last_success = points
                        .get("inv")
                        .into_iter()
                        .flatten()
                        .filter(|(t, v)| *v > errors.get(t).copied().unwrap_or(0.0))
                        .map(|(t, _)| *t)
                        .max();
                    rules::judge_alarm_runs(
                        last_success.map(|t| ((now.timestamp() - t) / 60).max(0)),
                        every,
                    )
                }
                Err(e) => unreadable(
                    "stack",
                    "alarm function's last successful run",
                    e,
                    "cloudwatch:GetMetricData",
                ),
            },
        );
    }
    checks
}

/// Configuration sets and identities: which publish to the stack. Returns the checks and the
/// configuration sets that publish every counted event type to the stack's topic.
async fn ses_checks(c: &Clients, stack: &StackOutputs) -> (Vec<Check>, BTreeSet<String>) {
    let Some(topic) = stack.get("SesEventTopicArn") else {
        return (Vec::new(), BTreeSet::new());
    };
    let mut checks = Vec::new();
    let sets = match aws::configuration_sets(c).await {
        Ok(sets) => sets,
        Err(e) => {
            checks.push(unreadable(
                "ses",
                "configuration sets",
                e,
                "ses:ListConfigurationSets",
            ));
            Vec::new()
        }
    };
    // Eight at a time: SES's control-plane calls are rate limited per account.
    let read: Vec<(String, Result<Vec<rules::EventDestination>, String>)> =
        futures::stream::iter(sets.iter().cloned())
            .map(|set| async move {
                let d = aws::event_destinations(c, &set).await;
                (set, d)
            })
            .buffer_unordered(8)
            .collect()
            .await;
    let mut destinations = Vec::new();
    for (set, result) in read {
        match result {
            Ok(d) => destinations.extend(d),
            Err(e) => checks.push(unreadable(
                "ses",
                format!("configuration set {set}"),
                e,
                "ses:GetConfigurationSetEventDestinations",
            )),
        }
    }
    let (set_checks, publishing) = rules::judge_destinations(topic, &sets, &destinations);
    checks.extend(set_checks);
    if let Some(own) = stack.get("ConfigurationSetName") {
        if !sets.iter().any(|s| s == own) {
            checks.push(Check::fail(
                "ses",
                format!("configuration set {own}"),
                "the stack's configuration set does not exist in this account and Region",
                "redeploy the stack; check --region",
            ));
        }
    }
    match aws::identities(c).await {
        Ok(identities) => checks.extend(rules::judge_identities(topic, &sets, &publishing, &identities)),
        Err(e) => checks.push(unreadable(
            "ses",
            "identities",
            e,
            "ses:ListEmailIdentities, ses:GetEmailIdentity and ses:GetIdentityNotificationAttributes",
        )),
    }
    (checks, publishing)
}

/// What a coverage shortfall most likely comes from, from the SES checks.
fn likely_cause(ses: &[Check], publishing: &BTreeSet<String>) -> Option<String> {
    let named: Vec<String> = ses
        .iter()
        .filter(|c| c.status != check::Status::Pass)
        .map(|c| format!("{} ({})", c.subject, c.detail))
        .take(2)
        .collect();
    if !named.is_empty() {
        return Some(format!("likely: {}", named.join("; ")));
    }
    publishing.is_empty().then(|| {
        "likely: no configuration set publishes to the stack, so Send events never reach it"
            .to_string()
    })
}

/// SES's own count (AWS/SES, the account's metrics) beside the ledger's counters over the last
/// 24 hours and 14 days, both over whole hours so the spans match.
async fn coverage_checks(
    c: &Clients,
    ledger: &DynamoLedger,
    now: DateTime<Utc>,
    cause: Option<&str>,
) -> Vec<Check> {
    let to = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
    let figures: [(&str, &'static str, &[Metric]); 4] = [
        ("sends", "Send", &[Metric::Sends]),
        ("deliveries", "Delivery", &[Metric::Deliveries]),
        (
            "bounces",
            "Bounce",
            &[Metric::CountedHardBounces, Metric::OtherBounces],
        ),
        ("complaints", "Complaint", &[Metric::Complaints]),
    ];
    let mut checks = Vec::new();
    for (span, hours) in [("24 hours", 24), ("14 days", 24 * 14)] {
        let from = to - Duration::hours(hours);
        let queries: Vec<MetricQuery> = figures
            .iter()
            .map(|(_, name, _)| MetricQuery {
                id: name.to_lowercase(),
                namespace: "AWS/SES",
                name,
                dimensions: Vec::new(),
                stat: "Sum",
            })
            .collect();
        let ses = match aws::metric_points(c, &queries, from, to, 3600).await {
            Ok(p) => p,
            Err(e) => {
                checks.push(unreadable(
                    "coverage",
                    format!("SES's metrics, last {span}"),
                    e,
                    "cloudwatch:GetMetricData",
                ));
                continue;
            }
        };
        // SES counts mail to its mailbox simulator too; the ledger keeps it in a scope of its own.
        let mut ledger_totals = ses_ledger::rates::Totals::default();
        for scope in [Scope::Account, Scope::MailboxSimulator] {
            match ledger.hourly(&scope, from, to - Duration::hours(1)).await {
                Ok(hours) => hours.iter().for_each(|h| ledger_totals.add(&h.totals)),
                Err(e) => {
                    checks.push(unreadable(
                        "coverage",
                        format!("the ledger's counters, last {span}"),
                        e.to_string(),
                        "dynamodb:Query on the ledger table",
                    ));
                }
            }
        }
        for (what, name, metrics) in figures {
            let ses_total =
                ses.get(&name.to_lowercase())
                    .map_or(0.0, |p| p.iter().map(|(_, v)| v).sum::<f64>()) as u64;
            let ledger_total = metrics.iter().map(|m| ledger_totals.get(*m)).sum();
            checks.push(rules::judge_coverage(
                what,
                span,
                Coverage {
                    ses: ses_total,
                    ledger: ledger_total,
                },
                cause,
            ));
        }
    }
    checks
}

/// Every saved query of the stack runs to `Complete` on the event log over the last hour, five
/// at a time (well under the account's limit on concurrent queries).
async fn query_checks(
    c: &Clients,
    stack: &StackOutputs,
    now: DateTime<Utc>,
    budget: StdDuration,
) -> Vec<Check> {
    let prefix = format!("ses-ledger/{}/", stack.name);
    let saved = match aws::saved_queries(c, &prefix).await {
        Ok(s) => s,
        Err(e) => {
            return vec![unreadable(
                "queries",
                "saved queries",
                e,
                "logs:DescribeQueryDefinitions",
            )]
        }
    };
    if saved.is_empty() {
        return vec![Check::warn(
            "queries",
            "saved queries",
            format!("no query definition named {prefix}*"),
            "redeploy the stack: it saves its Logs Insights queries under that prefix",
        )];
    }
    let prefix = &prefix;
    let outcomes: Vec<Check> = futures::stream::iter(saved)
        .map(|q| async move {
            let outcome = aws::run_query(
                c,
                &q.log_groups,
                &q.query,
                now - Duration::hours(1),
                now,
                budget,
            )
            .await;
            rules::judge_query(q.name.trim_start_matches(prefix.as_str()), &outcome)
        })
        .buffered(5)
        .collect()
        .await;
    outcomes
}

async fn alert_checks(c: &Clients, stack: &StackOutputs) -> Vec<Check> {
    let Some(topic) = stack.get("AlertTopicArn") else {
        return Vec::new();
    };
    vec![match aws::subscriptions(c, topic).await {
        Ok(arns) => rules::judge_subscriptions(topic, &arns),
        Err(e) => unreadable(
            "alerts",
            "alert topic subscriptions",
            e,
            "sns:ListSubscriptionsByTopic",
        ),
    }]
}
