//! Realistic, reproducible SES event streams: a provider mix, bounce and complaint behaviour per
//! tenant, both payload formats, duplicates and out-of-order arrival. Seeded: the same scenario and
//! seed give the same stream. Used by `ses-ledger simulate`, the demo and the tests.

use chrono::{DateTime, Duration, Utc};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// How one tenant sends.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantProfile {
    pub name: String,
    pub configuration_set: String,
    pub from_domain: String,
    pub sends_per_day: u64,
    /// Recipient domains with weights.
    pub domains: Vec<(String, u32)>,
    /// Fraction of sends that hard-bounce.
    pub hard_bounce_rate: f64,
    /// Fraction of sends that soft-bounce.
    pub soft_bounce_rate: f64,
    /// Fraction of sends delayed before delivery.
    pub delay_rate: f64,
    /// Complaints a day, from recipients at `complaint_domains`.
    pub complaints_per_day: u64,
    pub complaint_domains: Vec<String>,
}

impl TenantProfile {
    /// The seed story: heavy volume, almost all Gmail, a handful of complaints a day from Yahoo
    /// and Microsoft recipients.
    pub fn seed_story(name: &str, sends_per_day: u64, complaints_per_day: u64) -> Self {
        TenantProfile {
            name: name.into(),
            configuration_set: format!("{name}-transactional"),
            from_domain: format!("{name}.example"),
            sends_per_day,
            domains: vec![
                ("gmail.com".into(), 9700),
                ("yahoo.com".into(), 100),
                ("outlook.com".into(), 100),
                ("hotmail.com".into(), 50),
                ("company.example".into(), 50),
            ],
            hard_bounce_rate: 0.002,
            soft_bounce_rate: 0.002,
            delay_rate: 0.001,
            complaints_per_day,
            complaint_domains: vec!["yahoo.com".into(), "outlook.com".into()],
        }
    }

    /// A well-behaved tenant with a broad provider mix.
    pub fn healthy(name: &str, sends_per_day: u64) -> Self {
        TenantProfile {
            name: name.into(),
            configuration_set: format!("{name}-marketing"),
            from_domain: format!("{name}.example"),
            sends_per_day,
            domains: vec![
                ("gmail.com".into(), 50),
                ("yahoo.com".into(), 15),
                ("outlook.com".into(), 15),
                ("icloud.com".into(), 10),
                ("comcast.net".into(), 5),
                ("corp.example".into(), 5),
            ],
            hard_bounce_rate: 0.005,
            soft_bounce_rate: 0.01,
            delay_rate: 0.005,
            complaints_per_day: 0,
            complaint_domains: vec![],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub tenants: Vec<TenantProfile>,
    pub start: DateTime<Utc>,
    pub days: u32,
    pub seed: u64,
    /// Fraction of messages delivered twice (SNS/Lambda redelivery).
    pub duplicate_rate: f64,
    /// Fraction of bounces and complaints also sent as identity notifications (both formats on).
    pub notification_share: f64,
    /// Shuffle arrival order within each hour.
    pub shuffle: bool,
}

/// Generates the stream: SES messages (the JSON SES publishes), in arrival order.
pub fn generate(scenario: &Scenario) -> Vec<Value> {
    let mut rng = ChaCha8Rng::seed_from_u64(scenario.seed);
    let mut out = Vec::new();
    let mut serial: u64 = 0;
    for day in 0..scenario.days {
        let day_start = scenario.start + Duration::days(i64::from(day));
        for tenant in &scenario.tenants {
            let weights: u32 = tenant.domains.iter().map(|(_, w)| w).sum();
            let mut day_msgs = Vec::new();
            for i in 0..tenant.sends_per_day {
                serial += 1;
                let offset = (i as f64 + rng.gen::<f64>()) / tenant.sends_per_day as f64 * 86_400.0;
                let sent = day_start + Duration::milliseconds((offset * 1000.0) as i64);
                let mut pick = rng.gen_range(0..weights.max(1));
                let domain = tenant
                    .domains
                    .iter()
                    .find(|(_, w)| {
                        if pick < *w {
                            true
                        } else {
                            pick -= w;
                            false
                        }
                    })
                    .map_or("example.com", |(d, _)| d.as_str());
                let mail = Mail::new(tenant, serial, &format!("user{serial}@{domain}"), sent);
                day_msgs.push(mail.send());
                let roll: f64 = rng.gen();
                let later = sent + Duration::seconds(rng.gen_range(1..30));
                if roll < tenant.hard_bounce_rate {
                    day_msgs.push(mail.bounce("Permanent", "General", later));
                } else if roll < tenant.hard_bounce_rate + tenant.soft_bounce_rate {
                    day_msgs.push(mail.bounce("Transient", "MailboxFull", later));
                } else {
                    if roll < tenant.hard_bounce_rate + tenant.soft_bounce_rate + tenant.delay_rate
                    {
                        day_msgs.push(mail.delay(later));
                    }
                    day_msgs.push(mail.delivery(later + Duration::seconds(1)));
                }
            }
            for c in 0..tenant.complaints_per_day {
                serial += 1;
                let domain = tenant
                    .complaint_domains
                    .get(c as usize % tenant.complaint_domains.len().max(1))
                    .map_or("yahoo.com", String::as_str);
                let sent = day_start + Duration::seconds(rng.gen_range(0..80_000));
                let mail = Mail::new(
                    tenant,
                    serial,
                    &format!("complainer{serial}@{domain}"),
                    sent,
                );
                day_msgs.push(mail.send());
                day_msgs.push(mail.delivery(sent + Duration::seconds(2)));
                let complained = sent + Duration::hours(rng.gen_range(1..4));
                let complaint = mail.complaint(complained);
                if rng.gen::<f64>() < scenario.notification_share {
                    day_msgs.push(as_notification(&complaint));
                }
                day_msgs.push(complaint);
            }
            out.extend(day_msgs);
        }
    }
    let dupes: Vec<Value> = out
        .iter()
        .filter(|_| rng.gen::<f64>() < scenario.duplicate_rate)
        .cloned()
        .collect();
    out.extend(dupes);
    if scenario.shuffle {
        // SNS keeps no order, but it does not hold events back for hours: shuffled within each
        // hour of their own time, in hour order.
        out.shuffle(&mut rng);
        out.sort_by_cached_key(arrival_hour);
    }
    out
}

/// The hour (`2026-11-20T10`) of the time an SES message reports its event at.
fn arrival_hour(message: &Value) -> String {
    let event_time = [
        "bounce",
        "complaint",
        "delivery",
        "deliveryDelay",
        "open",
        "click",
        "reject",
    ]
    .iter()
    .find_map(|object| message[*object]["timestamp"].as_str())
    .or_else(|| message["mail"]["timestamp"].as_str())
    .unwrap_or_default();
    event_time.chars().take(13).collect()
}

/// Wraps SES messages as the SNS -> Lambda event the ingest function receives, one record each;
/// record `i` gets SNS message id `<batch>-<i>`.
pub fn sns_lambda_event(messages: &[Value], batch: &str) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            json!({
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:ses-events:simulated",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": format!("{batch}-{i:04}"),
                    "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events",
                    "Subject": null,
                    "Message": m.to_string(),
                    "Timestamp": "2026-11-23T10:00:00.000Z",
                    "SignatureVersion": "1",
                    "Signature": "SIMULATED",
                    "SigningCertURL": "https://sns.example/simulated.pem",
                    "UnsubscribeURL": "https://sns.example/unsubscribe",
                    "MessageAttributes": {}
                }
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The same event as an identity notification (`notificationType`, no tags).
pub fn as_notification(event: &Value) -> Value {
    let mut n = event.clone();
    if let Some(obj) = n.as_object_mut() {
        if let Some(t) = obj.remove("eventType") {
            obj.insert("notificationType".into(), t);
        }
        if let Some(mail) = obj.get_mut("mail").and_then(Value::as_object_mut) {
            mail.remove("tags");
        }
    }
    n
}

struct Mail {
    mail: Value,
    recipient: String,
}

fn ts(t: DateTime<Utc>) -> String {
    crate::model::timestamp::format_timestamp(t)
}

impl Mail {
    fn new(tenant: &TenantProfile, serial: u64, recipient: &str, sent: DateTime<Utc>) -> Mail {
        let message_id = format!("sim-{:016x}-{serial:010}", fxhash(&tenant.name));
        let from = format!("{} <no-reply@{}>", tenant.name, tenant.from_domain);
        let subject = format!("Your {} account update", tenant.name);
        Mail {
            recipient: recipient.into(),
            // The original headers as SES's documented examples carry them: event publishing
            // always does, and notifications do when the identity includes them (as here).
            mail: json!({
                "timestamp": ts(sent),
                "source": from,
                "sourceArn": format!("arn:aws:ses:us-east-1:123456789012:identity/{}", tenant.from_domain),
                "sendingAccountId": "123456789012",
                "messageId": message_id,
                "destination": [recipient],
                "headersTruncated": false,
                "headers": [
                    {"name": "From", "value": from},
                    {"name": "To", "value": recipient},
                    {"name": "Subject", "value": subject},
                    {"name": "MIME-Version", "value": "1.0"},
                    {"name": "Content-Type", "value": "text/html; charset=UTF-8"},
                    {"name": "Content-Transfer-Encoding", "value": "7bit"}
                ],
                "commonHeaders": {
                    "from": [from],
                    "to": [recipient],
                    "messageId": message_id,
                    "subject": subject
                },
                "tags": {
                    "ses:configuration-set": [tenant.configuration_set],
                    "ses:from-domain": [tenant.from_domain],
                    "ses:caller-identity": ["app"],
                    "tenant": [tenant.name]
                }
            }),
        }
    }

    fn send(&self) -> Value {
        json!({ "eventType": "Send", "mail": self.mail, "send": {} })
    }

    fn delivery(&self, at: DateTime<Utc>) -> Value {
        json!({
            "eventType": "Delivery",
            "mail": self.mail,
            "delivery": {
                "timestamp": ts(at),
                "processingTimeMillis": 1200,
                "recipients": [self.recipient],
                "smtpResponse": "250 2.0.0 OK",
                "reportingMTA": "a8-70.smtp-out.amazonses.com"
            }
        })
    }

    fn bounce(&self, kind: &str, subtype: &str, at: DateTime<Utc>) -> Value {
        let (status, code) = if kind == "Permanent" {
            ("5.1.1", "smtp; 550 5.1.1 user unknown")
        } else {
            ("4.2.2", "smtp; 452 4.2.2 mailbox full")
        };
        json!({
            "eventType": "Bounce",
            "mail": self.mail,
            "bounce": {
                "bounceType": kind,
                "bounceSubType": subtype,
                "bouncedRecipients": [{
                    "emailAddress": self.recipient, "action": "failed", "status": status, "diagnosticCode": code
                }],
                "timestamp": ts(at),
                "feedbackId": format!("fb-bounce-{}", self.mail["messageId"].as_str().unwrap_or_default()),
                "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com"
            }
        })
    }

    fn delay(&self, at: DateTime<Utc>) -> Value {
        json!({
            "eventType": "DeliveryDelay",
            "mail": self.mail,
            "deliveryDelay": {
                "timestamp": ts(at),
                "delayType": "MailboxFull",
                "expirationTime": ts(at + Duration::hours(12)),
                "delayedRecipients": [{ "emailAddress": self.recipient, "status": "4.2.2", "diagnosticCode": "smtp; 452 4.2.2 full" }]
            }
        })
    }

    fn complaint(&self, at: DateTime<Utc>) -> Value {
        json!({
            "eventType": "Complaint",
            "mail": self.mail,
            "complaint": {
                "complainedRecipients": [{ "emailAddress": self.recipient }],
                "timestamp": ts(at),
                "feedbackId": format!("fb-complaint-{}", self.mail["messageId"].as_str().unwrap_or_default()),
                "userAgent": "Mail Provider Feedback Loop",
                "complaintFeedbackType": "abuse",
                "arrivalDate": ts(at)
            }
        })
    }
}

/// A stable, dependency-free hash for message-id prefixes.
fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn scenario(seed: u64) -> Scenario {
        Scenario {
            tenants: vec![
                TenantProfile::seed_story("acme", 2000, 3),
                TenantProfile::healthy("globex", 500),
            ],
            start: Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap(),
            days: 2,
            seed,
            duplicate_rate: 0.01,
            notification_share: 0.5,
            shuffle: true,
        }
    }

    #[test]
    fn a_shuffled_stream_arrives_hour_by_hour_in_no_order_within_the_hour() {
        let stream = generate(&scenario(3));
        let hours: Vec<String> = stream.iter().map(arrival_hour).collect();
        assert!(hours.windows(2).all(|w| w[0] <= w[1]), "hour order");
        let in_order = {
            let mut unshuffled = scenario(3);
            unshuffled.shuffle = false;
            generate(&unshuffled)
        };
        assert_eq!(stream.len(), in_order.len());
        assert_ne!(stream, in_order, "shuffled within the hour");
    }

    #[test]
    fn a_seed_reproduces_its_stream_and_another_seed_does_not() {
        assert_eq!(generate(&scenario(7)), generate(&scenario(7)));
        assert_ne!(generate(&scenario(7)), generate(&scenario(8)));
    }

    #[test]
    fn the_stream_has_the_profiles_shape() {
        let stream = generate(&scenario(1));
        let count = |t: &str| {
            stream
                .iter()
                .filter(|m| m["eventType"] == t || m["notificationType"] == t)
                .count()
        };
        assert!(
            count("Send") >= 5000,
            "2 days x 2,500 sends plus complaint sends"
        );
        assert!(
            count("Complaint") >= 6,
            "3 a day for 2 days, some in both formats"
        );
        assert!(count("Delivery") > 4500);
        assert!(stream.iter().any(|m| m.get("notificationType").is_some()));
    }

    /// Messages are as large as SES's: the original headers come with every message, addressed
    /// to its recipient, and the subject reaches the record.
    #[test]
    fn every_message_carries_its_original_headers() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        for message in generate(&scenario(2)).iter().take(500) {
            let mail = &message["mail"];
            let header = |name: &str| {
                mail["headers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|h| h["name"] == name)
                    .map(|h| h["value"].clone())
            };
            assert_eq!(header("To"), Some(mail["destination"][0].clone()));
            assert_eq!(header("From"), Some(mail["source"].clone()));
            let subject = mail["commonHeaders"]["subject"].as_str().expect("subject");
            assert_eq!(header("Subject"), Some(subject.into()));
            let records = crate::input::normalise::normalise(message, &Default::default(), now)
                .expect("normalises");
            assert!(records
                .iter()
                .all(|r| r.subject.as_deref() == Some(subject)));
        }
    }
}
