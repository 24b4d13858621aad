#!/usr/bin/env bash
# The long fault run: the suite's fault test (tests/tests/fault_injection.rs: 20% of the ingest
# path's DynamoDB and CloudWatch Logs calls faulted, SQS redelivery, the DLQ and its replay,
# everything compared with the ground truth) on a larger stream (the suite's debug build), against a
# local stack of its own. Prints the test's figures; docs/benchmarks.md quotes them.
#
#   scripts/fault-run.sh [MESSAGES=5000]
#
# Starts its own local stack (state in .local-stack-faults/), so it can run beside the tests.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
export SES_LEDGER_STACK_STATE="${ROOT}/.local-stack-faults"
export SES_LEDGER_FAULT_MESSAGES="${1:-5000}"

scripts/local-stack.sh install >&2
cargo build --locked -p ses-ledger-integration-tests --features local-stack \
  --test fault_injection >&2
trap 'scripts/local-stack.sh stop >/dev/null 2>&1 || true' EXIT
scripts/local-stack.sh start >&2
# shellcheck disable=SC1091
source "${SES_LEDGER_STACK_STATE}/env"
start=$(date +%s)
cargo test --locked -p ses-ledger-integration-tests --features local-stack \
  --test fault_injection -- --nocapture 2>&1 | grep -E "SES messages|log:|test result"
echo "elapsed: $(( $(date +%s) - start )) s"
