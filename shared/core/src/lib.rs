//! ses-ledger's core: capture every Amazon SES event exactly once and compute the rates SES judges
//! you by, with no AWS SDK in sight. Dependencies run one way: this crate <- `ses-ledger-aws`
//! (the adapters) <- the functions and the CLI; Cargo enforces it, since this crate names no
//! other of ours.
//!
//! - the event model: `event`, `address`, `provider`, `timestamp`; `privacy` (pseudonymised
//!   addresses);
//! - input: `envelope` (SNS, SQS, EventBridge, Firehose, DLQ records), `ses` (both payload
//!   formats), `normalise` (one record per recipient);
//! - the ledger's arithmetic: `counters`, `summary`, `rates`;
//! - the alarm's rules: `alarm` (levels, evaluation, alert text), `insights` (the queries an
//!   alert names); `emf` (the metric lines every function prints);
//! - `config`, the `ports` (one small trait per AWS capability) and the use cases over them,
//!   `usecase::Ingest` and `usecase::Alarm`;
//! - `testkit` (feature `testkit`): in-memory ports and the fixture loader.

pub mod address;
pub mod alarm;
pub mod bounce_class;
pub mod config;
pub mod counters;
pub mod documented;
pub mod documents;
pub mod emf;
pub mod envelope;
pub mod event;
pub mod insights;
pub mod normalise;
pub mod ports;
pub mod privacy;
pub mod provider;
pub mod rates;
pub mod ses;
#[cfg(feature = "simulate")]
pub mod simulate;
pub mod summary;
pub mod suppression_list;
pub mod tally;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod timestamp;
pub mod usecase;
