//! Mailbox providers: which company runs a recipient's mailbox. The one table of that fact; add a
//! row to teach ses-ledger a new provider.

/// A provider and the domains it hosts.
pub struct Provider {
    pub name: &'static str,
    /// Exact domains.
    pub domains: &'static [&'static str],
    /// Brand labels hosted under many country domains: `hotmail` matches `hotmail.com`,
    /// `hotmail.fr`, `hotmail.co.uk`, `hotmail.com.br`.
    pub brands: &'static [&'static str],
}

pub const PROVIDERS: &[Provider] = &[
    Provider {
        name: "google",
        domains: &["gmail.com", "googlemail.com"],
        brands: &[],
    },
    Provider {
        name: "microsoft",
        domains: &["msn.com", "passport.com", "windowslive.com"],
        brands: &["outlook", "hotmail", "live"],
    },
    Provider {
        name: "yahoo",
        domains: &[
            "aol.com",
            "aim.com",
            "ymail.com",
            "rocketmail.com",
            "verizon.net",
            "att.net",
            "sbcglobal.net",
            "bellsouth.net",
        ],
        brands: &["yahoo", "aol"],
    },
    Provider {
        name: "apple",
        domains: &["icloud.com", "me.com", "mac.com"],
        brands: &[],
    },
    Provider {
        name: "comcast",
        domains: &["comcast.net", "xfinity.com"],
        brands: &[],
    },
    Provider {
        name: "proton",
        domains: &["protonmail.com", "protonmail.ch", "proton.me", "pm.me"],
        brands: &[],
    },
    Provider {
        name: "zoho",
        domains: &["zoho.com", "zohomail.com"],
        brands: &[],
    },
    Provider {
        name: "fastmail",
        domains: &["fastmail.com", "fastmail.fm"],
        brands: &[],
    },
    Provider {
        name: "gmx",
        domains: &["gmx.net", "gmx.de", "gmx.com", "web.de", "mail.com"],
        brands: &[],
    },
    Provider {
        name: "yandex",
        domains: &["yandex.ru", "yandex.com", "ya.ru"],
        brands: &[],
    },
    Provider {
        name: "mailru",
        domains: &["mail.ru", "inbox.ru", "list.ru", "bk.ru"],
        brands: &[],
    },
];

/// Providers that send complaint feedback (feedback loops) to SES, by the third-party accounts the
/// domain brief cites; AWS publishes no list. Overridable by configuration.
pub const DEFAULT_FEEDBACK_LOOP_PROVIDERS: &[&str] = &["yahoo", "microsoft", "comcast"];

/// The provider hosting `domain` (lower-case), or the domain itself when no row knows it, so
/// unknown corporate domains still group by themselves.
pub fn provider_for_domain(domain: &str) -> String {
    known_provider(domain)
        .map(str::to_string)
        .unwrap_or_else(|| domain.to_string())
}

/// The table's provider for `domain`, if any.
pub fn known_provider(domain: &str) -> Option<&'static str> {
    let domain = domain.trim_end_matches('.');
    PROVIDERS
        .iter()
        .find(|p| {
            p.domains.contains(&domain) || p.brands.iter().any(|b| is_brand_domain(domain, b))
        })
        .map(|p| p.name)
}

/// `brand.tld`, `brand.co.cc`, `brand.com.cc` (cc: a two-letter country code).
fn is_brand_domain(domain: &str, brand: &str) -> bool {
    let Some(rest) = domain.strip_prefix(brand).and_then(|r| r.strip_prefix('.')) else {
        return false;
    };
    let labels: Vec<&str> = rest.split('.').collect();
    let country = |l: &str| l.len() == 2 && l.bytes().all(|b| b.is_ascii_lowercase());
    match labels.as_slice() {
        [tld] => country(tld) || matches!(*tld, "com" | "net"),
        [second, cc] => matches!(*second, "co" | "com") && country(cc),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_domains_and_country_variants_map_to_their_provider() {
        for (domain, provider) in [
            ("gmail.com", "google"),
            ("googlemail.com", "google"),
            ("outlook.com", "microsoft"),
            ("hotmail.co.uk", "microsoft"),
            ("live.com.br", "microsoft"),
            ("msn.com", "microsoft"),
            ("yahoo.fr", "yahoo"),
            ("ymail.com", "yahoo"),
            ("aol.com", "yahoo"),
            ("comcast.net", "comcast"),
            ("icloud.com", "apple"),
        ] {
            assert_eq!(known_provider(domain), Some(provider), "{domain}");
        }
    }

    #[test]
    fn lookalike_domains_are_not_claimed_by_a_brand() {
        for domain in [
            "outlook.example.org",
            "livestream.com",
            "mylive.com",
            "yahoo.example.co.uk",
        ] {
            assert_eq!(known_provider(domain), None, "{domain}");
        }
        assert_eq!(provider_for_domain("example.org"), "example.org");
    }
}
