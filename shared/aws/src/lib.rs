//! ses-ledger's AWS adapters: one module per service, each implementing ports of
//! `ses-ledger-core` (`ses_ledger`). Nothing here decides anything about SES events; it maps the
//! core's types to and from each service's API.

#[cfg(feature = "cloudformation")]
pub mod cloudformation;
#[cfg(feature = "logs")]
pub mod cloudwatch_logs;
#[cfg(feature = "cloudwatch")]
pub mod cloudwatch_metrics;
#[cfg(feature = "dynamodb")]
pub mod dynamo;
#[cfg(all(feature = "cloudwatch", feature = "sesv2"))]
pub mod ses_reputation;
#[cfg(feature = "sesv2")]
pub mod ses_suppression;
#[cfg(feature = "sns")]
pub mod sns;
#[cfg(feature = "ssm")]
pub mod ssm;
pub mod telemetry;
