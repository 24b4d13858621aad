//! Pseudonymised normalisation over every fixture: no address a message was sent to survives in
//! any record, in any form, while everything the rates need stays as it was in clear.

use chrono::{TimeZone, Utc};
use serde_json::Value;
use ses_ledger::address::parse_address;
use ses_ledger::envelope::split_owned_document;
use ses_ledger::event::RecipientEvent;
use ses_ledger::normalise::{normalise, normalise_with};
use ses_ledger::privacy::{is_pseudonym, Addresses, PseudonymKey};
use ses_ledger::testkit::fixtures::{fixtures_in, DOCUMENT_FOLDERS};

fn pseudonymised() -> Addresses {
    Addresses::Pseudonymised(
        PseudonymKey::new("fixture key: thirty-two bytes at least").expect("key"),
    )
}

/// Every address the SES message names as a recipient or destination, as written.
fn addresses_in(ses: &Value) -> Vec<String> {
    fn walk(v: &Value, parent_key: &str, out: &mut Vec<String>) {
        match v {
            Value::String(s)
                if matches!(parent_key, "destination" | "emailAddress" | "recipients") =>
            {
                out.push(s.clone())
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, parent_key, out)),
            Value::Object(map) => map.iter().for_each(|(k, v)| walk(v, k, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(ses, "", &mut out);
    out
}

/// The forms of an address a reader could recognise: the address part as written and normalised.
fn forms(address: &str) -> Vec<String> {
    let mut forms = vec![address.trim().to_ascii_lowercase()];
    if let Some(a) = parse_address(address) {
        forms.push(a.normalised.to_ascii_lowercase());
        forms.push(format!("{}@", a.local().to_ascii_lowercase()));
    }
    forms.retain(|f| f.contains('@'));
    forms
}

#[test]
fn no_recipient_address_survives_pseudonymisation_and_the_rates_inputs_do_not_change() {
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let addresses = pseudonymised();
    let (mut messages, mut records, mut free_text_hits) = (0, 0, 0);
    for folder in DOCUMENT_FOLDERS {
        for (name, doc) in fixtures_in(folder) {
            let Ok(inbound) = split_owned_document(doc) else {
                continue;
            };
            for message in inbound {
                let Some(ses) = message.content.ses() else {
                    continue;
                };
                let clear = normalise(ses, &message.origin, now).expect("normalises in clear");
                let hidden = normalise_with(ses, &message.origin, now, &addresses)
                    .expect("normalises pseudonymised");
                messages += 1;
                assert_eq!(clear.len(), hidden.len(), "{folder}/{name}");
                let needles: Vec<String> =
                    addresses_in(ses).iter().flat_map(|a| forms(a)).collect();
                for (c, h) in clear.iter().zip(&hidden) {
                    records += 1;
                    let text = serde_json::to_string(h)
                        .expect("serialises")
                        .to_ascii_lowercase();
                    for needle in &needles {
                        assert!(
                            !text.contains(needle),
                            "{folder}/{name}: {needle} in {text}"
                        );
                    }
                    // Outside the recipient fields, did the clear record name an address?
                    let rest = RecipientEvent {
                        recipient: None,
                        recipient_original: None,
                        ..c.clone()
                    };
                    let rest = serde_json::to_string(&rest)
                        .expect("json")
                        .to_ascii_lowercase();
                    if needles.iter().any(|n| rest.contains(n)) {
                        free_text_hits += 1;
                    }
                    assert_same_except_addresses(c, h, &addresses, &format!("{folder}/{name}"));
                }
            }
        }
    }
    assert!(messages > 60, "{messages} messages");
    assert!(records > messages, "{records} records");
    assert!(
        free_text_hits > 0,
        "some fixture carries addresses in free text"
    );
}

fn assert_same_except_addresses(
    clear: &RecipientEvent,
    hidden: &RecipientEvent,
    addresses: &Addresses,
    what: &str,
) {
    assert_eq!(
        hidden.recipient,
        clear.recipient.clone().map(|r| addresses.protect(r)),
        "{what}"
    );
    if let Some(r) = &hidden.recipient {
        assert!(is_pseudonym(r), "{what}: {r}");
        assert_ne!(
            hidden.event_id, clear.event_id,
            "{what}: the id is the pseudonym's"
        );
    }
    assert_eq!(hidden.recipient_original, None, "{what}");
    assert_eq!(hidden.recipient_domain, clear.recipient_domain, "{what}");
    assert_eq!(hidden.mailbox_provider, clear.mailbox_provider, "{what}");
    assert_eq!(hidden.event_type, clear.event_type, "{what}");
    assert_eq!(hidden.event_subtype, clear.event_subtype, "{what}");
    assert_eq!(hidden.event_time, clear.event_time, "{what}");
    assert_eq!(hidden.ses_message_id, clear.ses_message_id, "{what}");
    // The sender stays in clear, unless it sent to itself: then it is one of the recipients.
    if hidden.source_address != clear.source_address {
        assert!(
            is_pseudonym(hidden.source_address.as_deref().unwrap_or("")),
            "{what}"
        );
        assert_eq!(hidden.source_address, hidden.recipient, "{what}");
    }
    assert_eq!(hidden.configuration_set, clear.configuration_set, "{what}");
    assert_eq!(
        hidden.detail.bounce_type, clear.detail.bounce_type,
        "{what}"
    );
    assert_eq!(
        hidden.detail.bounce_class, clear.detail.bounce_class,
        "{what}"
    );
    assert_eq!(
        hidden.detail.complaint_subtype, clear.detail.complaint_subtype,
        "{what}"
    );
}

#[test]
fn free_text_keeps_its_words_and_reads_the_pseudonym_in_place_of_the_address() {
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let addresses = pseudonymised();
    let doc = fixtures_in("privacy").remove(0).1;
    let inbound = split_owned_document(doc).expect("an SNS event");
    let events: Vec<RecipientEvent> = inbound
        .iter()
        .flat_map(|m| {
            let ses = m.content.ses().expect("SES");
            normalise_with(ses, &m.origin, now, &addresses).expect("normalises")
        })
        .collect();
    let jane = addresses.key_of("Jane.Doe@example.com");
    let bounce = &events[0];
    assert_eq!(bounce.recipient.as_deref(), Some(jane.as_str()));
    assert_eq!(
        bounce.detail.bounce_diagnostic_code.as_deref(),
        Some(format!("smtp; 550 5.1.1 <{jane}>: Recipient address rejected: User unknown in virtual mailbox table").as_str())
    );
    assert_eq!(
        bounce.subject.as_deref(),
        Some(format!("Your order, {jane}").as_str())
    );
    let ann = addresses.key_of("ann@example.net");
    let click = &events[1];
    assert_eq!(
        click.detail.click_link.as_deref(),
        Some(format!("https://shop.example/unsubscribe?email={ann}&list=weekly").as_str())
    );
    let unknown = &events[2];
    let raw =
        serde_json::to_string(unknown.raw.as_ref().expect("the payload is kept")).expect("json");
    assert!(raw.contains(&addresses.key_of("zoe@example.com")), "{raw}");
    assert!(!raw.to_ascii_lowercase().contains("zoe@"), "{raw}");
    // Its id hashes the payload without addresses, and is as stable as any other: a redelivery
    // still dedupes.
    let again = normalise_with(
        inbound[2].content.ses().expect("SES"),
        &inbound[2].origin,
        now,
        &addresses,
    )
    .expect("normalises");
    assert_eq!(again[0].event_id, unknown.event_id);
}
