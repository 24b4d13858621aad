//! The whole input path on any bytes: framing, envelope, normalisation, and the record written
//! out. Never panics; every record has a 32-hex event id and serialises to JSON that parses back.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use ses_ledger::documents::Documents;
use ses_ledger::envelope::{split_document, Content};
use ses_ledger::normalise::normalise;

fuzz_target!(|data: &[u8]| {
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    for (_, doc) in Documents::new(data) {
        let Ok(doc) = doc else { continue };
        let Ok(records) = split_document(&doc) else {
            continue;
        };
        for r in records {
            let Content::Ses(ses) = &r.content else {
                continue;
            };
            let Ok(events) = normalise(ses, &r.origin, now) else {
                continue;
            };
            for e in events {
                assert_eq!(e.event_id.len(), 32);
                assert!(e.event_id.bytes().all(|b| b.is_ascii_hexdigit()));
                let line = serde_json::to_vec(&e).expect("a record serialises");
                serde_json::from_slice::<serde_json::Value>(&line).expect("and parses back");
            }
        }
    }
});
