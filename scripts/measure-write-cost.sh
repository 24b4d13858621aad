#!/usr/bin/env bash
# The event path's DynamoDB cost per recipient event, measured (tests/examples/write_cost.rs):
# a simulated month ingested into DynamoDB Local with ReturnConsumedCapacity, then the table
# scanned and sized. Prints the Markdown tables docs/benchmarks.md quotes.
#
#   scripts/measure-write-cost.sh [SENDS_PER_DAY=200] [DAYS=30] [WINDOW_SECONDS]
#
# The change records are batched as the count function's mapping would have batched the month
# live (at most 1000 records or 60 s); WINDOW_SECONDS overrides the window, 0 cuts by size alone.
#
# Starts its own local stack (state in .local-stack-measure/), so it can run beside the tests.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
export SES_LEDGER_STACK_STATE="${ROOT}/.local-stack-measure"
TARGET_DIR="${CARGO_TARGET_DIR:-${ROOT}/target}"

scripts/local-stack.sh install >&2
cargo build --release --locked -p ses-ledger-integration-tests --example write_cost >&2
trap 'scripts/local-stack.sh stop >/dev/null 2>&1 || true' EXIT
scripts/local-stack.sh start >&2
# shellcheck disable=SC1091
source "${SES_LEDGER_STACK_STATE}/env"
"${TARGET_DIR}/release/examples/write_cost" "${1:-200}" "${2:-30}" "${@:3}"
