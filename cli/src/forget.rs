//! `forget`: an erasure request. Deletes a recipient's event items and suppression state, keeps
//! the counters (they hold no address), and says what it cannot delete.

use ses_ledger::ports::{RecipientEraser, RecipientItems};
use ses_ledger::privacy::Addresses;

use crate::lookup::ledger_key;

/// What was found under one key, and whether it was deleted.
pub struct ForgottenKey {
    /// The key as the report names it (with its pseudonym when the ledger keeps those).
    pub address: String,
    pub items: RecipientItems,
    pub deleted: bool,
}

/// What an erasure request found: the address as typed, and every case variant the ledger keeps.
pub struct Forgotten {
    pub keys: Vec<ForgottenKey>,
    /// Whether case variants could be looked for (not in a ledger of pseudonyms, whose keys are
    /// hashes of one case).
    pub variants_searched: bool,
}

/// Finds every item naming `address`, in any case of its local part, and, only when `delete` is
/// set, deletes them. Running it again finds nothing and changes nothing.
pub async fn forget(
    eraser: &impl RecipientEraser,
    addresses: &Addresses,
    address: &str,
    delete: bool,
) -> anyhow::Result<Forgotten> {
    let (key, shown) = ledger_key(addresses, address);
    let mut keys = vec![(key.clone(), shown)];
    let variants_searched = !addresses.is_pseudonymised();
    if variants_searched {
        for variant in eraser.case_variants(&key).await? {
            if variant != key {
                keys.push((variant.clone(), variant));
            }
        }
    }
    let mut forgotten = Vec::new();
    for (key, shown) in keys {
        let items = eraser.recipient_items(&key).await?;
        if delete && !items.is_empty() {
            eraser.erase(&key, &items).await?;
        }
        forgotten.push(ForgottenKey {
            deleted: delete && !items.is_empty(),
            address: shown,
            items,
        });
    }
    Ok(Forgotten {
        keys: forgotten,
        variants_searched,
    })
}

impl Forgotten {
    pub fn is_empty(&self) -> bool {
        self.keys.iter().all(|k| k.items.is_empty())
    }

    /// What an operator reads, and what goes into the erasure request's reply.
    pub fn report(&self, log_group: &str) -> String {
        let mut lines = Vec::new();
        for k in &self.keys {
            let found = match (k.items.events.len(), k.items.suppression_state) {
                (0, false) => "nothing stored".to_string(),
                (0, true) => "its suppression state".to_string(),
                (n, state) => format!(
                    "{n} event item{} of {} message{}{}",
                    if n == 1 { "" } else { "s" },
                    k.items.messages(),
                    if k.items.messages() == 1 { "" } else { "s" },
                    if state {
                        ", and its suppression state"
                    } else {
                        ""
                    }
                ),
            };
            lines.push(format!("{}: {found}", k.address));
        }
        let deleted = self.keys.iter().any(|k| k.deleted);
        lines.push(if self.is_empty() {
            "nothing to delete (already forgotten, or never recorded)".to_string()
        } else if deleted {
            "deleted. The counters hold no address and keep what these events added, so the rates do not change.".to_string()
        } else {
            "dry run: nothing deleted. Run again with --yes to delete them.".to_string()
        });
        lines.push(if self.variants_searched {
            "Every case of the address's local part was looked for (one read of the recipient index).".to_string()
        } else {
            "This ledger keeps pseudonyms, hashes of the address in one case: only the case typed was looked for. Run forget again for each case the person wrote it in (docs/privacy.md).".to_string()
        });
        lines.push(format!(
            "Not deleted: the event log {log_group} keeps each event's line until its retention \
             (EventLogRetentionDays) expires; CloudWatch Logs cannot delete single log events. \
             An event SES reports for this address from now on is recorded again."
        ));
        lines.join("\n")
    }
}
