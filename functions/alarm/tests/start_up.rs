//! The alarm binary refuses to start on missing or bad configuration, naming the variable.

use std::process::Command;

fn start(vars: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_alarm"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command.envs(vars.iter().copied());
    command.output().expect("run the alarm binary")
}

#[test]
fn a_missing_alert_topic_stops_it() {
    let out = start(&[]);
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SES_LEDGER_ALERT_TOPIC_ARN"), "{stderr}");
}

#[test]
fn a_percentage_where_a_fraction_belongs_stops_it() {
    let out = start(&[
        (
            "SES_LEDGER_ALERT_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:alerts",
        ),
        ("SES_LEDGER_COMPLAINT_REVIEW", "5"),
    ]);
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SES_LEDGER_COMPLAINT_REVIEW"), "{stderr}");
}

#[test]
fn a_window_that_outlives_the_counters_stops_it() {
    let out = start(&[
        (
            "SES_LEDGER_ALERT_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:alerts",
        ),
        ("SES_LEDGER_COUNTER_TTL_DAYS", "60"),
    ]);
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SES_LEDGER_RECENT_SENDS_MAX_DAYS") && stderr.contains("60 days"),
        "{stderr}"
    );
}
