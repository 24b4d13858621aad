//! Email addresses as SES reports them: sometimes bare, sometimes with a display name
//! (`"John Doe" <john@example.com>`), with domains in any case. One normal form keeps a
//! recipient's history in one place.

/// A parsed address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// `local@domain`: display name removed, domain lower-cased, local part as given (mailbox
    /// providers may treat it case-sensitively, so it is not ours to fold).
    pub normalised: String,
    /// Lower-case (ASCII) domain.
    pub domain: String,
}

impl Address {
    /// The local part, as given.
    pub fn local(&self) -> &str {
        // `normalised` is `local@domain`; the domain holds no `@`.
        self.normalised
            .rsplit_once('@')
            .map_or(self.normalised.as_str(), |(local, _)| local)
    }
}

/// RFC 5321's limit on a path (256 octets with its angle brackets): nothing longer is an address
/// any server accepts, and SES never reports one.
pub const MAX_ADDRESS_BYTES: usize = 254;

/// The text the ledger keys a recipient by: the normalised address, or the trimmed text when it
/// is no address (kept as given, never dropped). Lookups, erasure and the suppression-list
/// comparison key what they are given the same way as ingest keys what SES sends.
pub fn ledger_key(text: &str) -> String {
    parse_address(text)
        .map(|a| a.normalised)
        .unwrap_or_else(|| text.trim().to_string())
}

/// Parses one address, with or without a display name. `None` when there is no `@` with text on
/// both sides, when the text holds something other than one address (a list, stray spaces), or
/// when it is longer than [`MAX_ADDRESS_BYTES`]. An internationalised domain is written in its
/// ASCII (punycode) form, so `bücher.example` and `xn--bcher-kva.example` are one recipient.
pub fn parse_address(s: &str) -> Option<Address> {
    let trimmed = s.trim();
    // The address of `Name <addr>` is the last angle-bracketed part: a quoted display name may
    // itself contain `<`.
    let addr = match trimmed.rfind('<') {
        Some(open) => {
            let inner = trimmed.get(open + 1..)?;
            let close = inner.find('>')?;
            if !inner.get(close + 1..)?.trim().is_empty() {
                return None;
            }
            inner.get(..close)?.trim()
        }
        None => trimmed,
    };
    if addr
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '<' | '>' | ','))
    {
        return None;
    }
    // The domain cannot contain `@`; a quoted local part can.
    let (local, domain) = addr.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    // ASCII folding is idempotent and locale-free; a non-ASCII domain takes UTS 46's mapping
    // (which lower-cases it too), the form SES reports.
    let domain = if domain.is_ascii() {
        domain.to_ascii_lowercase()
    } else {
        // UTS 46 maps some characters to a space, `<`, `@` or to nothing (U+0384 to " ́",
        // U+FE6B to "@", U+FE00 away): what comes out must still be a domain, or the address
        // would not read back as itself.
        let mapped = idna::domain_to_ascii(domain).ok()?;
        let usable = !mapped.is_empty()
            && mapped
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !usable {
            return None;
        }
        mapped
    };
    if local.len() + 1 + domain.len() > MAX_ADDRESS_BYTES {
        return None;
    }
    let mut normalised = String::with_capacity(local.len() + 1 + domain.len());
    normalised.push_str(local);
    normalised.push('@');
    normalised.push_str(&domain);
    Some(Address { normalised, domain })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn normalised(s: &str) -> Option<String> {
        parse_address(s).map(|a| a.normalised)
    }

    #[test]
    fn bare_addresses_keep_the_local_part_and_fold_the_domain() {
        let a = parse_address("  Jane.Doe@Example.COM \n").expect("parses");
        assert_eq!(a.normalised, "Jane.Doe@example.com");
        assert_eq!(a.local(), "Jane.Doe");
        assert_eq!(a.domain, "example.com");
    }

    /// Domains whose UTS 46 mapping is no domain (found by the idempotence proptest): refused,
    /// so every address that parses reads back as itself.
    #[test]
    fn a_domain_that_maps_to_no_domain_is_refused() {
        for text in [
            "0@\u{384}",
            "A@\u{fe00}",
            "!@\u{fe6b}",
            "x@\u{fe64}",
            "y@a\u{a8}b",
        ] {
            match normalised(text) {
                None => {}
                Some(n) => assert_eq!(normalised(&n).as_deref(), Some(n.as_str()), "{text:?}"),
            }
        }
        assert_eq!(normalised("0@\u{384}"), None);
        assert_eq!(normalised("!@\u{fe6b}"), None);
        assert_eq!(
            normalised("jörg@bücher.example").as_deref(),
            Some("jörg@xn--bcher-kva.example")
        );
    }

    #[test]
    fn display_names_are_removed() {
        assert_eq!(
            normalised("\"John Doe\" <john@Example.COM>").as_deref(),
            Some("john@example.com")
        );
        assert_eq!(
            normalised("Sender Name <sender@example.com>").as_deref(),
            Some("sender@example.com")
        );
        assert_eq!(
            normalised("<bare@example.com>").as_deref(),
            Some("bare@example.com")
        );
        assert_eq!(
            normalised("\"a <b@c.d>\" <real@example.com>").as_deref(),
            Some("real@example.com")
        );
        assert_eq!(
            normalised("Name < spaced@example.com >").as_deref(),
            Some("spaced@example.com")
        );
    }

    #[test]
    fn a_quoted_local_part_may_hold_an_at_sign() {
        let a = parse_address("\"odd@local\"@Example.org").expect("parses");
        assert_eq!(a.local(), "\"odd@local\"");
        assert_eq!(a.domain, "example.org");
    }

    #[test]
    fn plus_tags_quotes_and_upper_case_local_parts_are_kept_idn_domains_are_punycoded() {
        assert_eq!(
            normalised("Jane+News@Example.COM").as_deref(),
            Some("Jane+News@example.com"),
            "a plus tag is the provider's business, not ours"
        );
        assert_eq!(
            normalised("\"o'brien\"@example.com").as_deref(),
            Some("\"o'brien\"@example.com")
        );
        assert_eq!(
            normalised("Müller@Bücher.Example").as_deref(),
            Some("Müller@xn--bcher-kva.example")
        );
        assert_eq!(
            normalised("Müller@Bücher.Example"),
            normalised("Müller@xn--bcher-kva.example"),
            "one recipient, whichever form SES reports"
        );
    }

    #[test]
    fn nothing_longer_than_an_smtp_path_is_an_address() {
        let local = "a".repeat(64);
        let fits = format!("{local}@{}.example", "d".repeat(254 - 64 - 1 - 8));
        assert_eq!(fits.len(), MAX_ADDRESS_BYTES);
        assert!(parse_address(&fits).is_some());
        let long = format!("{}@example.com", "a".repeat(1000));
        assert_eq!(parse_address(&long), None);
    }

    #[test]
    fn what_is_not_one_address() {
        for s in [
            "",
            "   ",
            "no-at-sign",
            "@example.com",
            "someone@",
            "Name <>",
            "Name <unclosed@example.com",
            "a@example.com, b@example.com",
            "two words@example.com",
            "<a@b> trailing>",
        ] {
            assert_eq!(parse_address(s), None, "{s:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,60}") {
            let _ = parse_address(&s);
        }

        #[test]
        fn normalisation_is_idempotent(s in "[ \"A-Za-z<>@.,_+-]{0,30}|\\PC{0,30}") {
            if let Some(a) = parse_address(&s) {
                let again = parse_address(&a.normalised).expect("a normalised address parses");
                prop_assert_eq!(&again.normalised, &a.normalised);
                prop_assert_eq!(&again.domain, &a.domain);
            }
        }

        #[test]
        fn display_name_and_case_do_not_change_the_normal_form(
            local in "[a-zA-Z0-9._+-]{1,12}",
            domain in "[a-zA-Z0-9-]{1,10}\\.[a-zA-Z]{2,4}",
            name in "[A-Za-z ]{0,12}",
        ) {
            let bare = parse_address(&format!("{local}@{domain}")).expect("bare");
            let named = parse_address(&format!("\"{name}\" <{local}@{}>", domain.to_uppercase()))
                .expect("named");
            prop_assert_eq!(bare.normalised, named.normalised);
        }
    }
}
