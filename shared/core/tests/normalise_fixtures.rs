//! Every fixture in `events/`, end to end through envelope detection and normalisation: the
//! official SES examples, every envelope, the oddities seen in the wild, and the malformed inputs.
//! (Unit tests of single functions stay beside their code.)

use chrono::TimeZone;
use chrono::{DateTime, Utc};
use serde_json::json;
use serde_json::Value;
use ses_ledger::documents::parse_documents;
use ses_ledger::envelope::InputError;
use ses_ledger::envelope::{split_document, split_owned_document, Content, Inbound, Skip};
use ses_ledger::event::*;
use ses_ledger::event::{PayloadFormat, Transport};
use ses_ledger::normalise::normalise;
use ses_ledger::testkit::expected::{
    assert_events_in_order, documented_event_id, expected_events, fixtures_with_expectations,
};
use ses_ledger::testkit::fixtures::{fixture, fixtures_in, DOCUMENT_FOLDERS};
use sha2::{Digest, Sha256};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
        .single()
        .expect("valid")
}

fn raw(ses: &Value) -> Vec<RecipientEvent> {
    normalise(ses, &Origin::default(), now()).unwrap_or_else(|e| panic!("{e}: {ses}"))
}

/// Every event of a document, failing on any bad message.
fn through_envelope(doc: &Value) -> Vec<(Origin, Vec<RecipientEvent>)> {
    split_document(doc)
        .expect("known envelope")
        .into_iter()
        .map(|Inbound { origin, content }| {
            let ses = content.ses().expect("an SES message");
            let events = normalise(ses, &origin, now()).expect("normalises");
            (origin, events)
        })
        .collect()
}

/// The events without what the envelope adds.
fn without_origin(events: &[RecipientEvent]) -> Vec<RecipientEvent> {
    events
        .iter()
        .map(|e| RecipientEvent {
            origin: Origin::default(),
            ..e.clone()
        })
        .collect()
}

fn recipients(events: &[RecipientEvent]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e.recipient.as_deref().unwrap_or("-"))
        .collect()
}

#[test]
fn official_examples_yield_the_expected_events() {
    type Row<'a> = (&'a str, EventType, &'a [&'a str], Option<&'a str>);
    let notification: &[Row] = &[
        (
            "bounce-notification-with-a-dsn",
            EventType::Bounce,
            &["jane@example.com"],
            Some("Permanent/General"),
        ),
        (
            "bounce-notification-without-a-dsn",
            EventType::Bounce,
            &["jane@example.com", "richard@example.com"],
            Some("Permanent/General"),
        ),
        (
            "complaint-notification-with-a-feedback-report",
            EventType::Complaint,
            &["richard@example.com"],
            Some("abuse"),
        ),
        (
            "complaint-notification-without-a-feedback-report",
            EventType::Complaint,
            &["richard@example.com"],
            None,
        ),
        (
            "delivery-notification-example",
            EventType::Delivery,
            &["jane@example.com"],
            None,
        ),
    ];
    let publishing: &[Row] = &[
        (
            "bounce-record",
            EventType::Bounce,
            &["recipient@example.com"],
            Some("Permanent/General"),
        ),
        (
            "click-record",
            EventType::Click,
            &["recipient@example.com"],
            None,
        ),
        (
            "complaint-record",
            EventType::Complaint,
            &["recipient@example.com"],
            Some("abuse"),
        ),
        (
            "delivery-record",
            EventType::Delivery,
            &["recipient@example.com"],
            None,
        ),
        (
            "deliverydelay-record",
            EventType::DeliveryDelay,
            &["recipient@example.com"],
            Some("TransientCommunicationFailure"),
        ),
        (
            "open-record",
            EventType::Open,
            &["recipient@example.com"],
            None,
        ),
        (
            "reject-record",
            EventType::Reject,
            &["sender@example.com"],
            Some("Bad content"),
        ),
        (
            "rendering-failure-record",
            EventType::RenderingFailure,
            &["recipient@example.com"],
            Some("MyTemplate"),
        ),
        (
            "send-record",
            EventType::Send,
            &["recipient@example.com"],
            None,
        ),
        (
            "subscription-record",
            EventType::Subscription,
            &["recipient@example.com"],
            None,
        ),
    ];
    let mut seen = 0;
    for (folder, format, rows) in [
        ("notification", PayloadFormat::Notification, notification),
        (
            "event-publishing",
            PayloadFormat::EventPublishing,
            publishing,
        ),
    ] {
        assert_eq!(fixtures_in(&format!("ses/{folder}")).len(), rows.len());
        for (name, event_type, expected, subtype) in rows {
            let ses = fixture(&format!("ses/{folder}/{name}.json"));
            let events = raw(&ses);
            assert_eq!(recipients(&events), *expected, "{name}");
            let message_id = ses["mail"]["messageId"].as_str().expect("message id");
            for e in &events {
                assert_eq!(e.event_type, *event_type, "{name}");
                assert_eq!(e.event_subtype.as_deref(), *subtype, "{name}");
                assert_eq!(e.payload_format, format, "{name}");
                assert_eq!(e.ses_message_id, message_id, "{name}");
                assert_eq!(e.schema_version, SCHEMA_VERSION);
                assert_eq!(e.ingested_at, now());
                assert_eq!(e.recipient_domain.as_deref(), Some("example.com"));
                assert_eq!(e.mailbox_provider.as_deref(), Some("example.com"));
                assert_eq!(e.event_id.len(), 32);
                assert!(e.sent_at.is_some() && e.source.is_some() && e.raw.is_none());
                assert_eq!(e.source_domain.as_deref(), Some("example.com"));
                if format == PayloadFormat::EventPublishing {
                    assert_eq!(e.configuration_set.as_deref(), Some("ConfigSet"), "{name}");
                } else {
                    assert!(e.tags.is_empty() && e.configuration_set.is_none());
                    assert_eq!(e.caller_identity.as_deref(), Some("IAM_user_or_role_name"));
                    assert_eq!(e.source_ip.as_deref(), Some("127.0.3.0"));
                }
                seen += 1;
            }
        }
    }
    assert_eq!(seen, 16);
}

/// The expectations in events/expected were written from the SES docs; this is where a parser that
/// drops a recipient, misreads a field or changes an event id first fails.
#[test]
fn every_fixture_yields_the_hand_written_expected_events() {
    let fixtures = fixtures_with_expectations();
    assert_eq!(
        fixtures.len(),
        16 + 58,
        "every official example and envelope"
    );
    for name in fixtures {
        let events: Vec<Value> = through_envelope(&fixture(&name))
            .into_iter()
            .flat_map(|(_, events)| events)
            .map(|e| serde_json::to_value(e).expect("serialises"))
            .collect();
        let expected = expected_events(&name);
        assert!(!expected.is_empty(), "{name}");
        std::panic::catch_unwind(|| assert_events_in_order(&events, &expected))
            .unwrap_or_else(|_| panic!("{name} does not yield its expected events"));
    }
}

#[test]
fn dead_letter_queue_bodies_keep_where_they_came_from() {
    let direct = through_envelope(&fixture("dlq/on-failure-record.json"));
    assert_eq!(direct.len(), 1);
    assert_eq!(
        direct[0].0.transport,
        Some(Transport::Sns),
        "the original SNS event"
    );
    let saved = fixture("dlq/receive-message.json");
    let received = through_envelope(&saved);
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].0.transport, Some(Transport::Sns));
    assert_eq!(received[1].0.transport, Some(Transport::SqsSns));
    assert_eq!(
        received[1].0.sqs_message_id.as_deref(),
        saved["Messages"][1]["MessageId"].as_str(),
        "a redriven SQS message keeps its id"
    );
    let mut broken = saved.clone();
    broken["Messages"][1]["Body"] = json!("{\"Type\": \"Notification\", \"Message\": \"{oops\"}");
    let inbound = split_document(&broken).expect("known shape");
    assert!(inbound[0].content.ses().is_some());
    assert!(
        matches!(inbound[1].content.error(), Some(InputError::NotJson { .. })),
        "{:?}",
        inbound[1].content
    );
}

#[test]
fn the_hand_written_event_ids_follow_the_documented_formula() {
    for name in fixtures_with_expectations() {
        for e in expected_events(&name) {
            assert_eq!(e.event_id(), e.recomputed_event_id(), "{name}");
            assert_eq!(e.event_id().len(), 32);
        }
    }
    // Pinned values: stored ids must never change between versions, or a redelivered event
    // would count twice.
    assert_eq!(
        documented_event_id(
            "Send",
            "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
            "recipient@example.com",
            None
        ),
        "640c40711b3e03727efa65e30ec75104"
    );
}

#[test]
fn every_envelope_yields_the_events_of_the_bare_example() {
    let mut checked = 0;
    for folder in ["notification", "event-publishing"] {
        for (name, ses) in fixtures_in(&format!("ses/{folder}")) {
            let expected = raw(&ses);
            let mut envelopes = vec![
                (format!("sns/{name}"), Transport::Sns),
                (format!("sqs/{name}"), Transport::SqsSns),
                (format!("sqs/{name}-raw"), Transport::SqsRaw),
            ];
            if folder == "event-publishing" {
                envelopes.push((format!("eventbridge/{name}"), Transport::EventBridge));
            }
            for (file, transport) in envelopes {
                let doc = fixture(&format!("{file}.json"));
                let messages = through_envelope(&doc);
                assert_eq!(messages.len(), 1, "{file}");
                let (origin, events) = &messages[0];
                assert_eq!(origin.transport, Some(transport), "{file}");
                let ids = [
                    (transport == Transport::Sns || transport == Transport::SqsSns)
                        == origin.sns_message_id.is_some(),
                    (transport == Transport::SqsSns || transport == Transport::SqsRaw)
                        == origin.sqs_message_id.is_some(),
                    (transport == Transport::EventBridge) == origin.eventbridge_id.is_some(),
                    (transport == Transport::Sns || transport == Transport::SqsSns)
                        == origin.sns_topic_arn.is_some(),
                ];
                assert!(ids.iter().all(|ok| *ok), "{file}: {origin:?}");
                assert!(events.iter().all(|e| e.origin == *origin), "{file}");
                assert_eq!(without_origin(events), expected, "{file}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 5 * 3 + 10 * 4);
}

#[test]
fn the_batch_holds_every_example() {
    let doc = fixture("sns/batch-all-types.json");
    let messages = through_envelope(&doc);
    assert_eq!(messages.len(), 15);
    let events: Vec<RecipientEvent> = messages.into_iter().flat_map(|(_, e)| e).collect();
    assert_eq!(events.len(), 16);
    let types: std::collections::BTreeSet<EventType> =
        events.iter().map(|e| e.event_type).collect();
    assert_eq!(types.len(), 10, "every known type");
    let ids: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids.len(), 16, "no two events of the batch share an id");
}

#[test]
fn the_same_complaint_in_both_formats_has_one_id() {
    let events: Vec<RecipientEvent> =
        through_envelope(&fixture("oddities/complaint-both-formats.json"))
            .into_iter()
            .flat_map(|(_, e)| e)
            .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].payload_format, PayloadFormat::Notification);
    assert_eq!(events[1].payload_format, PayloadFormat::EventPublishing);
    assert_eq!(events[0].event_id, events[1].event_id);
    assert_ne!(
        events[0].origin.sns_message_id,
        events[1].origin.sns_message_id
    );
}

#[test]
fn a_bounce_with_three_recipients_is_three_events() {
    let mut ses = fixture("ses/notification/bounce-notification-with-a-dsn.json");
    ses["bounce"]["bouncedRecipients"] = json!([
        {"emailAddress": "jane@example.com", "status": "5.1.1", "action": "failed", "diagnosticCode": "smtp; 550 5.1.1 unknown"},
        {"emailAddress": "Mary@Hotmail.CO.UK", "status": "5.2.2", "action": "failed"},
        {"emailAddress": "richard@gmail.com"},
    ]);
    let events = raw(&ses);
    assert_eq!(
        recipients(&events),
        [
            "jane@example.com",
            "Mary@hotmail.co.uk",
            "richard@gmail.com"
        ]
    );
    let ids: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids.len(), 3);
    let providers: Vec<_> = events
        .iter()
        .map(|e| e.mailbox_provider.as_deref())
        .collect();
    assert_eq!(
        providers,
        [Some("example.com"), Some("microsoft"), Some("google")]
    );
    let d = &events[0].detail;
    assert_eq!(d.bounce_status.as_deref(), Some("5.1.1"));
    assert_eq!(d.bounce_action.as_deref(), Some("failed"));
    assert_eq!(
        d.bounce_diagnostic_code.as_deref(),
        Some("smtp; 550 5.1.1 unknown")
    );
    assert_eq!(
        d.bounce_reporting_mta.as_deref(),
        Some("dns; email.example.com")
    );
    assert_eq!(d.bounce_remote_mta_ip.as_deref(), Some("127.0.2.0"));
    assert_eq!(
        d.feedback_id.as_deref(),
        Some("00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000")
    );
    assert_eq!(events[1].detail.bounce_status.as_deref(), Some("5.2.2"));
    assert_eq!(
        events[1].recipient_original.as_deref(),
        Some("Mary@Hotmail.CO.UK")
    );
    assert_eq!(events[2].detail.bounce_status, None);
    assert!(events.iter().all(|e| e.is_counted_hard_bounce()));
}

#[test]
fn the_event_id_does_not_depend_on_transport_time_or_spelling() {
    let ses = fixture("ses/event-publishing/bounce-record.json");
    let a = raw(&ses);
    let later =
        normalise(&ses, &Origin::default(), now() + chrono::Duration::days(1)).expect("normalises");
    assert_eq!(a[0].event_id, later[0].event_id);
    let mut shouted = ses.clone();
    shouted["bounce"]["bouncedRecipients"][0]["emailAddress"] =
        json!("\"Recipient\" <recipient@EXAMPLE.com>");
    assert_eq!(raw(&shouted)[0].event_id, a[0].event_id);
    let mut retimed = ses.clone();
    retimed["bounce"]["timestamp"] = json!("2017-08-05T00:41:02.669 +0000");
    assert_eq!(raw(&retimed)[0].event_id, a[0].event_id);
}

#[test]
fn discriminators() {
    let id = |ses: &Value| raw(ses)[0].event_id.clone();
    // Feedback id, else the event time.
    let bounce = fixture("ses/event-publishing/bounce-record.json");
    let mut other_feedback = bounce.clone();
    other_feedback["bounce"]["feedbackId"] = json!("another");
    assert_ne!(id(&bounce), id(&other_feedback));
    let mut no_feedback = bounce.clone();
    no_feedback["bounce"]
        .as_object_mut()
        .expect("object")
        .remove("feedbackId");
    let mut no_feedback_later = no_feedback.clone();
    no_feedback_later["bounce"]["timestamp"] = json!("2017-08-05T00:42:00Z");
    assert_ne!(id(&no_feedback), id(&no_feedback_later));
    assert_eq!(
        raw(&no_feedback)[0].event_id,
        documented_event_id(
            "Bounce",
            "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
            "recipient@example.com",
            Some("2017-08-05T00:41:02.669Z"),
        ),
        "without a feedback id, the bounce's own time tells bounces apart"
    );

    // Opens and clicks repeat: time and IP, time and link tell them apart.
    let open = fixture("ses/event-publishing/open-record.json");
    let mut other_ip = open.clone();
    other_ip["open"]["ipAddress"] = json!("192.0.2.99");
    let mut later_open = open.clone();
    later_open["open"]["timestamp"] = json!("2017-08-09T22:10:19.652Z");
    assert_ne!(id(&open), id(&other_ip));
    assert_ne!(id(&open), id(&later_open));
    let click = fixture("ses/event-publishing/click-record.json");
    let mut other_link = click.clone();
    other_link["click"]["link"] = json!("https://example.com/other");
    assert_ne!(id(&click), id(&other_link));

    // A delivery is once per recipient, whenever it is reported.
    let delivery = fixture("ses/event-publishing/delivery-record.json");
    let mut redelivered = delivery.clone();
    redelivered["delivery"]["timestamp"] = json!("2016-10-19T23:25:00Z");
    assert_eq!(id(&delivery), id(&redelivered));

    // Delays and subscriptions repeat over time.
    let delay = fixture("ses/event-publishing/deliverydelay-record.json");
    let mut later_delay = delay.clone();
    later_delay["deliveryDelay"]["timestamp"] = json!("2020-06-16T01:25:40.095Z");
    assert_ne!(id(&delay), id(&later_delay));
}

#[test]
fn type_specific_fields() {
    let d = raw(&fixture("ses/event-publishing/delivery-record.json"))[0]
        .detail
        .clone();
    assert_eq!(
        d.delivery_smtp_response.as_deref(),
        Some("250 2.6.0 Message received")
    );
    assert_eq!(d.delivery_processing_time_ms, Some(11893));
    assert_eq!(d.delivery_reporting_mta.as_deref(), Some("mta.example.com"));
    let d = raw(&fixture(
        "ses/notification/delivery-notification-example.json",
    ))[0]
        .detail
        .clone();
    assert_eq!(d.delivery_remote_mta_ip.as_deref(), Some("127.0.2.0"));

    let e = raw(&fixture("ses/event-publishing/deliverydelay-record.json")).remove(0);
    assert_eq!(
        e.detail.delay_type.as_deref(),
        Some("TransientCommunicationFailure")
    );
    assert_eq!(e.detail.delay_status.as_deref(), Some("4.4.1"));
    assert_eq!(
        e.detail.delay_diagnostic_code.as_deref(),
        Some("smtp; 421 4.4.1 Unable to connect to remote host")
    );
    assert_eq!(
        e.detail.delay_expiration_time.map(|t| t.to_rfc3339()),
        Some("2020-06-16T00:25:40.914+00:00".into())
    );
    assert_eq!(e.event_time.to_rfc3339(), "2020-06-16T00:25:40.095+00:00");

    let e = raw(&fixture("ses/event-publishing/complaint-record.json")).remove(0);
    assert_eq!(e.detail.complaint_feedback_type.as_deref(), Some("abuse"));
    assert!(e.detail.complaint_user_agent.is_some());
    assert!(e.detail.complaint_arrival_date.is_some());
    assert_eq!(e.subject.as_deref(), Some("Message sent from Amazon SES"));
    assert_eq!(e.source_address.as_deref(), Some("sender@example.com"));
    assert_eq!(
        e.source.as_deref(),
        Some("Sender Name <sender@example.com>")
    );
    assert_eq!(e.caller_identity.as_deref(), Some("ses_user"));
    assert_eq!(e.source_ip.as_deref(), Some("192.0.2.0"));
    assert_eq!(
        e.source_arn.as_deref(),
        Some("arn:aws:ses:us-east-1:123456789012:identity/sender@example.com")
    );
    assert_eq!(e.sending_account_id.as_deref(), Some("123456789012"));

    let e = raw(&fixture("ses/event-publishing/click-record.json")).remove(0);
    assert_eq!(e.detail.engagement_ip_address.as_deref(), Some("192.0.2.1"));
    assert!(e.detail.engagement_user_agent.is_some());
    assert_eq!(
        e.detail.click_link.as_deref(),
        Some("http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html")
    );
    assert_eq!(
        e.detail.click_link_tags.get("samplekey0"),
        Some(&vec!["samplevalue0".to_string()])
    );
    assert_eq!(e.tags.len(), 6);

    let e = raw(&fixture("ses/event-publishing/open-record.json")).remove(0);
    assert_eq!(e.detail.engagement_ip_address.as_deref(), Some("192.0.2.1"));
    assert_eq!(e.event_time.to_rfc3339(), "2017-08-09T22:00:19.652+00:00");

    let d = raw(&fixture(
        "ses/event-publishing/rendering-failure-record.json",
    ))
    .remove(0)
    .detail;
    assert_eq!(d.rendering_template_name.as_deref(), Some("MyTemplate"));
    assert_eq!(
        d.rendering_error_message.as_deref(),
        Some("Attribute 'attributeName' is not present in the rendering data.")
    );

    let d = raw(&fixture("ses/event-publishing/reject-record.json"))
        .remove(0)
        .detail;
    assert_eq!(d.reject_reason.as_deref(), Some("Bad content"));

    let e = raw(&fixture("ses/event-publishing/subscription-record.json")).remove(0);
    assert_eq!(
        e.detail.subscription_contact_list.as_deref(),
        Some("ContactListName")
    );
    assert_eq!(
        e.detail.subscription_source.as_deref(),
        Some("UnsubscribeHeader")
    );
    assert_eq!(
        e.detail
            .subscription_new_preferences
            .as_ref()
            .map(|p| &p["unsubscribeAll"]),
        Some(&json!(true))
    );
    assert_eq!(
        e.detail
            .subscription_old_preferences
            .as_ref()
            .map(|p| &p["unsubscribeAll"]),
        Some(&json!(false))
    );

    let e = raw(&fixture("ses/event-publishing/send-record.json")).remove(0);
    assert_eq!(*e.detail, TypeSpecificFields::default());
    assert_eq!(e.event_time, e.sent_at.expect("sent_at"));
}

#[test]
fn recipients_fall_back_to_the_destination_and_then_to_none() {
    let mut ses = fixture("ses/notification/complaint-notification-without-a-feedback-report.json");
    ses["complaint"]["complainedRecipients"] = json!([]);
    assert_eq!(
        recipients(&raw(&ses)),
        [
            "jane@example.com",
            "mary@example.com",
            "richard@example.com"
        ]
    );
    assert!(raw(&ses)
        .iter()
        .all(|e| e.recipient_attribution.is_none() && e.destination_count.is_none()));
    ses["mail"]["destination"] = json!([]);
    let events = raw(&ses);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].recipient, None);
    assert_eq!(events[0].recipient_domain, None);
    assert_eq!(events[0].mailbox_provider, None);
    assert_eq!(
        events[0].recipient_attribution,
        Some(RecipientAttribution::Unattributed)
    );
    assert_eq!(events[0].destination_count, Some(0));

    let mut send = fixture("ses/event-publishing/send-record.json");
    send["mail"]["destination"] = json!([
        "a@example.com",
        "b@example.org",
        "a@example.com",
        " A@EXAMPLE.com "
    ]);
    assert_eq!(
        recipients(&raw(&send)),
        ["a@example.com", "b@example.org", "A@example.com"],
        "duplicates collapse, the local part keeps its case"
    );
}

#[test]
fn an_unparseable_recipient_is_kept_as_given() {
    let mut ses = fixture("ses/event-publishing/delivery-record.json");
    ses["delivery"]["recipients"] = json!(["  undisclosed-recipients  ", "", "ok@example.com"]);
    let events = raw(&ses);
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[0].recipient.as_deref(),
        Some("undisclosed-recipients")
    );
    assert_eq!(
        events[0].recipient_original.as_deref(),
        Some("  undisclosed-recipients  ")
    );
    assert_eq!(events[0].recipient_domain, None);
    assert_eq!(events[0].mailbox_provider, None);
    assert_eq!(events[1].recipient, None);
    assert_eq!(events[1].recipient_original.as_deref(), Some(""));
    assert_eq!(events[2].recipient.as_deref(), Some("ok@example.com"));
}

fn oddity(name: &str) -> Vec<RecipientEvent> {
    through_envelope(&fixture(&format!("oddities/{name}.json")))
        .into_iter()
        .flat_map(|(_, e)| e)
        .collect()
}

#[test]
fn oddities() {
    let e = oddity("offset-timestamp").remove(0);
    assert_eq!(
        e.sent_at.map(|t| t.to_rfc3339()),
        Some("2018-10-08T14:05:45+00:00".into())
    );
    assert_eq!(e.event_time.to_rfc3339(), "2018-10-08T14:05:46+00:00");
    assert_eq!(e.subject.as_deref(), Some("Message sent using Amazon SES"));

    let e = oddity("display-name-source").remove(0);
    assert_eq!(e.source.as_deref(), Some("\"John Doe\" <john@Example.COM>"));
    assert_eq!(e.source_address.as_deref(), Some("john@example.com"));
    assert_eq!(e.source_domain.as_deref(), Some("example.com"));

    let e = oddity("complaint-subtype-null").remove(0);
    assert_eq!(e.detail.complaint_subtype, None);
    assert!(!e.is_suppression_list_complaint());

    let expected = raw(&fixture("ses/event-publishing/delivery-record.json"));
    assert_eq!(
        without_origin(&oddity("trailing-newline-message")),
        expected
    );

    let expected = raw(&fixture("ses/event-publishing/click-record.json"));
    let click = oddity("escaped-slashes-message");
    assert_eq!(without_origin(&click), expected);
    assert!(click[0]
        .detail
        .click_link
        .as_deref()
        .is_some_and(|l| l.starts_with("http://docs")));

    let expected = raw(&fixture("ses/event-publishing/send-record.json"));
    assert_eq!(without_origin(&oddity("signing-cert-url-caps")), expected);

    let events = oddity("unknown-event-type");
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.event_type, EventType::Unknown);
    assert_eq!(e.event_subtype.as_deref(), Some("Mystery"));
    assert_eq!(e.recipient.as_deref(), Some("recipient@example.com"));
    assert_eq!(e.event_time, e.sent_at.expect("sent_at"));
    let payload = e.raw.as_ref().expect("raw kept");
    assert_eq!(payload["mystery"]["whatever"][0], "SES");
    let hash = hex::encode(Sha256::digest(
        serde_json::to_string(payload)
            .expect("serialises")
            .as_bytes(),
    ));
    assert_eq!(
        e.event_id,
        documented_event_id(
            "Unknown",
            "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
            "recipient@example.com",
            Some(&hash),
        )
    );

    let setup = split_document(&fixture("oddities/setup-notices.json")).expect("known");
    let skipped: Vec<_> = setup.iter().map(|m| m.content.skipped()).collect();
    assert_eq!(
        skipped,
        [
            Some(Skip::SesTopicValidation),
            Some(Skip::SesSubscriptionSucceeded)
        ],
        "both notices are skipped by name, and each keeps its SNS id"
    );
    assert!(setup.iter().all(|m| m.origin.sns_message_id.is_some()));
}

#[test]
fn unknown_types_with_different_payloads_differ() {
    let a = json!({"eventType": "Mystery", "mail": {"messageId": "m", "timestamp": "2020-01-01T00:00:00Z", "destination": ["a@b.c"]}, "mystery": {"n": 1}});
    let mut b = a.clone();
    b["mystery"]["n"] = json!(2);
    assert_ne!(raw(&a)[0].event_id, raw(&b)[0].event_id);
    let reordered: Value = serde_json::from_str(
        r#"{"mystery": {"n": 1}, "mail": {"destination": ["a@b.c"], "timestamp": "2020-01-01T00:00:00Z", "messageId": "m"}, "eventType": "Mystery"}"#,
    )
    .expect("JSON");
    assert_eq!(raw(&a)[0].event_id, raw(&reordered)[0].event_id);
}

#[test]
fn malformed_fixtures_give_specific_errors() {
    type Check = fn(&InputError) -> bool;
    let expectations: &[(&str, Check)] = &[
        ("bad-timestamp", |e| {
            e.to_string()
                == "bounce.timestamp: expected a timestamp like 2017-08-05T00:41:02.669Z, got \"yesterday\""
        }),
        ("missing-message-id", |e| {
            e.to_string() == "mail.messageId: required field is missing"
        }),
        ("no-time-at-all", |e| {
            e.to_string()
                == "mail.timestamp: required field is missing, and neither the event nor its envelope has a timestamp to fall back on"
        }),
        ("not-json-message", |e| {
            matches!(e, InputError::NotJson { what, reason }
                if what == "the SNS Message" && reason.contains("\"Delivery notification"))
        }),
        (
            "not-ses-message",
            |e| matches!(e, InputError::NotSes { found, .. } if found.contains("\"hello\"")),
        ),
        (
            "truncated-message",
            |e| matches!(e, InputError::NotJson { reason, .. } if reason.starts_with("EOF while parsing")),
        ),
        ("wrong-types", |e| {
            matches!(e, InputError::Invalid { path, message }
                if path == "mail.destination" && message.contains("expected a sequence"))
        }),
    ];
    let files = fixtures_in("malformed");
    assert_eq!(files.len(), expectations.len());
    for ((file, doc), (name, check)) in files.iter().zip(expectations) {
        assert_eq!(file, name);
        let inbound = split_document(doc).expect("an SNS event");
        assert_eq!(inbound.len(), 1);
        let origin = &inbound[0].origin;
        assert!(origin.sns_message_id.is_some(), "{name}: origin kept");
        let err = match &inbound[0].content {
            Content::Ses(ses) => normalise(ses, origin, now()).expect_err(name),
            Content::Invalid(e) => e.clone(),
            Content::Skipped(skip) => panic!("{name}: skipped ({skip})"),
        };
        assert!(check(&err), "{name}: {err}");
    }
}

#[test]
fn not_ses_at_the_top() {
    assert!(matches!(
        normalise(&json!({"hello": "world"}), &Origin::default(), now()),
        Err(InputError::NotSes { .. })
    ));
    assert!(matches!(
        normalise(&json!([]), &Origin::default(), now()),
        Err(InputError::NotSes { .. })
    ));
}

/// `normalise` and `replay` move each document into the split; every fixture, in every folder,
/// splits exactly as the borrowing split does.
#[test]
fn moving_a_document_splits_it_as_borrowing_it_does() {
    let mut documents = 0;
    for folder in DOCUMENT_FOLDERS {
        for (name, doc) in fixtures_in(folder) {
            assert_eq!(
                split_owned_document(doc.clone()),
                split_document(&doc),
                "{folder}/{name}"
            );
            documents += 1;
        }
    }
    assert!(documents > 50, "{documents} fixtures");
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::from),
            prop_oneof![
                Just("2018-10-08T14:05:45 +0000"),
                Just("Bounce"),
                Just("Rendering Failure"),
                Just("a@b.c"),
                Just("Notification"),
            ]
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            let key = prop_oneof![
                Just("eventType".to_string()),
                Just("notificationType".to_string()),
                Just("mail".to_string()),
                Just("messageId".to_string()),
                Just("timestamp".to_string()),
                Just("destination".to_string()),
                Just("bounce".to_string()),
                Just("Records".to_string()),
                Just("Sns".to_string()),
                Just("Message".to_string()),
                Just("body".to_string()),
                Just("detail".to_string()),
                Just("detail-type".to_string()),
                Just("Messages".to_string()),
                Just("requestPayload".to_string()),
                Just("requestContext".to_string()),
                "[a-z]{1,6}",
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(key, inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn run(doc: &Value) {
        assert_eq!(
            split_owned_document(doc.clone()),
            split_document(doc),
            "moving the document changes what it splits into: {doc}"
        );
        if let Ok(messages) = split_document(doc) {
            for m in messages {
                if let Some(ses) = m.content.ses() {
                    let _ = normalise(ses, &m.origin, now());
                }
            }
        }
        let _ = normalise(doc, &Origin::default(), now());
    }

    /// The node `n` of a document in depth-first order, replaced by `value`.
    fn replace_nth(doc: &mut Value, n: &mut usize, value: &Value) -> bool {
        if *n == 0 {
            *doc = value.clone();
            return true;
        }
        *n -= 1;
        match doc {
            Value::Array(items) => items.iter_mut().any(|v| replace_nth(v, n, value)),
            Value::Object(map) => map.values_mut().any(|v| replace_nth(v, n, value)),
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn arbitrary_text(text in "\\PC{0,200}") {
            for doc in parse_documents(&text).into_iter().flatten() {
                run(&doc);
            }
        }

        #[test]
        fn arbitrary_json(doc in json_value()) {
            run(&doc);
            run(&json!({"Records": [{"Sns": {"Message": doc.to_string()}}]}));
            run(&json!({"Records": [{"eventSource": "aws:sqs", "body": doc.to_string()}]}));
        }

        #[test]
        fn official_examples_with_one_part_replaced(
            example in 0usize..15,
            node in 0usize..200,
            value in json_value(),
        ) {
            let mut files = fixtures_in("ses/notification");
            files.extend(fixtures_in("ses/event-publishing"));
            let mut doc = files[example].1.clone();
            let mut n = node;
            replace_nth(&mut doc, &mut n, &value);
            run(&doc);
            let text = doc.to_string();
            // And cut anywhere, as a truncated Message would be.
            let cut = text.char_indices().map(|(i, _)| i).nth(node * 7).unwrap_or(text.len());
            for parsed in parse_documents(&text[..cut]).into_iter().flatten() {
                run(&parsed);
            }
        }
    }
}

/// Issue 10, point 4: whatever shape SES wrote (whole seconds, three digits, six digits), every
/// timestamp of a record leaves in one: three fractional digits and `Z`, so text order is time
/// order (`...49Z` would sort after `...49.500Z`).
#[test]
fn every_timestamp_leaves_in_one_shape() {
    let events = oddity("timestamp-shapes");
    assert_eq!(events.len(), 1);
    let line = serde_json::to_value(&events[0]).expect("serialises");
    assert_eq!(line["sent_at"], "2022-04-01T21:24:49.000Z");
    // Six digits are cut to three, never rounded up.
    assert_eq!(line["event_time"], "2022-04-01T21:24:50.123Z");
    let ingested = line["ingested_at"].as_str().expect("ingested_at");
    assert_eq!(
        ingested.len(),
        "2022-04-01T21:24:49.000Z".len(),
        "{ingested}"
    );
    assert!(ingested.ends_with('Z'), "{ingested}");

    let e = oddity("offset-timestamp").remove(0);
    let line = serde_json::to_value(&e).expect("serialises");
    assert_eq!(line["sent_at"], "2018-10-08T14:05:45.000Z");
    assert_eq!(line["event_time"], "2018-10-08T14:05:46.000Z");
    for (name, ses) in fixtures_in("ses/event-publishing") {
        for event in raw(&ses) {
            let line = serde_json::to_value(&event).expect("serialises");
            for field in [
                "sent_at",
                "event_time",
                "ingested_at",
                "complaint_arrival_date",
                "delay_expiration_time",
            ] {
                if let Some(text) = line[field].as_str() {
                    assert!(
                        text.len() == 24 && text.ends_with('Z') && text.as_bytes()[19] == b'.',
                        "{name}: {field} = {text}"
                    );
                }
            }
        }
    }
}

/// The one record each skipped fixture yields, by reason.
fn skips(name: &str) -> Vec<Option<Skip>> {
    split_document(&fixture(&format!("skipped/{name}.json")))
        .expect("a known shape")
        .iter()
        .map(|m| m.content.skipped())
        .collect()
}

#[test]
fn receiving_mail_is_skipped_in_both_of_its_shapes() {
    assert_eq!(
        skips("received-mail-sns"),
        [Some(Skip::ReceivedMail)],
        "the SNS action's notification"
    );
    assert_eq!(
        skips("received-mail-lambda"),
        [Some(Skip::ReceivedMail)],
        "the Lambda action's event"
    );
    // Handed to normalise directly, a Received message is no event either (not an Unknown one
    // with the operator's own mailbox as its recipient).
    let doc = fixture("skipped/received-mail-sns.json");
    let message: Value = serde_json::from_str(
        doc["Records"][0]["Sns"]["Message"]
            .as_str()
            .expect("a message"),
    )
    .expect("JSON");
    assert_eq!(normalise(&message, &Origin::default(), now()), Ok(vec![]));
}

#[test]
fn sns_subscription_messages_are_skipped_with_their_ids() {
    for (name, skip) in [
        (
            "sns-subscription-confirmation",
            Skip::SnsSubscriptionConfirmation,
        ),
        (
            "sns-unsubscribe-confirmation",
            Skip::SnsUnsubscribeConfirmation,
        ),
        (
            "sqs-subscription-confirmation",
            Skip::SnsSubscriptionConfirmation,
        ),
    ] {
        let inbound = split_document(&fixture(&format!("skipped/{name}.json"))).expect(name);
        assert_eq!(inbound.len(), 1, "{name}");
        assert_eq!(inbound[0].content, Content::Skipped(skip), "{name}");
        assert!(inbound[0].origin.sns_message_id.is_some(), "{name}");
    }
    assert_eq!(
        Skip::SnsSubscriptionConfirmation.code(),
        "sns_subscription_confirmation"
    );
    assert!(Skip::SnsSubscriptionConfirmation
        .reason()
        .contains("SubscribeURL"));
}

#[test]
fn an_event_whose_message_names_nobody_is_one_unattributed_record_of_that_message() {
    let events = oddity("no-recipient");
    assert_eq!(events.len(), 2);
    for (e, event_type) in events.iter().zip([EventType::Open, EventType::Send]) {
        assert_eq!(e.event_type, event_type);
        assert_eq!(e.recipient, None);
        assert_eq!(e.recipient_original, None);
        assert_eq!(
            e.recipient_attribution,
            Some(RecipientAttribution::Unattributed)
        );
        assert_eq!(e.destination_count, Some(0));
        let line = serde_json::to_value(e).expect("serialises");
        assert_eq!(line["recipient_attribution"], "unattributed");
        assert_eq!(line["destination_count"], 0);
        assert!(line.get("recipient").is_none());
    }
    // The open's id is the documented one with an empty recipient: it belongs to its message.
    let open = &events[0];
    assert_eq!(
        open.ses_message_id,
        "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
    );
    assert_eq!(
        open.event_id,
        documented_event_id(
            "Open",
            &open.ses_message_id,
            "",
            Some("2017-08-09T22:00:19.652Z|192.0.2.1")
        )
    );
}

#[test]
fn an_open_or_click_is_one_record_per_message_attributed_only_when_there_is_one_recipient() {
    let events = oddity("engagement-of-several-recipients");
    let summary: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.event_type,
                e.recipient.as_deref(),
                e.recipient_attribution,
                e.destination_count,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                EventType::Open,
                None,
                Some(RecipientAttribution::Unattributed),
                Some(4)
            ),
            (
                EventType::Click,
                None,
                Some(RecipientAttribution::Unattributed),
                Some(4)
            ),
            (
                EventType::Open,
                Some("recipient@example.com"),
                Some(RecipientAttribution::SoleRecipient),
                None
            ),
        ]
    );
    assert_eq!(
        events[1].event_id,
        documented_event_id(
            "Click",
            "EXAMPLE-four-recipients-000000",
            "",
            Some("2017-08-09T23:51:25.570Z|http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html")
        )
    );
    // A single-recipient open keeps the id it always had.
    assert_eq!(
        events[2].event_id,
        documented_event_id(
            "Open",
            "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
            "recipient@example.com",
            Some("2017-08-09T22:00:19.652Z|192.0.2.1")
        )
    );
    // The same address twice is still one recipient.
    let mut twice = fixture("ses/event-publishing/open-record.json");
    twice["mail"]["destination"] = json!(["recipient@example.com", " recipient@EXAMPLE.com"]);
    let events = raw(&twice);
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].recipient_attribution,
        Some(RecipientAttribution::SoleRecipient)
    );
}

#[test]
fn a_missing_mail_timestamp_falls_back_and_says_which_time_it_used() {
    let events = oddity("missing-mail-timestamp");
    assert_eq!(events.len(), 2);
    let bounce = &events[0];
    assert_eq!(bounce.event_type, EventType::Bounce);
    assert_eq!(bounce.recipient.as_deref(), Some("jane@example.com"));
    assert!(
        bounce.is_counted_hard_bounce(),
        "a suppression list must not drop it"
    );
    assert_eq!(bounce.sent_at, None);
    assert_eq!(
        ses_ledger::timestamp::format_timestamp(bounce.event_time),
        "2016-01-27T14:59:38.237Z"
    );
    assert_eq!(bounce.time_fallback, Some(TimeFallback::EventTimestamp));
    let send = &events[1];
    assert_eq!(
        ses_ledger::timestamp::format_timestamp(send.event_time),
        "2018-10-08T14:05:46.000Z",
        "the SNS envelope's Timestamp"
    );
    assert_eq!(send.time_fallback, Some(TimeFallback::EnvelopeTimestamp));
    let line = serde_json::to_value(send).expect("serialises");
    assert_eq!(line["time_fallback"], "envelope_timestamp");
    assert!(line.get("sent_at").is_none());
    // A complete message says nothing about a fallback.
    let whole = raw(&fixture("ses/event-publishing/send-record.json")).remove(0);
    assert_eq!(whole.time_fallback, None);
    assert!(serde_json::to_value(&whole)
        .expect("serialises")
        .get("time_fallback")
        .is_none());
}

#[test]
fn values_ses_does_not_document_are_mapped_where_they_can_be_kept_and_counted() {
    let events = oddity("undocumented-values");
    let summary: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.event_type,
                e.event_subtype.as_deref(),
                e.undocumented_values.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                EventType::Bounce,
                Some("Transient/MailboxFull"),
                vec!["bounce.bounceType=Temporary".to_string()]
            ),
            (
                EventType::Complaint,
                Some("spam"),
                vec!["complaint.complaintFeedbackType=spam".to_string()]
            ),
            (
                EventType::DeliveryDelay,
                Some("Throttled"),
                vec!["deliveryDelay.delayType=Throttled".to_string()]
            ),
        ]
    );
    let bounce = &events[0];
    assert_eq!(bounce.detail.bounce_type.as_deref(), Some("Transient"));
    assert!(bounce.is_soft_bounce() && !bounce.is_counted_hard_bounce());
    let config = ses_ledger::config::LedgerConfig::default();
    use ses_ledger::counters::{metrics_for, Metric};
    assert_eq!(
        metrics_for(bounce, &config),
        [Metric::OtherBounces, Metric::Undocumented]
    );
    // The official examples hold only documented values.
    for e in through_envelope(&fixture("sns/batch-all-types.json"))
        .into_iter()
        .flat_map(|(_, e)| e)
    {
        assert!(e.undocumented_values.is_empty(), "{}", e.event_id);
        assert!(!metrics_for(&e, &config).contains(&Metric::Undocumented));
    }
}

/// The events of one tenants fixture, by every route it has a file for.
fn tenant_fixture_by_route(stem: &str) -> Vec<(String, Vec<RecipientEvent>)> {
    ["ses", "sns", "sqs", "eventbridge"]
        .iter()
        .flat_map(|route| {
            fixtures_in(&format!("tenants/{route}"))
                .into_iter()
                .filter(|(name, _)| name == stem || name == &format!("{stem}-raw"))
                .map(move |(name, doc)| {
                    let events = through_envelope(&doc)
                        .into_iter()
                        .flat_map(|(_, e)| e)
                        .collect::<Vec<_>>();
                    (format!("{route}/{name}"), events)
                })
        })
        .collect()
}

#[test]
fn tenant_tagged_events_are_a_tenant_scope_in_every_envelope_without_configuration() {
    use ses_ledger::config::LedgerConfig;
    use ses_ledger::counters::{metrics_for, scopes_for, Metric, Scope};
    let config = LedgerConfig {
        tenant_tags: Vec::new(),
        ..LedgerConfig::default()
    };
    let tenant = Scope::Tenant("acme-customer-42".into());
    for (stem, metric) in [
        ("tenant-delivery", Metric::Deliveries),
        ("tenant-complaint", Metric::ComplaintsNotSuppressed),
        ("tenant-suppression-list-bounce", Metric::OtherBounces),
    ] {
        let routes = tenant_fixture_by_route(stem);
        // Bare, SNS, SQS with the SNS envelope, SQS raw, EventBridge.
        assert_eq!(routes.len(), 5, "{stem}: {routes:?}");
        for (route, events) in routes {
            assert_eq!(events.len(), 1, "{route}");
            let e = &events[0];
            assert_eq!(e.ses_tenant(), Some("acme-customer-42"), "{route}");
            assert!(scopes_for(e, &config).contains(&tenant), "{route}");
            assert_eq!(Scope::parse(&tenant.key()), Some(tenant.clone()));
            assert!(metrics_for(e, &config).contains(&metric), "{route}");
            assert!(
                e.undocumented_values.is_empty(),
                "{route}: {:?}",
                e.undocumented_values
            );
        }
    }
}

#[test]
fn the_tenant_suppression_list_is_treated_as_the_account_one_in_both_formats() {
    use ses_ledger::config::LedgerConfig;
    use ses_ledger::counters::{metrics_for, Metric};
    use ses_ledger::summary::{RecipientSummary, SuppressionPolicy, SuppressionReason};
    let config = LedgerConfig::default();
    for stem in [
        "tenant-suppression-list-bounce",
        "tenant-suppression-list-bounce-notification",
    ] {
        let routes = tenant_fixture_by_route(stem);
        assert!(routes.len() >= 4, "{stem}: {routes:?}");
        for (route, events) in routes {
            let e = &events[0];
            assert_eq!(
                e.detail.bounce_subtype.as_deref(),
                Some("OnTenantSuppressionList")
            );
            assert_eq!(e.detail.bounce_type.as_deref(), Some("Permanent"));
            // Not in SES's bounce rate, as OnAccountSuppressionList is not ...
            assert!(!e.is_counted_hard_bounce(), "{route}");
            assert_eq!(metrics_for(e, &config), [Metric::OtherBounces], "{route}");
            // ... and still an address that must not be mailed.
            let summary = RecipientSummary::of([e], SuppressionPolicy::of(&config));
            assert_eq!(
                summary.suppression.map(|s| s.reason),
                Some(SuppressionReason::HardBounce),
                "{route}"
            );
        }
    }
    let account = oddity("on-account-suppression-list");
    let bounce = account
        .iter()
        .find(|e| e.event_type == EventType::Bounce)
        .expect("the account list's bounce");
    assert_eq!(metrics_for(bounce, &config), [Metric::OtherBounces]);
}

#[test]
fn bounces_carry_the_class_their_status_gives() {
    use ses_ledger::bounce_class::BounceClass;
    let bounce = raw(&fixture("ses/event-publishing/bounce-record.json")).remove(0);
    assert_eq!(bounce.detail.bounce_status.as_deref(), Some("5.1.1"));
    assert_eq!(bounce.detail.bounce_class, Some(BounceClass::Permanent));
    let line = serde_json::to_value(&bounce).expect("serialises");
    assert_eq!(line["bounce_class"], "permanent");
    assert_eq!(
        bounce.ledger_view().detail.bounce_class,
        Some(BounceClass::Permanent)
    );
    let delivery = raw(&fixture("ses/event-publishing/delivery-record.json")).remove(0);
    assert_eq!(delivery.detail.bounce_class, None);
}
