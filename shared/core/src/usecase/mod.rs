//! The use cases, each a type over the ports it needs: `Ingest<S, L>` records SES events exactly
//! once, `Count<W>` adds a batch of the table's change stream to the counters exactly once,
//! `Alarm<C, S, P, R>` judges the rates and alerts. Handlers, the CLI and the tests build one
//! and call its methods.

pub mod alarm;
pub mod count;
pub mod ingest;

pub use alarm::{Alarm, AlarmReport};
pub use count::{Count, CountReport};
pub use ingest::Ingest;
