//! Process set-up shared by the functions and the CLI: JSON diagnostics and the AWS SDK config.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};

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

/// The SDK configuration, loaded once per cold start: the standard credential chain, region and
/// `AWS_ENDPOINT_URL*` overrides, with adaptive retries so throttling backs off rather than fails.
pub async fn aws_config() -> SdkConfig {
    aws_config_loader().load().await
}

/// The loader behind [`aws_config`], for callers that add an endpoint or region (the CLI).
pub fn aws_config_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::adaptive().with_max_attempts(6))
}
