//! `ses-ledger normalise`: SES events from files or stdin to recipient events, one JSON line
//! each, through the same envelope detection and normalisation as the ingest function. Nothing is
//! stored; useful to inspect a DLQ message, a Firehose dump or a fixture.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;
use ses_ledger::documents::{Documents, SesDocument};
use ses_ledger::envelope::{bare_message_origin, split_owned_document, Content, InputError};
use ses_ledger::event::{Origin, RecipientEvent};
use ses_ledger::normalise::{normalise, normalise_message};
use ses_ledger::privacy::Addresses;
use ses_ledger::usecase::ingest::describe_origin;

/// Arguments of `ses-ledger normalise`.
#[derive(Debug, Clone, Args)]
pub struct NormaliseArgs {
    /// Files holding one JSON document or JSON lines: Lambda events (SNS, SQS), EventBridge
    /// events, SNS envelopes or bare SES messages. `-` or no file reads stdin.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// How a run went; a later, worse outcome wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Clean,
    /// Some input was not usable SES events (reported on stderr); the rest was printed.
    BadInput,
    /// Some file could not be read at all.
    Unreadable,
}

impl Outcome {
    /// 0 clean, 2 bad input, 1 unreadable file.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Clean => ExitCode::SUCCESS,
            Outcome::BadInput => ExitCode::from(2),
            Outcome::Unreadable => ExitCode::FAILURE,
        }
    }
}

/// Runs the command on stdin, stdout and stderr.
pub fn run(args: &NormaliseArgs) -> anyhow::Result<ExitCode> {
    // Large writes: a dump yields about 1.7 times its own size in records.
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut err = io::stderr().lock();
    let result = normalise_inputs(
        &args.files,
        &mut io::stdin().lock(),
        &mut out,
        &mut err,
        Utc::now(),
    )
    .and_then(|outcome| out.flush().map(|()| outcome));
    match result {
        Ok(outcome) => Ok(outcome.exit_code()),
        // The reader went away (`| head`): what it wanted was printed.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e).context("writing to stdout"),
    }
}

/// Normalises every input (`-` or none: `stdin`) onto `out`, reporting bad input on `err` and
/// carrying on. The `Err` is a failure to write `out`.
pub fn normalise_inputs(
    files: &[PathBuf],
    stdin: &mut impl Read,
    out: &mut impl Write,
    err: &mut impl Write,
    ingested_at: DateTime<Utc>,
) -> io::Result<Outcome> {
    let stdin_only = [PathBuf::from("-")];
    let files = if files.is_empty() {
        &stdin_only[..]
    } else {
        files
    };
    let mut outcome = Outcome::Clean;
    for file in files {
        let result = if file.as_os_str() == "-" {
            normalise_stream(
                "<stdin>",
                BufReader::new(&mut *stdin),
                out,
                err,
                ingested_at,
            )
        } else {
            let label = file.display().to_string();
            match File::open(file) {
                // Large reads: a dump is read once, front to back.
                Ok(f) => normalise_stream(
                    &label,
                    BufReader::with_capacity(1 << 16, f),
                    out,
                    err,
                    ingested_at,
                ),
                Err(e) => {
                    writeln!(err, "{label}: cannot read: {e}")?;
                    Ok(Outcome::Unreadable)
                }
            }
        };
        outcome = outcome.max(result?);
    }
    Ok(outcome)
}

/// One input, a document at a time: memory holds the largest document, not the input.
fn normalise_stream(
    label: &str,
    input: impl BufRead,
    out: &mut impl Write,
    err: &mut impl Write,
    ingested_at: DateTime<Utc>,
) -> io::Result<Outcome> {
    let mut outcome = Outcome::Clean;
    for (line, doc) in Documents::<_, SesDocument>::of_kind(input) {
        let doc = match doc {
            // Most lines of a dump: a bare SES message, read straight from its text.
            Ok(SesDocument::Ses(message)) => {
                let origin = bare_message_origin();
                let events =
                    normalise_message(message, None, &origin, ingested_at, &Addresses::Clear);
                let at = || location(label, line, 1, 1, &origin);
                outcome = outcome.max(write_events(events, at, out, err)?);
                continue;
            }
            Ok(SesDocument::Other(doc)) => doc,
            Err(e @ InputError::Unreadable { .. }) => {
                writeln!(err, "{label}: {e}")?;
                outcome = outcome.max(Outcome::Unreadable);
                continue;
            }
            // The error names the line itself.
            Err(e) => {
                writeln!(err, "{label}: {e}")?;
                outcome = outcome.max(Outcome::BadInput);
                continue;
            }
        };
        let messages = match split_owned_document(doc) {
            Ok(messages) => messages,
            Err(e) => {
                writeln!(err, "{label}, line {line}: {e}")?;
                outcome = outcome.max(Outcome::BadInput);
                continue;
            }
        };
        let count = messages.len();
        for (i, message) in messages.into_iter().enumerate() {
            let at = || location(label, line, i + 1, count, &message.origin);
            let result = match &message.content {
                Content::Ses(ses) => normalise(ses, &message.origin, ingested_at),
                // Not an error: these reach every SES topic and queue, and hold no event.
                Content::Skipped(skip) => {
                    writeln!(err, "{}: skipped ({}): {skip}", at(), skip.code())?;
                    continue;
                }
                Content::Invalid(e) => Err(e.clone()),
            };
            outcome = outcome.max(write_events(result, at, out, err)?);
        }
    }
    Ok(outcome)
}

/// One message's records onto `out`, or why it has none onto `err` (`at` names the message).
fn write_events(
    result: Result<Vec<RecipientEvent>, InputError>,
    at: impl Fn() -> String,
    out: &mut impl Write,
    err: &mut impl Write,
) -> io::Result<Outcome> {
    match result {
        Ok(events) => {
            for event in &events {
                serde_json::to_writer(&mut *out, event)?;
                out.write_all(b"\n")?;
            }
            Ok(Outcome::Clean)
        }
        Err(e) => {
            writeln!(err, "{}: {e}", at())?;
            Ok(Outcome::BadInput)
        }
    }
}

/// `file, line 3, message 2 of 10 (SQS message .., SNS message ..)`: enough to find it again.
fn location(label: &str, line: usize, n: usize, count: usize, origin: &Origin) -> String {
    let mut at = format!("{label}, line {line}");
    if count > 1 {
        at.push_str(&format!(", message {n} of {count}"));
    }
    let has_ids = origin.sns_message_id.is_some()
        || origin.sqs_message_id.is_some()
        || origin.eventbridge_id.is_some();
    if has_ids {
        at.push_str(&format!(" ({})", describe_origin(origin)));
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use ses_ledger::event::{EventType, RecipientEvent};
    use ses_ledger::testkit::fixtures::events_dir;

    struct Run {
        outcome: Outcome,
        events: Vec<RecipientEvent>,
        errors: Vec<String>,
    }

    fn run_on(files: &[PathBuf], stdin: &str) -> Run {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let outcome =
            normalise_inputs(files, &mut stdin.as_bytes(), &mut out, &mut err, Utc::now())
                .expect("writes to memory");
        let out = String::from_utf8(out).expect("UTF-8");
        let events = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let errors = String::from_utf8(err)
            .expect("UTF-8")
            .lines()
            .map(str::to_string)
            .collect();
        Run {
            outcome,
            events,
            errors,
        }
    }

    fn json_files(folder: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(events_dir().join(folder))
            .expect("fixture folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
    }

    /// A file of its own for one test, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, bytes: &[u8]) -> TempFile {
            let path =
                std::env::temp_dir().join(format!("ses-ledger-cli-{}-{name}", std::process::id()));
            std::fs::write(&path, bytes).expect("temp file");
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn every_sns_fixture_prints_one_line_per_recipient() {
        let run = run_on(&json_files("sns"), "");
        assert_eq!(run.outcome, Outcome::Clean, "{:?}", run.errors);
        assert!(run.errors.is_empty());
        // 15 single examples (16 recipient events) and the batch of all of them.
        assert_eq!(run.events.len(), 32);
        assert!(run.events.iter().all(|e| e.origin.sns_message_id.is_some()));
    }

    #[test]
    fn what_is_no_sending_event_is_skipped_with_a_note_and_exits_0() {
        let run = run_on(&json_files("skipped"), "");
        assert_eq!(run.outcome, Outcome::Clean, "{:?}", run.errors);
        assert!(run.events.is_empty(), "no record of any of them");
        let reasons: Vec<&str> = run
            .errors
            .iter()
            .map(|e| {
                e.split_once("skipped (")
                    .and_then(|(_, rest)| rest.split_once(')'))
                    .map_or("", |(code, _)| code)
            })
            .collect();
        assert_eq!(
            reasons,
            [
                "received_mail",
                "received_mail",
                "sns_subscription_confirmation",
                "sns_unsubscribe_confirmation",
                "sns_subscription_confirmation"
            ],
            "{:?}",
            run.errors
        );
        assert!(run.errors[2].contains("(SNS message "), "{}", run.errors[2]);
    }

    #[test]
    fn the_oddities_are_all_usable() {
        let run = run_on(&json_files("oddities"), "");
        assert_eq!(run.outcome, Outcome::Clean, "{:?}", run.errors);
        assert!(run
            .events
            .iter()
            .any(|e| e.event_type == EventType::Unknown));
    }

    #[test]
    fn malformed_input_is_reported_by_file_and_sns_id_and_exits_2() {
        let files = json_files("malformed");
        let run = run_on(&files, "");
        assert_eq!(run.outcome, Outcome::BadInput);
        assert_eq!(run.outcome.exit_code(), ExitCode::from(2));
        assert!(run.events.is_empty());
        assert_eq!(run.errors.len(), files.len(), "{:?}", run.errors);
        for (error, file) in run.errors.iter().zip(&files) {
            assert!(
                error.starts_with(&format!("{}, line 1 (SNS message ", file.display())),
                "{error}"
            );
        }
        assert!(run
            .errors
            .iter()
            .any(|e| e.ends_with("mail.messageId: required field is missing")));
    }

    #[test]
    fn json_lines_on_stdin_keep_going_past_a_bad_line() {
        let read = |p: &str| std::fs::read_to_string(events_dir().join(p)).expect("fixture");
        let compact = |p: &str| {
            serde_json::from_str::<serde_json::Value>(&read(p))
                .expect("JSON")
                .to_string()
        };
        let stdin = format!(
            "{}\n{{\"eventType\": \"Send\", \"mail\": \n{}\n{{\"hello\": 1}}\n",
            compact("ses/event-publishing/send-record.json"),
            compact("ses/notification/bounce-notification-without-a-dsn.json"),
        );
        let run = run_on(&[PathBuf::from("-")], &stdin);
        assert_eq!(run.outcome, Outcome::BadInput);
        assert_eq!(run.events.len(), 3);
        assert_eq!(run.errors.len(), 2, "{:?}", run.errors);
        assert!(
            run.errors[0].starts_with("<stdin>: the document starting at line 2 is not JSON"),
            "{}",
            run.errors[0]
        );
        assert!(
            run.errors[1].starts_with("<stdin>, line 4: not an SES event"),
            "{}",
            run.errors[1]
        );
        // No file means stdin too.
        assert_eq!(run_on(&[], &stdin).events.len(), 3);
    }

    #[test]
    fn an_unreadable_file_is_reported_and_the_others_still_run() {
        let missing = std::env::temp_dir().join("ses-ledger-cli-test-does-not-exist.json");
        let good = events_dir().join("sns/send-record.json");
        let bad = TempFile::new("latin1.json", b"{\"a\": \"caf\xe9\"}");
        let run = run_on(&[missing.clone(), good, bad.0.clone()], "");
        assert_eq!(run.outcome, Outcome::Unreadable);
        assert_eq!(run.outcome.exit_code(), ExitCode::FAILURE);
        assert_eq!(run.events.len(), 1);
        assert!(run.errors[0].starts_with(&format!("{}: cannot read", missing.display())));
        assert!(
            run.errors[1].ends_with("line 1 is not UTF-8 text (invalid byte at column 11)"),
            "{}",
            run.errors[1]
        );
        let run = run_on(std::slice::from_ref(&bad.0), "");
        assert_eq!(run.outcome, Outcome::BadInput);
    }

    #[test]
    fn a_bad_record_in_a_batch_names_its_position_and_ids() {
        let doc = serde_json::json!({"Records": [
            {"messageId": "q-1", "eventSource": "aws:sqs", "body": std::fs::read_to_string(events_dir().join("ses/event-publishing/send-record.json")).expect("fixture")},
            {"messageId": "q-2", "eventSource": "aws:sqs", "body": "{\"eventType\": \"Send\"}"},
        ]});
        let file = TempFile::new("batch.json", doc.to_string().as_bytes());
        let run = run_on(std::slice::from_ref(&file.0), "");
        assert_eq!(run.events.len(), 1);
        assert_eq!(
            run.errors,
            [format!(
                "{}, line 1, message 2 of 2 (SQS message q-2): mail: required field is missing (every SES message has one)",
                file.0.display()
            )]
        );
    }
}
