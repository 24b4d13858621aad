//! Where the ingest function's start-up goes: times each stage of `main` before `run`, once per
//! process (scripts/measure-init.sh --stages runs it interleaved and takes medians).

use std::time::Instant;

use ses_ledger::config::LedgerConfig;
use ses_ledger_aws::cloudwatch_logs::CloudWatchEventLog;
use ses_ledger_aws::dynamo::DynamoLedger;

fn main() {
    let t0 = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let t_rt = t0.elapsed();
    rt.block_on(async {
        let s = Instant::now();
        ses_ledger_aws::telemetry::init_json_logs();
        let t_logs = s.elapsed();
        let s = Instant::now();
        let config = LedgerConfig::from_env().unwrap();
        let t_config = s.elapsed();
        let s = Instant::now();
        let aws = ses_ledger_aws::telemetry::aws_config().await.unwrap();
        let t_aws = s.elapsed();
        let s = Instant::now();
        let ddb = DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws), config.clone());
        let t_ddb = s.elapsed();
        let s = Instant::now();
        let stream = CloudWatchEventLog::instance_stream_name(chrono::Utc::now());
        let log = CloudWatchEventLog::new(
            aws_sdk_cloudwatchlogs::Client::new(&aws),
            &config.event_log_group,
            stream,
        );
        let t_logs_client = s.elapsed();
        std::hint::black_box((&ddb, &log));
        println!(
            "runtime={} tracing={} config={} aws_config={} dynamodb_client={} logs_client={}",
            t_rt.as_micros(),
            t_logs.as_micros(),
            t_config.as_micros(),
            t_aws.as_micros(),
            t_ddb.as_micros(),
            t_logs_client.as_micros()
        );
    });
}
