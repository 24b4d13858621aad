//! What the hourly counters must hold, counted straight from the SES JSON a test sends, without
//! the crate's parser, records or increments: the expectation for the counting tests, written
//! from the documentation (docs/rates.md for the metrics and scopes, docs/event-schema.md for
//! what makes two deliveries of an event the same event). A definition bug in the crate then
//! shows as a difference instead of sitting on both sides of the comparison.
//!
//! It reads bare SES messages and SNS -> Lambda events (`Records[].Sns.Message`), in both
//! payload formats. The mailbox providers are the ones the simulator and the fixtures use; a
//! domain not in [`PROVIDERS`] is its own provider, as docs/rates.md says.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::Value;

/// Domains to mailbox providers, from docs/event-schema.md's provider list, for the domains the
/// tests send to.
pub const PROVIDERS: &[(&str, &str)] = &[
    ("gmail.com", "google"),
    ("googlemail.com", "google"),
    ("yahoo.com", "yahoo"),
    ("ymail.com", "yahoo"),
    ("aol.com", "yahoo"),
    ("outlook.com", "microsoft"),
    ("hotmail.com", "microsoft"),
    ("live.com", "microsoft"),
    ("msn.com", "microsoft"),
    ("icloud.com", "apple"),
    ("me.com", "apple"),
    ("comcast.net", "comcast"),
];

const SIMULATOR: &str = "simulator.amazonses.com";
const SUPPRESSION_SUBTYPES: [&str; 2] = ["OnAccountSuppressionList", "OnTenantSuppressionList"];

/// The metrics a rate is made of, by their counter attribute names.
pub const METRICS: &[&str] = &[
    "sends",
    "deliveries",
    "fbl_deliveries",
    "hard_bounces",
    "other_bounces",
    "complaints",
    "complaints_not_suppressed",
    "fbl_complaints",
    "delays",
    "rejects",
];

/// One recipient event: what it adds, in which hour, in which scopes (the union over its copies).
#[derive(Debug, Clone)]
struct Event {
    hour: DateTime<Utc>,
    metrics: Vec<String>,
    scopes: BTreeSet<String>,
}

/// Counters by scope key, hour and metric name (and complaint breakdown name).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Truth {
    pub counters: BTreeMap<String, BTreeMap<DateTime<Utc>, BTreeMap<String, u64>>>,
}

impl Truth {
    /// Counts `documents` (bare SES messages or SNS -> Lambda events) with these feedback-loop
    /// providers and tenant tag names.
    pub fn of(documents: &[Value], feedback_loop: &[&str], tenant_tags: &[&str]) -> Truth {
        let mut events: BTreeMap<(String, String, String, String), Event> = BTreeMap::new();
        for doc in documents {
            for message in ses_messages(doc) {
                for (key, event) in recipient_events(&message, feedback_loop, tenant_tags) {
                    events
                        .entry(key)
                        .and_modify(|e| e.scopes.extend(event.scopes.iter().cloned()))
                        .or_insert(event);
                }
            }
        }
        let mut truth = Truth::default();
        for event in events.values() {
            for scope in &event.scopes {
                let cell = truth
                    .counters
                    .entry(scope.clone())
                    .or_default()
                    .entry(event.hour)
                    .or_default();
                for metric in &event.metrics {
                    *cell.entry(metric.clone()).or_default() += 1;
                }
            }
        }
        truth
    }

    /// Every scope with a counter.
    pub fn scopes(&self) -> BTreeSet<String> {
        self.counters.keys().cloned().collect()
    }

    /// A scope's counters, hour by hour, without the zeros.
    pub fn hourly(&self, scope: &str) -> BTreeMap<DateTime<Utc>, BTreeMap<String, u64>> {
        self.counters.get(scope).cloned().unwrap_or_default()
    }

    /// A metric's total in a scope over the hours from `from` (included) to `to` (excluded).
    pub fn total_between(
        &self,
        scope: &str,
        metric: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> u64 {
        self.hourly(scope)
            .range(from..to)
            .filter_map(|(_, m)| m.get(metric))
            .sum()
    }

    /// A metric's total in a scope over every hour.
    pub fn total(&self, scope: &str, metric: &str) -> u64 {
        self.hourly(scope)
            .values()
            .filter_map(|m| m.get(metric))
            .sum()
    }
}

/// The SES messages in a document: itself, or each SNS record's message.
fn ses_messages(doc: &Value) -> Vec<Value> {
    match doc.get("Records").and_then(Value::as_array) {
        Some(records) => records
            .iter()
            .filter_map(|r| r["Sns"]["Message"].as_str())
            .filter_map(|m| serde_json::from_str(m).ok())
            .collect(),
        None => vec![doc.clone()],
    }
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut at = v;
    for p in path {
        at = at.get(*p)?;
    }
    at.as_str()
}

fn time(v: Option<&str>) -> Option<DateTime<Utc>> {
    let v = v?;
    DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `local@domain` with the display name removed and the domain lower-cased.
fn normalised(address: &str) -> String {
    let bare = match (address.rfind('<'), address.rfind('>')) {
        (Some(open), Some(close)) if close > open => &address[open + 1..close],
        _ => address,
    }
    .trim();
    match bare.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_ascii_lowercase()),
        None => bare.to_string(),
    }
}

fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.to_string())
        .unwrap_or_default()
}

fn provider_of(domain: &str) -> String {
    PROVIDERS
        .iter()
        .find(|(d, _)| *d == domain)
        .map_or_else(|| domain.to_string(), |(_, p)| p.to_string())
}

/// The events of one message: the identity key (type, message id, recipient, discriminator) of
/// each, and what it adds.
fn recipient_events(
    message: &Value,
    feedback_loop: &[&str],
    tenant_tags: &[&str],
) -> Vec<((String, String, String, String), Event)> {
    let kind = text(message, &["eventType"])
        .or_else(|| text(message, &["notificationType"]))
        .unwrap_or_default()
        .to_string();
    let mail = &message["mail"];
    let message_id = text(mail, &["messageId"]).unwrap_or_default().to_string();
    let sent = time(text(mail, &["timestamp"]));
    let object = |name: &str| &message[name];
    let list = |v: &Value, field: &str| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| {
                if field.is_empty() {
                    r.as_str()
                } else {
                    r[field].as_str()
                }
            })
            .map(str::to_string)
            .collect()
    };
    let destination = list(&mail["destination"], "");
    // (recipients, own time, discriminator, metrics for one of its recipients)
    let (recipients, own_time, discriminator): (Vec<String>, Option<DateTime<Utc>>, String) =
        match kind.as_str() {
            "Send" => (destination, None, String::new()),
            "Reject" => (destination, None, String::new()),
            "Delivery" => (
                list(&object("delivery")["recipients"], ""),
                time(text(object("delivery"), &["timestamp"])),
                String::new(),
            ),
            "Bounce" => (
                list(&object("bounce")["bouncedRecipients"], "emailAddress"),
                time(text(object("bounce"), &["timestamp"])),
                text(object("bounce"), &["feedbackId"])
                    .unwrap_or_default()
                    .to_string(),
            ),
            "Complaint" => (
                list(&object("complaint")["complainedRecipients"], "emailAddress"),
                time(text(object("complaint"), &["timestamp"])),
                text(object("complaint"), &["feedbackId"])
                    .unwrap_or_default()
                    .to_string(),
            ),
            "DeliveryDelay" => {
                let own = time(text(object("deliveryDelay"), &["timestamp"]));
                (
                    list(
                        &object("deliveryDelay")["delayedRecipients"],
                        "emailAddress",
                    ),
                    own,
                    own.map(|t| t.timestamp_millis().to_string())
                        .unwrap_or_default(),
                )
            }
            // Opens, clicks, rendering failures, subscriptions: no rate counts them.
            _ => return Vec::new(),
        };
    let Some(at) = own_time.or(sent) else {
        return Vec::new();
    };
    let hour = at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at);
    let tag = |name: &str| -> Vec<String> {
        mail["tags"][name]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut common = BTreeSet::from(["account".to_string()]);
    if let Some(cs) = tag("ses:configuration-set").first() {
        common.insert(format!("configuration-set:{cs}"));
    }
    if let Some((_, identity)) =
        text(mail, &["sourceArn"]).and_then(|a| a.rsplit_once(":identity/"))
    {
        if !identity.is_empty() {
            common.insert(format!("identity:{identity}"));
        }
    }
    let from_domain = tag("ses:from-domain")
        .first()
        .cloned()
        .or_else(|| text(mail, &["source"]).map(|s| domain_of(&normalised(s))))
        .filter(|d| !d.is_empty());
    if let Some(d) = from_domain {
        common.insert(format!("from-domain:{}", d.to_ascii_lowercase()));
    }
    if let Some(tenant) = tag("ses:tenant-name").first() {
        common.insert(format!("tenant:{tenant}"));
    }
    for name in tenant_tags {
        for value in tag(name) {
            common.insert(format!("tag:{name}={value}"));
        }
    }
    let mut out = Vec::new();
    for recipient in recipients {
        let recipient = normalised(&recipient);
        let domain = domain_of(&recipient);
        let provider = provider_of(&domain);
        let fbl = feedback_loop.contains(&provider.as_str());
        let metrics: Vec<&'static str> = {
            match kind.as_str() {
                "Send" => vec!["sends"],
                "Reject" => vec!["rejects"],
                "DeliveryDelay" => vec!["delays"],
                "Delivery" if fbl => vec!["deliveries", "fbl_deliveries"],
                "Delivery" => vec!["deliveries"],
                "Bounce" => {
                    let permanent = text(object("bounce"), &["bounceType"]) == Some("Permanent");
                    let suppressed = text(object("bounce"), &["bounceSubType"])
                        .is_some_and(|s| SUPPRESSION_SUBTYPES.contains(&s));
                    if permanent && !suppressed {
                        vec!["hard_bounces"]
                    } else {
                        vec!["other_bounces"]
                    }
                }
                "Complaint" => {
                    let suppressed = text(object("complaint"), &["complaintSubType"])
                        .is_some_and(|s| SUPPRESSION_SUBTYPES.contains(&s));
                    match (suppressed, fbl) {
                        (true, _) => vec!["complaints"],
                        (false, true) => {
                            vec!["complaints", "complaints_not_suppressed", "fbl_complaints"]
                        }
                        (false, false) => vec!["complaints", "complaints_not_suppressed"],
                    }
                }
                _ => Vec::new(),
            }
        };
        let mut metrics: Vec<String> = metrics.into_iter().map(str::to_string).collect();
        // A complaint's breakdowns (docs/rates.md): by recipient domain and feedback type.
        if kind == "Complaint" && !metrics.is_empty() {
            metrics.push(format!("complaint_domain:{domain}"));
            metrics.push(format!(
                "complaint_feedback:{}",
                text(object("complaint"), &["complaintFeedbackType"]).unwrap_or("unspecified")
            ));
        }
        // SES leaves simulator mail out of its rates: it counts in a scope of its own alone.
        let scopes = if domain == SIMULATOR {
            BTreeSet::from(["mailbox-simulator".to_string()])
        } else {
            let mut scopes = common.clone();
            scopes.insert(format!("provider:{provider}"));
            scopes
        };
        out.push((
            (
                kind.clone(),
                message_id.clone(),
                recipient,
                discriminator.clone(),
            ),
            Event {
                hour,
                metrics,
                scopes,
            },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-counted: one delivery to two people at Yahoo and a corporate domain, the same
    /// complaint in both formats, a send, and mail to the mailbox simulator.
    #[test]
    fn a_small_stream_counts_as_counted_by_hand() {
        let mail = |id: &str, to: &[&str]| {
            serde_json::json!({
                "messageId": id, "timestamp": "2026-11-20T10:05:00.000Z",
                "source": "News <news@Example.com>", "destination": to,
                "sourceArn": "arn:aws:ses:us-east-1:1:identity/example.com",
                "tags": {"ses:configuration-set": ["marketing"], "tenant": ["acme", ""]}
            })
        };
        let delivery = serde_json::json!({"eventType": "Delivery",
            "mail": mail("m1", &["a@yahoo.com", "b@corp.example"]),
            "delivery": {"timestamp": "2026-11-20T11:00:01.000Z", "recipients": ["a@yahoo.com", "b@corp.example"]}});
        let complaint = serde_json::json!({"eventType": "Complaint", "mail": mail("m1", &["a@yahoo.com"]),
            "complaint": {"timestamp": "2026-11-20T12:00:00.000Z", "feedbackId": "f1",
                "complainedRecipients": [{"emailAddress": "a@yahoo.com"}]}});
        let mut notification = complaint.clone();
        notification["notificationType"] = "Complaint".into();
        notification.as_object_mut().map(|o| o.remove("eventType"));
        notification["mail"]["tags"] = serde_json::json!({});
        let send = serde_json::json!({"eventType": "Send", "mail": mail("m2", &["x@simulator.amazonses.com", "c@gmail.com"]), "send": {}});
        let truth = Truth::of(
            &[delivery.clone(), complaint, notification, send, delivery],
            &["yahoo", "microsoft", "comcast"],
            &["tenant"],
        );
        assert_eq!(truth.total("account", "deliveries"), 2);
        assert_eq!(truth.total("account", "fbl_deliveries"), 1);
        assert_eq!(truth.total("account", "complaints"), 1);
        assert_eq!(truth.total("account", "fbl_complaints"), 1);
        assert_eq!(truth.total("account", "complaint_domain:yahoo.com"), 1);
        assert_eq!(truth.total("account", "complaint_feedback:unspecified"), 1);
        assert_eq!(
            truth.total("account", "sends"),
            1,
            "the simulator counts in no rate"
        );
        assert_eq!(truth.total("mailbox-simulator", "sends"), 1);
        assert_eq!(truth.total("provider:corp.example", "deliveries"), 1);
        assert_eq!(truth.total("configuration-set:marketing", "complaints"), 1);
        assert_eq!(truth.total("tag:tenant=acme", "deliveries"), 2);
        assert_eq!(truth.total("from-domain:example.com", "sends"), 1);
        assert_eq!(truth.total("identity:example.com", "deliveries"), 2);
        assert!(!truth.scopes().iter().any(|s| s.ends_with('=')));
        let hours: Vec<String> = truth
            .hourly("account")
            .keys()
            .map(|h| h.format("%H").to_string())
            .collect();
        assert_eq!(hours, ["10", "11", "12"]);
    }
}
