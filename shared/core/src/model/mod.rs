//! The event model: what SES says happened, normalised into one record per recipient event, and
//! the vocabulary SES documents for it.

pub mod address;
pub mod bounce_class;
pub mod documented;
pub mod event;
pub mod provider;
pub mod timestamp;
