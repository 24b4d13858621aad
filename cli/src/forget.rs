//! `forget`: an erasure request. Deletes a recipient's event items and suppression state, keeps
//! the counters (they hold no address), and says what it cannot delete.

use ses_ledger::ports::{RecipientEraser, RecipientItems};
use ses_ledger::privacy::Addresses;

use crate::lookup::ledger_key;

/// What was found, and whether it was deleted.
pub struct Forgotten {
    /// The address as the report names it (with its pseudonym when the ledger keeps those).
    pub address: String,
    pub items: RecipientItems,
    pub deleted: bool,
}

/// Finds every item naming `address` and, only when `delete` is set, deletes them. Running it
/// again finds nothing and changes nothing.
pub async fn forget(
    eraser: &impl RecipientEraser,
    addresses: &Addresses,
    address: &str,
    delete: bool,
) -> anyhow::Result<Forgotten> {
    let (key, shown) = ledger_key(addresses, address);
    let items = eraser.recipient_items(&key).await?;
    if delete && !items.is_empty() {
        eraser.erase(&key, &items).await?;
    }
    Ok(Forgotten {
        deleted: delete && !items.is_empty(),
        address: shown,
        items,
    })
}

impl Forgotten {
    /// What an operator reads, and what goes into the erasure request's reply.
    pub fn report(&self, log_group: &str) -> String {
        let found = match (self.items.events.len(), self.items.suppression_state) {
            (0, false) => "nothing stored".to_string(),
            (0, true) => "its suppression state".to_string(),
            (n, state) => format!(
                "{n} event item{} of {} message{}{}",
                if n == 1 { "" } else { "s" },
                self.items.messages(),
                if self.items.messages() == 1 { "" } else { "s" },
                if state {
                    ", and its suppression state"
                } else {
                    ""
                }
            ),
        };
        let mut lines = vec![format!("{}: {found}", self.address)];
        lines.push(if self.items.is_empty() {
            "nothing to delete (already forgotten, or never recorded)".to_string()
        } else if self.deleted {
            "deleted. The counters hold no address and keep what these events added, so the rates do not change.".to_string()
        } else {
            "dry run: nothing deleted. Run again with --yes to delete them.".to_string()
        });
        lines.push(format!(
            "Not deleted: the event log {log_group} keeps each event's line until its retention \
             (EventLogRetentionDays) expires; CloudWatch Logs cannot delete single log events. \
             An event SES reports for this address from now on is recorded again."
        ));
        lines.join("\n")
    }
}
