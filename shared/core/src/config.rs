//! Configuration read from the environment once per cold start. Every knob has a default an SES
//! operator would pick, and a bad value is a start-up error naming the variable.

use std::env;

use thiserror::Error;

use crate::model::provider::DEFAULT_FEEDBACK_LOOP_PROVIDERS;
use crate::privacy::Addresses;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("configuration {variable}={value:?}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub value: String,
    pub problem: String,
}

/// What the ingest path needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerConfig {
    /// DynamoDB table holding events, summaries, counters and alert state.
    pub table_name: String,
    /// Dedicated CloudWatch Logs group for the event stream (not the function's own group).
    pub event_log_group: String,
    /// How long per-recipient history and per-message items live.
    pub history_ttl_days: u32,
    /// How long hourly counters live; must cover the longest rate window (30 days).
    pub counter_ttl_days: u32,
    /// A recipient is suppressed after this many soft bounces ...
    pub soft_bounce_limit: u32,
    /// ... within this many days.
    pub soft_bounce_window_days: u32,
    /// Suppress an address at its first bounce whose receiver said the address is gone (a
    /// `5.x.x` status, [`crate::model::bounce_class`]) even when SES called the bounce Transient.
    pub suppress_on_permanent_status: bool,
    /// Message tags whose values are scopes of their own (tenants).
    pub tenant_tags: Vec<String>,
    /// Mailbox providers that send complaint feedback to SES.
    pub feedback_loop_providers: Vec<String>,
    /// The SSM Parameter Store parameter (a SecureString) holding the key that pseudonymises
    /// recipient addresses; `None` keeps them in clear (docs/privacy.md).
    pub pseudonym_key_parameter: Option<String>,
    /// How recipient addresses are kept. Configuration cannot hold the key itself: the adapter
    /// that reads the parameter above sets this at start-up, and until it has, ingest refuses to
    /// record anything ([`LedgerConfig::unloaded_pseudonym_key`]).
    pub addresses: Addresses,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            table_name: "ses-ledger".into(),
            event_log_group: "/ses-ledger/events".into(),
            history_ttl_days: 400,
            counter_ttl_days: 100,
            soft_bounce_limit: 3,
            soft_bounce_window_days: 7,
            suppress_on_permanent_status: false,
            tenant_tags: vec!["tenant".into()],
            feedback_loop_providers: DEFAULT_FEEDBACK_LOOP_PROVIDERS
                .iter()
                .map(|p| p.to_string())
                .collect(),
            pseudonym_key_parameter: None,
            addresses: Addresses::Clear,
        }
    }
}

impl LedgerConfig {
    /// Reads `SES_LEDGER_*` variables over the defaults.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// Same as [`Self::from_env`] over any lookup, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = LedgerConfig::default();
        let counter_ttl_days = days(
            &lookup,
            "SES_LEDGER_COUNTER_TTL_DAYS",
            d.counter_ttl_days,
            31,
        )?;
        Ok(LedgerConfig {
            table_name: text(&lookup, "SES_LEDGER_TABLE", d.table_name)?,
            event_log_group: text(&lookup, "SES_LEDGER_EVENT_LOG_GROUP", d.event_log_group)?,
            history_ttl_days: days(
                &lookup,
                "SES_LEDGER_HISTORY_TTL_DAYS",
                d.history_ttl_days,
                1,
            )?,
            counter_ttl_days,
            soft_bounce_limit: number(
                &lookup,
                "SES_LEDGER_SOFT_BOUNCE_LIMIT",
                d.soft_bounce_limit,
                1,
            )?,
            soft_bounce_window_days: days(
                &lookup,
                "SES_LEDGER_SOFT_BOUNCE_WINDOW_DAYS",
                d.soft_bounce_window_days,
                1,
            )?,
            suppress_on_permanent_status: flag(
                &lookup,
                "SES_LEDGER_SUPPRESS_ON_PERMANENT_STATUS",
                d.suppress_on_permanent_status,
            )?,
            tenant_tags: tag_names(&lookup, "SES_LEDGER_TENANT_TAGS")?.unwrap_or(d.tenant_tags),
            feedback_loop_providers: feedback_loop_providers(&lookup),
            // Blank is off: CloudFormation and CDK write the variable empty when no key is named.
            pseudonym_key_parameter: lookup("SES_LEDGER_PSEUDONYM_KEY_PARAMETER")
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
            addresses: Addresses::Clear,
        })
    }

    /// The parameter, when a pseudonymisation key is configured but not loaded into
    /// `addresses`: recording anything then would write addresses in clear.
    pub fn unloaded_pseudonym_key(&self) -> Option<&str> {
        match (&self.pseudonym_key_parameter, &self.addresses) {
            (Some(parameter), Addresses::Clear) => Some(parameter),
            _ => None,
        }
    }

    pub fn is_feedback_loop_provider(&self, provider: &str) -> bool {
        self.feedback_loop_providers.iter().any(|p| p == provider)
    }
}

fn text(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: String,
) -> Result<String, ConfigError> {
    match lookup(variable) {
        None => Ok(default),
        Some(v) if v.trim().is_empty() => Err(ConfigError {
            variable,
            value: v,
            problem: "must not be empty".into(),
        }),
        Some(v) => Ok(v.trim().to_string()),
    }
}

pub(crate) fn number<T>(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: T,
    minimum: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let Some(raw) = lookup(variable) else {
        return Ok(default);
    };
    match raw.trim().parse::<T>() {
        Ok(v) if v >= minimum => Ok(v),
        Ok(_) => Err(ConfigError {
            variable,
            value: raw,
            problem: format!("must be at least {minimum}"),
        }),
        Err(_) => Err(ConfigError {
            variable,
            value: raw,
            problem: "must be a number".into(),
        }),
    }
}

/// The longest span any setting in days may have: ten years, the stack parameters' own maximum
/// (`HistoryTtlDays`). A larger value would overflow the date arithmetic of every write; it is
/// refused at start-up instead.
pub const MAX_DAYS: u32 = 3653;

/// A number of days, at least `minimum` and at most [`MAX_DAYS`].
pub(crate) fn days(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: u32,
    minimum: u32,
) -> Result<u32, ConfigError> {
    let value = number(lookup, variable, default, minimum)?;
    if value > MAX_DAYS {
        return Err(ConfigError {
            variable,
            value: value.to_string(),
            problem: format!("must be at most {MAX_DAYS} days (ten years)"),
        });
    }
    Ok(value)
}

/// `true` or `false` (as CloudFormation writes a boolean parameter), any case.
pub(crate) fn flag(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    let Some(raw) = lookup(variable) else {
        return Ok(default);
    };
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ConfigError {
            variable,
            value: raw,
            problem: "must be true or false".into(),
        }),
    }
}

/// Comma-separated; an empty variable means an empty list.
/// The providers that send complaint feedback to SES (`SES_LEDGER_FEEDBACK_LOOP_PROVIDERS`, else
/// [`DEFAULT_FEEDBACK_LOOP_PROVIDERS`]): the one reading of the list, for the ledger's counters
/// and the alarm's words alike.
pub(crate) fn feedback_loop_providers(lookup: &impl Fn(&str) -> Option<String>) -> Vec<String> {
    list(lookup, "SES_LEDGER_FEEDBACK_LOOP_PROVIDERS").unwrap_or_else(|| {
        DEFAULT_FEEDBACK_LOOP_PROVIDERS
            .iter()
            .map(|p| p.to_string())
            .collect()
    })
}

/// Message tag names: a list whose names hold no `=`, which separates a tag scope's name from
/// its value (`tag:tenant=acme`), so that every scope key reads back as the scope it was made of.
fn tag_names(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<Option<Vec<String>>, ConfigError> {
    let names = list(lookup, variable);
    match names.iter().flatten().find(|n| n.contains('=')) {
        Some(bad) => Err(ConfigError {
            variable,
            value: lookup(variable).unwrap_or_default(),
            problem: format!("the tag name {bad:?} holds '=', which no SES message tag name may"),
        }),
        None => Ok(names),
    }
}

pub(crate) fn list(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &str,
) -> Option<Vec<String>> {
    lookup(variable).map(|v| {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<LedgerConfig, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LedgerConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn the_permanent_status_rule_is_off_unless_set_and_takes_only_a_boolean() {
        assert!(!from(&[]).unwrap().suppress_on_permanent_status);
        let on = from(&[("SES_LEDGER_SUPPRESS_ON_PERMANENT_STATUS", "True")]).unwrap();
        assert!(on.suppress_on_permanent_status);
        let e = from(&[("SES_LEDGER_SUPPRESS_ON_PERMANENT_STATUS", "yes")]).unwrap_err();
        assert_eq!(e.variable, "SES_LEDGER_SUPPRESS_ON_PERMANENT_STATUS");
        assert!(e.to_string().contains("true or false"), "{e}");
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        // The README's configuration table, written out (a comparison with `default()`, which
        // `from_lookup` reads its defaults from, could never fail).
        let d = from(&[]).unwrap();
        assert_eq!(d.history_ttl_days, 400);
        assert_eq!((d.soft_bounce_limit, d.soft_bounce_window_days), (3, 7));
        assert_eq!(d.tenant_tags, ["tenant"]);
        assert_eq!(d.feedback_loop_providers, ["yahoo", "microsoft", "comcast"]);
    }

    #[test]
    fn values_override_defaults() {
        let c = from(&[
            ("SES_LEDGER_TABLE", "t"),
            ("SES_LEDGER_TENANT_TAGS", "tenant, customer,"),
            ("SES_LEDGER_SOFT_BOUNCE_LIMIT", "5"),
        ])
        .unwrap();
        assert_eq!(c.table_name, "t");
        assert_eq!(c.tenant_tags, vec!["tenant", "customer"]);
        assert_eq!(c.soft_bounce_limit, 5);
    }

    /// A hand-set TTL the stack parameter would have refused is refused at start-up, not found
    /// by an overflow on the first write.
    #[test]
    fn days_beyond_ten_years_are_refused_by_name() {
        for variable in [
            "SES_LEDGER_HISTORY_TTL_DAYS",
            "SES_LEDGER_COUNTER_TTL_DAYS",
            "SES_LEDGER_SOFT_BOUNCE_WINDOW_DAYS",
        ] {
            let e = from(&[(variable, "4000000000")]).unwrap_err();
            assert_eq!(e.variable, variable);
            assert!(e.to_string().contains("at most 3653"), "{e}");
            assert!(from(&[(variable, "3653")]).is_ok(), "{variable}");
        }
    }

    #[test]
    fn a_tenant_tag_name_with_an_equals_sign_is_refused() {
        let e = from(&[("SES_LEDGER_TENANT_TAGS", "tenant,plan=gold")]).unwrap_err();
        assert_eq!(e.variable, "SES_LEDGER_TENANT_TAGS");
        assert!(e.to_string().contains("\"plan=gold\""), "{e}");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = from(&[("SES_LEDGER_SOFT_BOUNCE_LIMIT", "many")]).unwrap_err();
        assert_eq!(e.variable, "SES_LEDGER_SOFT_BOUNCE_LIMIT");
        assert!(e.to_string().contains("must be a number"));
        let e = from(&[("SES_LEDGER_COUNTER_TTL_DAYS", "7")]).unwrap_err();
        assert!(e.to_string().contains("at least 31"), "{e}");
        assert!(from(&[("SES_LEDGER_TABLE", " ")]).is_err());
    }

    #[test]
    fn a_named_key_parameter_is_configured_but_unloaded_until_the_adapter_loads_it() {
        assert_eq!(from(&[]).unwrap().unloaded_pseudonym_key(), None);
        let blank = from(&[("SES_LEDGER_PSEUDONYM_KEY_PARAMETER", " ")]).unwrap();
        assert_eq!(blank.pseudonym_key_parameter, None, "blank is off");
        let c = from(&[("SES_LEDGER_PSEUDONYM_KEY_PARAMETER", "/ledger/key ")]).unwrap();
        assert_eq!(c.unloaded_pseudonym_key(), Some("/ledger/key"));
        let key = crate::privacy::PseudonymKey::new(&"k".repeat(32)).unwrap();
        let loaded = LedgerConfig {
            addresses: Addresses::Pseudonymised(key),
            ..c
        };
        assert_eq!(loaded.unloaded_pseudonym_key(), None);
    }
}
