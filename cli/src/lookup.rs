//! `recipient`, `suppressed` and `message`: what happened to an address or a message.

use ses_ledger::event::RecipientEvent;
use ses_ledger::ports::LedgerReader;
use ses_ledger::privacy::Addresses;
use ses_ledger::summary::{RecipientSummary, Suppression};

use crate::common::{print_rows, Output};

fn event_row(e: &RecipientEvent, with_recipient: bool) -> Vec<String> {
    let mut row = vec![
        ses_ledger::timestamp::format_timestamp(e.event_time),
        e.event_type.to_string(),
        e.event_subtype.clone().unwrap_or_default(),
    ];
    if with_recipient {
        row.push(e.recipient.clone().unwrap_or_default());
    } else {
        row.push(e.ses_message_id.clone());
    }
    row.push(e.headline().unwrap_or_default().to_string());
    row
}

pub fn suppression_text(summary: Option<&RecipientSummary>) -> String {
    state_text(
        summary.and_then(|s| s.suppression.as_ref()),
        summary.is_some(),
    )
}

fn state_text(suppression: Option<&Suppression>, known: bool) -> String {
    match suppression {
        Some(s) => format!(
            "suppressed: {} since {}",
            s.reason.as_str(),
            ses_ledger::timestamp::format_timestamp(s.since)
        ),
        None if known => "not suppressed".into(),
        None => "unknown address (no events recorded)".into(),
    }
}

/// What the operator typed, keyed the way ingest keys recipients (its pseudonym when the ledger
/// keeps pseudonyms), and how to name it: the key, or `address (pseudonym)`.
pub fn ledger_key(addresses: &Addresses, address: &str) -> (String, String) {
    let key = addresses.key_of(address);
    let shown = if addresses.is_pseudonymised() {
        format!("{} ({key})", address.trim())
    } else {
        key.clone()
    };
    (key, shown)
}

pub async fn recipient(
    reader: &impl LedgerReader,
    addresses: &Addresses,
    address: &str,
    limit: usize,
    output: Output,
) -> anyhow::Result<()> {
    let (address, shown) = ledger_key(addresses, address);
    let summary = reader.recipient_summary(&address).await?;
    let history = reader.recipient_history(&address, limit).await?;
    if output == Output::Table {
        println!("{shown}: {}", suppression_text(summary.as_ref()));
        if let Some(s) = &summary {
            let counts: Vec<String> = s.counts.iter().map(|(t, c)| format!("{t} {c}")).collect();
            println!("events: {}", counts.join(", "));
        }
    }
    let rows: Vec<Vec<String>> = history.iter().map(|e| event_row(e, false)).collect();
    let json = serde_json::json!({
        "recipient": address,
        "summary": summary,
        "history": history,
    });
    print_rows(
        output,
        &["event time", "type", "subtype", "message id", "detail"],
        &rows,
        &json,
    )
}

/// Exit status for `suppressed`: 0 when the address is suppressed, 1 when mail may be sent.
/// One small read when the address is suppressed; one more (a single history item) to tell "not
/// suppressed" from "never seen".
pub async fn suppressed(
    reader: &impl LedgerReader,
    addresses: &Addresses,
    address: &str,
) -> anyhow::Result<bool> {
    let (address, shown) = ledger_key(addresses, address);
    let suppression = reader.suppression(&address).await?;
    let known = suppression.is_some() || !reader.recipient_history(&address, 1).await?.is_empty();
    println!("{shown}: {}", state_text(suppression.as_ref(), known));
    Ok(suppression.is_some())
}

pub async fn message(
    reader: &impl LedgerReader,
    message_id: &str,
    output: Output,
) -> anyhow::Result<bool> {
    let events = reader.message_events(message_id.trim()).await?;
    let rows: Vec<Vec<String>> = events.iter().map(|e| event_row(e, true)).collect();
    let json = serde_json::json!({ "ses_message_id": message_id, "events": events });
    print_rows(
        output,
        &["event time", "type", "subtype", "recipient", "detail"],
        &rows,
        &json,
    )?;
    Ok(!events.is_empty())
}
