#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this), on a fresh machine:
# installs the local AWS stand-ins into .cache/, starts them on free loopback ports, checks
# formatting, lints and the SAM template, builds, runs every test (unit, integration against
# DynamoDB Local and moto, end-to-end through cargo lambda watch), and stops what it started.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

step() { printf '\n== %s (%ss)\n' "$*" "${SECONDS}"; }

cleanup() {
    scripts/lambda-watch.sh stop >/dev/null 2>&1 || true
    scripts/local-stack.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "install local stack tools"
scripts/local-stack.sh install

step "format"
cargo fmt --all -- --check

step "lint the SAM template (cfn-lint on the template and on its SAM expansion)"
scripts/lint-template.sh

step "build"
cargo build --workspace --all-targets --locked

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "start DynamoDB Local and moto on loopback"
scripts/local-stack.sh start
# shellcheck disable=SC1091
source .local-stack/env

step "start cargo lambda watch for the end-to-end tests"
export SES_LEDGER_TABLE=ses-ledger-e2e
export SES_LEDGER_EVENT_LOG_GROUP=/ses-ledger/e2e/events
export SES_LEDGER_ALERT_TOPIC_ARN=arn:aws:sns:us-east-1:123456789012:ses-ledger-e2e-alerts
export SES_LEDGER_MIN_COMPLAINT_VOLUME=100
export SES_LEDGER_MIN_BOUNCE_VOLUME=100
scripts/lambda-watch.sh start
# shellcheck disable=SC1091
source .local-stack/lambda.env
export LAMBDA_INVOKE_URL

step "test"
cargo test --workspace --locked --no-fail-fast

step "done"
