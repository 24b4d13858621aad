//! What every AWS-facing command shares: where the ledger lives, how to reach AWS, how to print.

use aws_config::SdkConfig;
use clap::{Args, ValueEnum};
use ses_ledger::config::LedgerConfig;
use ses_ledger_aws::cloudformation::StackOutputs;
use ses_ledger_aws::dynamo::DynamoLedger;

#[derive(Debug, Clone, Args)]
pub struct Target {
    /// The deployed stack (SAM or CDK) whose outputs name the table, the log group and the rest:
    /// read with CloudFormation's DescribeStacks. --table, --log-group and their variables win.
    #[arg(long, env = "SES_LEDGER_STACK", global = true)]
    pub stack: Option<String>,
    /// DynamoDB table of the ledger (the stack's LedgerTableName output; default `ses-ledger`
    /// without --stack).
    #[arg(long, env = "SES_LEDGER_TABLE", global = true)]
    pub table: Option<String>,
    /// Log group of the event stream (the stack's EventLogGroupName output; default
    /// `/ses-ledger/events` without --stack).
    #[arg(long, env = "SES_LEDGER_EVENT_LOG_GROUP", global = true)]
    pub log_group: Option<String>,
    /// Send every AWS call to this endpoint (a local stack). Per-service AWS_ENDPOINT_URL_*
    /// variables work too.
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
    /// AWS region (default: the standard chain, AWS_REGION / profile).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// The SSM parameter holding the stack's pseudonymisation key, when it pseudonymises
    /// addresses (the stack's PseudonymKeyParameter, which --stack reads too): addresses you
    /// type are looked up by their pseudonym.
    #[arg(long, env = "SES_LEDGER_PSEUDONYM_KEY_PARAMETER", global = true)]
    pub pseudonym_key_parameter: Option<String>,
}

/// What a command works on, the explicit names first, then the stack's outputs, then the
/// defaults.
#[derive(Debug, Clone)]
pub struct Names {
    pub table: String,
    pub log_group: String,
    pub pseudonym_key_parameter: Option<String>,
    /// The stack's outputs, when --stack named one.
    pub stack: Option<StackOutputs>,
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

    /// The table, log group and key parameter to use: as given, else from --stack's outputs,
    /// else the defaults. A stack that does not exist or is none of ours is an error.
    pub async fn names(&self, sdk: &SdkConfig) -> anyhow::Result<Names> {
        let stack = match &self.stack {
            Some(name) => Some(
                ses_ledger_aws::cloudformation::stack_outputs(
                    &aws_sdk_cloudformation::Client::new(sdk),
                    name,
                )
                .await?,
            ),
            None => None,
        };
        let pick =
            |given: &Option<String>, output: &str, default: &str| -> anyhow::Result<String> {
                if let Some(v) = given.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                    return Ok(v.to_string());
                }
                match &stack {
                    Some(s) => Ok(s.require(output)?.to_string()),
                    None => Ok(default.to_string()),
                }
            };
        let given_key = self
            .pseudonym_key_parameter
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        Ok(Names {
            table: pick(&self.table, "LedgerTableName", DEFAULT_TABLE)?,
            log_group: pick(&self.log_group, "EventLogGroupName", DEFAULT_LOG_GROUP)?,
            pseudonym_key_parameter: given_key.or_else(|| {
                stack
                    .as_ref()
                    .and_then(|s| s.get("PseudonymKeyParameter"))
                    .map(str::to_string)
            }),
            stack,
        })
    }

    /// The ledger configuration: the process environment (same variables as the functions) with
    /// this command's table, log group and pseudonymisation key, loaded.
    pub async fn ledger_config(&self, sdk: &SdkConfig) -> anyhow::Result<LedgerConfig> {
        let names = self.names(sdk).await?;
        let mut config = LedgerConfig {
            table_name: names.table,
            event_log_group: names.log_group,
            ..LedgerConfig::from_env()?
        };
        config.pseudonym_key_parameter = names.pseudonym_key_parameter;
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

/// The names a command uses when neither a flag, a variable nor a stack gives one.
pub const DEFAULT_TABLE: &str = "ses-ledger";
pub const DEFAULT_LOG_GROUP: &str = "/ses-ledger/events";

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
