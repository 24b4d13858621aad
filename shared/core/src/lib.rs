//! ses-ledger's core: capture every Amazon SES event exactly once and compute the rates SES judges
//! you by, with no AWS SDK in sight. Dependencies run one way: this crate <- `ses-ledger-aws`
//! (the adapters) <- the functions and the CLI; Cargo enforces it, since this crate names no
//! other of ours.
//!
//! - `model`: the event model (`event`, `address`, `provider`, `timestamp`, `bounce_class`,
//!   `documented`, SES's own vocabulary);
//! - `input`: `envelope` (SNS, SQS, EventBridge, Firehose, DLQ records), `documents` (framing),
//!   `ses` (both payload formats), `normalise` (one record per recipient);
//! - `ledger`: the arithmetic, `counters`, `tally` (counting from the stream), `summary`,
//!   `suppression_list`, `rates`;
//! - `alarm`: levels, evaluation, alert text; `insights`, the queries an alert or evidence names;
//!   `emf`, the metric lines every function prints;
//! - `privacy`: pseudonymised addresses;
//! - `config`, the `ports` (one small trait per AWS capability) and the use cases over them,
//!   `usecase::Ingest`, `usecase::Count` and `usecase::Alarm`;
//! - `testkit` (feature `testkit`): in-memory ports and the fixture loader.
//!
//! Each module is also reachable from the root (`ses_ledger::event`), where callers do not care
//! which part of the crate it belongs to.

pub mod input;
pub mod ledger;
pub mod model;

pub use input::{documents, envelope, normalise, ses};
pub use ledger::{counters, rates, summary, suppression_list, tally};
pub use model::{address, bounce_class, documented, event, provider, timestamp};

pub mod alarm;
pub mod config;
pub mod emf;
pub mod insights;
pub mod ports;
pub mod privacy;
#[cfg(feature = "simulate")]
pub mod simulate;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod usecase;
