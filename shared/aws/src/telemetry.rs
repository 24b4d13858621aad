//! Process set-up shared by the functions and the CLI: JSON diagnostics and the AWS SDK config.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};

/// The roots AWS service endpoints chain to: Amazon Root CA 1-4 and the Starfield root that
/// cross-signs them, as in Mozilla's CA list.
const AWS_SERVICE_ROOTS_PEM: &[u8] = include_bytes!("../certs/aws-service-roots.pem");

/// The environment variable that chooses the functions' trust store ([`TlsRoots`]).
pub const TLS_ROOTS_VAR: &str = "SES_LEDGER_TLS_ROOTS";

/// Which certificate authorities the functions' HTTPS client trusts.
///
/// The SDK's default reads the operating system's bundle at start-up, and decoding its ~140
/// PEM certificates (a constant-time base64 decoder) was about 80% of our functions' start-up
/// (docs/benchmarks.md). The functions only ever call AWS endpoints, whose certificates all come
/// from Amazon Trust Services, so by default they trust those five roots alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsRoots {
    /// Amazon Trust Services' roots only (`SES_LEDGER_TLS_ROOTS` unset or `aws`).
    AwsServices,
    /// The operating system's bundle, as the SDK does by default (`system`): for an endpoint
    /// behind a TLS-inspecting proxy or a private CA.
    System,
}

/// `SES_LEDGER_TLS_ROOTS` holds something other than `aws` or `system`.
#[derive(Debug, thiserror::Error)]
#[error("{TLS_ROOTS_VAR}={0:?} is not a trust store: use \"aws\" (the default: Amazon Trust Services' roots) or \"system\" (the operating system's bundle)")]
pub struct UnknownTlsRoots(pub String);

impl TlsRoots {
    pub fn parse(value: Option<&str>) -> Result<Self, UnknownTlsRoots> {
        match value.map(str::trim) {
            None | Some("") | Some("aws") => Ok(Self::AwsServices),
            Some("system") => Ok(Self::System),
            Some(other) => Err(UnknownTlsRoots(other.to_string())),
        }
    }

    pub fn from_env() -> Result<Self, UnknownTlsRoots> {
        Self::parse(std::env::var(TLS_ROOTS_VAR).ok().as_deref())
    }
}

/// The function's own diagnostics: JSON lines on stdout (Lambda forwards them to its log group),
/// level from `RUST_LOG` (default info).
pub fn init_json_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Ignored error: a subscriber already installed (tests) is fine.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .with_target(false)
        .try_init();
}

/// The functions' SDK configuration, loaded once per cold start: the standard credential chain,
/// region and `AWS_ENDPOINT_URL*` overrides, adaptive retries so throttling backs off rather
/// than fails, and the trust store `SES_LEDGER_TLS_ROOTS` chooses.
pub async fn aws_config() -> Result<SdkConfig, UnknownTlsRoots> {
    let loader = aws_config_loader();
    Ok(match TlsRoots::from_env()? {
        // The SDK's own HTTPS client (rustls with aws-lc, as its default), with our trust store.
        TlsRoots::AwsServices => loader.http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                .tls_context(aws_services_tls_context())
                .build_https(),
        ),
        TlsRoots::System => loader,
    }
    .load()
    .await)
}

/// The loader behind [`aws_config`], with the SDK's default trust store, for callers that add
/// an endpoint or region (the CLI, which may run behind a TLS-inspecting proxy).
pub fn aws_config_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::adaptive().with_max_attempts(6))
}

fn aws_services_tls_context() -> TlsContext {
    TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(AWS_SERVICE_ROOTS_PEM))
        .build()
        // Infallible in this version: building only moves the trust store into the context.
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The certificate bodies of a PEM text, whitespace removed, each with the `# name` comment
    /// line before it (empty where there is none).
    fn pem_blocks(text: &str) -> Vec<(String, String)> {
        let mut blocks = Vec::new();
        let (mut name, mut body, mut inside) = (String::new(), String::new(), false);
        for line in text.lines().map(str::trim) {
            match line {
                "-----BEGIN CERTIFICATE-----" => inside = true,
                "-----END CERTIFICATE-----" => {
                    blocks.push((std::mem::take(&mut name), std::mem::take(&mut body)));
                    inside = false;
                }
                _ if inside => body.push_str(line),
                _ => {
                    if let Some(comment) = line.strip_prefix("# ") {
                        name = comment.to_string();
                    }
                }
            }
        }
        blocks
    }

    #[test]
    fn the_bundled_roots_are_the_named_mozilla_roots_byte_for_byte() {
        let bundled = pem_blocks(std::str::from_utf8(AWS_SERVICE_ROOTS_PEM).expect("ASCII"));
        let names: Vec<&str> = bundled.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Amazon Root CA 1",
                "Amazon Root CA 2",
                "Amazon Root CA 3",
                "Amazon Root CA 4",
                "Starfield Services Root Certificate Authority - G2"
            ]
        );
        // Debian's ca-certificates (Mozilla's list) has one file per root, named after it.
        for (name, body) in &bundled {
            let path = format!("/etc/ssl/certs/{}.pem", name.replace(' ', "_"));
            let system = std::fs::read_to_string(&path).expect("the CI machine's ca-certificates");
            let system = pem_blocks(&system);
            assert_eq!(system.len(), 1, "{path}");
            assert_eq!(&system[0].1, body, "{name} differs from {path}");
        }
    }

    #[test]
    fn the_trust_store_is_chosen_by_name_and_anything_else_is_refused() {
        assert_eq!(TlsRoots::parse(None).unwrap(), TlsRoots::AwsServices);
        assert_eq!(TlsRoots::parse(Some("aws")).unwrap(), TlsRoots::AwsServices);
        assert_eq!(TlsRoots::parse(Some(" system ")).unwrap(), TlsRoots::System);
        let error = TlsRoots::parse(Some("mozilla")).unwrap_err().to_string();
        assert!(
            error.contains("\"mozilla\"") && error.contains("\"system\""),
            "{error}"
        );
    }
}
