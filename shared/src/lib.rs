//! ses-ledger: capture every Amazon SES event exactly once and compute the rates SES judges you by.
//!
//! The domain modules (`event`, `ses`, `envelope`, `normalise`, `provider`, `address`,
//! `timestamp`) are pure and synchronous; AWS services sit behind the small traits in `ports`
//! with their SDK adapters beside them.

pub mod address;
pub mod alarm;
pub mod cloudwatch_logs;
pub mod cloudwatch_metrics;
pub mod config;
pub mod counters;
pub mod dynamo;
pub mod envelope;
pub mod event;
pub mod ingest;
pub mod insights;
pub mod keys;
pub mod memory;
pub mod normalise;
pub mod ports;
pub mod provider;
pub mod rates;
pub mod ses;
pub mod simulate;
pub mod sns;
pub mod summary;
pub mod telemetry;
pub mod timestamp;
