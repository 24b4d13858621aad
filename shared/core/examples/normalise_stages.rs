//! Where `ses-ledger normalise`'s time goes, stage by stage, beside the baseline's (a
//! `serde_json::Value` parse and re-serialise of each line): reading (framing and parsing), building
//! the records, writing them and dropping them, each timed per message and summed. Prints the
//! smallest sum of each stage over the rounds, in milliseconds; docs/benchmarks.md quotes it.
//!
//!     cargo run --release -p ses-ledger-core --example normalise_stages -- DUMP [ROUNDS]
//!
//! DUMP holds one bare SES message per line (`ses-ledger simulate --out DUMP`).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ses_ledger::documents::{Documents, SesDocument};
use ses_ledger::envelope::bare_message_origin;
use ses_ledger::normalise::normalise_message;
use ses_ledger::privacy::Addresses;

type Stages = [Duration; 4];

fn baseline(text: &str, out: &mut Vec<u8>) -> Result<Stages, serde_json::Error> {
    let mut stages = Stages::default();
    for line in text.lines() {
        let t0 = Instant::now();
        let value: serde_json::Value = serde_json::from_str(line)?;
        let t1 = Instant::now();
        out.clear();
        serde_json::to_writer(&mut *out, &value)?;
        out.push(b'\n');
        let t2 = Instant::now();
        drop(value);
        let t3 = Instant::now();
        stages[0] += t1 - t0;
        stages[2] += t2 - t1;
        stages[3] += t3 - t2;
    }
    Ok(stages)
}

fn normalise(text: &str, out: &mut Vec<u8>, now: DateTime<Utc>) -> Result<Stages, String> {
    let origin = bare_message_origin();
    let mut stages = Stages::default();
    let mut documents = Documents::<_, SesDocument>::of_kind(text.as_bytes());
    loop {
        let t0 = Instant::now();
        let Some((line, document)) = documents.next() else {
            return Ok(stages);
        };
        let Ok(SesDocument::Ses(message)) = document else {
            return Err(format!(
                "line {line} is not a bare SES message of a known type"
            ));
        };
        let t1 = Instant::now();
        let records = normalise_message(message, None, &origin, now, &Addresses::Clear)
            .map_err(|e| format!("line {line}: {e}"))?;
        let t2 = Instant::now();
        for record in &records {
            out.clear();
            serde_json::to_writer(&mut *out, record).map_err(|e| e.to_string())?;
            out.push(b'\n');
        }
        let t3 = Instant::now();
        drop(records);
        let t4 = Instant::now();
        stages[0] += t1 - t0;
        stages[1] += t2 - t1;
        stages[2] += t3 - t2;
        stages[3] += t4 - t3;
    }
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: normalise_stages DUMP [ROUNDS]")?;
    let rounds: usize = args
        .next()
        .map_or(Ok(12), |r| r.parse().map_err(|_| "ROUNDS: a number"))?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let now = Utc::now();
    let mut out = Vec::with_capacity(1 << 16);
    let (mut best_baseline, mut best_normalise) = ([f64::MAX; 4], [f64::MAX; 4]);
    for _ in 0..rounds {
        let b = baseline(&text, &mut out).map_err(|e| e.to_string())?;
        let n = normalise(&text, &mut out, now)?;
        for (best, stages) in [(&mut best_baseline, b), (&mut best_normalise, n)] {
            for (best, stage) in best.iter_mut().zip(stages) {
                *best = best.min(stage.as_secs_f64() * 1e3);
            }
        }
    }
    println!("| stage | baseline ms | normalise ms |");
    println!("|---|---|---|");
    for (i, stage) in ["read", "build", "write", "drop"].into_iter().enumerate() {
        println!(
            "| {stage} | {:.1} | {:.1} |",
            best_baseline[i], best_normalise[i]
        );
    }
    let (b, n) = (
        best_baseline.iter().sum::<f64>(),
        best_normalise.iter().sum::<f64>(),
    );
    println!("| **total** | **{b:.1}** | **{n:.1}** ({:.2}x) |", n / b);
    Ok(())
}
