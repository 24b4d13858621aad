//! `simulate`: reproducible SES event streams for demos, load tests and backfill rehearsals.

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Duration, DurationRound, Utc};
use clap::{Args, ValueEnum};
use ses_ledger::envelope::{split_document, Inbound};
use ses_ledger::simulate::{generate, sns_lambda_event, Scenario, TenantProfile};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScenarioName {
    /// One tenant shaped like the seed story (heavy Gmail volume, a handful of Yahoo/Microsoft
    /// complaints a day) and two healthy tenants.
    SeedStory,
    /// Healthy tenants only.
    Healthy,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StreamFormat {
    /// One SES message (the JSON SES publishes) per line.
    Ses,
    /// One SNS -> Lambda event per line, `--batch` records each: what the ingest function receives.
    Sns,
}

#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    #[arg(long, value_enum, default_value = "seed-story")]
    pub scenario: ScenarioName,
    /// Days of traffic, ending now.
    #[arg(long, default_value_t = 3)]
    pub days: u32,
    /// Sends a day of the main tenant (the others send a fifth of it).
    #[arg(long, default_value_t = 20_000)]
    pub sends_per_day: u64,
    /// Complaints a day of the seed-story tenant.
    #[arg(long, default_value_t = 5)]
    pub complaints_per_day: u64,
    /// Same seed, same stream.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Start of the first day (RFC 3339); default: `days` days before the current hour.
    #[arg(long)]
    pub start: Option<DateTime<Utc>>,
    /// Fraction of messages delivered twice.
    #[arg(long, default_value_t = 0.01)]
    pub duplicates: f64,
    /// Fraction of complaints also sent as identity notifications (both formats enabled).
    #[arg(long, default_value_t = 0.5)]
    pub both_formats: f64,
    #[arg(long, value_enum, default_value = "ses")]
    pub format: StreamFormat,
    /// Records per SNS event with `--format sns`.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Write here (`-` for stdout).
    #[arg(long, default_value = "-", conflicts_with = "ingest")]
    pub out: PathBuf,
    /// Record the stream straight into the ledger through the ingest code (`--table`,
    /// `--log-group`, `--endpoint-url` say where) instead of writing it out.
    #[arg(long)]
    pub ingest: bool,
    /// No progress bar with `--ingest`.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub target: crate::common::Target,
}

impl SimulateArgs {
    pub fn scenario(&self, now: DateTime<Utc>) -> Scenario {
        let main = self.sends_per_day;
        let tenants = match self.scenario {
            ScenarioName::SeedStory => vec![
                TenantProfile::seed_story("acme", main, self.complaints_per_day),
                TenantProfile::healthy("globex", (main / 5).max(1)),
                TenantProfile::healthy("initech", (main / 5).max(1)),
            ],
            ScenarioName::Healthy => vec![
                TenantProfile::healthy("globex", main),
                TenantProfile::healthy("initech", (main / 5).max(1)),
            ],
        };
        let hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
        Scenario {
            tenants,
            start: self
                .start
                .unwrap_or(hour - Duration::days(i64::from(self.days))),
            days: self.days,
            seed: self.seed,
            duplicate_rate: self.duplicates,
            notification_share: self.both_formats,
            shuffle: true,
        }
    }
}

/// The stream as SES messages ready for the ingest code, labelled for error messages.
pub fn inbound(args: &SimulateArgs, now: DateTime<Utc>) -> anyhow::Result<Vec<(PathBuf, Inbound)>> {
    let mut out = Vec::new();
    for (i, message) in generate(&args.scenario(now)).iter().enumerate() {
        let label = PathBuf::from(format!("simulated message {}", i + 1));
        out.extend(
            split_document(message)?
                .into_iter()
                .map(|m| (label.clone(), m)),
        );
    }
    Ok(out)
}

/// Writes the stream; returns how many SES messages it holds.
pub fn write_stream(args: &SimulateArgs, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let stream = generate(&args.scenario(now));
    let mut out: Box<dyn Write> = if args.out.as_os_str() == "-" {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        Box::new(std::io::BufWriter::new(std::fs::File::create(&args.out)?))
    };
    match args.format {
        StreamFormat::Ses => {
            for m in &stream {
                writeln!(out, "{m}")?;
            }
        }
        StreamFormat::Sns => {
            for (b, chunk) in stream.chunks(args.batch.max(1)).enumerate() {
                writeln!(out, "{}", sns_lambda_event(chunk, &format!("sim-{b:06}")))?;
            }
        }
    }
    out.flush()?;
    Ok(stream.len())
}
