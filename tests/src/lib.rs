//! Helpers for integration tests against the local stack started by `scripts/local-stack.sh`
//! (DynamoDB Local and moto on loopback). Each test gets its own table and log group, so tests run
//! in parallel without seeing each other's writes. Split by what they are: `local` (the SDK
//! pointed at the stack, fresh tables, scans, log lines), `fixtures` (test input from the official
//! examples), `inbox` (what a topic published), `stream` (the change stream and the count
//! function over it); `template` (the synthesised stacks), `insights_grammar`, `faults`
//! (a failing HTTP client), `ses_v2` (a loopback SES v2 stand-in), `logs_proxy` (saved queries
//! and a strict StartQuery in front of moto's Logs), `deployed` (the SAM expansion created in
//! moto's CloudFormation, and its delivery path) and `runtime_api` (a function binary under a
//! Runtime API of the test's own).

pub mod deployed;
pub mod faults;
pub mod fixtures;
pub mod inbox;
pub mod insights_grammar;
pub mod local;
pub mod logs_proxy;
pub mod runtime_api;
pub mod ses_v2;
pub mod stream;
pub mod template;
pub mod truth;

use std::path::{Path, PathBuf};

pub use fixtures::*;
pub use inbox::*;
pub use local::*;
pub use stream::*;

/// The repository root (fixtures live in `events/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

pub use ses_ledger::testkit::expected::{
    assert_events_in_order, assert_same_events, expected_events, ExpectedEvent,
};
pub use ses_ledger::testkit::fixtures::{fixture, fixtures_in};
