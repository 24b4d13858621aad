//! Envelope detection on any JSON never panics, and every record it yields is exactly one of a
//! message, a skip or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ses_ledger::envelope::{split_document, Content};

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(records) = split_document(&doc) {
        for r in records {
            match r.content {
                Content::Ses(ses) => assert!(ses.is_object()),
                Content::Skipped(skip) => assert!(!skip.code().is_empty()),
                Content::Invalid(e) => assert!(!e.to_string().is_empty()),
            }
        }
    }
});
