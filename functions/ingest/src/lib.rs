//! The ingest Lambda: SES events from SNS, SQS or EventBridge into DynamoDB and CloudWatch Logs.

use aws_lambda_events::sqs::SqsBatchResponse;
use chrono::Utc;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use ses_ledger::envelope::InputError;
use ses_ledger::ports::{EventLog, EventStore};
use ses_ledger::usecase::ingest::{describe_origin, IngestFailure, IngestReport};
use ses_ledger::usecase::Ingest;

/// Why an invocation failed, as Lambda reports it (`errorType` in the on-failure record and the
/// function's log): the input was no SES event, or some SES messages could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Retrying cannot help; the on-failure destination keeps the event for `ses-ledger replay`
    /// once the cause is understood.
    #[error("input rejected: {0}")]
    InputRejected(#[from] InputError),
    /// Some SES messages could not be recorded (bad message, or DynamoDB / CloudWatch Logs
    /// failed); a retry records them, and what was recorded stays recorded once.
    #[error("{} of {total} SES messages not recorded: {}", failures.len(), failures.join("; "))]
    NotRecorded {
        total: usize,
        failures: Vec<String>,
        /// Whether every failure was the message itself (no retry will help).
        input_only: bool,
    },
}

impl From<IngestError> for Diagnostic {
    fn from(error: IngestError) -> Diagnostic {
        let error_type = match &error {
            IngestError::InputRejected(_) => "InputRejected",
            IngestError::NotRecorded {
                input_only: true, ..
            } => "InputRejected",
            IngestError::NotRecorded { .. } => "StoreUnavailable",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

/// Handles one invocation. On the SQS path, failed records are returned in `batchItemFailures` so
/// the rest of the batch is kept; on every other path any failure fails the invocation, so Lambda
/// retries it and finally hands it to the on-failure destination.
pub async fn handle<S: EventStore, L: EventLog>(
    app: &Ingest<S, L>,
    event: LambdaEvent<Value>,
) -> Result<Value, IngestError> {
    let request_id = event.context.request_id.clone();
    // Lambda runs one invocation per process at a time, so the difference is this invocation's.
    let contention_before = app.store.contention_retries();
    let report = match app.document(&event.payload, Utc::now()).await {
        Ok(report) => report,
        Err(e) => {
            tracing::error!(request_id, error = %e, "input rejected");
            return Err(e.into());
        }
    };
    for failed in report.failures() {
        if let Err(e) = &failed.result {
            tracing::error!(
                request_id,
                origin = %describe_origin(&failed.origin),
                sns_message_id = failed.origin.sns_message_id.as_deref(),
                sqs_message_id = failed.origin.sqs_message_id.as_deref(),
                error = %e,
                "SES message not recorded"
            );
        }
    }
    for m in &report.messages {
        if let Some(skip) = m.skipped {
            tracing::info!(
                request_id,
                origin = %describe_origin(&m.origin),
                sns_message_id = m.origin.sns_message_id.as_deref(),
                sqs_message_id = m.origin.sqs_message_id.as_deref(),
                reason = skip.code(),
                "skipped: {skip}"
            );
        }
    }
    for (field, count) in &report.undocumented {
        tracing::warn!(
            request_id,
            field,
            count,
            "SES sent a value it does not document; the event log line lists it in undocumented_values"
        );
    }
    // Embedded Metric Format: CloudWatch turns these stdout lines into SesLedger metrics.
    for line in report.emf_lines(Utc::now()) {
        println!("{line}");
    }
    let counts = report.counts();
    let contention_retries = app
        .store
        .contention_retries()
        .saturating_sub(contention_before);
    tracing::info!(
        request_id,
        new = counts.new,
        duplicates = counts.duplicate,
        skipped = report.skipped().values().sum::<usize>(),
        messages = report.messages.len(),
        contention_retries,
        "ingested"
    );
    respond(&report, contention_retries)
}

fn respond(report: &IngestReport, contention_retries: u64) -> Result<Value, IngestError> {
    if report.is_sqs_batch() {
        let mut response = SqsBatchResponse::default();
        for id in report.failed_sqs_message_ids() {
            response.add_failure(id);
        }
        // An unserialisable answer must not read as "nothing failed": fail the whole batch, so
        // SQS redelivers it (what was recorded stays recorded once).
        return serde_json::to_value(response).map_err(|e| IngestError::NotRecorded {
            total: report.messages.len(),
            failures: vec![format!("batch response: {e}")],
            input_only: false,
        });
    }
    let mut failures = Vec::new();
    let mut input_only = true;
    for m in report.failures() {
        if let Err(e) = &m.result {
            input_only &= matches!(e, IngestFailure::Input(_));
            failures.push(format!("{}: {e}", describe_origin(&m.origin)));
        }
    }
    if !failures.is_empty() {
        return Err(IngestError::NotRecorded {
            total: report.messages.len(),
            failures,
            input_only,
        });
    }
    let counts = report.counts();
    let skipped: usize = report.skipped().values().sum();
    Ok(serde_json::json!({
        "new": counts.new,
        "duplicates": counts.duplicate,
        "skipped": skipped,
        "contention_retries": contention_retries,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_learns_what_kind_of_failure_it_was() {
        let input = ses_ledger::envelope::split_document(&serde_json::json!({"hello": 1}))
            .expect_err("not an SES event");
        let rejected = Diagnostic::from(IngestError::from(input));
        assert_eq!(rejected.error_type, "InputRejected");
        assert!(
            rejected.error_message.contains("not an SES event"),
            "{}",
            rejected.error_message
        );

        let store = Diagnostic::from(IngestError::NotRecorded {
            total: 3,
            failures: vec!["SNS message m1: storage: TransactWriteItems failed".into()],
            input_only: false,
        });
        assert_eq!(store.error_type, "StoreUnavailable");
        assert!(
            store
                .error_message
                .starts_with("1 of 3 SES messages not recorded"),
            "{}",
            store.error_message
        );

        let bad_message = Diagnostic::from(IngestError::NotRecorded {
            total: 1,
            failures: vec!["SNS message m2: bad input: no mail object".into()],
            input_only: true,
        });
        assert_eq!(bad_message.error_type, "InputRejected");
    }
}
