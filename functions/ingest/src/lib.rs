//! The ingest Lambda: SES events from SNS, SQS or EventBridge into DynamoDB and CloudWatch Logs.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse};
use chrono::Utc;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use ses_ledger::config::LedgerConfig;
use ses_ledger::ingest::{describe_origin, ingest_document, IngestReport};
use ses_ledger::ports::{EventLog, EventStore};

/// Everything built once per cold start.
pub struct Ingest<S, L> {
    pub store: S,
    pub log: L,
    pub config: LedgerConfig,
}

/// Handles one invocation. On the SQS path, failed records are returned in `batchItemFailures` so
/// the rest of the batch is kept; on every other path any failure fails the invocation, so Lambda
/// retries it and finally hands it to the on-failure destination.
pub async fn handle<S: EventStore, L: EventLog>(
    app: &Ingest<S, L>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let request_id = event.context.request_id.clone();
    let report = match ingest_document(
        &event.payload,
        &app.store,
        &app.log,
        &app.config,
        Utc::now(),
    )
    .await
    {
        Ok(report) => report,
        Err(e) => {
            tracing::error!(request_id, error = %e, "input rejected");
            return Err(e.to_string().into());
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
    let counts = report.counts();
    tracing::info!(
        request_id,
        new = counts.new,
        duplicates = counts.duplicate,
        messages = report.messages.len(),
        "ingested"
    );
    respond(&report)
}

fn respond(report: &IngestReport) -> Result<Value, Error> {
    if report.is_sqs_batch() {
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = report
            .failed_sqs_message_ids()
            .into_iter()
            .map(|id| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                failure
            })
            .collect();
        return Ok(serde_json::to_value(response)?);
    }
    let failures: Vec<String> = report
        .failures()
        .filter_map(|m| {
            m.result
                .as_ref()
                .err()
                .map(|e| format!("{}: {e}", describe_origin(&m.origin)))
        })
        .collect();
    if !failures.is_empty() {
        return Err(failures.join("; ").into());
    }
    let counts = report.counts();
    Ok(serde_json::json!({ "new": counts.new, "duplicates": counts.duplicate }))
}
