use lambda_runtime::{run, service_fn, Error};
use ses_ledger::alarm::AlarmConfig;
use ses_ledger::config::LedgerConfig;
use ses_ledger::usecase::Alarm;
use ses_ledger_alarm::handle;
use ses_ledger_aws::dynamo::DynamoLedger;
use ses_ledger_aws::ses_reputation::SesReputation;
use ses_ledger_aws::sns::SnsAlertPublisher;

#[tokio::main]
async fn main() -> Result<(), Error> {
    ses_ledger_aws::telemetry::init_json_logs();
    let ledger_config = LedgerConfig::from_env().map_err(|e| e.to_string())?;
    let topic = std::env::var("SES_LEDGER_ALERT_TOPIC_ARN")
        .map_err(|_| "SES_LEDGER_ALERT_TOPIC_ARN is not set")?;
    let config = AlarmConfig::from_env().map_err(|e| e.to_string())?;
    config
        .check_counters_outlive_windows(&ledger_config)
        .map_err(|e| e.to_string())?;
    let aws = ses_ledger_aws::telemetry::aws_config().await?;
    let log_group = ledger_config.event_log_group.clone();
    // Counters and alert state live in the same table: one adapter serves both ports.
    let ledger = DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws), ledger_config);
    let app = Alarm {
        counters: &ledger,
        state: &ledger,
        publisher: SnsAlertPublisher::new(aws_sdk_sns::Client::new(&aws), topic),
        reputation: SesReputation::new(
            aws_sdk_cloudwatch::Client::new(&aws),
            aws_sdk_sesv2::Client::new(&aws),
        ),
        config,
        log_group,
    };
    run(service_fn(|event| handle(&app, event))).await
}
