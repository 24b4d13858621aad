//! A bounce's class by what the receiving server said, beside SES's own `bounceType`.
//!
//! SES labels some failures that will never succeed as Transient (a `5.4.4` unroutable domain
//! arrives as a soft bounce) and some policy blocks as Permanent. Rates keep SES's own type,
//! because that is what SES counts; the class is what an operator can act on: remove the
//! address (permanent), wait (transient), or look at the sending itself (policy).
//!
//! The class comes from the DSN status (RFC 3463 enhanced status code, `bouncedRecipients[].
//! status`), else from the first status code or reply code in the diagnostic text. The tables
//! below are the whole rule; docs/event-schema.md prints them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BounceClass {
    /// The address will not accept mail: retrying cannot help.
    Permanent,
    /// A temporary condition (mailbox full, server busy, greylisting): the address may work later.
    Transient,
    /// The receiver refused the sender, not the address (reputation, authentication, content):
    /// suppressing the address fixes nothing.
    Policy,
    /// No status and no reply code to go by.
    Unknown,
}

impl BounceClass {
    pub fn as_str(self) -> &'static str {
        match self {
            BounceClass::Permanent => "permanent",
            BounceClass::Transient => "transient",
            BounceClass::Policy => "policy",
            BounceClass::Unknown => "unknown",
        }
    }

    /// Inverse of [`BounceClass::as_str`].
    pub fn parse(text: &str) -> Option<BounceClass> {
        [
            BounceClass::Permanent,
            BounceClass::Transient,
            BounceClass::Policy,
            BounceClass::Unknown,
        ]
        .into_iter()
        .find(|c| c.as_str() == text)
    }
}

/// Enhanced status codes whose class is not the one their class digit gives, as
/// `class.subject.detail` patterns with `x` for any: the first match wins.
pub const STATUS_EXCEPTIONS: &[(&str, BounceClass, &str)] = &[
    // RFC 3463: X.7.X is the security or policy status subject, whether 4 or 5.
    (
        "x.7.x",
        BounceClass::Policy,
        "security or policy status (RFC 3463 X.7.X)",
    ),
    // RFC 3463 calls a full mailbox a transient condition even when it is sent as 5.2.2.
    (
        "5.2.2",
        BounceClass::Transient,
        "mailbox full (RFC 3463: usually temporary)",
    ),
    // The address is fine; the message is not.
    (
        "5.3.4",
        BounceClass::Policy,
        "message too big for the system",
    ),
    (
        "5.2.3",
        BounceClass::Policy,
        "message length exceeds the administrative limit",
    ),
];

/// Phrases in a diagnostic that name a block of the sender, not of the address, for a bounce
/// whose status says only "permanent" or "transient": a bare reply code, or the undefined
/// `X.0.0` (many receivers answer a block-list hit with `550 5.0.0` or a bare `554`). Matched
/// case-insensitively, as whole words, in the receiver's own words only: host names, addresses
/// and links are left out first, since `mx.antispam.example` says nothing about the sender.
pub const POLICY_PHRASES: &[&str] = &[
    "block list",
    "blocklist",
    "blacklist",
    "blocked",
    "spamhaus",
    "reputation",
    "spam",
    "dmarc",
    "not authorized to send",
    "policy",
    "listed at",
    "listed on",
    "dnsbl",
];

/// An RFC 3463 enhanced status code: `class.subject.detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Status {
    class: u16,
    subject: u16,
    detail: u16,
}

impl Status {
    fn matches(self, pattern: &str) -> bool {
        let mut parts = pattern.split('.');
        [self.class, self.subject, self.detail]
            .into_iter()
            .all(|n| match parts.next() {
                Some("x") => true,
                Some(p) => p.parse() == Ok(n),
                None => false,
            })
    }

    /// The first status code in `text`: a class of 2, 4 or 5, a subject and a detail of one to
    /// three digits each, not part of a longer dotted number (a version, an IP address).
    fn find_in(text: &str) -> Option<Status> {
        let is_part = |b: u8| b.is_ascii_alphanumeric() || b == b'.';
        let bytes = text.as_bytes();
        let mut start = 0;
        while start < bytes.len() {
            let end = start + bytes[start..].iter().take_while(|&&b| is_part(b)).count();
            if end > start {
                if let Some(status) = Status::parse(&text[start..end]) {
                    return Some(status);
                }
                start = end;
            } else {
                start += 1;
            }
        }
        None
    }

    fn parse(word: &str) -> Option<Status> {
        // A sentence's full stop is not part of the code.
        let word = word.strip_suffix('.').unwrap_or(word);
        let mut parts = word.split('.');
        let mut next = || -> Option<u16> {
            let p = parts.next()?;
            ((1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        };
        let status = Status {
            class: next()?,
            subject: next()?,
            detail: next()?,
        };
        (parts.next().is_none() && matches!(status.class, 2 | 4 | 5)).then_some(status)
    }
}

/// The class of a bounce from its DSN status and diagnostic text.
pub fn classify(status: Option<&str>, diagnostic: Option<&str>) -> BounceClass {
    let status = status
        .and_then(|s| Status::parse(s.trim()))
        .or_else(|| diagnostic.and_then(Status::find_in));
    if let Some(status) = status {
        if let Some((_, class, _)) = STATUS_EXCEPTIONS
            .iter()
            .find(|(pattern, _, _)| status.matches(pattern))
        {
            return *class;
        }
        // A specific status (a bad mailbox, 5.1.1) says what failed; only the undefined X.0.0
        // leaves the reason to the words.
        let words = (status.subject, status.detail) == (0, 0);
        return by_class_digit(status.class, diagnostic.filter(|_| words));
    }
    match diagnostic.and_then(reply_code_class) {
        Some(class) => by_class_digit(class, diagnostic),
        None => BounceClass::Unknown,
    }
}

fn by_class_digit(class: u16, diagnostic: Option<&str>) -> BounceClass {
    let names_a_block = || {
        diagnostic.is_some_and(|d| {
            let words = reason_words(d);
            POLICY_PHRASES.iter().any(|p| has_phrase(&words, p))
        })
    };
    match class {
        4 | 5 if names_a_block() => BounceClass::Policy,
        5 => BounceClass::Permanent,
        4 => BounceClass::Transient,
        _ => BounceClass::Unknown,
    }
}

/// The receiver's words, lower case: the diagnostic without its links, addresses and host names
/// (a token with a dot between two labels of letters, digits and hyphens, whose last label holds
/// a letter), each left out as a space.
fn reason_words(diagnostic: &str) -> String {
    let host = |t: &str| {
        let labels: Vec<&str> = t.split('.').collect();
        labels.len() >= 2
            && labels
                .iter()
                .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            && labels
                .last()
                .is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_alphabetic()))
    };
    diagnostic
        .split_whitespace()
        .map(|token| {
            let bare = token.trim_matches(|c: char| !c.is_alphanumeric());
            let lower = bare.to_ascii_lowercase();
            let dropped = lower.contains("://") || lower.contains('@') || host(&lower);
            if dropped {
                String::new()
            } else {
                token.to_ascii_lowercase()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `phrase` is in `text` as whole words (no letter or digit right before or after it).
fn has_phrase(text: &str, phrase: &str) -> bool {
    let bytes = text.as_bytes();
    text.match_indices(phrase).any(|(at, m)| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + m.len()).copied();
        !before.is_some_and(|b| b.is_ascii_alphanumeric())
            && !after.is_some_and(|b| b.is_ascii_alphanumeric())
    })
}

/// The class digit of an SMTP reply code at the start of a diagnostic (`smtp; 550 ...`,
/// `550-...`), for diagnostics that carry no enhanced status.
fn reply_code_class(diagnostic: &str) -> Option<u16> {
    let text = diagnostic.trim_start();
    let text = text
        .strip_prefix("smtp;")
        .or_else(|| text.strip_prefix("SMTP;"))
        .unwrap_or(text)
        .trim_start();
    let code = text.get(..3)?;
    let next = text.as_bytes().get(3).copied();
    (code.bytes().all(|b| b.is_ascii_digit())
        && matches!(code.as_bytes()[0], b'4' | b'5')
        && next.is_none_or(|b| b == b' ' || b == b'-'))
    .then(|| u16::from(code.as_bytes()[0] - b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use BounceClass::*;

    /// Real diagnostics, as SES reports them in `bouncedRecipients[].diagnosticCode`, with the
    /// status SES gave beside them.
    const REAL: &[(Option<&str>, &str, BounceClass)] = &[
        (Some("5.1.1"), "smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser", Permanent),
        (Some("5.4.4"), "smtp; 550 5.4.4 Invalid domain", Permanent),
        (Some("5.4.4"), "Unable to lookup DNS for example.invalid", Permanent),
        (Some("4.2.2"), "smtp; 452-4.2.2 The email account that you tried to reach is over quota. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp", Transient),
        (Some("5.2.2"), "smtp; 552 5.2.2 Mailbox full", Transient),
        (Some("5.7.1"), "smtp; 550 5.7.1 Unfortunately, messages from [203.0.113.7] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).", Policy),
        (Some("5.7.26"), "smtp; 550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy.", Policy),
        (Some("4.7.0"), "smtp; 421 4.7.0 [TSS04] Messages from 203.0.113.7 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes", Policy),
        (Some("5.0.0"), "smtp; 554 delivery error: dd This user doesn't have a yahoo.com account (someone@yahoo.com) [0] - mta1234.mail.gq1.yahoo.com", Permanent),
        (Some("5.0.0"), "smtp; 550 5.0.0 Mail rejected: listed at zen.spamhaus.org", Policy),
        (Some("5.3.4"), "smtp; 552 5.3.4 Message size exceeds fixed limit", Policy),
        (None, "smtp; 554 Transaction failed: blocked", Policy),
        (None, "smtp; 550 Requested action not taken: mailbox unavailable", Permanent),
        (None, "421 Service not available, closing transmission channel", Transient),
        (None, "Amazon SES did not send the message to this address because it is on the suppression list for your account.", Unknown),
    ];

    #[test]
    fn real_diagnostics_get_the_class_an_operator_would_give_them() {
        for (status, diagnostic, want) in REAL {
            assert_eq!(
                classify(*status, Some(diagnostic)),
                *want,
                "{status:?} {diagnostic}"
            );
        }
    }

    /// A dead address behind a host whose name holds "spam" or "policy": the words that name a
    /// block are the receiver's reason, not its host names or links, and a specific status
    /// (5.1.1: no such mailbox) is not overruled by them at all.
    #[test]
    fn host_names_links_and_specific_statuses_do_not_make_a_policy_block() {
        assert_eq!(
            classify(
                Some("5.1.1"),
                Some("mx.antispam.example: 550 5.1.1 user unknown")
            ),
            Permanent
        );
        assert_eq!(
            classify(None, Some("smtp; 550 mx.antispam.example: user unknown")),
            Permanent
        );
        assert_eq!(
            classify(
                Some("5.0.0"),
                Some("smtp; 550 5.0.0 no such user, see https://policy.example/spam?x=1 or postmaster@spam-policy.example")
            ),
            Permanent
        );
        assert_eq!(
            classify(
                Some("4.0.0"),
                Some("smtp; 451 4.0.0 antispamming check pending")
            ),
            Transient,
            "a word that only contains a phrase is not the phrase"
        );
        // The receiver's own words still count, around host names.
        assert_eq!(
            classify(
                None,
                Some("smtp; 550 rejected by mx.example.net: sender blocked")
            ),
            Policy
        );
    }

    #[test]
    fn the_status_wins_over_the_diagnostic_and_the_diagnostic_stands_in_for_a_missing_status() {
        assert_eq!(
            classify(Some("4.4.7"), Some("smtp; 550 5.1.1 no such user")),
            Transient
        );
        assert_eq!(
            classify(None, Some("smtp; 550 5.1.1 no such user")),
            Permanent
        );
        assert_eq!(classify(Some("5.1.10"), None), Permanent);
        assert_eq!(classify(None, None), Unknown);
        assert_eq!(classify(Some("not a status"), None), Unknown);
        assert_eq!(classify(Some("2.0.0"), None), Unknown);
    }

    #[test]
    fn version_numbers_and_addresses_are_not_statuses() {
        assert_eq!(
            classify(None, Some("Postfix 3.5.4 says hello to 10.5.1.2")),
            Unknown
        );
        assert_eq!(Status::find_in("v5.1.1"), None);
        assert_eq!(Status::find_in("1.5.1.1"), None);
        assert_eq!(
            Status::find_in("smtp; 550-5.1.1 gone."),
            Some(Status {
                class: 5,
                subject: 1,
                detail: 1
            })
        );
        assert_eq!(
            Status::find_in("see 4.16.55.1 and 5.7.1."),
            Some(Status {
                class: 5,
                subject: 7,
                detail: 1
            })
        );
    }

    #[test]
    fn exceptions_match_on_their_subject_and_detail_only() {
        assert_eq!(classify(Some("5.2.20"), None), Permanent);
        assert_eq!(classify(Some("5.2.2"), None), Transient);
        assert_eq!(classify(Some("4.7.1"), None), Policy);
        assert_eq!(classify(Some("5.7.1"), None), Policy);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(status in proptest::option::of(".{0,12}"), diagnostic in proptest::option::of(".{0,80}")) {
            let _ = classify(status.as_deref(), diagnostic.as_deref());
        }
    }
}
