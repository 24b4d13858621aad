//! `suppression diff` and `suppression push`: the ledger's suppressed addresses beside SES's
//! account-level suppression list, and adding to SES what only the ledger suppresses.

use ses_ledger::ports::{SesSuppressionList, SuppressedAddresses};
use ses_ledger::privacy::Addresses;
use ses_ledger::suppression_list::{compare, to_push, unpushable, Agreement, Compared};
use ses_ledger::timestamp::format_timestamp;

use crate::common::{print_rows, Output};

/// Both lists, address by address.
pub async fn diff(
    ledger: &impl SuppressedAddresses,
    ses: &impl SesSuppressionList,
    addresses: &Addresses,
) -> anyhow::Result<Vec<Compared>> {
    let ours = ledger.suppressed_addresses().await?;
    let theirs = ses.entries().await?;
    Ok(compare(ours, theirs, addresses))
}

pub fn print(compared: &[Compared], output: Output) -> anyhow::Result<()> {
    let header = [
        "address",
        "agreement",
        "ledger reason",
        "ledger since",
        "SES reason",
        "SES last update",
    ];
    let rows: Vec<Vec<String>> = compared
        .iter()
        .map(|c| {
            vec![
                // SES's own spelling when it lists the address: with pseudonymised addresses, the
                // only clear one there is.
                c.ses
                    .as_ref()
                    .map_or_else(|| c.address.clone(), |s| s.address.clone()),
                c.agreement.as_str().to_string(),
                c.ledger
                    .as_ref()
                    .map(|l| l.reason.as_str().to_string())
                    .unwrap_or_default(),
                c.ledger
                    .as_ref()
                    .map(|l| format_timestamp(l.since))
                    .unwrap_or_default(),
                c.ses
                    .as_ref()
                    .map(|s| s.reason.map_or("(other)", |r| r.as_str()).to_string())
                    .unwrap_or_default(),
                c.ses
                    .as_ref()
                    .and_then(|s| s.last_update)
                    .map(format_timestamp)
                    .unwrap_or_default(),
            ]
        })
        .collect();
    print_rows(output, &header, &rows, &serde_json::to_value(compared)?)?;
    if output == Output::Table {
        eprintln!("{}", tally(compared));
    }
    Ok(())
}

/// `3 agree, 1 other reason, 2 ledger only, 0 SES only`.
pub fn tally(compared: &[Compared]) -> String {
    [
        Agreement::Agree,
        Agreement::OtherReason,
        Agreement::LedgerOnly,
        Agreement::SesOnly,
    ]
    .iter()
    .map(|a| {
        let n = compared.iter().filter(|c| c.agreement == *a).count();
        format!("{n} {}", a.as_str())
    })
    .collect::<Vec<_>>()
    .join(", ")
}

/// What a push did, or would do.
pub struct Pushed {
    pub planned: Vec<(String, &'static str)>,
    pub applied: bool,
    /// Ledger-only suppressions kept as pseudonyms: SES needs the address, which the ledger no
    /// longer has.
    pub pseudonymised: usize,
}

/// Adds to SES each address only the ledger suppresses (dry run unless `apply`). A second run
/// finds them on SES's list and adds nothing.
pub async fn push(
    ledger: &impl SuppressedAddresses,
    ses: &impl SesSuppressionList,
    addresses: &Addresses,
    apply: bool,
) -> anyhow::Result<Pushed> {
    let compared = diff(ledger, ses, addresses).await?;
    let planned = to_push(&compared);
    if apply {
        for (address, reason) in &planned {
            ses.add(address, *reason).await?;
        }
    }
    Ok(Pushed {
        planned: planned
            .into_iter()
            .map(|(address, reason)| (address, reason.as_str()))
            .collect(),
        applied: apply,
        pseudonymised: unpushable(&compared),
    })
}

impl Pushed {
    pub fn report(&self) -> String {
        let mut lines: Vec<String> = self
            .planned
            .iter()
            .map(|(address, reason)| format!("{address}\t{reason}"))
            .collect();
        if self.pseudonymised > 0 {
            lines.push(format!(
                "{} suppressions only the ledger holds are pseudonyms: SES needs the address, which the ledger does not keep (docs/privacy.md)",
                self.pseudonymised
            ));
        }
        lines.push(match (self.planned.len(), self.applied) {
            (0, _) if self.pseudonymised > 0 => "nothing SES could take to add".to_string(),
            (0, _) => "nothing to add: SES lists every address the ledger suppresses".to_string(),
            (n, true) => format!("added {n} addresses to SES's account-level suppression list"),
            (n, false) => format!(
                "dry run: {n} addresses would be added to SES's account-level suppression list; run again with --apply to add them"
            ),
        });
        lines.join("\n")
    }
}
