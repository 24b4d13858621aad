//! The use cases, each a type over the ports it needs: `Ingest<S, L>` records SES events exactly
//! once, `Alarm<C, S, P, R>` judges the rates and alerts. Handlers, the CLI and the tests build one
//! and call its methods.

pub mod alarm;
pub mod ingest;

pub use alarm::{Alarm, AlarmReport};
pub use ingest::Ingest;
