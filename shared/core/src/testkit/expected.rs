//! The hand-written expectations in `events/expected/official-examples.json`: the recipient events
//! each fixture must yield, taken from the SES documentation rather than from our parser, so a
//! parser that drops a recipient or misreads a field fails every test that compares with them.
//!
//! Nothing here calls the code under test. The event id is recomputed from the documented formula
//! (docs/event-schema.md) with its own hashing, not through `EventIdentity`.

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

use super::fixtures::fixture_text;

/// One recipient event a fixture must yield: the fields that SES's documentation fixes.
#[derive(Debug, Clone, Deserialize)]
pub struct ExpectedEvent {
    /// The documented event-id discriminator (feedback id, event time, time|ip, time|link).
    pub discriminator: Option<String>,
    pub record: Map<String, Value>,
}

#[derive(Deserialize)]
struct ExpectedFile {
    records: BTreeMap<String, Vec<ExpectedEvent>>,
    envelopes: BTreeMap<String, Vec<String>>,
}

fn file() -> ExpectedFile {
    serde_json::from_str(&fixture_text("expected/official-examples.json"))
        .expect("events/expected/official-examples.json is well-formed")
}

/// The events `events/<fixture>` must yield, in order: its own entry, or the entries of the
/// payloads it wraps. Panics when the fixture has no expectation, so a test cannot silently
/// compare with nothing.
pub fn expected_events(fixture: &str) -> Vec<ExpectedEvent> {
    let file = file();
    if let Some(events) = file.records.get(fixture) {
        return events.clone();
    }
    let wrapped = file
        .envelopes
        .get(fixture)
        .unwrap_or_else(|| panic!("events/expected has no entry for {fixture}"));
    wrapped
        .iter()
        .flat_map(|payload| {
            file.records
                .get(payload)
                .unwrap_or_else(|| panic!("events/expected has no records for {payload}"))
                .clone()
        })
        .collect()
}

/// Every fixture that has an expectation, envelopes included.
pub fn fixtures_with_expectations() -> Vec<String> {
    let file = file();
    file.records
        .keys()
        .chain(file.envelopes.keys())
        .cloned()
        .collect()
}

/// docs/event-schema.md: the first 16 bytes of SHA-256 over type, SES message id, recipient and
/// discriminator, each followed by a NUL byte, in lower-case hex.
pub fn documented_event_id(
    event_type: &str,
    ses_message_id: &str,
    recipient: &str,
    discriminator: Option<&str>,
) -> String {
    let mut hasher = Sha256::new();
    for part in [
        event_type,
        ses_message_id,
        recipient,
        discriminator.unwrap_or(""),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hex::encode(&hasher.finalize()[..16])
}

impl ExpectedEvent {
    fn text(&self, field: &str) -> &str {
        self.record
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("expected record has no {field}: {:?}", self.record))
    }

    pub fn event_id(&self) -> &str {
        self.text("event_id")
    }

    pub fn recipient(&self) -> &str {
        self.text("recipient")
    }

    pub fn event_type(&self) -> &str {
        self.text("event_type")
    }

    /// The id the documented formula gives for this record's fields.
    pub fn recomputed_event_id(&self) -> String {
        documented_event_id(
            self.event_type(),
            self.text("ses_message_id"),
            self.recipient(),
            self.discriminator.as_deref(),
        )
    }

    /// The same event sent under another SES message id (tests make ids unique per run); the
    /// event id follows from the formula.
    pub fn with_message_id(&self, ses_message_id: &str) -> ExpectedEvent {
        let mut changed = self.clone();
        changed
            .record
            .insert("ses_message_id".into(), ses_message_id.into());
        let id = changed.recomputed_event_id();
        changed.record.insert("event_id".into(), id.into());
        changed
    }

    /// What the ledger keeps of this event, as docs/dynamodb-design.md lists it (written here
    /// from that list, not from the code): identity, type, time, recipient, the bounce and
    /// complaint classes, and the one headline detail (at most 160 bytes, cut with `…`).
    pub fn kept_by_the_ledger(&self) -> ExpectedEvent {
        const KEPT: [&str; 18] = [
            "schema_version",
            "event_id",
            "event_type",
            "event_subtype",
            "payload_format",
            "recipient",
            "ses_message_id",
            "event_time",
            "bounce_type",
            "bounce_subtype",
            "complaint_subtype",
            "bounce_diagnostic_code",
            "complaint_user_agent",
            "delivery_smtp_response",
            "delay_diagnostic_code",
            "reject_reason",
            "click_link",
            "rendering_error_message",
        ];
        let mut kept = self.clone();
        kept.record
            .retain(|field, _| KEPT.contains(&field.as_str()));
        for value in kept.record.values_mut() {
            if let Some(text) = value.as_str().filter(|t| t.len() > 160) {
                let mut end = 157;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                *value = format!("{}…", &text[..end]).into();
            }
        }
        kept
    }

    /// The expected fields this record gets wrong, as `field: expected … got …` lines.
    pub fn mismatches(&self, actual: &Value) -> Vec<String> {
        self.record
            .iter()
            .filter(|(field, want)| actual.get(field.as_str()) != Some(want))
            .map(|(field, want)| {
                let got = actual.get(field.as_str()).unwrap_or(&Value::Null);
                format!("{field}: expected {want}, got {got}")
            })
            .collect()
    }
}

/// Panics unless `actual` holds exactly the expected events, one for one, in this order.
pub fn assert_events_in_order(actual: &[Value], expected: &[ExpectedEvent]) {
    assert_eq!(
        actual.len(),
        expected.len(),
        "expected {} recipient events, got {}: {actual:#?}",
        expected.len(),
        actual.len()
    );
    for (i, (got, want)) in actual.iter().zip(expected).enumerate() {
        let wrong = want.mismatches(got);
        assert!(wrong.is_empty(), "event {i}: {}", wrong.join("; "));
    }
}

/// As [`assert_events_in_order`], in any order (log streams and table scans have none).
pub fn assert_same_events(actual: &[Value], expected: &[ExpectedEvent]) {
    let key = |v: &Value| {
        (
            v["event_id"].as_str().unwrap_or_default().to_string(),
            v["payload_format"].as_str().unwrap_or_default().to_string(),
        )
    };
    let mut actual = actual.to_vec();
    actual.sort_by_key(key);
    let mut expected = expected.to_vec();
    expected.sort_by_key(|e| {
        (
            e.event_id().to_string(),
            e.record["payload_format"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    });
    assert_events_in_order(&actual, &expected);
}
