#!/usr/bin/env bash
# `ses-ledger normalise` as a new user runs it (release build), against a plain serde_json
# parse-and-reserialise of the same lines (shared/core/examples/json_reserialise.rs, same
# profile), on simulated Firehose-style dumps: two sizes of SES-shaped messages (with the original
# headers SES's event publishing always sends), and the small size again without them (identity
# notifications with "include original headers" off), the case where normalise has least to skip
# and most to add. Runs interleaved, ROUNDS times each, and prints the Markdown table
# docs/benchmarks.md quotes: CPU seconds (user + system, median) and peak resident memory
# (largest), with the ratios.
#
#   scripts/measure-normalise.sh [SMALL_MB=41] [LARGE_MB=164] [ROUNDS=15]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
TARGET_DIR="${CARGO_TARGET_DIR:-${ROOT}/target}"
SMALL_MB="${1:-41}"
LARGE_MB="${2:-164}"
ROUNDS="${3:-15}"

cargo build --release --locked -p ses-ledger-cli >&2
cargo build --release --locked -p ses-ledger-core --example json_reserialise >&2
cli="${TARGET_DIR}/release/ses-ledger"
baseline="${TARGET_DIR}/release/examples/json_reserialise"

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
# Two days of the seed story at 5,000 sends a day, every type, both formats: ~30 MB.
"${cli}" simulate --days 2 --sends-per-day 5000 --seed 7 --start 2026-11-01T00:00:00Z \
  --out "${work}/unit.jsonl" >&2
python3 - "${work}/unit.jsonl" "${work}/unit-bare.jsonl" <<'PY'
import json, sys
with open(sys.argv[1]) as src, open(sys.argv[2], "w") as out:
    for line in src:
        message = json.loads(line)
        for key in ("headersTruncated", "headers", "commonHeaders"):
            message["mail"].pop(key, None)
        out.write(json.dumps(message, separators=(",", ":")) + "\n")
PY
# Each input: "<name> <unit file> <MB>"; the unit is repeated up to the size and cut at a line.
inputs=("ses-${SMALL_MB} unit ${SMALL_MB}" "ses-${LARGE_MB} unit ${LARGE_MB}" "bare-${SMALL_MB} unit-bare ${SMALL_MB}")
for input in "${inputs[@]}"; do
  read -r name unit mb <<< "${input}"
  : > "${work}/${name}.jsonl"
  while [ "$(stat -c %s "${work}/${name}.jsonl")" -lt $((mb * 1000 * 1000)) ]; do
    cat "${work}/${unit}.jsonl" >> "${work}/${name}.jsonl"
  done
  head -c $((mb * 1000 * 1000)) "${work}/${name}.jsonl" | sed '$d' > "${work}/${name}.cut"
  mv "${work}/${name}.cut" "${work}/${name}.jsonl"
done

: > "${work}/runs.txt"
for round in $(seq "${ROUNDS}"); do
  for input in "${inputs[@]}"; do
    read -r name _ _ <<< "${input}"
    for tool in baseline normalise; do
      if [ "${tool}" = baseline ]; then
        cmd=("${baseline}" "${work}/${name}.jsonl")
      else
        cmd=("${cli}" normalise "${work}/${name}.jsonl")
      fi
      /usr/bin/time -f "%U %S %M" -o "${work}/t" "${cmd[@]}" > /dev/null
      echo "${tool} ${name} $(wc -l < "${work}/${name}.jsonl") $(cat "${work}/t")" >> "${work}/runs.txt"
    done
  done
done

python3 - "${work}/runs.txt" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    tool, name, lines, user, system, rss_kb = line.split()
    r = runs.setdefault((tool, name), {"lines": int(lines), "cpu": [], "rss": []})
    r["cpu"].append(float(user) + float(system))
    r["rss"].append(int(rss_kb) / 1024)
shapes = {"ses": "SES-shaped (original headers)", "bare": "without original headers"}
print("| input | messages | baseline CPU s | normalise CPU s | ratio | baseline peak RSS | normalise peak RSS |")
print("|---|---|---|---|---|---|---|")
for name in dict.fromkeys(name for _, name in runs):
    shape, mb = name.split("-")
    b, n = runs[("baseline", name)], runs[("normalise", name)]
    bc, nc = statistics.median(b["cpu"]), statistics.median(n["cpu"])
    print(f"| {mb} MB, {shapes[shape]} | {n['lines']:,} | {bc:.2f} | {nc:.2f} | {nc / bc:.2f}x | {max(b['rss']):.1f} MB | {max(n['rss']):.1f} MB |")
PY
