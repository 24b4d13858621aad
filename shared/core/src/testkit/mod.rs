//! Test doubles, written once for core's tests, the tests crate and the CLI's tests: in-memory
//! implementations of every port, the loader of the fixtures in `events/`, and the hand-written
//! expectations for them. Compiled only with the `testkit` feature (and in core's own tests),
//! never into a function.

pub mod expected;
pub mod fixtures;
pub mod memory;
