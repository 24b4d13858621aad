//! `replay`: backfill from files through the same code as the ingest function. Idempotent: a
//! second replay of the same files records nothing new.

use std::path::{Path, PathBuf};

use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use ses_ledger::envelope::{parse_documents, split_document, Inbound};
use ses_ledger::ports::{EventLog, EventStore};
use ses_ledger::usecase::ingest::{describe_origin, Counts};
use ses_ledger::usecase::Ingest;
use ses_ledger_aws::cloudwatch_logs::CloudWatchEventLog;

/// SES messages recorded together: one log batch and one progress step each.
const CHUNK: usize = 200;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ReplaySummary {
    pub messages: usize,
    pub new: usize,
    pub duplicate: usize,
    pub rejected: usize,
    /// Messages that are no SES sending event (SNS subscription messages, SES receiving, ...).
    pub skipped: usize,
}

/// Every file under the given paths (directories are walked), sorted.
pub fn expand_paths(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        walk(p, &mut files)?;
    }
    files.sort();
    Ok(files)
}

fn walk(path: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            walk(&entry?.path(), out)?;
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// Reads, splits and records every file; bad documents and messages are reported on stderr and
/// counted as rejected.
pub async fn replay<S: EventStore, L: EventLog>(
    files: &[PathBuf],
    app: &Ingest<S, L>,
    progress: bool,
) -> anyhow::Result<ReplaySummary> {
    let mut summary = ReplaySummary::default();
    let mut inbound = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        for (n, doc) in parse_documents(&text).into_iter().enumerate() {
            match doc.and_then(|d| split_document(&d)) {
                Ok(messages) => inbound.extend(messages.into_iter().map(|m| (file.clone(), m))),
                Err(e) => {
                    summary.rejected += 1;
                    eprintln!("{}: document {}: {e}", file.display(), n + 1);
                }
            }
        }
    }
    let rejected = summary.rejected;
    let mut summary = record(inbound, app, progress).await;
    summary.rejected += rejected;
    summary.messages += rejected;
    Ok(summary)
}

/// Records SES messages (each labelled with where it came from, for error messages) in chunks,
/// with a progress bar.
pub async fn record<S: EventStore, L: EventLog>(
    inbound: Vec<(PathBuf, Inbound)>,
    app: &Ingest<S, L>,
    progress: bool,
) -> ReplaySummary {
    let mut summary = ReplaySummary {
        messages: inbound.len(),
        ..ReplaySummary::default()
    };
    let bar = if progress {
        ProgressBar::new(inbound.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} SES messages {elapsed} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut chunks = inbound.into_iter().peekable();
    while chunks.peek().is_some() {
        let chunk: Vec<_> = chunks.by_ref().take(CHUNK).collect();
        let len = chunk.len() as u64;
        let (files, messages): (Vec<PathBuf>, Vec<_>) = chunk.into_iter().unzip();
        let report = app.inbound(messages, Utc::now()).await;
        let mut counts = Counts::default();
        for (file, m) in files.iter().zip(&report.messages) {
            if let Some(skip) = m.skipped {
                summary.skipped += 1;
                bar.suspend(|| {
                    eprintln!(
                        "{}: {}: skipped ({}): {skip}",
                        file.display(),
                        describe_origin(&m.origin),
                        skip.code()
                    )
                });
            }
            match &m.result {
                Ok(c) => counts += *c,
                Err(e) => {
                    summary.rejected += 1;
                    bar.suspend(|| {
                        eprintln!("{}: {}: {e}", file.display(), describe_origin(&m.origin))
                    });
                }
            }
        }
        summary.new += counts.new;
        summary.duplicate += counts.duplicate;
        bar.inc(len);
    }
    bar.finish_and_clear();
    summary
}

/// A log stream of its own for each replay run.
pub fn replay_log(sdk: &aws_config::SdkConfig, group: &str) -> CloudWatchEventLog {
    CloudWatchEventLog::new(
        aws_sdk_cloudwatchlogs::Client::new(sdk),
        group,
        format!(
            "replay/{}",
            CloudWatchEventLog::instance_stream_name(Utc::now())
        ),
    )
}
