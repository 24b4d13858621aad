// The ingest future nests the SDK's PutItem, UpdateItem and TransactWriteItems futures; proving it
// `Send` takes more than the default 128 levels of the compiler's layout queries.
#![recursion_limit = "256"]

use lambda_runtime::{run, service_fn, Error};
use ses_ledger::config::LedgerConfig;
use ses_ledger::usecase::Ingest;
use ses_ledger_aws::cloudwatch_logs::CloudWatchEventLog;
use ses_ledger_aws::dynamo::DynamoLedger;
use ses_ledger_ingest::handle;

#[tokio::main]
async fn main() -> Result<(), Error> {
    ses_ledger_aws::telemetry::init_json_logs();
    let mut config = LedgerConfig::from_env().map_err(|e| e.to_string())?;
    let aws = ses_ledger_aws::telemetry::aws_config().await?;
    ses_ledger_aws::ssm::load_addresses(&aws, &mut config).await?;
    let stream = CloudWatchEventLog::instance_stream_name(chrono::Utc::now());
    let app = Ingest {
        store: DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws), config.clone()),
        log: CloudWatchEventLog::new(
            aws_sdk_cloudwatchlogs::Client::new(&aws),
            &config.event_log_group,
            stream,
        ),
        config,
    };
    run(service_fn(|event| handle(&app, event))).await
}
