//! What every CLI test does: run the built binary against a test's own table and log group, read
//! its output, make scratch folders. Each test binary uses some of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ses_ledger::config::LedgerConfig;

/// The CLI as Cargo built it for this test run: `CARGO_BIN_EXE_*` makes Cargo build the binary
/// before the test and point at that build, so a stale `target/debug/ses-ledger` is never run.
pub fn cli() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ses-ledger"))
}

pub fn run(config: &LedgerConfig, args: &[&str]) -> Output {
    run_with(config, &[], args)
}

/// `run` with extra environment variables (an endpoint for a service, a window setting).
pub fn run_with(config: &LedgerConfig, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(cli())
        .envs(env.iter().copied())
        .args(args)
        .args([
            "--table",
            &config.table_name,
            "--log-group",
            &config.event_log_group,
        ])
        .output()
        .expect("run ses-ledger")
}

/// A simulated stream (`simulate` with `args`) written to `dir/stream.jsonl` and replayed into
/// the ledger; the stream's path.
pub fn simulate_and_replay(config: &LedgerConfig, dir: &Path, args: &[&str]) -> PathBuf {
    let stream = dir.join("stream.jsonl");
    let sim = Command::new(cli())
        .arg("simulate")
        .args(args)
        .arg("--out")
        .arg(&stream)
        .output()
        .expect("simulate");
    assert_ok(&sim);
    let replay = run(
        config,
        &["replay", "--quiet", stream.to_str().unwrap_or_default()],
    );
    assert_ok(&replay);
    stream
}

/// The command succeeded; if not, its stderr says why.
#[track_caller]
pub fn assert_ok(o: &Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Distinct values at `pointer` of the JSON lines that contain `marker`.
pub fn distinct(lines: &str, marker: &str, pointer: &str) -> std::collections::BTreeSet<String> {
    lines
        .lines()
        .filter(|l| l.contains(marker))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            v.pointer(pointer)
                .and_then(|x| x.as_str())
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ses-ledger-{name}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}
