//! The ingest binary refuses to start on bad configuration, naming the variable, before it asks
//! Lambda for a single event (so a misconfigured deploy fails its first invocation loudly).

use std::process::Command;

fn start(vars: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ingest"));
    // No Runtime API and no AWS: the binary must stop before it needs either.
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command.envs(vars.iter().copied());
    command.output().expect("run the ingest binary")
}

#[test]
fn a_bad_value_stops_it_with_the_variable_named() {
    for (variable, value) in [
        ("SES_LEDGER_SOFT_BOUNCE_LIMIT", "three"),
        ("SES_LEDGER_COUNTER_TTL_DAYS", "7"),
        ("SES_LEDGER_HISTORY_TTL_DAYS", "-5"),
    ] {
        let out = start(&[(variable, value)]);
        assert!(!out.status.success(), "{variable}={value} started: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(variable), "{variable}={value}: {stderr}");
    }
}
