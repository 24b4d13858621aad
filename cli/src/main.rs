//! `ses-ledger`: the operator's command line. Each subcommand lives in its own module; `main`
//! only parses the arguments and dispatches. AWS-facing commands use the standard credential
//! chain and region, and `--endpoint-url` or `AWS_ENDPOINT_URL*` for a local stack.

mod charts;
mod common;
mod doctor;
mod evidence;
mod forget;
mod html;
mod lookup;
mod normalise;
mod replay;
mod report;
mod simulate;
mod suppression;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use clap::{Parser, Subcommand};
use ses_ledger::alarm::{AlarmConfig, RateKind};
use ses_ledger::counters::Scope;
use ses_ledger::usecase::Ingest;
use ses_ledger_aws::cloudwatch_metrics::CloudWatchReputation;
use ses_ledger_aws::ses_suppression::SesAccountSuppressionList;

use common::{Output, Target};

#[derive(Parser)]
#[command(
    name = "ses-ledger",
    version,
    about = "Every SES delivery, bounce and complaint, counted once; the rates SES judges you by, explained"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print SES events from files or stdin as recipient events, one JSON line each.
    ///
    /// The events are exactly what the ingest function would record; nothing is stored. Exit
    /// status: 0 when all input was used, 2 when some was bad (reported on stderr, the rest is
    /// still printed), 1 when a file could not be read.
    Normalise(normalise::NormaliseArgs),
    /// History (newest first) and suppression state of one address.
    Recipient {
        address: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long, value_enum, default_value = "table")]
        output: Output,
        #[command(flatten)]
        target: Target,
    },
    /// Exit 0 if the address is suppressed (do not send), 1 if it may be mailed, 2 on error.
    Suppressed {
        address: String,
        #[command(flatten)]
        target: Target,
    },
    /// Erase an address: delete its event items and suppression state (an erasure request).
    ///
    /// A dry run unless --yes is given. The counters hold no address and are kept, so the rates
    /// do not change; the event log's lines stay until its retention expires. Running it again
    /// deletes nothing more.
    Forget {
        address: String,
        /// Delete what was found (default: only list it).
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Print an address's pseudonym, as a stack that pseudonymises addresses stores it (for Logs
    /// Insights queries and support tickets). Needs --pseudonym-key-parameter.
    Pseudonym {
        address: String,
        #[command(flatten)]
        target: Target,
    },
    /// Every recipient's fate for one SES message id.
    Message {
        ses_message_id: String,
        #[arg(long, value_enum, default_value = "table")]
        output: Output,
        #[command(flatten)]
        target: Target,
    },
    /// Rates per scope and window: naive and feedback-loop complaint rate, bounce rate, SES's figure.
    Report {
        /// Only these scopes (e.g. `account`, `tag:tenant=acme`); default all.
        #[arg(long)]
        scope: Vec<String>,
        /// Do not read SES's reputation metrics from CloudWatch.
        #[arg(long)]
        no_ses: bool,
        #[arg(long, value_enum, default_value = "table")]
        output: Output,
        /// Also write the report as one self-contained HTML page, with charts of the account's
        /// days over the longest window.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        #[command(flatten)]
        target: Target,
    },
    /// Write a folder for an SES review case: summary, CSVs of the events, reproducing queries,
    /// charts (SVG) and report.html, which shows them together with no network.
    Evidence {
        /// First day (UTC), e.g. 2026-11-01.
        #[arg(long)]
        from: NaiveDate,
        /// Last day (UTC), inclusive.
        #[arg(long)]
        to: NaiveDate,
        #[arg(long, default_value = "ses-evidence")]
        out: PathBuf,
        /// Do not read SES's reputation metrics from CloudWatch.
        #[arg(long)]
        no_ses: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Backfill from files (SES JSON, SNS/SQS/EventBridge envelopes, Firehose dumps, JSON lines)
    /// through the ingest code; idempotent.
    Replay {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Generate a realistic, seeded SES event stream.
    Simulate(simulate::SimulateArgs),
    /// Prove the deployed stack works in this account: its functions, dead letters and lag; how
    /// SES points at it; how much of SES's own count the ledger holds; its saved queries and
    /// alert subscriptions. One line per check; exit 0 when nothing fails, 1 when something does.
    ///
    /// --canary also sends five messages through SES to its mailbox simulator and follows each
    /// into the ledger, the event log and the counters.
    Doctor(doctor::DoctorArgs),
    /// The ledger's suppressed addresses beside SES's account-level suppression list.
    #[command(subcommand)]
    Suppression(SuppressionCommand),
}

#[derive(Subcommand)]
enum SuppressionCommand {
    /// Every address either list holds, with each list's reason: agree, other reason, ledger
    /// only, SES only. Reads the whole ledger table (a Scan) and every page of SES's list.
    Diff {
        #[arg(long, value_enum, default_value = "table")]
        output: Output,
        #[command(flatten)]
        target: Target,
    },
    /// Add to SES's list the addresses only the ledger suppresses (complaints as COMPLAINT, both
    /// bounce rules as BOUNCE). A dry run unless --apply; never changes an entry SES has.
    Push {
        /// Add them (default: only list them).
        #[arg(long)]
        apply: bool,
        #[command(flatten)]
        target: Target,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ses-ledger: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Normalise(args) => normalise::run(&args),
        Command::Recipient {
            address,
            limit,
            output,
            target,
        } => {
            let ledger = target.ledger(&target.sdk_config().await).await?;
            let addresses = &ledger.config().addresses;
            lookup::recipient(&ledger, addresses, &address, limit, output).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Suppressed { address, target } => {
            let ledger = target.ledger(&target.sdk_config().await).await?;
            let suppressed =
                lookup::suppressed(&ledger, &ledger.config().addresses, &address).await?;
            Ok(if suppressed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Forget {
            address,
            yes,
            target,
        } => {
            let ledger = target.ledger(&target.sdk_config().await).await?;
            let forgotten =
                forget::forget(&ledger, &ledger.config().addresses, &address, yes).await?;
            println!("{}", forgotten.report(&ledger.config().event_log_group));
            Ok(ExitCode::SUCCESS)
        }
        Command::Pseudonym { address, target } => {
            let config = target.ledger_config(&target.sdk_config().await).await?;
            anyhow::ensure!(
                config.addresses.is_pseudonymised(),
                "no pseudonymisation key: pass --pseudonym-key-parameter (or set SES_LEDGER_PSEUDONYM_KEY_PARAMETER) to the stack's PseudonymKeyParameter"
            );
            println!("{}", config.addresses.key_of(&address));
            Ok(ExitCode::SUCCESS)
        }
        Command::Message {
            ses_message_id,
            output,
            target,
        } => {
            let ledger = target.ledger(&target.sdk_config().await).await?;
            let found = lookup::message(&ledger, &ses_message_id, output).await?;
            Ok(if found {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Report {
            scope,
            no_ses,
            output,
            html,
            target,
        } => {
            let sdk = target.sdk_config().await;
            let ledger = target.ledger(&sdk).await?;
            let config = AlarmConfig::from_env()?;
            let reputation =
                (!no_ses).then(|| CloudWatchReputation::new(aws_sdk_cloudwatch::Client::new(&sdk)));
            let now = Utc::now();
            let reports =
                report::collect(&ledger, reputation.as_ref(), &config, &scope, now).await?;
            report::print(&reports, output)?;
            if let Some(file) = html {
                let page = report::html(&reports, &ledger, &config, now).await?;
                std::fs::write(&file, page)
                    .with_context(|| format!("writing {}", file.display()))?;
                eprintln!("wrote {}", file.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Evidence {
            from,
            to,
            out,
            no_ses,
            target,
        } => {
            let sdk = target.sdk_config().await;
            let ledger = target.ledger(&sdk).await?;
            let period = evidence::Period::from_dates(from, to)?;
            let config = AlarmConfig::from_env()?;
            let now = Utc::now();
            let ses = if no_ses {
                None
            } else {
                let reputation = CloudWatchReputation::new(aws_sdk_cloudwatch::Client::new(&sdk));
                let figure =
                    |kind| report::ses_figure(Some(&reputation), &Scope::Account, kind, now);
                Some((
                    figure(RateKind::Complaint).await,
                    figure(RateKind::Bounce).await,
                ))
            };
            let pictures = evidence::PictureContext {
                complaint: config.complaint,
                bounce: config.bounce,
                ses,
                now,
            };
            let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
            let log_group = ledger.config().event_log_group.clone();
            let events = evidence::fetch_events(&logs, &log_group, &period).await?;
            let providers = ledger.config().feedback_loop_providers.clone();
            let files =
                evidence::build(&ledger, &events, &period, &log_group, &providers, &pictures)
                    .await?;
            evidence::write(&out, &files)?;
            println!(
                "wrote {} (report.html, summary.md, complaints.csv, bounces.csv, daily.csv, queries.md, daily-volume.svg, complaint-rate.svg, bounce-rate.svg)",
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay {
            paths,
            quiet,
            target,
        } => {
            let sdk = target.sdk_config().await;
            let ledger = target.ledger(&sdk).await?;
            let files = replay::expand_paths(&paths)?;
            let app = Ingest {
                config: ledger.config().clone(),
                log: replay::replay_log(&sdk, &ledger.config().event_log_group),
                store: ledger,
            };
            let summary = replay::replay(&files, &app, !quiet).await?;
            println!(
                "{} SES messages: {} recipient events new, {} duplicate, {} messages rejected, {} skipped",
                summary.messages, summary.new, summary.duplicate, summary.rejected, summary.skipped
            );
            Ok(if summary.rejected > 0 {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Suppression(SuppressionCommand::Diff { output, target }) => {
            let sdk = target.sdk_config().await;
            let ledger = target.ledger(&sdk).await?;
            let ses = SesAccountSuppressionList::new(aws_sdk_sesv2::Client::new(&sdk));
            let compared = suppression::diff(&ledger, &ses, &ledger.config().addresses).await?;
            suppression::print(&compared, output)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Suppression(SuppressionCommand::Push { apply, target }) => {
            let sdk = target.sdk_config().await;
            let ledger = target.ledger(&sdk).await?;
            let ses = SesAccountSuppressionList::new(aws_sdk_sesv2::Client::new(&sdk));
            let pushed =
                suppression::push(&ledger, &ses, &ledger.config().addresses, apply).await?;
            println!("{}", pushed.report());
            Ok(ExitCode::SUCCESS)
        }
        Command::Doctor(args) => doctor::run(&args).await,
        Command::Simulate(args) if args.ingest => {
            let sdk = args.target.sdk_config().await;
            let ledger = args.target.ledger(&sdk).await?;
            let app = Ingest {
                config: ledger.config().clone(),
                log: replay::replay_log(&sdk, &ledger.config().event_log_group),
                store: ledger,
            };
            let inbound = simulate::inbound(&args, Utc::now())?;
            let summary = replay::record(inbound, &app, !args.quiet).await;
            println!(
                "{} simulated SES messages: {} recipient events new, {} duplicate, {} messages rejected",
                summary.messages, summary.new, summary.duplicate, summary.rejected
            );
            Ok(if summary.rejected > 0 {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Simulate(args) => {
            let n = simulate::write_stream(&args, Utc::now())?;
            eprintln!("simulated {n} SES messages");
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn normalise_takes_files_and_dashes() {
        let cli = Cli::try_parse_from(["ses-ledger", "normalise", "a.json", "-"]).expect("parses");
        let Command::Normalise(args) = cli.command else {
            panic!("normalise")
        };
        assert_eq!(args.files, ["a.json", "-"].map(std::path::PathBuf::from));
    }

    #[test]
    fn every_command_has_help() {
        for name in [
            "normalise",
            "recipient",
            "suppressed",
            "message",
            "report",
            "evidence",
            "replay",
            "simulate",
            "forget",
            "suppression",
        ] {
            let err = Cli::try_parse_from(["ses-ledger", name, "--help"])
                .err()
                .expect("help exits");
            assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp, "{name}");
        }
    }
}
