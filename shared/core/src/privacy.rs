//! Opt-in pseudonymisation of recipient addresses (docs/privacy.md). With a key, a recipient is
//! stored as `hmac:` and the hex HMAC-SHA-256 of its ledger key ([`crate::model::address::ledger_key`])
//! in DynamoDB keys, items and log lines, and every other place the message names one of its
//! addresses (a diagnostic code, a subject, a link, an unknown event's payload) reads the same
//! pseudonym. Domains and providers stay in clear, so the rates by provider and the complaint
//! domains still work. Whoever holds the key can compute an address's pseudonym (the CLI does,
//! to look it up), but nobody can turn a pseudonym back into an address.

use std::fmt;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use thiserror::Error;

use crate::model::address::{ledger_key, parse_address};
use crate::model::event::RecipientEvent;

/// What every pseudonym starts with, so a reader (and `suppression push`) can tell one from an
/// address.
pub const PSEUDONYM_PREFIX: &str = "hmac:";

/// The shortest key accepted: HMAC-SHA-256's own block of output, 32 bytes, as RFC 2104
/// recommends; `openssl rand -hex 32` gives 64 characters.
pub const MIN_KEY_BYTES: usize = 32;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("the pseudonymisation key is {found} bytes long; it must be at least {MIN_KEY_BYTES} (for example: openssl rand -hex 32)")]
    TooShort { found: usize },
}

/// The secret that turns addresses into pseudonyms. Its `Debug` never shows it.
#[derive(Clone)]
pub struct PseudonymKey {
    /// The MAC with the key already absorbed, copied for each pseudonym.
    mac: Hmac<Sha256>,
    /// A fingerprint of the key (its own MAC of nothing), so two keys can be compared without
    /// keeping the secret twice.
    fingerprint: [u8; 32],
}

impl PartialEq for PseudonymKey {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
    }
}

impl Eq for PseudonymKey {}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(<redacted>)")
    }
}

impl PseudonymKey {
    /// The key is the text's bytes, surrounding whitespace removed (a parameter typed with a
    /// trailing newline is the same key).
    pub fn new(secret: &str) -> Result<Self, KeyError> {
        let bytes = secret.trim().as_bytes();
        if bytes.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort { found: bytes.len() });
        }
        // HMAC takes keys of every length; the error is for MACs that do not.
        let mac = Hmac::<Sha256>::new_from_slice(bytes)
            .map_err(|_| KeyError::TooShort { found: bytes.len() })?;
        let fingerprint = mac.clone().finalize().into_bytes().into();
        Ok(PseudonymKey { mac, fingerprint })
    }

    /// `hmac:` and the hex HMAC-SHA-256 of `ledger_key`.
    pub fn pseudonym(&self, ledger_key: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(ledger_key.as_bytes());
        format!(
            "{PSEUDONYM_PREFIX}{}",
            hex::encode(mac.finalize().into_bytes())
        )
    }
}

/// How the ledger keeps recipient addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Addresses {
    /// As SES reports them (normalised).
    #[default]
    Clear,
    /// As pseudonyms under this key.
    Pseudonymised(PseudonymKey),
}

impl Addresses {
    pub fn is_pseudonymised(&self) -> bool {
        matches!(self, Addresses::Pseudonymised(_))
    }

    /// What the ledger keys `text` (an address as SES sent it or an operator typed it) by: its
    /// ledger key, or that key's pseudonym.
    pub fn key_of(&self, text: &str) -> String {
        self.protect(ledger_key(text))
    }

    /// `ledger_key` itself, or its pseudonym.
    pub fn protect(&self, ledger_key: String) -> String {
        match self {
            Addresses::Clear => ledger_key,
            Addresses::Pseudonymised(key) => key.pseudonym(&ledger_key),
        }
    }
}

/// Whether a stored recipient is a pseudonym rather than an address.
pub fn is_pseudonym(recipient: &str) -> bool {
    recipient
        .strip_prefix(PSEUDONYM_PREFIX)
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Replaces a message's addresses wherever they appear in text, ignoring case (Unicode's, so an
/// internationalised local part is found in any case too), as written, normalised, with the
/// display name it came with, or percent-encoded (`jane%40example.com`, as links carry them).
#[derive(Debug, Default)]
pub struct Redactor {
    /// Lower-case needle and its pseudonym, longest needle first (so `ann@x.com` is not found
    /// inside `joann@x.com` before `joann@x.com` itself, nor `jane@x.com` inside `Jane Doe
    /// <jane@x.com>`, whose display name goes with it).
    needles: Vec<(String, String)>,
}

/// The pseudonymised record could not be made; the message fails, and nothing of it is written
/// in clear.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("pseudonymisation: {0}")]
pub struct RedactionError(pub String);

impl Redactor {
    pub fn new<'a>(key: &PseudonymKey, addresses: impl IntoIterator<Item = &'a str>) -> Self {
        let mut needles: Vec<(String, String)> = Vec::new();
        for text in addresses {
            let written = match parse_address(text) {
                Some(a) => vec![
                    text.trim().to_string(),
                    bare_address(text).to_string(),
                    a.normalised,
                ],
                None => vec![text.trim().to_string()],
            };
            let pseudonym = key.pseudonym(&ledger_key(text));
            for form in written.into_iter().filter(|f| f.contains('@')) {
                let lower = form.to_lowercase();
                needles.push((lower.replace('@', "%40"), pseudonym.clone()));
                needles.push((lower, pseudonym.clone()));
            }
        }
        needles.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        needles.dedup_by(|a, b| a.0 == b.0);
        Redactor { needles }
    }

    /// `text` with every needle replaced, or `None` when it holds none.
    pub fn redact(&self, text: &str) -> Option<String> {
        let lower = text.to_lowercase();
        if !self.needles.iter().any(|(n, _)| lower.contains(n.as_str())) {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        'scan: while at < text.len() {
            for (needle, pseudonym) in &self.needles {
                if let Some(len) = starts_with_folded(&text[at..], needle) {
                    out.push_str(pseudonym);
                    at += len;
                    continue 'scan;
                }
            }
            let Some(c) = text[at..].chars().next() else {
                break;
            };
            out.push(c);
            at += c.len_utf8();
        }
        Some(out)
    }

    /// Every string in `value` (keys and values), redacted in place.
    pub fn redact_value(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                if let Some(r) = self.redact(s) {
                    *s = r;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_value(v)),
            Value::Object(map) => {
                if map.keys().any(|k| self.redact(k).is_some()) {
                    let entries = std::mem::take(map);
                    for (k, v) in entries {
                        map.insert(self.redact(&k).unwrap_or(k), v);
                    }
                }
                map.values_mut().for_each(|v| self.redact_value(v));
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// Every text field of the record, redacted. Goes through the record's JSON form, so a field
    /// added later is covered without being named here; most records hold no address outside
    /// `recipient` (already a pseudonym), and those are found by one search of their JSON. Fails
    /// closed: a record that cannot be written, read back or cleared of every address is an
    /// error, never kept as it was.
    pub fn redact_event(&self, event: &mut RecipientEvent) -> Result<(), RedactionError> {
        // Only text that JSON writes as is can be searched for in the JSON form; a record whose
        // JSON names no address is left as it is, untouched by a round trip.
        let plain = self
            .needles
            .iter()
            .all(|(n, _)| !n.chars().any(|c| c == '"' || c == '\\' || c.is_control()));
        if plain {
            let json = serde_json::to_string(&*event)
                .map_err(|e| RedactionError(format!("the record as JSON: {e}")))?;
            if self.redact(&json).is_none() {
                return Ok(());
            }
        }
        *event = self.redacted(&*event)?;
        Ok(())
    }

    /// `value` with every address replaced, through its JSON form; an error, never the value as
    /// it was, when the form cannot be written or read back, or still names an address.
    pub fn redacted<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        value: &T,
    ) -> Result<T, RedactionError> {
        let fail = |what: &str, e: serde_json::Error| RedactionError(format!("{what}: {e}"));
        let mut json = serde_json::to_value(value).map_err(|e| fail("the record as JSON", e))?;
        self.redact_value(&mut json);
        let redacted: T =
            serde_json::from_value(json).map_err(|e| fail("the redacted record read back", e))?;
        // What is written is what is checked: the redacted value's own JSON names no address.
        let mut check =
            serde_json::to_value(&redacted).map_err(|e| fail("the redacted record as JSON", e))?;
        let before = check.clone();
        self.redact_value(&mut check);
        if check != before {
            return Err(RedactionError(
                "an address is still in the record after redaction".into(),
            ));
        }
        Ok(redacted)
    }
}

/// The length in `text` of a prefix equal to `needle` (lower case) when case is ignored, by
/// Unicode's lower-casing of each character of `text`; `None` when there is none.
fn starts_with_folded(text: &str, needle: &str) -> Option<usize> {
    let mut wanted = needle.chars();
    let mut used = 0;
    let mut pending: Vec<char> = Vec::new();
    for c in text.chars() {
        pending.clear();
        pending.extend(c.to_lowercase());
        for lc in &pending {
            match wanted.next() {
                Some(n) if n == *lc => {}
                _ => return None,
            }
        }
        used += c.len_utf8();
        if wanted.as_str().is_empty() {
            return Some(used);
        }
    }
    None
}

/// The `addr` of `Name <addr>`, or the trimmed text.
fn bare_address(original: &str) -> &str {
    let trimmed = original.trim();
    match (trimmed.rfind('<'), trimmed.rfind('>')) {
        (Some(open), Some(close)) if close > open => trimmed[open + 1..close].trim(),
        _ => trimmed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PseudonymKey {
        PseudonymKey::new("0123456789abcdef0123456789abcdef").expect("32 bytes")
    }

    #[test]
    fn the_pseudonym_is_hmac_sha256_of_the_ledger_key() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?". The key is
        // shorter than we accept, so the MAC is built the same way as `pseudonym` builds it.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").expect("any length");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let p = key().pseudonym("jane@example.com");
        assert!(is_pseudonym(&p), "{p}");
        let mut direct =
            Hmac::<Sha256>::new_from_slice(b"0123456789abcdef0123456789abcdef").expect("any");
        direct.update(b"jane@example.com");
        assert_eq!(
            p,
            format!("hmac:{}", hex::encode(direct.finalize().into_bytes())),
            "the pseudonym is the MAC of the ledger key under the key's bytes"
        );
        assert_eq!(p, key().pseudonym("jane@example.com"));
        assert_ne!(p, key().pseudonym("Jane@example.com"));
        let other = PseudonymKey::new("another key, also thirty-two bytes").expect("long enough");
        assert_ne!(p, other.pseudonym("jane@example.com"));
    }

    #[test]
    fn short_keys_are_refused_and_keys_never_print() {
        assert_eq!(
            PseudonymKey::new(" short \n"),
            Err(KeyError::TooShort { found: 5 })
        );
        assert_eq!(
            PseudonymKey::new("0123456789abcdef0123456789abcdef\n"),
            Ok(key())
        );
        assert!(!format!("{:?}", key()).contains("0123"));
    }

    #[test]
    fn addresses_are_keyed_like_ingest_keys_them() {
        let p = Addresses::Pseudonymised(key());
        assert_eq!(
            p.key_of(" Jane Doe <jane@EXAMPLE.com> "),
            key().pseudonym("jane@example.com")
        );
        assert_eq!(
            Addresses::Clear.key_of("jane@EXAMPLE.com"),
            "jane@example.com"
        );
        assert!(!is_pseudonym("jane@example.com"));
        assert!(!is_pseudonym("hmac:not-hex"));
    }

    #[test]
    fn redaction_finds_every_form_of_the_address() {
        let r = Redactor::new(&key(), ["Jane Doe <Jane.Doe@Example.COM>", "ann@x.com"]);
        let jane = key().pseudonym("Jane.Doe@example.com");
        let ann = key().pseudonym("ann@x.com");
        assert_eq!(
            r.redact("550 5.1.1 <jane.doe@example.com>: user unknown")
                .as_deref(),
            Some(format!("550 5.1.1 <{jane}>: user unknown").as_str())
        );
        assert_eq!(
            r.redact("https://x.example/u?e=JANE.DOE%40EXAMPLE.COM&x=1")
                .as_deref(),
            Some(format!("https://x.example/u?e={jane}&x=1").as_str())
        );
        assert_eq!(
            r.redact("joann@x.com, ann@x.com").as_deref(),
            Some(format!("jo{ann}, {ann}").as_str())
        );
        assert_eq!(r.redact("250 OK <id@mail.example>"), None);
        assert_eq!(
            r.redact("héllo ann@x.com ü").as_deref(),
            Some(format!("héllo {ann} ü").as_str())
        );
    }

    #[test]
    fn redaction_ignores_case_beyond_ascii_and_takes_the_display_name_along() {
        let r = Redactor::new(&key(), ["Jörg Åberg <jörg.åberg@bücher.example>"]);
        let p = key().pseudonym(&ledger_key("jörg.åberg@bücher.example"));
        assert_eq!(
            r.redact("550 5.1.1 <JÖRG.ÅBERG@BÜCHER.EXAMPLE>: unknown")
                .as_deref(),
            Some(format!("550 5.1.1 <{p}>: unknown").as_str())
        );
        // The whole `Name <address>` as the message carried it goes, name and all.
        assert_eq!(
            r.redact("To: Jörg Åberg <jörg.åberg@bücher.example>")
                .as_deref(),
            Some(format!("To: {p}").as_str())
        );
        // A character whose lower case is longer (the dotted capital I) is no false match.
        assert_eq!(starts_with_folded("İx", "ix"), None);
        assert_eq!(starts_with_folded("ANN@x", "ann@x"), Some(5));
    }

    /// A value whose JSON form cannot be read back once redacted: redaction fails, it does not
    /// hand back the value with its address.
    #[test]
    fn a_record_that_cannot_be_read_back_redacted_fails_instead_of_staying_in_clear() {
        #[derive(Debug, serde::Serialize, serde::Deserialize)]
        struct Strict {
            #[serde(deserialize_with = "an_address")]
            contact: String,
        }
        fn an_address<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
            let s = <String as serde::Deserialize>::deserialize(d)?;
            if s.starts_with(PSEUDONYM_PREFIX) {
                return Err(serde::de::Error::custom("not an address"));
            }
            Ok(s)
        }
        let r = Redactor::new(&key(), ["ann@x.com"]);
        let error = r
            .redacted(&Strict {
                contact: "ann@x.com".into(),
            })
            .expect_err("cannot be read back");
        assert!(error.0.contains("read back"), "{error}");
        let fine = r
            .redacted(&serde_json::json!({"to": "ann@x.com"}))
            .expect("a value");
        assert_eq!(fine["to"], key().pseudonym("ann@x.com"));
    }

    #[test]
    fn redaction_reaches_nested_values_and_keys() {
        let r = Redactor::new(&key(), ["ann@x.com"]);
        let ann = key().pseudonym("ann@x.com");
        let mut v = serde_json::json!({"a": [{"b": "to ann@x.com"}], "ann@x.com": 1, "n": 2});
        r.redact_value(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"a": [{"b": format!("to {ann}")}], ann.clone(): 1, "n": 2})
        );
    }
}
