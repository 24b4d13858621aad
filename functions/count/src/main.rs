use lambda_runtime::{run, service_fn, Error};
use ses_ledger::config::LedgerConfig;
use ses_ledger::usecase::Count;
use ses_ledger_aws::dynamo::DynamoLedger;
use ses_ledger_count::handle;

#[tokio::main]
async fn main() -> Result<(), Error> {
    ses_ledger_aws::telemetry::init_json_logs();
    let config = LedgerConfig::from_env().map_err(|e| e.to_string())?;
    let aws = ses_ledger_aws::telemetry::aws_config().await?;
    let app = Count {
        counters: DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws), config),
    };
    run(service_fn(|event| handle(&app, event))).await
}
