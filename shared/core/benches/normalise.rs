//! What `ses-ledger normalise` costs per input line, against the least any tool could do with the
//! same bytes: parse each line into a `serde_json::Value` and write it back out. Both read the
//! same simulated Firehose-style dump (one bare SES message per line, both formats, every
//! counted type), with SES's original headers and without them, and write to the same sink.
//! docs/benchmarks.md reports the ratios.
//! Run: `cargo bench -p ses-ledger-core --bench normalise`.

use std::io::Write;

use chrono::{TimeZone, Utc};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ses_ledger::documents::{Documents, SesDocument};
use ses_ledger::envelope::{bare_message_origin, split_owned_document, Content};
use ses_ledger::event::RecipientEvent;
use ses_ledger::normalise::{normalise_message, normalise_with};
use ses_ledger::privacy::{Addresses, PseudonymKey};
use ses_ledger::simulate::{generate, Scenario, TenantProfile};

/// About 2,000 SES messages, one per line, as SES sends them (with the original headers); or, with
/// `headers` false, without them (identity notifications with "include original headers" off:
/// the least for normalise to skip).
fn dump(headers: bool) -> String {
    let scenario = Scenario {
        tenants: vec![TenantProfile::seed_story("acme", 2_000, 3)],
        start: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
        days: 1,
        seed: 42,
        duplicate_rate: 0.02,
        notification_share: 0.5,
        shuffle: true,
    };
    let mut text = String::new();
    for mut message in generate(&scenario) {
        if !headers {
            if let Some(mail) = message["mail"].as_object_mut() {
                for key in ["headersTruncated", "headers", "commonHeaders"] {
                    mail.remove(key);
                }
            }
        }
        text.push_str(&message.to_string());
        text.push('\n');
    }
    text
}

/// A sink that counts bytes, so neither side pays for memory growth.
struct Counting(usize);

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn raw_reserialise(text: &str, out: &mut Counting) {
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).expect("JSON");
        serde_json::to_writer(&mut *out, &value).expect("writes");
        out.write_all(b"\n").expect("writes");
    }
}

/// What `ses-ledger normalise` does with each document (cli/src/normalise.rs): a bare SES
/// message straight from its text, anything else through the envelope split.
fn ledger_normalise(text: &str, out: &mut Counting, addresses: &Addresses) {
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let mut write = |events: Vec<RecipientEvent>| {
        for event in events {
            serde_json::to_writer(&mut *out, &event).expect("writes");
            out.write_all(b"\n").expect("writes");
        }
    };
    for (_, doc) in Documents::<_, SesDocument>::of_kind(text.as_bytes()) {
        match doc.expect("JSON") {
            SesDocument::Ses(message) => write(
                normalise_message(message, None, &bare_message_origin(), now, addresses)
                    .expect("normalises"),
            ),
            SesDocument::Other(doc) => {
                for message in split_owned_document(doc).expect("known shape") {
                    if let Content::Ses(ses) = &message.content {
                        write(
                            normalise_with(ses, &message.origin, now, addresses)
                                .expect("normalises"),
                        );
                    }
                }
            }
        }
    }
}

fn normalise_against_raw_parse(c: &mut Criterion) {
    let clear = Addresses::Clear;
    let key = PseudonymKey::new("a benchmark key of thirty-two bytes").expect("key");
    let pseudonymised = Addresses::Pseudonymised(key);
    for (group_name, headers) in [
        ("per SES message line", true),
        ("per SES message line without original headers", false),
    ] {
        let text = dump(headers);
        let lines = text.lines().count() as u64;
        // What normalising does to the bytes written (the event log's lines).
        for (name, addresses) in [("clear", &clear), ("pseudonymised", &pseudonymised)] {
            let mut out = Counting(0);
            ledger_normalise(&text, &mut out, addresses);
            eprintln!(
                "{group_name}, {name}: {} bytes of records for {lines} lines ({} bytes)",
                out.0,
                text.len()
            );
        }
        let mut group = c.benchmark_group(group_name);
        group.throughput(Throughput::Elements(lines));
        group.bench_function("serde_json::Value parse + reserialise (baseline)", |b| {
            b.iter(|| {
                let mut out = Counting(0);
                raw_reserialise(black_box(&text), &mut out);
                out.0
            })
        });
        group.bench_function("ses-ledger normalise", |b| {
            b.iter(|| {
                let mut out = Counting(0);
                ledger_normalise(black_box(&text), &mut out, &clear);
                out.0
            })
        });
        if headers {
            group.bench_function("ses-ledger normalise, addresses pseudonymised", |b| {
                b.iter(|| {
                    let mut out = Counting(0);
                    ledger_normalise(black_box(&text), &mut out, &pseudonymised);
                    out.0
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, normalise_against_raw_parse);
criterion_main!(benches);
