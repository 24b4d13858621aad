#!/usr/bin/env bash
# Peak memory of the release ingest binary on a 10,000-recipient message (issue 12), as
# docs/benchmarks.md reports it: the binary alone under the Runtime API emulator, over its own
# local stack, invoked with one SNS-delivered Delivery to 1 recipient (the baseline, same process,
# same run) and then one to RECIPIENTS. Prints a Markdown table of the process's VmHWM (peak) and
# VmRSS from /proc/<pid>/status after each step.
#
#   scripts/measure-ingest-memory.sh [RECIPIENTS=10000]
#
# Starts its own local stack (state in .local-stack-memory/), so it can run beside the tests.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
RECIPIENTS="${1:-10000}"
[[ "${RECIPIENTS}" =~ ^[1-9][0-9]*$ ]] || { echo "RECIPIENTS must be a positive integer, not '${RECIPIENTS}'" >&2; exit 2; }
export SES_LEDGER_STACK_STATE="${ROOT}/.local-stack-memory"
TARGET_DIR="${CARGO_TARGET_DIR:-${ROOT}/target}"
PY="${VIRTUAL_PY:-.cache/venv/bin/python}"

scripts/local-stack.sh install >&2
cargo build --release --locked -p ses-ledger-ingest --bin ingest >&2
trap 'scripts/lambda-watch.sh stop >/dev/null 2>&1 || true; scripts/local-stack.sh stop >/dev/null 2>&1 || true' EXIT
scripts/local-stack.sh start >&2
# shellcheck disable=SC1091
source "${SES_LEDGER_STACK_STATE}/env"
export SES_LEDGER_TABLE=ses-ledger-memory
export SES_LEDGER_EVENT_LOG_GROUP=/ses-ledger/memory/events
export SES_LEDGER_ALERT_TOPIC_ARN=arn:aws:sns:us-east-1:123456789012:ses-ledger-memory-alerts
"${PY}" scripts/demo_aws.py setup >&2
LAMBDA_WATCH_FUNCTIONS=ingest LAMBDA_WATCH_BIN_DIR="${TARGET_DIR}/release" scripts/lambda-watch.sh start >&2
# shellcheck disable=SC1091
source "${SES_LEDGER_STACK_STATE}/lambda.env"
pid="$(cat "${SES_LEDGER_STACK_STATE}/fn-ingest.1.pid")"

work="$(mktemp -d)"
trap 'rm -rf "${work}"; scripts/lambda-watch.sh stop >/dev/null 2>&1 || true; scripts/local-stack.sh stop >/dev/null 2>&1 || true' EXIT
# One Delivery to N recipients, in the official SNS-delivered event record's envelope.
make_event() {
    "${PY}" - "$1" "$2" <<'EOF'
import json, sys
n, out = int(sys.argv[1]), sys.argv[2]
event = json.load(open("events/sns/delivery-record.json"))
sns = event["Records"][0]["Sns"]
message = json.loads(sns["Message"])
addresses = [f"recipient-{i}@example.com" for i in range(n)]
message["mail"]["messageId"] = f"memory-{n}-recipients"
message["mail"]["destination"] = addresses
message["delivery"]["recipients"] = addresses
sns["Message"] = json.dumps(message)
sns["MessageId"] = f"memory-{n}"
json.dump(event, open(out, "w"))
EOF
}
kb() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/${pid}/status"; }
mb() { awk -v v="$1" 'BEGIN { printf "%.1f MB", v / 1024 }'; }

printf '| after | peak (VmHWM) | resident (VmRSS) | invocation | event bytes |\n|---|---|---|---|---|\n'
base_peak="$(kb VmHWM)"
printf '| start-up | %s | %s | | |\n' "$(mb "${base_peak}")" "$(mb "$(kb VmRSS)")"
for n in 1 "${RECIPIENTS}"; do
    make_event "${n}" "${work}/event-${n}.json"
    start="$(date +%s.%N)"
    code="$(curl -sS -o "${work}/response-${n}.json" -w '%{http_code}' -X POST \
        --data-binary "@${work}/event-${n}.json" "${LAMBDA_INVOKE_URL}/2015-03-31/functions/ingest/invocations")"
    end="$(date +%s.%N)"
    [[ "${code}" == 200 ]] || { echo "invocation with ${n} recipients answered ${code}: $(cat "${work}/response-${n}.json")" >&2; exit 1; }
    peak="$(kb VmHWM)"
    [[ "${n}" == 1 ]] && one_peak="${peak}"
    ratio=""
    [[ "${n}" != 1 ]] && ratio=" ($(awk -v a="${peak}" -v b="${one_peak}" 'BEGIN { printf "%.1f", a / b }')x the 1-recipient peak)"
    printf '| a %s-recipient message | %s%s | %s | %s s | %s |\n' "${n}" "$(mb "${peak}")" "${ratio}" \
        "$(mb "$(kb VmRSS)")" "$(awk -v a="${start}" -v b="${end}" 'BEGIN { printf "%.1f", b - a }')" \
        "$(stat -c %s "${work}/event-${n}.json")"
done
