//! Parameter Store: the key that pseudonymises recipient addresses (docs/privacy.md), read once
//! per cold start from the SecureString parameter `SES_LEDGER_PSEUDONYM_KEY_PARAMETER` names.

use aws_config::SdkConfig;
use aws_sdk_ssm::error::DisplayErrorContext;
use aws_sdk_ssm::types::ParameterType;
use ses_ledger::config::LedgerConfig;
use ses_ledger::privacy::{Addresses, KeyError, PseudonymKey};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum KeyLoadError {
    #[error("reading the pseudonymisation key from SSM parameter {parameter}: {reason}")]
    Unreadable { parameter: String, reason: String },
    #[error("SSM parameter {parameter} is a {found} parameter; the pseudonymisation key must be a SecureString (aws ssm put-parameter --type SecureString)")]
    NotSecure { parameter: String, found: String },
    #[error("SSM parameter {parameter}: {source}")]
    Key { parameter: String, source: KeyError },
}

/// The key in `parameter`, decrypted. Refuses a parameter that is not a SecureString: a key in
/// a plain parameter is readable by anyone who may list the account's parameters.
pub async fn load_pseudonym_key(
    client: &aws_sdk_ssm::Client,
    parameter: &str,
) -> Result<PseudonymKey, KeyLoadError> {
    let unreadable = |reason: String| KeyLoadError::Unreadable {
        parameter: parameter.to_string(),
        reason,
    };
    let out = client
        .get_parameter()
        .name(parameter)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| unreadable(DisplayErrorContext(&e).to_string()))?;
    let found = out
        .parameter()
        .ok_or_else(|| unreadable("SSM returned no parameter".into()))?;
    match found.r#type() {
        Some(ParameterType::SecureString) => {}
        other => {
            return Err(KeyLoadError::NotSecure {
                parameter: parameter.to_string(),
                found: other.map_or("untyped".into(), |t| t.as_str().to_string()),
            })
        }
    }
    PseudonymKey::new(found.value().unwrap_or_default()).map_err(|source| KeyLoadError::Key {
        parameter: parameter.to_string(),
        source,
    })
}

/// Loads the key `config` names into `config.addresses`; does nothing (and calls nothing) when
/// none is named.
pub async fn load_addresses(
    sdk: &SdkConfig,
    config: &mut LedgerConfig,
) -> Result<(), KeyLoadError> {
    if let Some(parameter) = &config.pseudonym_key_parameter {
        let key = load_pseudonym_key(&aws_sdk_ssm::Client::new(sdk), parameter).await?;
        config.addresses = Addresses::Pseudonymised(key);
    }
    Ok(())
}
