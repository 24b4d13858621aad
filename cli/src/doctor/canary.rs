//! `doctor --canary`: one message to each address of SES's mailbox simulator, sent through SES
//! with a configuration set that publishes to the stack, then followed hop by hop until every
//! event SES documents for it is in the ledger (by message id), in the event log and in the
//! counters, within a bound. Simulator mail counts in the `mailbox-simulator` scope alone; the
//! canary checks that every one of its events stayed there, out of every rate.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use ses_ledger::counters::{bucket_of, Metric, Scope};
use ses_ledger::ports::{CounterReader, LedgerReader};
use ses_ledger_aws::dynamo::DynamoLedger;

use super::aws::{say, Clients};
use super::check::Check;

/// Each simulator address and the events SES publishes for a message to it through a
/// configuration set (the mailbox simulator's documented outcomes; docs/deployment.md).
pub const MAILBOX: [(&str, &[&str]); 5] = [
    ("success@simulator.amazonses.com", &["Send", "Delivery"]),
    ("bounce@simulator.amazonses.com", &["Send", "Bounce"]),
    (
        "complaint@simulator.amazonses.com",
        &["Send", "Delivery", "Complaint"],
    ),
    (
        "suppressionlist@simulator.amazonses.com",
        &["Send", "Bounce"],
    ),
    ("ooto@simulator.amazonses.com", &["Send", "Delivery"]),
];

/// The message tag every canary message carries, with the run's id as its value.
pub const CANARY_TAG: &str = "ses-ledger-canary";

/// What the canary needs: the configuration set to send with, the From address, how long to
/// wait, and the configuration sets that publish to the stack (from the SES checks).
pub struct Plan {
    pub configuration_set: Option<String>,
    pub from: Option<String>,
    pub timeout: Duration,
    pub publishing: BTreeSet<String>,
}

/// One sent message and when each of its events was first seen at each hop.
struct Sent {
    address: &'static str,
    expected: &'static [&'static str],
    message_id: String,
    in_ledger: BTreeMap<String, Duration>,
    in_log: BTreeMap<String, Duration>,
}

impl Sent {
    fn done(&self) -> bool {
        self.expected
            .iter()
            .all(|t| self.in_ledger.contains_key(*t) && self.in_log.contains_key(*t))
    }
}

/// The counters the simulator's events move, one per event type.
fn counted(totals: &ses_ledger::rates::Totals, event_type: &str) -> u64 {
    match event_type {
        "Send" => totals.get(Metric::Sends),
        "Delivery" => totals.get(Metric::Deliveries),
        "Bounce" => totals.get(Metric::CountedHardBounces) + totals.get(Metric::OtherBounces),
        "Complaint" => totals.get(Metric::Complaints),
        _ => 0,
    }
}

/// Runs the canary; its checks go into doctor's report.
pub async fn run(c: &Clients, ledger: &DynamoLedger, log_group: &str, plan: &Plan) -> Vec<Check> {
    let Some(set) = plan.configuration_set.as_deref() else {
        return vec![Check::fail(
            "canary",
            "configuration set",
            "the stack has no ConfigurationSetName output and --configuration-set was not given: the canary does not send",
            "deploy with CreateConfigurationSet=true, or pass --configuration-set NAME of one that publishes to the stack",
        )];
    };
    if !plan.publishing.contains(set) {
        return vec![Check::fail(
            "canary",
            format!("configuration set {set}"),
            "it does not publish every counted event type to the stack's topic (see the ses checks): the canary does not send",
            "fix its event destination, or pass --configuration-set NAME of one that does",
        )];
    }
    let from = match &plan.from {
        Some(f) => f.clone(),
        None => match default_from(c).await {
            Ok(Some(f)) => f,
            Ok(None) => {
                return vec![Check::fail(
                    "canary",
                    "From address",
                    "no identity is verified for sending",
                    "pass --from ADDRESS at a verified identity",
                )]
            }
            Err(e) => {
                return vec![Check::fail(
                    "canary",
                    "From address",
                    format!("could not list identities: {e}"),
                    "pass --from ADDRESS, or grant ses:ListEmailIdentities",
                )]
            }
        },
    };
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let now = Utc::now();
    let (count_from, count_to) = (
        bucket_of(now) - ChronoDuration::hours(1),
        bucket_of(now) + ChronoDuration::hours(1),
    );
    let before = match simulator_totals(ledger, count_from, count_to).await {
        Ok(t) => t,
        Err(e) => {
            return vec![Check::fail(
                "canary",
                "counters",
                format!("could not read the mailbox-simulator counters: {e}"),
                "grant dynamodb:Query on the ledger table",
            )]
        }
    };
    let started = Instant::now();
    let mut checks = Vec::new();
    let mut sent = Vec::new();
    for (address, expected) in MAILBOX {
        match send(c, &from, address, set, &run_id).await {
            Ok(message_id) => sent.push(Sent {
                address,
                expected,
                message_id,
                in_ledger: BTreeMap::new(),
                in_log: BTreeMap::new(),
            }),
            Err(e) => checks.push(Check::fail(
                "canary",
                address,
                format!("SES refused the message: {e}"),
                "the caller needs ses:SendEmail on the identity and the configuration set; the From address must be at a verified identity",
            )),
        }
    }
    if sent.is_empty() {
        return checks;
    }
    let mut wanted: BTreeMap<&str, u64> = BTreeMap::new();
    for s in &sent {
        for t in s.expected {
            *wanted.entry(t).or_default() += 1;
        }
    }
    let mut counted_at: BTreeMap<&str, Duration> = BTreeMap::new();
    let mut last_progress = String::new();
    let mut errors: BTreeSet<String> = BTreeSet::new();
    loop {
        let elapsed = started.elapsed();
        for s in sent.iter_mut().filter(|s| !s.done()) {
            match ledger.message_events(&s.message_id).await {
                Ok(events) => {
                    for e in events {
                        s.in_ledger
                            .entry(e.event_type.as_str().to_string())
                            .or_insert(elapsed);
                    }
                }
                Err(e) => {
                    errors.insert(format!("reading the ledger: {e}"));
                }
            }
        }
        match log_lines(c, log_group, &sent, now - ChronoDuration::minutes(5)).await {
            Ok(lines) => {
                for (message_id, event_type) in lines {
                    if let Some(s) = sent.iter_mut().find(|s| s.message_id == message_id) {
                        s.in_log.entry(event_type).or_insert(elapsed);
                    }
                }
            }
            Err(e) => {
                errors.insert(format!("reading the event log: {e}"));
            }
        }
        if counted_at.len() < wanted.len() {
            match simulator_totals(ledger, count_from, count_to).await {
                Ok(after) => {
                    for (t, n) in &wanted {
                        if counted(&after, t).saturating_sub(counted(&before, t)) >= *n {
                            counted_at.entry(t).or_insert(elapsed);
                        }
                    }
                }
                Err(e) => {
                    errors.insert(format!("reading the counters: {e}"));
                }
            }
        }
        let total: usize = sent.iter().map(|s| s.expected.len()).sum();
        let progress = format!(
            "canary: {}/{total} events in the ledger, {}/{total} in the event log, {}/{} event types counted",
            sent.iter().map(|s| s.in_ledger.len().min(s.expected.len())).sum::<usize>(),
            sent.iter().map(|s| s.in_log.len().min(s.expected.len())).sum::<usize>(),
            counted_at.len(),
            wanted.len()
        );
        if progress != last_progress {
            eprintln!("{progress} ({} s)", elapsed.as_secs());
            last_progress = progress;
        }
        let all_done = sent.iter().all(Sent::done) && counted_at.len() == wanted.len();
        if all_done || elapsed >= plan.timeout {
            break;
        }
        // Latencies are to the nearest poll.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let secs = |d: &Duration| format!("{:.1} s", d.as_secs_f64());
    for s in &sent {
        let missing = |seen: &BTreeMap<String, Duration>| -> Vec<&str> {
            s.expected
                .iter()
                .copied()
                .filter(|t| !seen.contains_key(*t))
                .collect()
        };
        let (not_in_ledger, not_in_log) = (missing(&s.in_ledger), missing(&s.in_log));
        let slowest = |seen: &BTreeMap<String, Duration>| {
            s.expected
                .iter()
                .filter_map(|t| seen.get(*t))
                .max()
                .map(secs)
                .unwrap_or_default()
        };
        if not_in_ledger.is_empty() && not_in_log.is_empty() {
            checks.push(Check::pass(
                "canary",
                s.address,
                format!(
                    "{} of message {}: in the ledger after {}, in the event log after {}",
                    s.expected.join(", "),
                    s.message_id,
                    slowest(&s.in_ledger),
                    slowest(&s.in_log)
                ),
            ));
        } else {
            let mut gaps = Vec::new();
            if not_in_ledger == not_in_log {
                gaps.push(format!(
                    "{} never reached the ledger or the event log",
                    not_in_ledger.join(", ")
                ));
            } else {
                if !not_in_ledger.is_empty() {
                    gaps.push(format!(
                        "{} never reached the ledger",
                        not_in_ledger.join(", ")
                    ));
                }
                if !not_in_log.is_empty() {
                    gaps.push(format!(
                        "{} never reached the event log",
                        not_in_log.join(", ")
                    ));
                }
            }
            checks.push(Check::fail(
                "canary",
                s.address,
                format!(
                    "{} in {} s (message {}; seen in the ledger: {})",
                    gaps.join("; "),
                    plan.timeout.as_secs(),
                    s.message_id,
                    if s.in_ledger.is_empty() { "nothing".to_string() } else { s.in_ledger.keys().cloned().collect::<Vec<_>>().join(", ") }
                ),
                "SES accepted the message: look at the configuration set's event destination (its event types), the ingest dead-letter queue and the ingest function's errors",
            ));
        }
    }
    let not_counted: Vec<&str> = wanted
        .keys()
        .copied()
        .filter(|t| !counted_at.contains_key(t))
        .collect();
    if not_counted.is_empty() {
        checks.push(Check::pass(
            "canary",
            "counters",
            format!(
                "the mailbox-simulator counters rose by {} within {}",
                wanted
                    .iter()
                    .map(|(t, n)| format!("{n} {t}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                counted_at.values().max().map(secs).unwrap_or_default()
            ),
        ));
    } else {
        // A type whose event never reached the ledger cannot be counted: said, so the count
        // function is not blamed for what happened before it.
        let unrecorded: Vec<&str> = not_counted
            .iter()
            .copied()
            .filter(|t| {
                sent.iter()
                    .any(|s| s.expected.contains(t) && !s.in_ledger.contains_key(*t))
            })
            .collect();
        let why = if unrecorded.is_empty() {
            String::new()
        } else {
            format!(
                " ({} never reached the ledger: see above)",
                unrecorded.join(", ")
            )
        };
        checks.push(Check::fail(
            "canary",
            "counters",
            format!(
                "{} not counted in {} s{why}",
                not_counted.join(", "),
                plan.timeout.as_secs()
            ),
            "the count function reads the table's stream: look at its errors, its iterator age and the count dead-letter queue",
        ));
    }
    checks.push(stays_out(ledger, &sent).await);
    if !errors.is_empty() {
        checks.push(Check::warn(
            "canary",
            "reads while waiting",
            errors.into_iter().collect::<Vec<_>>().join("; "),
            "grant the read permissions in the README's \"Permissions of doctor\"",
        ));
    }
    checks
}

/// Every event item of every canary message is counted in the mailbox-simulator scope alone.
async fn stays_out(ledger: &DynamoLedger, sent: &[Sent]) -> Check {
    let mut leaked = Vec::new();
    let mut items = 0;
    for s in sent {
        match ledger.message_event_scopes(&s.message_id).await {
            Ok(found) => {
                for (event_type, scopes) in found {
                    items += 1;
                    let own = Scope::MailboxSimulator.key();
                    if scopes.iter().any(|k| *k != own) {
                        leaked.push(format!(
                            "{} {event_type} in {}",
                            s.address,
                            scopes.into_iter().collect::<Vec<_>>().join(", ")
                        ));
                    }
                }
            }
            Err(e) => leaked.push(format!("{}: could not read its items: {e}", s.address)),
        }
    }
    if leaked.is_empty() {
        Check::pass(
            "canary",
            "kept out of the rates",
            format!(
                "all {items} event items of the canary count in the mailbox-simulator scope alone"
            ),
        )
    } else {
        Check::fail(
            "canary",
            "kept out of the rates",
            format!(
                "simulator mail counted in other scopes: {}",
                leaked.join("; ")
            ),
            "this is a ses-ledger bug: report it with this output",
        )
    }
}

async fn simulator_totals(
    ledger: &DynamoLedger,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<ses_ledger::rates::Totals, ses_ledger::ports::StoreError> {
    let mut totals = ses_ledger::rates::Totals::default();
    for h in ledger.hourly(&Scope::MailboxSimulator, from, to).await? {
        totals.add(&h.totals);
    }
    Ok(totals)
}

/// `ses-ledger-canary@` the first domain verified for sending, else the first verified address.
async fn default_from(c: &Clients) -> Result<Option<String>, String> {
    let out = c
        .sesv2
        .list_email_identities()
        .page_size(1000)
        .send()
        .await
        .map_err(|e| say("ListEmailIdentities", e))?;
    let verified: Vec<(&str, &str)> = out
        .email_identities()
        .iter()
        .filter(|i| i.sending_enabled())
        .filter_map(|i| {
            Some((
                i.identity_type().map(|t| t.as_str()).unwrap_or_default(),
                i.identity_name()?,
            ))
        })
        .collect();
    Ok(verified
        .iter()
        .find(|(t, _)| *t == "DOMAIN")
        .map(|(_, d)| format!("{CANARY_TAG}@{d}"))
        .or_else(|| {
            verified
                .iter()
                .find(|(t, _)| *t == "EMAIL_ADDRESS")
                .map(|(_, a)| a.to_string())
        }))
}

async fn send(
    c: &Clients,
    from: &str,
    to: &str,
    set: &str,
    run_id: &str,
) -> Result<String, String> {
    use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};
    let text = |t: &str| {
        Content::builder()
            .data(t)
            .charset("UTF-8")
            .build()
            .map_err(|e| e.to_string())
    };
    let message = Message::builder()
        .subject(text(&format!("ses-ledger canary {run_id}"))?)
        .body(
            Body::builder()
                .text(text(
                    "A test message of ses-ledger doctor --canary to SES's mailbox simulator.",
                )?)
                .build(),
        )
        .build();
    let out = c
        .sesv2
        .send_email()
        .from_email_address(from)
        .destination(Destination::builder().to_addresses(to).build())
        .content(EmailContent::builder().simple(message).build())
        .configuration_set_name(set)
        .email_tags(
            MessageTag::builder()
                .name(CANARY_TAG)
                .value(run_id)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(|e| say("SendEmail", e))?;
    out.message_id()
        .map(str::to_string)
        .ok_or_else(|| "SendEmail returned no MessageId".to_string())
}

/// (message id, event type) of the event log's lines for the canary's messages. The filter
/// pattern narrows the read; each line is still checked here, so a service that ignored the
/// pattern would give the same answer.
async fn log_lines(
    c: &Clients,
    log_group: &str,
    sent: &[Sent],
    since: DateTime<Utc>,
) -> Result<Vec<(String, String)>, String> {
    let pattern = format!(
        "{{ {} }}",
        sent.iter()
            .map(|s| format!("$.ses_message_id = \"{}\"", s.message_id.replace('"', "")))
            .collect::<Vec<_>>()
            .join(" || ")
    );
    let ids: BTreeSet<&str> = sent.iter().map(|s| s.message_id.as_str()).collect();
    let mut out = Vec::new();
    let mut pages = c
        .logs
        .filter_log_events()
        .log_group_name(log_group)
        .filter_pattern(pattern)
        .start_time(since.timestamp_millis())
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| say("FilterLogEvents", e))?;
        for e in page.events() {
            let Ok(line) =
                serde_json::from_str::<serde_json::Value>(e.message().unwrap_or_default())
            else {
                continue;
            };
            let (Some(id), Some(t)) =
                (line["ses_message_id"].as_str(), line["event_type"].as_str())
            else {
                continue;
            };
            if ids.contains(id) {
                out.push((id.to_string(), t.to_string()));
            }
        }
    }
    Ok(out)
}
