//! What `doctor` concludes from what it read: each rule takes plain facts (read by `aws.rs`) and
//! returns checks. Pure, so each rule's pass, warn and fail is tested here without AWS.

use std::collections::{BTreeMap, BTreeSet};

use super::check::{some_of, Check};

/// The event types the ledger counts, as SES v2 spells them in `MatchingEventTypes`. A
/// configuration set that leaves one out hides those events from the ledger.
pub const COUNTED_EVENT_TYPES: [&str; 6] = [
    "SEND",
    "DELIVERY",
    "BOUNCE",
    "COMPLAINT",
    "REJECT",
    "DELIVERY_DELAY",
];

/// One event destination of one configuration set (`GetConfigurationSetEventDestinations`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDestination {
    pub configuration_set: String,
    pub name: String,
    pub enabled: bool,
    /// `MatchingEventTypes`, as SES spells them (`DELIVERY_DELAY`).
    pub types: BTreeSet<String>,
    pub sns_topic: Option<String>,
    pub event_bus: Option<String>,
}

/// The configuration sets whose destinations publish every counted event type to the stack's
/// topic, and a check per configuration set that aims at the stack (or tries to).
pub fn judge_destinations(
    topic: &str,
    configuration_sets: &[String],
    destinations: &[EventDestination],
) -> (Vec<Check>, BTreeSet<String>) {
    let mut checks = Vec::new();
    let mut complete = BTreeSet::new();
    let mut by_set: BTreeMap<&str, Vec<&EventDestination>> = BTreeMap::new();
    for d in destinations {
        by_set.entry(&d.configuration_set).or_default().push(d);
    }
    for (set, dests) in &by_set {
        let ours: Vec<&&EventDestination> = dests
            .iter()
            .filter(|d| d.sns_topic.as_deref() == Some(topic))
            .collect();
        let buses: Vec<&&EventDestination> =
            dests.iter().filter(|d| d.event_bus.is_some()).collect();
        if ours.is_empty() {
            if !buses.is_empty() {
                checks.push(Check::warn(
                    "ses",
                    format!("configuration set {set}"),
                    format!(
                        "publishes to EventBridge ({}), which this stack does not listen on",
                        buses[0].event_bus.as_deref().unwrap_or_default()
                    ),
                    format!("add an SNS event destination to {topic} (the stack's SesEventTopicArn) for the event types {}", COUNTED_EVENT_TYPES.join(", ")),
                ));
            }
            continue;
        }
        let enabled: Vec<&&&EventDestination> = ours.iter().filter(|d| d.enabled).collect();
        if enabled.is_empty() {
            checks.push(Check::fail(
                "ses",
                format!("configuration set {set}"),
                format!(
                    "its event destination {} to the stack's topic is disabled: the ledger receives none of its events",
                    ours[0].name
                ),
                format!("aws sesv2 update-configuration-set-event-destination --configuration-set-name {set} --event-destination-name {} --event-destination Enabled=true,...", ours[0].name),
            ));
            continue;
        }
        let covered: BTreeSet<&str> = enabled
            .iter()
            .flat_map(|d| d.types.iter().map(String::as_str))
            .collect();
        let missing: Vec<String> = COUNTED_EVENT_TYPES
            .iter()
            .filter(|t| !covered.contains(**t))
            .map(|t| t.to_string())
            .collect();
        if missing.is_empty() {
            complete.insert(set.to_string());
            checks.push(Check::pass(
                "ses",
                format!("configuration set {set}"),
                format!(
                    "publishes {} to the stack's topic",
                    COUNTED_EVENT_TYPES.join(", ")
                ),
            ));
        } else {
            checks.push(Check::fail(
                "ses",
                format!("configuration set {set}"),
                format!(
                    "its event destination {} to the stack's topic leaves out {}: the ledger never sees those events of mail sent with it",
                    enabled[0].name,
                    missing.join(", ")
                ),
                format!(
                    "add {} to the destination's MatchingEventTypes (aws sesv2 update-configuration-set-event-destination --configuration-set-name {set} --event-destination-name {} ...)",
                    missing.join(", "),
                    enabled[0].name
                ),
            ));
        }
    }
    if complete.is_empty() {
        let looked = configuration_sets.len();
        checks.push(Check::warn(
            "ses",
            "configuration sets",
            format!("none of the {looked} configuration sets publishes every counted event type to the stack's topic; Send, Reject and DeliveryDelay reach the ledger only through a configuration set"),
            format!("deploy with CreateConfigurationSet=true and send with its ConfigurationSetName, or add an SNS event destination to {topic} on the configuration set you send with"),
        ));
    }
    (checks, complete)
}

/// One verified identity: its default configuration set (SES v2 `GetEmailIdentity`) and its
/// notification topics (SES classic `GetIdentityNotificationAttributes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub default_configuration_set: Option<String>,
    pub bounce_topic: Option<String>,
    pub complaint_topic: Option<String>,
    pub delivery_topic: Option<String>,
    pub headers_in_notifications: bool,
}

/// Which identities' mail reaches the ledger: through a default configuration set that publishes
/// to the stack, or through identity notifications to the stack's topic. Named, in groups, so an
/// account with thousands of identities gets a few lines.
pub fn judge_identities(
    topic: &str,
    configuration_sets: &[String],
    publishing_sets: &BTreeSet<String>,
    identities: &[Identity],
) -> Vec<Check> {
    let mut checks = Vec::new();
    // SES refuses every send of an identity whose default configuration set was deleted.
    for identity in identities {
        if let Some(set) = identity
            .default_configuration_set
            .as_ref()
            .filter(|s| !configuration_sets.contains(s))
        {
            checks.push(Check::fail(
                "ses",
                format!("identity {}", identity.name),
                format!("its default configuration set {set} does not exist: SES refuses its sends"),
                format!("aws sesv2 put-email-identity-configuration-set-attributes --email-identity {} --configuration-set-name EXISTING_SET", identity.name),
            ));
        }
    }
    let mut by_set = Vec::new();
    let mut by_notifications = Vec::new();
    let mut partial: Vec<(String, Vec<&str>)> = Vec::new();
    let mut invisible = Vec::new();
    let mut without_headers = Vec::new();
    for identity in identities {
        if identity
            .default_configuration_set
            .as_ref()
            .is_some_and(|s| publishing_sets.contains(s))
        {
            by_set.push(identity.name.clone());
            continue;
        }
        let to_us = |t: &Option<String>| t.as_deref() == Some(topic);
        let kinds = [
            ("Bounce", to_us(&identity.bounce_topic)),
            ("Complaint", to_us(&identity.complaint_topic)),
            ("Delivery", to_us(&identity.delivery_topic)),
        ];
        let missing: Vec<&str> = kinds
            .iter()
            .filter(|(_, ok)| !ok)
            .map(|(k, _)| *k)
            .collect();
        match missing.len() {
            0 => {
                by_notifications.push(identity.name.clone());
                if !identity.headers_in_notifications {
                    without_headers.push(identity.name.clone());
                }
            }
            3 => invisible.push(identity.name.clone()),
            _ => partial.push((identity.name.clone(), missing)),
        }
    }
    if !by_set.is_empty() || !by_notifications.is_empty() {
        checks.push(Check::pass(
            "ses",
            "identities",
            format!(
                "{} of {} verified identities publish to the stack: {} by default configuration set, {} by identity notifications",
                by_set.len() + by_notifications.len(),
                identities.len(),
                by_set.len(),
                by_notifications.len()
            ),
        ));
    }
    if !without_headers.is_empty() {
        checks.push(Check::warn(
            "ses",
            "identity notifications without headers",
            format!("{}: their events carry no subject or headers (the ledger's message lookups show less)", some_of(&without_headers, 5)),
            "aws ses set-identity-headers-in-notifications-enabled --identity NAME --notification-type Bounce --enabled (and Complaint, Delivery)",
        ));
    }
    for (name, missing) in &partial {
        checks.push(Check::warn(
            "ses",
            format!("identity {name}"),
            format!(
                "its notifications to the stack leave out {}, and its default configuration set does not publish to the stack",
                missing.join(", ")
            ),
            format!("aws ses set-identity-notification-topic --identity {name} --notification-type {} --sns-topic {topic}", missing[0]),
        ));
    }
    if !invisible.is_empty() {
        checks.push(Check::warn(
            "ses",
            "identities with neither",
            format!(
                "{} of {} verified identities have no default configuration set publishing to the stack and no notifications to its topic: {}. Their mail is invisible to the ledger unless each send names a configuration set that publishes",
                invisible.len(),
                identities.len(),
                some_of(&invisible, 5)
            ),
            "give each a default configuration set that publishes to the stack (aws sesv2 put-email-identity-configuration-set-attributes --email-identity NAME --configuration-set-name SET)",
        ));
    }
    if identities.is_empty() {
        checks.push(Check::warn(
            "ses",
            "identities",
            "no verified identity in this account and Region: nothing can send",
            "verify the domain or address you send from (aws sesv2 create-email-identity)",
        ));
    }
    checks
}

/// One figure SES counted and the ledger's count of the same thing over the same span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    pub ses: u64,
    pub ledger: u64,
}

/// How much of what SES counted the ledger holds. At least 99% passes (the two count by
/// different clocks: SES by when it published, the ledger by the event's time); below it a
/// warning, below 90% a failure, with the likely cause from the SES checks.
pub fn judge_coverage(what: &str, span: &str, c: Coverage, likely_cause: Option<&str>) -> Check {
    let subject = format!("{what}, last {span}");
    if c.ses == 0 {
        return if c.ledger == 0 {
            Check::pass("coverage", subject, "SES counted none, nor did the ledger")
        } else {
            Check::warn(
                "coverage",
                subject,
                format!(
                    "the ledger holds {} but SES's AWS/SES metric has no data",
                    c.ledger
                ),
                "check the Region: SES publishes its metrics in the Region it sends from",
            )
        };
    }
    let share = c.ledger as f64 / c.ses as f64;
    let detail = format!(
        "the ledger holds {:.1}% of the {} SES counted ({} of {})",
        share * 100.0,
        what,
        c.ledger,
        c.ses
    );
    let fix = || {
        likely_cause
            .map(str::to_string)
            .unwrap_or_else(|| "look at the ses checks above and the dead-letter queues; replay what is missing with `ses-ledger replay`".into())
    };
    if share >= 0.99 {
        Check::pass("coverage", subject, detail)
    } else if share >= 0.90 {
        Check::warn("coverage", subject, detail, fix())
    } else {
        Check::fail("coverage", subject, detail, fix())
    }
}

/// A dead-letter queue should be empty: each message is an event (or a stream batch) the ledger
/// did not take.
pub fn judge_dead_letters(name: &str, queue: &str, depth: u64, replay: &str) -> Check {
    if depth == 0 {
        Check::pass("stack", name, "empty")
    } else {
        Check::fail(
            "stack",
            name,
            format!("{depth} message(s) waiting in {queue}"),
            replay.to_string(),
        )
    }
}

/// A function as Lambda describes it (`GetFunction`).
pub fn judge_function(
    output: &str,
    name: &str,
    state: Option<&str>,
    update: Option<&str>,
    reason: Option<&str>,
) -> Check {
    let subject = format!("function {output}");
    match (state, update) {
        (Some("Active"), None | Some("Successful")) => {
            Check::pass("stack", subject, format!("{name} is Active"))
        }
        // Lambda makes an idle function Inactive and wakes it on the next invocation.
        (Some("Inactive"), _) => Check::warn(
            "stack",
            subject,
            format!("{name} is Inactive (idle); Lambda reactivates it on its next invocation"),
            "nothing, unless it stays Inactive while SES sends: then look at the event source",
        ),
        (Some("Pending"), _) | (_, Some("InProgress")) => Check::warn(
            "stack",
            subject,
            format!("{name} is being created or updated"),
            "run doctor again in a minute",
        ),
        _ => Check::fail(
            "stack",
            subject,
            format!(
                "{name} is {} (last update {}){}",
                state.unwrap_or("in no state"),
                update.unwrap_or("unknown"),
                reason.map(|r| format!(": {r}")).unwrap_or_default()
            ),
            "redeploy the stack (sam deploy / cdk deploy); the reason above names what Lambda refused",
        ),
    }
}

/// Errors and throttles of a function over the last day.
pub fn judge_errors(
    output: &str,
    name: &str,
    invocations: u64,
    errors: u64,
    throttles: u64,
) -> Check {
    let subject = format!("function {output}, last 24 hours");
    let detail = format!("{invocations} invocations, {errors} errors, {throttles} throttles");
    if errors == 0 && throttles == 0 {
        Check::pass("stack", subject, detail)
    } else {
        Check::warn(
            "stack",
            subject,
            detail,
            format!("read /aws/lambda/{name}'s log for the errors; failed batches are retried, then kept in the dead-letter queue"),
        )
    }
}

/// The count mapping's iterator age: how far behind the table's stream the counters are. The
/// mapping drops records older than 12 hours (MaximumRecordAgeInSeconds) to its dead-letter
/// queue, and the stream keeps them for 24.
pub fn judge_iterator_age(max_ms: Option<f64>) -> Check {
    let subject = "count mapping's iterator age, last hour";
    match max_ms {
        None => Check::pass("stack", subject, "no stream records to count in the last hour"),
        Some(ms) if ms < 5.0 * 60_000.0 => {
            Check::pass("stack", subject, format!("at most {:.0} s behind", ms / 1000.0))
        }
        Some(ms) if ms < 6.0 * 3_600_000.0 => Check::warn(
            "stack",
            subject,
            format!("{:.0} minutes behind: the counters lag the ledger", ms / 60_000.0),
            "look for count function errors or throttles; records older than 12 hours go to the count dead-letter queue",
        ),
        Some(ms) => Check::fail(
            "stack",
            subject,
            format!("{:.1} hours behind: records older than 12 hours are not counted", ms / 3_600_000.0),
            "fix the count function's errors now; then recount from the dead-letter queue's ranges (docs/operations.md)",
        ),
    }
}

/// When the alarm last ran without an error, against how often it is scheduled.
pub fn judge_alarm_runs(last_success_age_minutes: Option<i64>, every_minutes: i64) -> Check {
    let subject = "alarm function's last successful run";
    match last_success_age_minutes {
        None => Check::fail(
            "stack",
            subject,
            "no successful run in the last 24 hours: no rate alert can reach you",
            "check the schedule (AlarmFunctionSchedule) and /aws/lambda/ALARM's log; the AlarmFunctionMissedRunsAlarm says the same",
        ),
        Some(age) if age <= 3 * every_minutes.max(5) => Check::pass(
            "stack",
            subject,
            format!("{age} minutes ago (scheduled every {every_minutes} minutes)"),
        ),
        Some(age) => Check::warn(
            "stack",
            subject,
            format!("{age} minutes ago, though scheduled every {every_minutes} minutes"),
            "check the function's errors and its schedule",
        ),
    }
}

/// Minutes between runs of an EventBridge Scheduler `rate(...)` expression (None for `cron`).
pub fn schedule_minutes(expression: &str) -> Option<i64> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (value, unit) = inner.split_once(' ')?;
    let value: i64 = value.parse().ok()?;
    let per = match unit.trim_end_matches('s') {
        "minute" => 1,
        "hour" => 60,
        "day" => 1440,
        _ => return None,
    };
    Some(value * per)
}

/// The alert topic's subscriptions. SNS lists an unconfirmed one with a placeholder instead of
/// an ARN (`PendingConfirmation` in practice; AWS documents only "pending confirmation"), so
/// anything that is not an ARN counts as unconfirmed.
pub fn judge_subscriptions(topic: &str, subscription_arns: &[String]) -> Check {
    let subject = "alert topic subscriptions";
    let pending = subscription_arns
        .iter()
        .filter(|a| !a.starts_with("arn:"))
        .count();
    let confirmed = subscription_arns.len() - pending;
    if confirmed > 0 {
        Check::pass(
            "alerts",
            subject,
            format!("{confirmed} confirmed, {pending} pending"),
        )
    } else if pending > 0 {
        Check::fail(
            "alerts",
            subject,
            format!("{pending} subscription(s), none confirmed: alerts reach nobody"),
            "confirm the subscription (the link in the email SNS sent), then run doctor again",
        )
    } else {
        Check::fail(
            "alerts",
            subject,
            "no subscription: rate alerts and alarms reach nobody",
            format!("aws sns subscribe --topic-arn {topic} --protocol email --notification-endpoint you@example.com (or deploy with AlertEmail)"),
        )
    }
}

/// How one saved query fared: ran to `Complete`, ended otherwise, or was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryOutcome {
    Complete { records_matched: u64 },
    Ended { status: String },
    Refused { message: String },
    StillRunning { seconds: u64 },
}

pub fn judge_query(name: &str, outcome: &QueryOutcome) -> Check {
    let subject = format!("query {name}");
    match outcome {
        QueryOutcome::Complete { records_matched } => Check::pass(
            "queries",
            subject,
            format!("ran to Complete over the last hour ({records_matched} records matched)"),
        ),
        QueryOutcome::Ended { status } => Check::fail(
            "queries",
            subject,
            format!("ended {status}"),
            "run it in the Logs Insights console to see why; redeploy the stack to restore the shipped query",
        ),
        QueryOutcome::Refused { message } => Check::fail(
            "queries",
            subject,
            format!("AWS refused it: {message}"),
            "the saved query is not valid Logs Insights: redeploy the stack to restore the shipped query, or fix the edit",
        ),
        QueryOutcome::StillRunning { seconds } => Check::warn(
            "queries",
            subject,
            format!("still running after {seconds} s"),
            "a busy account's queries queue; run doctor again",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::check::Status;

    const TOPIC: &str = "arn:aws:sns:us-east-1:111122223333:ses-events";

    fn destination(
        set: &str,
        types: &[&str],
        topic: Option<&str>,
        enabled: bool,
    ) -> EventDestination {
        EventDestination {
            configuration_set: set.into(),
            name: format!("{set}-dest"),
            enabled,
            types: types.iter().map(|t| t.to_string()).collect(),
            sns_topic: topic.map(str::to_string),
            event_bus: None,
        }
    }

    #[test]
    fn a_destination_missing_complaint_fails_and_names_it() {
        let all = [
            "SEND",
            "DELIVERY",
            "BOUNCE",
            "COMPLAINT",
            "REJECT",
            "DELIVERY_DELAY",
            "OPEN",
        ];
        let no_complaint = ["SEND", "DELIVERY", "BOUNCE", "REJECT", "DELIVERY_DELAY"];
        let sets = vec!["good".to_string(), "bad".to_string(), "other".to_string()];
        let (checks, complete) = judge_destinations(
            TOPIC,
            &sets,
            &[
                destination("good", &all, Some(TOPIC), true),
                destination("bad", &no_complaint, Some(TOPIC), true),
                destination(
                    "other",
                    &all,
                    Some("arn:aws:sns:us-east-1:111122223333:else"),
                    true,
                ),
            ],
        );
        assert_eq!(complete, BTreeSet::from(["good".to_string()]));
        let bad = checks
            .iter()
            .find(|c| c.subject == "configuration set bad")
            .expect("bad judged");
        assert_eq!(bad.status, Status::Fail);
        assert!(
            bad.detail.contains("leaves out COMPLAINT"),
            "{}",
            bad.detail
        );
        assert!(
            !checks.iter().any(|c| c.subject.contains("other")),
            "not aimed at us: not judged"
        );
    }

    #[test]
    fn a_disabled_destination_or_none_at_all_is_said() {
        let all = COUNTED_EVENT_TYPES;
        let (checks, complete) = judge_destinations(
            TOPIC,
            &["s".into()],
            &[destination("s", &all, Some(TOPIC), false)],
        );
        assert!(complete.is_empty());
        assert_eq!(checks[0].status, Status::Fail);
        assert!(checks[0].detail.contains("disabled"));
        assert_eq!(checks.last().map(|c| c.status), Some(Status::Warn));
        let (checks, _) = judge_destinations(TOPIC, &[], &[]);
        assert_eq!(checks.len(), 1);
        assert!(checks[0]
            .detail
            .contains("none of the 0 configuration sets"));
    }

    #[test]
    fn identities_are_judged_by_set_or_notifications_and_the_rest_named() {
        let sets = BTreeSet::from(["ledger".to_string()]);
        let t = || Some(TOPIC.to_string());
        let ids = vec![
            Identity {
                name: "a.example".into(),
                default_configuration_set: Some("ledger".into()),
                ..Default::default()
            },
            Identity {
                name: "b.example".into(),
                bounce_topic: t(),
                complaint_topic: t(),
                delivery_topic: t(),
                headers_in_notifications: true,
                ..Default::default()
            },
            Identity {
                name: "c.example".into(),
                bounce_topic: t(),
                complaint_topic: t(),
                ..Default::default()
            },
            Identity {
                name: "d.example".into(),
                default_configuration_set: Some("elsewhere".into()),
                ..Default::default()
            },
        ];
        let existing = vec!["ledger".to_string(), "elsewhere".to_string()];
        let checks = judge_identities(TOPIC, &existing, &sets, &ids);
        let text: Vec<String> = checks
            .iter()
            .map(|c| format!("{:?} {} {}", c.status, c.subject, c.detail))
            .collect();
        assert!(text[0].starts_with("Pass identities 2 of 4"), "{text:?}");
        assert!(
            text.iter()
                .any(|l| l.starts_with("Warn identity c.example")
                    && l.contains("leave out Delivery")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|l| l.starts_with("Warn identities with neither")
                    && l.contains("d.example")
                    && !l.contains("c.example")),
            "{text:?}"
        );
        let gone = judge_identities(TOPIC, &["ledger".to_string()], &sets, &ids);
        assert!(
            gone.iter().any(|c| c.status == Status::Fail
                && c.subject == "identity d.example"
                && c.detail.contains("elsewhere does not exist")),
            "{gone:?}"
        );
    }

    #[test]
    fn coverage_passes_at_99_percent_and_fails_below_90() {
        let judge = |ses, ledger| {
            judge_coverage("sends", "24 hours", Coverage { ses, ledger }, Some("cause")).status
        };
        assert_eq!(judge(1000, 996), Status::Pass);
        assert_eq!(judge(1000, 989), Status::Warn);
        assert_eq!(judge(1000, 899), Status::Fail);
        assert_eq!(judge(0, 0), Status::Pass);
        assert_eq!(judge(0, 5), Status::Warn);
        let c = judge_coverage(
            "sends",
            "24 hours",
            Coverage {
                ses: 1000,
                ledger: 996,
            },
            None,
        );
        assert!(
            c.detail
                .starts_with("the ledger holds 99.6% of the sends SES counted"),
            "{}",
            c.detail
        );
        let c = judge_coverage(
            "sends",
            "24 hours",
            Coverage { ses: 10, ledger: 0 },
            Some("identity x sends with neither"),
        );
        assert_eq!(c.fix.as_deref(), Some("identity x sends with neither"));
    }

    #[test]
    fn thresholds_of_the_stack_checks() {
        assert_eq!(
            judge_dead_letters("ingest dead-letter queue", "q", 0, "r").status,
            Status::Pass
        );
        let c = judge_dead_letters("ingest dead-letter queue", "q", 3, "replay them");
        assert_eq!(
            (c.status, c.detail.as_str()),
            (Status::Fail, "3 message(s) waiting in q")
        );
        assert_eq!(judge_iterator_age(None).status, Status::Pass);
        assert_eq!(judge_iterator_age(Some(60_000.0)).status, Status::Pass);
        assert_eq!(
            judge_iterator_age(Some(30.0 * 60_000.0)).status,
            Status::Warn
        );
        assert_eq!(
            judge_iterator_age(Some(7.0 * 3_600_000.0)).status,
            Status::Fail
        );
        assert_eq!(judge_alarm_runs(Some(20), 15).status, Status::Pass);
        assert_eq!(judge_alarm_runs(Some(50), 15).status, Status::Warn);
        assert_eq!(judge_alarm_runs(None, 15).status, Status::Fail);
        assert_eq!(
            judge_errors("IngestFunctionName", "f", 10, 0, 0).status,
            Status::Pass
        );
        assert_eq!(
            judge_errors("IngestFunctionName", "f", 10, 1, 0).status,
            Status::Warn
        );
        assert_eq!(
            judge_function(
                "IngestFunctionName",
                "f",
                Some("Active"),
                Some("Successful"),
                None
            )
            .status,
            Status::Pass
        );
        assert_eq!(
            judge_function(
                "IngestFunctionName",
                "f",
                Some("Failed"),
                None,
                Some("bad zip")
            )
            .status,
            Status::Fail
        );
        assert_eq!(
            judge_function("IngestFunctionName", "f", Some("Inactive"), None, None).status,
            Status::Warn
        );
    }

    #[test]
    fn schedules_read_as_minutes() {
        assert_eq!(schedule_minutes("rate(15 minutes)"), Some(15));
        assert_eq!(schedule_minutes("rate(1 minute)"), Some(1));
        assert_eq!(schedule_minutes("rate(2 hours)"), Some(120));
        assert_eq!(schedule_minutes("rate(1 day)"), Some(1440));
        assert_eq!(schedule_minutes("cron(0 * * * ? *)"), None);
        assert_eq!(schedule_minutes("rate(x minutes)"), None);
    }

    #[test]
    fn subscriptions_need_one_confirmed() {
        let arn = "arn:aws:sns:us-east-1:1:alerts:5f0c".to_string();
        assert_eq!(
            judge_subscriptions(TOPIC, &["pending confirmation".into()]).status,
            Status::Fail
        );
        let pending = "PendingConfirmation".to_string();
        assert_eq!(
            judge_subscriptions(TOPIC, &[arn, pending.clone()]).status,
            Status::Pass
        );
        let c = judge_subscriptions(TOPIC, &[pending]);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("none confirmed"));
        assert!(judge_subscriptions(TOPIC, &[])
            .detail
            .contains("no subscription"));
    }

    #[test]
    fn a_refused_query_fails_with_aws_message() {
        let c = judge_query(
            "bounces-by-type",
            &QueryOutcome::Refused {
                message: "MalformedQueryException: unexpected symbol".into(),
            },
        );
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("unexpected symbol"));
        assert_eq!(
            judge_query("q", &QueryOutcome::Complete { records_matched: 3 }).status,
            Status::Pass
        );
        assert_eq!(
            judge_query(
                "q",
                &QueryOutcome::Ended {
                    status: "Failed".into()
                }
            )
            .status,
            Status::Fail
        );
    }
}
