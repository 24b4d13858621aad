#!/usr/bin/env bash
# `ses-ledger normalise` as a new user runs it (release build), against a plain serde_json
# parse-and-reserialise of the same lines (shared/core/examples/json_reserialise.rs, same
# profile), on simulated Firehose-style dumps of two sizes. Runs interleaved, ROUNDS times each,
# and prints the Markdown table docs/benchmarks.md quotes: CPU seconds (user + system, median)
# and peak resident memory (largest), with the ratios.
#
#   scripts/measure-normalise.sh [SMALL_MB=41] [LARGE_MB=164] [ROUNDS=3]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
TARGET_DIR="${CARGO_TARGET_DIR:-${ROOT}/target}"
SMALL_MB="${1:-41}"
LARGE_MB="${2:-164}"
ROUNDS="${3:-3}"

cargo build --release --locked -p ses-ledger-cli >&2
cargo build --release --locked -p ses-ledger-core --example json_reserialise >&2
cli="${TARGET_DIR}/release/ses-ledger"
baseline="${TARGET_DIR}/release/examples/json_reserialise"

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
# Two days of the seed story at 5,000 sends a day, every type, both formats: ~16 MB.
"${cli}" simulate --days 2 --sends-per-day 5000 --seed 7 --start 2026-11-01T00:00:00Z \
  --out "${work}/unit.jsonl" >&2
for mb in "${SMALL_MB}" "${LARGE_MB}"; do
  : > "${work}/${mb}.jsonl"
  while [ "$(stat -c %s "${work}/${mb}.jsonl")" -lt $((mb * 1000 * 1000)) ]; do
    cat "${work}/unit.jsonl" >> "${work}/${mb}.jsonl"
  done
  head -c $((mb * 1000 * 1000)) "${work}/${mb}.jsonl" | sed '$d' > "${work}/${mb}.cut"
  mv "${work}/${mb}.cut" "${work}/${mb}.jsonl"
done

: > "${work}/runs.txt"
for round in $(seq "${ROUNDS}"); do
  for mb in "${SMALL_MB}" "${LARGE_MB}"; do
    for tool in baseline normalise; do
      if [ "${tool}" = baseline ]; then
        cmd=("${baseline}" "${work}/${mb}.jsonl")
      else
        cmd=("${cli}" normalise "${work}/${mb}.jsonl")
      fi
      /usr/bin/time -f "%U %S %M" -o "${work}/t" "${cmd[@]}" > /dev/null
      echo "${tool} ${mb} $(wc -l < "${work}/${mb}.jsonl") $(cat "${work}/t")" >> "${work}/runs.txt"
    done
  done
done

python3 - "${work}/runs.txt" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    tool, mb, lines, user, system, rss_kb = line.split()
    r = runs.setdefault((tool, int(mb)), {"lines": int(lines), "cpu": [], "rss": []})
    r["cpu"].append(float(user) + float(system))
    r["rss"].append(int(rss_kb) / 1024)
print("| input | lines | baseline CPU s | normalise CPU s | ratio | baseline peak RSS | normalise peak RSS |")
print("|---|---|---|---|---|---|---|")
for mb in sorted({mb for _, mb in runs}):
    b, n = runs[("baseline", mb)], runs[("normalise", mb)]
    bc, nc = statistics.median(b["cpu"]), statistics.median(n["cpu"])
    print(f"| {mb} MB | {n['lines']:,} | {bc:.2f} | {nc:.2f} | {nc / bc:.2f}x | {max(b['rss']):.1f} MB | {max(n['rss']):.1f} MB |")
PY
