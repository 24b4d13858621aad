//! The count binary refuses to start on bad configuration, naming the variable.

use std::process::Command;

#[test]
fn a_bad_counter_setting_stops_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_count"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SES_LEDGER_COUNTER_TTL_DAYS", "soon")
        .output()
        .expect("run the count binary");
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SES_LEDGER_COUNTER_TTL_DAYS"), "{stderr}");
}
