//! `replay`: backfill from files through the same code as the ingest function. Idempotent: a
//! second replay of the same files records nothing new.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use ses_ledger::documents::Documents;
use ses_ledger::envelope::{split_owned_document, Inbound, InputError};
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

/// Reads, splits and records every file, streaming: memory holds one chunk of SES messages and
/// the document being read, whatever the files' size. Bad documents and messages are reported on
/// stderr and counted as rejected; a file that cannot be read stops the replay (what was read
/// before it is recorded).
pub async fn replay<S: EventStore, L: EventLog>(
    files: &[PathBuf],
    app: &Ingest<S, L>,
    progress: bool,
) -> anyhow::Result<ReplaySummary> {
    let total: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum();
    let bar = progress_bar(
        progress,
        total,
        "{bar:40} {bytes}/{total_bytes} {elapsed} (eta {eta})",
    );
    let mut summary = ReplaySummary::default();
    let mut chunk = Vec::with_capacity(CHUNK);
    for file in files {
        let opened = File::open(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()));
        let reader = match opened {
            Ok(f) => BufReader::new(bar.wrap_read(f)),
            Err(e) => {
                record_chunk(std::mem::take(&mut chunk), app, &bar, &mut summary).await;
                return Err(e);
            }
        };
        for (line, doc) in Documents::new(reader) {
            let messages = match doc {
                Err(e @ InputError::Unreadable { .. }) => {
                    record_chunk(std::mem::take(&mut chunk), app, &bar, &mut summary).await;
                    anyhow::bail!("{}: {e}", file.display());
                }
                // The error names the line itself.
                Err(e) => Err(e.to_string()),
                Ok(doc) => split_owned_document(doc).map_err(|e| format!("line {line}: {e}")),
            };
            match messages {
                Ok(messages) => {
                    for m in messages {
                        chunk.push((file.clone(), m));
                        if chunk.len() >= CHUNK {
                            record_chunk(std::mem::take(&mut chunk), app, &bar, &mut summary).await;
                        }
                    }
                }
                Err(e) => {
                    summary.messages += 1;
                    summary.rejected += 1;
                    bar.suspend(|| eprintln!("{}: {e}", file.display()));
                }
            }
        }
    }
    record_chunk(chunk, app, &bar, &mut summary).await;
    bar.finish_and_clear();
    Ok(summary)
}

/// Records SES messages (each labelled with where it came from, for error messages) in chunks,
/// with a progress bar over the messages.
pub async fn record<S: EventStore, L: EventLog>(
    inbound: Vec<(PathBuf, Inbound)>,
    app: &Ingest<S, L>,
    progress: bool,
) -> ReplaySummary {
    let bar = progress_bar(
        progress,
        inbound.len() as u64,
        "{bar:40} {pos}/{len} SES messages {elapsed} (eta {eta})",
    );
    let mut summary = ReplaySummary::default();
    let mut messages = inbound.into_iter().peekable();
    while messages.peek().is_some() {
        let chunk: Vec<_> = messages.by_ref().take(CHUNK).collect();
        let len = chunk.len() as u64;
        record_chunk(chunk, app, &bar, &mut summary).await;
        bar.inc(len);
    }
    bar.finish_and_clear();
    summary
}

fn progress_bar(shown: bool, len: u64, template: &str) -> ProgressBar {
    let bar = if shown {
        ProgressBar::new(len)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Records one chunk through the ingest use case (one log batch) and adds it to `summary`.
async fn record_chunk<S: EventStore, L: EventLog>(
    chunk: Vec<(PathBuf, Inbound)>,
    app: &Ingest<S, L>,
    bar: &ProgressBar,
    summary: &mut ReplaySummary,
) {
    if chunk.is_empty() {
        return;
    }
    summary.messages += chunk.len();
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
