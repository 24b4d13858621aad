//! The ledger's suppressed addresses beside SES's account-level suppression list: which list holds
//! an address, for what reason, and what `ses-ledger suppression push` would add to SES.
//!
//! SES's list knows two reasons, `BOUNCE` and `COMPLAINT` (SES v2 `SuppressionListReason`). The
//! ledger knows three; both of its bounce rules (a hard bounce, N soft bounces in M days) are
//! bounces to SES.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ledger::summary::{Suppression, SuppressionReason};
use crate::model::address::ledger_key;
use crate::privacy::{is_pseudonym, Addresses};

/// Why SES's account-level suppression list holds an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SesSuppressionReason {
    Bounce,
    Complaint,
}

impl SesSuppressionReason {
    /// The reason SES's list gives for what the ledger suppressed an address for.
    pub fn for_ledger(reason: SuppressionReason) -> Self {
        match reason {
            SuppressionReason::Complaint => SesSuppressionReason::Complaint,
            SuppressionReason::HardBounce | SuppressionReason::SoftBounces => {
                SesSuppressionReason::Bounce
            }
        }
    }

    /// SES's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SesSuppressionReason::Bounce => "BOUNCE",
            SesSuppressionReason::Complaint => "COMPLAINT",
        }
    }
}

/// An entry of SES's list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SesSuppressed {
    pub address: String,
    /// None when SES answers with a reason this version does not know.
    pub reason: Option<SesSuppressionReason>,
    pub last_update: Option<DateTime<Utc>>,
}

/// An address the ledger suppresses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerSuppressed {
    pub address: String,
    pub suppression: Suppression,
}

/// How the two lists stand on one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Agreement {
    /// Both hold it, for the same reason.
    Agree,
    /// Both hold it, SES for another reason (e.g. a complainer SES lists as a bounce).
    OtherReason,
    /// Only the ledger: `suppression push` would add it to SES.
    LedgerOnly,
    /// Only SES: suppressed for a reason the ledger never saw (an event before the ledger
    /// existed, a manual entry, another tool).
    SesOnly,
}

impl Agreement {
    pub fn as_str(self) -> &'static str {
        match self {
            Agreement::Agree => "agree",
            Agreement::OtherReason => "other reason",
            Agreement::LedgerOnly => "ledger only",
            Agreement::SesOnly => "SES only",
        }
    }
}

/// One address of either list, and what each says of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Compared {
    pub address: String,
    pub agreement: Agreement,
    pub ledger: Option<Suppression>,
    pub ses: Option<SesSuppressed>,
}

/// Both lists, address by address (in key order). Addresses are compared as the ledger keys them
/// ([`Addresses::key_of`]), so `jane@Example.COM` on SES's list is the ledger's
/// `jane@example.com`, or its pseudonym when the ledger keeps pseudonyms.
pub fn compare(
    ledger: Vec<LedgerSuppressed>,
    ses: Vec<SesSuppressed>,
    addresses: &Addresses,
) -> Vec<Compared> {
    let mut by_address: BTreeMap<String, (Option<Suppression>, Option<SesSuppressed>)> =
        BTreeMap::new();
    for l in ledger {
        by_address.entry(ledger_key(&l.address)).or_default().0 = Some(l.suppression);
    }
    for s in ses {
        let key = addresses.key_of(&s.address);
        by_address.entry(key).or_default().1 = Some(s);
    }
    by_address
        .into_iter()
        .map(|(address, (ledger, ses))| {
            let agreement = match (&ledger, &ses) {
                (Some(l), Some(s))
                    if s.reason == Some(SesSuppressionReason::for_ledger(l.reason)) =>
                {
                    Agreement::Agree
                }
                (Some(_), Some(_)) => Agreement::OtherReason,
                (Some(_), None) => Agreement::LedgerOnly,
                (None, _) => Agreement::SesOnly,
            };
            Compared {
                address,
                agreement,
                ledger,
                ses,
            }
        })
        .collect()
}

/// What `suppression push` adds to SES: each address only the ledger suppresses, with SES's name
/// for the ledger's reason. An address SES already lists, for whatever reason, is left as SES has
/// it: push adds, it never overwrites. A pseudonym is no address SES could suppress: it is left
/// out ([`unpushable`] counts them).
pub fn to_push(compared: &[Compared]) -> Vec<(String, SesSuppressionReason)> {
    compared
        .iter()
        .filter(|c| c.agreement == Agreement::LedgerOnly && !is_pseudonym(&c.address))
        .filter_map(|c| {
            let reason = c.ledger.as_ref()?.reason;
            Some((c.address.clone(), SesSuppressionReason::for_ledger(reason)))
        })
        .collect()
}

/// Suppressions only the ledger holds that `push` cannot add, because the ledger keeps them as
/// pseudonyms.
pub fn unpushable(compared: &[Compared]) -> usize {
    compared
        .iter()
        .filter(|c| c.agreement == Agreement::LedgerOnly && is_pseudonym(&c.address))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ledger(address: &str, reason: SuppressionReason) -> LedgerSuppressed {
        LedgerSuppressed {
            address: address.into(),
            suppression: Suppression {
                reason,
                since: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
            },
        }
    }

    fn ses(address: &str, reason: SesSuppressionReason) -> SesSuppressed {
        SesSuppressed {
            address: address.into(),
            reason: Some(reason),
            last_update: None,
        }
    }

    #[test]
    fn each_address_is_placed_by_which_list_holds_it_and_why() {
        use SesSuppressionReason::Bounce;
        use SuppressionReason::{HardBounce, SoftBounces};
        let complaint = SuppressionReason::Complaint;
        let compared = compare(
            vec![
                ledger("both@example.com", HardBounce),
                ledger("soft@example.com", SoftBounces),
                ledger("complainer@example.com", complaint),
                ledger("only-ledger@example.com", complaint),
            ],
            vec![
                ses("both@EXAMPLE.com", Bounce),
                ses("soft@example.com", Bounce),
                ses("complainer@example.com", Bounce),
                ses("only-ses@example.com", SesSuppressionReason::Complaint),
            ],
            &Addresses::Clear,
        );
        let got: Vec<(&str, Agreement)> = compared
            .iter()
            .map(|c| (c.address.as_str(), c.agreement))
            .collect();
        assert_eq!(
            got,
            [
                ("both@example.com", Agreement::Agree),
                ("complainer@example.com", Agreement::OtherReason),
                ("only-ledger@example.com", Agreement::LedgerOnly),
                ("only-ses@example.com", Agreement::SesOnly),
                ("soft@example.com", Agreement::Agree),
            ]
        );
        assert_eq!(
            to_push(&compared),
            [(
                "only-ledger@example.com".to_string(),
                SesSuppressionReason::Complaint
            )],
            "push adds only what SES lacks, and overwrites nothing"
        );
    }

    #[test]
    fn after_a_push_there_is_nothing_left_to_push() {
        let ours = vec![
            ledger("a@example.com", SuppressionReason::SoftBounces),
            ledger("b@example.com", SuppressionReason::Complaint),
        ];
        let first = to_push(&compare(ours.clone(), Vec::new(), &Addresses::Clear));
        assert_eq!(first.len(), 2);
        let ses_after: Vec<SesSuppressed> = first.iter().map(|(a, r)| ses(a, *r)).collect();
        let again = compare(ours, ses_after, &Addresses::Clear);
        assert!(again.iter().all(|c| c.agreement == Agreement::Agree));
        assert!(to_push(&again).is_empty());
    }

    #[test]
    fn a_reason_ses_adds_later_is_another_reason_not_an_error() {
        let compared = compare(
            vec![ledger("x@example.com", SuppressionReason::HardBounce)],
            vec![SesSuppressed {
                address: "x@example.com".into(),
                reason: None,
                last_update: None,
            }],
            &Addresses::Clear,
        );
        assert_eq!(compared[0].agreement, Agreement::OtherReason);
        assert!(to_push(&compared).is_empty());
    }

    #[test]
    fn a_pseudonymised_ledger_matches_ses_addresses_by_their_pseudonym_and_pushes_none() {
        let key = crate::privacy::PseudonymKey::new(&"k".repeat(32)).unwrap();
        let addresses = Addresses::Pseudonymised(key);
        let compared = compare(
            vec![
                ledger(
                    &addresses.key_of("both@example.com"),
                    SuppressionReason::HardBounce,
                ),
                ledger(
                    &addresses.key_of("mine@example.com"),
                    SuppressionReason::Complaint,
                ),
            ],
            vec![ses("both@EXAMPLE.com", SesSuppressionReason::Bounce)],
            &addresses,
        );
        let got: Vec<Agreement> = compared.iter().map(|c| c.agreement).collect();
        assert_eq!(got.len(), 2);
        assert!(got.contains(&Agreement::Agree) && got.contains(&Agreement::LedgerOnly));
        assert!(
            to_push(&compared).is_empty(),
            "a pseudonym is no address for SES"
        );
        assert_eq!(unpushable(&compared), 1);
    }
}
