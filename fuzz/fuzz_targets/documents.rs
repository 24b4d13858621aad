//! Framing any bytes into documents never panics, and every line is accounted for: each
//! document or error names a line within the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ses_ledger::documents::Documents;

fuzz_target!(|data: &[u8]| {
    let lines = data.iter().filter(|b| **b == b'\n').count() + 1;
    for (line, _) in Documents::new(data) {
        assert!(line >= 1 && line <= lines + 1, "line {line} of {lines}");
    }
});
