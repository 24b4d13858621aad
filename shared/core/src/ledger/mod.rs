//! The ledger's arithmetic: what each event adds to the hourly counters and how the stream
//! counts it, the recipient summaries and suppression, and the rates.

pub mod counters;
pub mod rates;
pub mod summary;
pub mod suppression_list;
pub mod tally;
