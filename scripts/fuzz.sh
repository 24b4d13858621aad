#!/usr/bin/env bash
# Fuzzes the input path with cargo-fuzz (libFuzzer): fuzz/fuzz_targets/{documents, envelope,
# ses_parse, normalise}, each for SECONDS, every target seeded with every file under events/.
# Prints a Markdown table of runs and crashes per target (docs/benchmarks.md quotes it). A crash
# leaves its input under fuzz/artifacts/<target>/: turn it into a regression fixture in
# events/malformed/ and a test before fixing it.
#
#   scripts/fuzz.sh [SECONDS=600] [TARGET ...]
#
# Needs a nightly toolchain (libFuzzer's coverage and sanitizer flags are nightly-only): the
# pinned stable toolchain cannot build the targets, so this is a documented script, not a suite
# step. cargo-fuzz is installed into .cache/cargo-fuzz on first use.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
SECONDS_EACH="${1:-600}"
shift || true
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(documents envelope ses_parse normalise)

rustup toolchain list | grep -q '^nightly' || {
  echo "fuzz.sh: no nightly toolchain (rustup toolchain install nightly); cargo-fuzz needs one" >&2
  exit 2
}
CARGO_FUZZ_ROOT="${ROOT}/.cache/cargo-fuzz"
if [[ ! -x "${CARGO_FUZZ_ROOT}/bin/cargo-fuzz" ]]; then
  cargo install --locked --root "${CARGO_FUZZ_ROOT}" cargo-fuzz >&2
fi
export PATH="${CARGO_FUZZ_ROOT}/bin:${PATH}"

results="$(mktemp)"
trap 'rm -f "${results}"' EXIT
for target in "${TARGETS[@]}"; do
  corpus="${ROOT}/.cache/fuzz-corpus/${target}"
  mkdir -p "${corpus}"
  find events -name '*.json' -exec cp {} "${corpus}/" \;
  log="${ROOT}/.cache/fuzz-${target}.log"
  status=0
  (cd fuzz && cargo +nightly fuzz run "${target}" "${corpus}" -- \
      -max_total_time="${SECONDS_EACH}" -rss_limit_mb=2048 -print_final_stats=1) >"${log}" 2>&1 || status=$?
  runs="$(grep -oE 'Done [0-9]+ runs' "${log}" | grep -oE '[0-9]+' | tail -1)"
  crashes="$(find "fuzz/artifacts/${target}" -type f 2>/dev/null | wc -l)"
  echo "${target} ${runs:-0} ${crashes} ${status}" >> "${results}"
done
echo "| target | seconds | runs | crashes | exit |"
echo "|---|---|---|---|---|"
while read -r target runs crashes status; do
  echo "| ${target} | ${SECONDS_EACH} | ${runs} | ${crashes} | ${status} |"
done < "${results}"
