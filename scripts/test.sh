#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this), on a fresh machine:
# installs the local AWS stand-ins and the template tools into .cache/ (and Debian's Chromium, for
# the report page's browser test, with apt-get), checks formatting, checks
# the SAM template (cfn-lint, sam validate --lint, checkov) and synthesises the CDK app (cdk-nag,
# cfn-lint), builds, lints, starts DynamoDB Local and moto on free loopback ports, starts the built
# function binaries under the Runtime API emulator, runs every test, and stops what it started.
#
# Unit tests alone, with no server: cargo test --workspace
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
TARGET_DIR="${CARGO_TARGET_DIR:-${ROOT}/target}"
# The integration tests that need what this script starts (tests/Cargo.toml, cli/Cargo.toml).
FEATURES=(--features ses-ledger-integration-tests/local-stack,ses-ledger-cli/local-stack)

step() { printf '\n== %s (%ss)\n' "$*" "${SECONDS}"; }

cleanup() {
    scripts/lambda-watch.sh stop >/dev/null 2>&1 || true
    scripts/local-stack.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "install local stack and template tools"
scripts/local-stack.sh install
# Debian's headless Chromium renders the report pages in the CLI's browser test.
scripts/install-chromium.sh

step "format"
cargo fmt --all -- --check

step "no module of shared/ imports one that imports it back"
scripts/check-module-cycles.py

step "SAM template: cfn-lint (as written and expanded), sam validate --lint, checkov"
scripts/lint-template.sh

step "build"
cargo build --workspace --all-targets --locked "${FEATURES[@]}"

step "CDK app: synth with cdk-nag AwsSolutions, cfn-lint (defaults and the alternative branches)"
# The assets are the binaries just built: synth checks the stack, not the code's target.
code="${ROOT}/.cache/cdk-code"
for fn in ingest alarm count; do
    mkdir -p "${code}/${fn}"
    ln -f "${TARGET_DIR}/debug/${fn}" "${code}/${fn}/bootstrap"
done
export CDK_CODE_DIR="${code}"
# The default stack is arm64 and the test build is x86_64: its synth checks the stack alone. The
# alternative deploys x86_64, so its synth also checks the binaries' architecture, as a deploy does.
scripts/cdk.sh synth --any-arch .cache/cdk-synth/default
scripts/cdk.sh synth .cache/cdk-synth/alternative -- -c Architecture=x86_64 \
    -c SesEventTopicArn=arn:aws:sns:us-east-1:123456789012:existing-ses-events \
    -c IngestTransport=direct -c CreateConfigurationSet=true -c AlertEmail=ops@example.com \
    -c FeedbackLoopProviders=yahoo,gmx \
    -c TableDeletionProtection=false -c EventLogClass=INFREQUENT_ACCESS \
    -c PseudonymKeyParameter=/ses-ledger/pseudonym-key \
    -c PseudonymKeyKmsKeyArn=arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab

step "clippy"
cargo clippy --workspace --all-targets --locked "${FEATURES[@]}" -- -D warnings

step "start DynamoDB Local and moto on loopback"
scripts/local-stack.sh start
# shellcheck disable=SC1091
source .local-stack/env

step "start the built functions under the Runtime API emulator"
export SES_LEDGER_TABLE=ses-ledger-e2e
export SES_LEDGER_EVENT_LOG_GROUP=/ses-ledger/e2e/events
export SES_LEDGER_ALERT_TOPIC_ARN=arn:aws:sns:us-east-1:123456789012:ses-ledger-e2e-alerts
export SES_LEDGER_MIN_COMPLAINT_VOLUME=100
export SES_LEDGER_MIN_BOUNCE_VOLUME=100
# Eight processes per function, as Lambda runs concurrent invocations: the load test invokes
# ingest eight times at once.
export LAMBDA_WATCH_INSTANCES=8
scripts/lambda-watch.sh start
# shellcheck disable=SC1091
source .local-stack/lambda.env
export LAMBDA_INVOKE_URL

step "test"
cargo test --workspace --locked --no-fail-fast "${FEATURES[@]}"

step "done"
