//! What every AWS-facing command shares: where the ledger lives, how to reach AWS, how to print.

use aws_config::SdkConfig;
use clap::{Args, ValueEnum};
use ses_ledger::config::LedgerConfig;
use ses_ledger_aws::dynamo::DynamoLedger;

#[derive(Debug, Clone, Args)]
pub struct Target {
    /// DynamoDB table of the ledger (the stack's LedgerTableName output).
    #[arg(
        long,
        env = "SES_LEDGER_TABLE",
        default_value = "ses-ledger",
        global = true
    )]
    pub table: String,
    /// Log group of the event stream (the stack's EventLogGroupName output).
    #[arg(
        long,
        env = "SES_LEDGER_EVENT_LOG_GROUP",
        default_value = "/ses-ledger/events",
        global = true
    )]
    pub log_group: String,
    /// Send every AWS call to this endpoint (a local stack). Per-service AWS_ENDPOINT_URL_*
    /// variables work too.
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
    /// AWS region (default: the standard chain, AWS_REGION / profile).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// The SSM parameter holding the stack's pseudonymisation key, when it pseudonymises
    /// addresses (the stack's PseudonymKeyParameter): addresses you type are looked up by their
    /// pseudonym.
    #[arg(long, env = "SES_LEDGER_PSEUDONYM_KEY_PARAMETER", global = true)]
    pub pseudonym_key_parameter: Option<String>,
}

impl Target {
    pub async fn sdk_config(&self) -> SdkConfig {
        let mut loader = ses_ledger_aws::telemetry::aws_config_loader();
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(region) = &self.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        loader.load().await
    }

    /// The ledger configuration: the process environment (same variables as the functions) with
    /// this command's table, log group and pseudonymisation key, loaded.
    pub async fn ledger_config(&self, sdk: &SdkConfig) -> anyhow::Result<LedgerConfig> {
        let mut config = LedgerConfig {
            table_name: self.table.clone(),
            event_log_group: self.log_group.clone(),
            ..LedgerConfig::from_env()?
        };
        config.pseudonym_key_parameter = self
            .pseudonym_key_parameter
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        ses_ledger_aws::ssm::load_addresses(sdk, &mut config).await?;
        Ok(config)
    }

    pub async fn ledger(&self, sdk: &SdkConfig) -> anyhow::Result<DynamoLedger> {
        Ok(DynamoLedger::new(
            aws_sdk_dynamodb::Client::new(sdk),
            self.ledger_config(sdk).await?,
        ))
    }
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Output {
    /// Aligned columns, for people.
    #[default]
    Table,
    /// One JSON document.
    Json,
    /// CSV with a header row.
    Csv,
}

/// Prints rows in the chosen format; `json` is what `--output json` prints.
pub fn print_rows(
    output: Output,
    header: &[&str],
    rows: &[Vec<String>],
    json: &serde_json::Value,
) -> anyhow::Result<()> {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(json)?),
        Output::Csv => {
            let mut w = csv::Writer::from_writer(std::io::stdout());
            w.write_record(header)?;
            for r in rows {
                w.write_record(r)?;
            }
            w.flush()?;
        }
        Output::Table => {
            let mut table = comfy_table::Table::new();
            table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
            table.set_header(header.to_vec());
            for r in rows {
                table.add_row(r.clone());
            }
            println!("{table}");
        }
    }
    Ok(())
}
