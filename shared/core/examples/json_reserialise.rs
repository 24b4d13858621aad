//! The baseline `scripts/measure-normalise.sh` compares `ses-ledger normalise` with: the least any
//! tool does with a JSON-lines file, each line parsed into a `serde_json::Value` and written back.
//! Streams its input, as normalise does.
//!
//!     json_reserialise FILE > OUT

use std::io::{BufRead, BufReader, BufWriter, Write};

fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| std::io::Error::other("usage: json_reserialise FILE"))?;
    let input = BufReader::new(std::fs::File::open(path)?);
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(&line)?;
        serde_json::to_writer(&mut out, &value)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
