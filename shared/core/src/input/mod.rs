//! Input: every envelope SES events arrive in (SNS, SQS, EventBridge, Firehose, dead-letter
//! records), both payload formats, and the normalisation into recipient events.

pub mod documents;
pub mod envelope;
pub mod normalise;
pub mod ses;
