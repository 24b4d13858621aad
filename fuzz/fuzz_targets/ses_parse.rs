//! Parsing any JSON as an SES message never panics; an error always names what is wrong.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ses_ledger::ses::SesMessage;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Err(e) = SesMessage::parse(&value) {
        assert!(!e.to_string().is_empty());
    }
});
