//! What each recipient event adds to the hourly counters, and for which scopes. Pure. Ingest
//! writes them on the event's item (its scopes, hour and metrics); the count function reads them
//! from the table's change stream when the item is inserted (or gains scopes) and adds them to
//! the counters once (`tally`), so a counter moves exactly when the event is new.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::config::LedgerConfig;
use crate::model::event::{EventType, RecipientEvent};

/// Recipients at the SES mailbox simulator never count toward SES's rates: their events count in
/// the [`Scope::MailboxSimulator`] scope alone, where `doctor --canary` sees them arrive.
pub const MAILBOX_SIMULATOR_DOMAIN: &str = "simulator.amazonses.com";

/// Who a number is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    Account,
    ConfigurationSet(String),
    /// Sending identity, the name after `identity/` in the source ARN.
    Identity(String),
    FromDomain(String),
    Provider(String),
    /// An SES tenant (the `ses:tenant-name` tag SES adds): built in, needs no configuration.
    Tenant(String),
    /// A message tag named in configuration (a tenant), with its value.
    Tag {
        name: String,
        value: String,
    },
    /// Mail to the SES mailbox simulator, and nothing else: SES leaves it out of its rates, so
    /// the ledger counts it here only, never in the account or any other scope, and no alarm
    /// judges it. It proves the counting path (`ses-ledger doctor --canary`).
    MailboxSimulator,
}

impl Scope {
    /// The stable text form used in keys, logs, alerts and on the command line.
    pub fn key(&self) -> String {
        match self {
            Scope::Account => "account".into(),
            Scope::ConfigurationSet(v) => format!("configuration-set:{v}"),
            Scope::Identity(v) => format!("identity:{v}"),
            Scope::FromDomain(v) => format!("from-domain:{v}"),
            Scope::Provider(v) => format!("provider:{v}"),
            Scope::Tenant(v) => format!("tenant:{v}"),
            Scope::Tag { name, value } => format!("tag:{name}={value}"),
            Scope::MailboxSimulator => "mailbox-simulator".into(),
        }
    }

    /// Whether rates are judged and reported for this scope: every scope but the mailbox
    /// simulator's, which SES leaves out of its rates.
    pub fn has_rates(&self) -> bool {
        !matches!(self, Scope::MailboxSimulator)
    }

    /// Inverse of [`Scope::key`].
    pub fn parse(key: &str) -> Option<Scope> {
        match key {
            "account" => return Some(Scope::Account),
            "mailbox-simulator" => return Some(Scope::MailboxSimulator),
            _ => {}
        }
        let (kind, value) = key.split_once(':')?;
        if value.is_empty() {
            return None;
        }
        Some(match kind {
            "configuration-set" => Scope::ConfigurationSet(value.into()),
            "identity" => Scope::Identity(value.into()),
            "from-domain" => Scope::FromDomain(value.into()),
            "provider" => Scope::Provider(value.into()),
            "tenant" => Scope::Tenant(value.into()),
            "tag" => {
                let (name, value) = value.split_once('=')?;
                Scope::Tag {
                    name: name.into(),
                    value: value.into(),
                }
            }
            _ => return None,
        })
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key())
    }
}

/// One counted quantity. The attribute name is the one stored on counter items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Sends,
    Deliveries,
    /// Deliveries to providers that send complaint feedback to SES.
    FeedbackLoopDeliveries,
    /// Permanent bounces other than OnAccountSuppressionList: what SES's bounce rate counts.
    CountedHardBounces,
    OtherBounces,
    Complaints,
    /// Complaints SES did not generate from the account suppression list.
    ComplaintsNotSuppressed,
    /// Of those, the complaints from providers that send complaint feedback to SES: the
    /// feedback-loop rate's numerator, like for like with `FeedbackLoopDeliveries`.
    FeedbackLoopComplaints,
    Delays,
    Rejects,
    /// Events with a value SES does not document (`undocumented_values`), whatever their type.
    Undocumented,
}

impl Metric {
    pub const ALL: [Metric; 11] = [
        Metric::Sends,
        Metric::Deliveries,
        Metric::FeedbackLoopDeliveries,
        Metric::CountedHardBounces,
        Metric::OtherBounces,
        Metric::Complaints,
        Metric::ComplaintsNotSuppressed,
        Metric::FeedbackLoopComplaints,
        Metric::Delays,
        Metric::Rejects,
        Metric::Undocumented,
    ];

    pub fn attribute(self) -> &'static str {
        match self {
            Metric::Sends => "sends",
            Metric::Deliveries => "deliveries",
            Metric::FeedbackLoopDeliveries => "fbl_deliveries",
            Metric::CountedHardBounces => "hard_bounces",
            Metric::OtherBounces => "other_bounces",
            Metric::Complaints => "complaints",
            Metric::ComplaintsNotSuppressed => "complaints_not_suppressed",
            Metric::FeedbackLoopComplaints => "fbl_complaints",
            Metric::Delays => "delays",
            Metric::Rejects => "rejects",
            Metric::Undocumented => "undocumented",
        }
    }
}

/// The metrics one event adds 1 to.
pub fn metrics_for(event: &RecipientEvent, config: &LedgerConfig) -> Vec<Metric> {
    let fbl = event
        .mailbox_provider
        .as_deref()
        .is_some_and(|p| config.is_feedback_loop_provider(p));
    let mut metrics = match event.event_type {
        EventType::Send => vec![Metric::Sends],
        EventType::Delivery if fbl => vec![Metric::Deliveries, Metric::FeedbackLoopDeliveries],
        EventType::Delivery => vec![Metric::Deliveries],
        EventType::Bounce if event.is_counted_hard_bounce() => vec![Metric::CountedHardBounces],
        EventType::Bounce => vec![Metric::OtherBounces],
        EventType::Complaint if event.is_suppression_list_complaint() => vec![Metric::Complaints],
        EventType::Complaint if fbl => vec![
            Metric::Complaints,
            Metric::ComplaintsNotSuppressed,
            Metric::FeedbackLoopComplaints,
        ],
        EventType::Complaint => vec![Metric::Complaints, Metric::ComplaintsNotSuppressed],
        EventType::DeliveryDelay => vec![Metric::Delays],
        EventType::Reject => vec![Metric::Rejects],
        _ => Vec::new(),
    };
    if !event.undocumented_values.is_empty() {
        metrics.push(Metric::Undocumented);
    }
    metrics
}

/// Every scope an event belongs to. A value a sender left empty (`"ses:configuration-set":
/// [""]`, an empty tenant tag) names no scope: it is left out, so every scope has a key that
/// [`Scope::parse`] reads back. Mail to the mailbox simulator is in its own scope alone.
pub fn scopes_for(event: &RecipientEvent, config: &LedgerConfig) -> Vec<Scope> {
    if event.recipient_domain.as_deref() == Some(MAILBOX_SIMULATOR_DOMAIN) {
        return vec![Scope::MailboxSimulator];
    }
    let named = |v: &str| !v.is_empty();
    let mut scopes = vec![Scope::Account];
    if let Some(cs) = event.configuration_set.as_deref().filter(|v| named(v)) {
        scopes.push(Scope::ConfigurationSet(cs.to_string()));
    }
    if let Some(identity) = event
        .source_arn
        .as_deref()
        .and_then(|arn| arn.rsplit_once(":identity/"))
        .map(|(_, name)| name)
        .filter(|n| named(n))
    {
        scopes.push(Scope::Identity(identity.to_string()));
    }
    if let Some(domain) = event.from_domain().filter(|v| named(v)) {
        scopes.push(Scope::FromDomain(domain.to_ascii_lowercase()));
    }
    if let Some(provider) = event.mailbox_provider.as_deref().filter(|v| named(v)) {
        scopes.push(Scope::Provider(provider.to_string()));
    }
    if let Some(tenant) = event.ses_tenant() {
        scopes.push(Scope::Tenant(tenant.to_string()));
    }
    for name in &config.tenant_tags {
        for value in event
            .tags
            .get(name)
            .into_iter()
            .flatten()
            .filter(|v| named(v))
        {
            scopes.push(Scope::Tag {
                name: name.clone(),
                value: value.clone(),
            });
        }
    }
    scopes.sort();
    scopes.dedup();
    scopes
}

/// The hour an event's counters go into (by event time, so backfills land where they belong).
pub fn bucket_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t)
}

/// Add 1 to each of `metrics` and `details` of `scope` in the hour starting at `bucket`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterIncrement {
    pub scope: Scope,
    pub bucket: DateTime<Utc>,
    pub metrics: Vec<Metric>,
    /// Breakdown counters named by [`ComplaintBreakdown::attribute`], kept only for complaints (rare, and what
    /// an alert must explain).
    pub details: Vec<ComplaintBreakdown>,
}

/// A complaint breakdown counter: by recipient domain, or by feedback type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ComplaintBreakdown {
    ComplaintDomain(String),
    ComplaintFeedbackType(String),
}

impl ComplaintBreakdown {
    const DOMAIN_PREFIX: &'static str = "complaint_domain:";
    const FEEDBACK_PREFIX: &'static str = "complaint_feedback:";

    pub fn attribute(&self) -> String {
        match self {
            ComplaintBreakdown::ComplaintDomain(d) => format!("{}{d}", Self::DOMAIN_PREFIX),
            ComplaintBreakdown::ComplaintFeedbackType(t) => format!("{}{t}", Self::FEEDBACK_PREFIX),
        }
    }

    pub fn parse(attribute: &str) -> Option<ComplaintBreakdown> {
        if let Some(d) = attribute.strip_prefix(Self::DOMAIN_PREFIX) {
            return Some(ComplaintBreakdown::ComplaintDomain(d.to_string()));
        }
        attribute
            .strip_prefix(Self::FEEDBACK_PREFIX)
            .map(|t| ComplaintBreakdown::ComplaintFeedbackType(t.to_string()))
    }
}

/// Complaint breakdowns of one event.
pub fn details_for(event: &RecipientEvent) -> Vec<ComplaintBreakdown> {
    if event.event_type != EventType::Complaint {
        return Vec::new();
    }
    vec![
        ComplaintBreakdown::ComplaintDomain(
            event
                .recipient_domain
                .clone()
                .unwrap_or_else(|| "unknown".into()),
        ),
        ComplaintBreakdown::ComplaintFeedbackType(
            event
                .detail
                .complaint_feedback_type
                .clone()
                .unwrap_or_else(|| "unspecified".into()),
        ),
    ]
}

/// All counter increments for one event: empty for events that count nothing.
pub fn increments_for(event: &RecipientEvent, config: &LedgerConfig) -> Vec<CounterIncrement> {
    let metrics = metrics_for(event, config);
    if metrics.is_empty() {
        return Vec::new();
    }
    let bucket = bucket_of(event.event_time);
    let details = details_for(event);
    scopes_for(event, config)
        .into_iter()
        .map(|scope| CounterIncrement {
            scope,
            bucket,
            metrics: metrics.clone(),
            details: details.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn scope_keys_round_trip() {
        for scope in [
            Scope::Account,
            Scope::ConfigurationSet("marketing".into()),
            Scope::Identity("example.com".into()),
            Scope::FromDomain("mail.example.com".into()),
            Scope::Provider("google".into()),
            Scope::Tag {
                name: "tenant".into(),
                value: "acme:eu=1".into(),
            },
        ] {
            assert_eq!(Scope::parse(&scope.key()), Some(scope));
        }
        assert_eq!(Scope::parse("provider:"), None);
        assert_eq!(Scope::parse("nonsense"), None);
    }

    /// SES leaves simulator mail out of its rates; the ledger counts it in the mailbox-simulator
    /// scope and nowhere else, so the canary can see it counted and no rate moves.
    #[test]
    fn mailbox_simulator_mail_counts_in_its_own_scope_alone() {
        let config = LedgerConfig::default();
        let increments = |recipient: &str, fixture: &str, list: &[&str]| {
            let mut ses = crate::testkit::fixtures::fixture(fixture);
            ses["mail"]["destination"] = serde_json::json!([recipient]);
            let mut node = &mut ses;
            for key in list {
                node = &mut node[*key];
            }
            *node = serde_json::json!([{ "emailAddress": recipient }]);
            let events = crate::input::normalise::normalise(
                &ses,
                &crate::model::event::Origin::default(),
                chrono::Utc::now(),
            )
            .expect("normalises");
            assert_eq!(events.len(), 1);
            increments_for(&events[0], &config)
                .into_iter()
                .map(|i| (i.scope.key(), i.metrics))
                .collect::<Vec<_>>()
        };
        let bounce = "ses/event-publishing/bounce-record.json";
        let complaint = "ses/event-publishing/complaint-record.json";
        let bounced = ["bounce", "bouncedRecipients"];
        let complained = ["complaint", "complainedRecipients"];
        assert_eq!(
            increments("bounce@simulator.amazonses.com", bounce, &bounced),
            [(
                "mailbox-simulator".to_string(),
                vec![Metric::CountedHardBounces]
            )]
        );
        let simulated = increments("complaint@simulator.amazonses.com", complaint, &complained);
        assert_eq!(simulated.len(), 1, "{simulated:?}");
        assert_eq!(simulated[0].0, "mailbox-simulator");
        assert!(simulated[0].1.contains(&Metric::Complaints));
        let real = increments("jane@example.com", bounce, &bounced);
        assert!(real
            .iter()
            .any(|(s, m)| s == "account" && m.contains(&Metric::CountedHardBounces)));
        assert!(!real.iter().any(|(s, _)| s == "mailbox-simulator"));
        assert_eq!(
            Scope::parse("mailbox-simulator"),
            Some(Scope::MailboxSimulator)
        );
    }

    /// A complaint adds to the feedback-loop numerator only when it comes from a provider of the
    /// feedback-loop list, as the deliveries of the denominator do; one from a corporate domain
    /// (its own "provider") still counts in the naive rate.
    #[test]
    fn only_complaints_from_feedback_loop_providers_add_to_the_feedback_loop_numerator() {
        let config = LedgerConfig::default();
        let complaint_from = |recipient: &str| {
            let mut ses =
                crate::testkit::fixtures::fixture("ses/event-publishing/complaint-record.json");
            ses["mail"]["destination"] = serde_json::json!([recipient]);
            ses["complaint"]["complainedRecipients"] =
                serde_json::json!([{ "emailAddress": recipient }]);
            let events = crate::input::normalise::normalise(
                &ses,
                &crate::model::event::Origin::default(),
                chrono::Utc::now(),
            )
            .expect("normalises");
            metrics_for(&events[0], &config)
        };
        assert_eq!(
            complaint_from("jane@yahoo.com"),
            vec![
                Metric::Complaints,
                Metric::ComplaintsNotSuppressed,
                Metric::FeedbackLoopComplaints
            ]
        );
        assert_eq!(
            complaint_from("jane@corp.example"),
            vec![Metric::Complaints, Metric::ComplaintsNotSuppressed]
        );
    }

    #[test]
    fn an_empty_tag_value_names_no_scope() {
        let config = LedgerConfig::default();
        let mut ses =
            crate::testkit::fixtures::fixture("ses/event-publishing/delivery-record.json");
        ses["mail"]["tags"] = serde_json::json!({
            "ses:configuration-set": [""],
            "ses:from-domain": [""],
            "ses:tenant-name": [""],
            "tenant": ["", "acme"]
        });
        ses["mail"]["source"] = serde_json::json!("sender@");
        let events = crate::input::normalise::normalise(
            &ses,
            &crate::model::event::Origin::default(),
            chrono::Utc::now(),
        )
        .expect("normalises");
        let keys: Vec<String> = scopes_for(&events[0], &config)
            .iter()
            .map(Scope::key)
            .collect();
        assert!(keys.iter().all(|k| Scope::parse(k).is_some()), "{keys:?}");
        assert!(keys.contains(&"tag:tenant=acme".to_string()), "{keys:?}");
        assert!(
            !keys.iter().any(|k| k.ends_with(':') || k.ends_with('=')),
            "{keys:?}"
        );
    }

    /// Any scope with a value, of any kind, and a tag name as configuration allows.
    fn any_scope() -> impl Strategy<Value = Scope> {
        let value = ".+";
        prop_oneof![
            Just(Scope::Account),
            value.prop_map(Scope::ConfigurationSet),
            value.prop_map(Scope::Identity),
            value.prop_map(Scope::FromDomain),
            value.prop_map(Scope::Provider),
            value.prop_map(Scope::Tenant),
            ("[^=,]+", ".*").prop_map(|(name, value)| Scope::Tag { name, value }),
        ]
    }

    proptest! {
        #[test]
        fn every_scope_reads_back_from_its_key(scope in any_scope()) {
            prop_assert_eq!(Scope::parse(&scope.key()), Some(scope));
        }

        #[test]
        fn scope_parse_never_panics(s in ".*") {
            let _ = Scope::parse(&s);
        }
    }
}
