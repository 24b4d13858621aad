#!/usr/bin/env bash
# The whole product on this machine: local AWS stand-ins on loopback, the real ingest, count and
# alarm binaries under cargo-lambda's Lambda emulator (the table's stream handed to count as its
# event source mapping would), a few days of simulated traffic for three
# tenants (one shaped like the seed story), the alarm, and the operator's tools. Stops everything
# it started. Knobs: DEMO_DAYS (2), DEMO_SENDS_PER_DAY (6000, the seed-story tenant; the others
# send a fifth), DEMO_COMPLAINTS_PER_DAY (2), DEMO_SEED (42).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
OUT="${ROOT}/demo-output"
DAYS="${DEMO_DAYS:-2}"
SENDS="${DEMO_SENDS_PER_DAY:-6000}"
COMPLAINTS="${DEMO_COMPLAINTS_PER_DAY:-2}"
SEED="${DEMO_SEED:-42}"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
    scripts/lambda-watch.sh stop >/dev/null 2>&1 || true
    scripts/local-stack.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

say "Installing and starting the local stack (DynamoDB Local + moto, 127.0.0.1 only)"
scripts/local-stack.sh install
scripts/local-stack.sh stop >/dev/null 2>&1 || true
scripts/local-stack.sh start
# shellcheck disable=SC1091
source .local-stack/env

say "Building the functions and the CLI"
cargo build --workspace --bins --locked
CLI="${CARGO_TARGET_DIR:-${ROOT}/target}/debug/ses-ledger"

export SES_LEDGER_TABLE=ses-ledger-demo
export SES_LEDGER_EVENT_LOG_GROUP=/ses-ledger/demo/events
export SES_LEDGER_ALERT_TOPIC_ARN=arn:aws:sns:us-east-1:123456789012:ses-ledger-demo-alerts
export SES_LEDGER_MIN_COMPLAINT_VOLUME=500
export SES_LEDGER_MIN_BOUNCE_VOLUME=500
export SES_LEDGER_RECENT_SENDS=20000
"${VIRTUAL_PY:-.cache/venv/bin/python}" scripts/demo_aws.py setup
scripts/lambda-watch.sh start
# shellcheck disable=SC1091
source .local-stack/lambda.env
invoke() { # FUNCTION FILE -> prints the HTTP status and the function's answer
    curl -sS -o "${OUT}/response.json" -w '%{http_code}' -X POST --data-binary "@$2" \
        "${LAMBDA_INVOKE_URL}/2015-03-31/functions/$1/invocations"
}
rm -rf "${OUT}" && mkdir -p "${OUT}"

say "1. Every sample event in events/sns through the real ingest binary"
for f in events/sns/*.json; do
    printf '%-50s HTTP %s  %s\n' "${f}" "$(invoke ingest "${f}")" "$(cat "${OUT}/response.json")"
done

say "2. The same batch again: nothing changes"
printf 'replay of events/sns/batch-all-types.json: HTTP %s  %s\n' "$(invoke ingest events/sns/batch-all-types.json)" "$(cat "${OUT}/response.json")"

say "3. A malformed message: the invocation fails (so Lambda retries and then keeps it in the DLQ)"
for f in events/malformed/*.json; do
    printf '%-50s HTTP %s  %s\n' "${f}" "$(invoke ingest "${f}")" "$(head -c 240 "${OUT}/response.json")"
done

say "3b. The table's stream through the real count binary (as the event source mapping would)"
"${VIRTUAL_PY:-.cache/venv/bin/python}" scripts/demo_aws.py count

say "4. What landed: DynamoDB (per message) and the event log stream"
"${CLI}" message EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000 || true
"${VIRTUAL_PY:-.cache/venv/bin/python}" scripts/demo_aws.py log-sample 3

say "5. ${DAYS} days of simulated traffic: acme (seed story: ${SENDS} sends/day, ~97% Gmail, ${COMPLAINTS} complaints/day from Yahoo/Microsoft), globex and initech (healthy)"
"${CLI}" simulate --days "${DAYS}" --sends-per-day "${SENDS}" --complaints-per-day "${COMPLAINTS}" --seed "${SEED}" \
    --format sns --batch 250 --out "${OUT}/stream.jsonl"
lines=$(wc -l <"${OUT}/stream.jsonl")
n=0; started=${SECONDS}
while IFS= read -r line; do
    n=$((n + 1))
    printf '%s' "${line}" >"${OUT}/batch.json"
    status=$(invoke ingest "${OUT}/batch.json")
    [[ "${status}" == 200 ]] || { echo "batch ${n}: HTTP ${status} $(cat "${OUT}/response.json")" >&2; exit 1; }
    printf '\r  SNS invocation %d/%d' "${n}" "${lines}"
done <"${OUT}/stream.jsonl"
printf '\n  %d invocations in %ss\n' "${lines}" "$((SECONDS - started))"
"${VIRTUAL_PY:-.cache/venv/bin/python}" scripts/demo_aws.py count

say "6. SES's own figure (seeded into CloudWatch as SES would publish it), then the alarm function"
"${VIRTUAL_PY:-.cache/venv/bin/python}" scripts/demo_aws.py seed-ses-metric 0.0031
printf 'alarm: HTTP %s  %s\n' "$(echo '{}' >"${OUT}/tick.json"; invoke alarm "${OUT}/tick.json")" "$(cat "${OUT}/response.json")"

say "7. The alerts, as received by an SQS queue subscribed to the alert topic"
"${VIRTUAL_PY:-.cache/venv/bin/python}" scripts/demo_aws.py alerts | sed -n '1,200p'

say "8. The rates report"
"${CLI}" report --scope account --scope tag:tenant=acme --scope tag:tenant=globex --scope provider:google --scope provider:yahoo

say "9. A recipient lookup (an acme complainer) and 'may I send?'"
complainer=$(grep -o 'complainer[0-9]*@yahoo.com' "${OUT}/stream.jsonl" | head -n 1)
"${CLI}" recipient "${complainer}"
if "${CLI}" suppressed "${complainer}"; then echo "=> do not send"; else echo "=> may send"; fi

say "10. The evidence folder for an SES review case"
"${CLI}" evidence --from "$(date -u -d "-${DAYS} days" +%F)" --to "$(date -u +%F)" --out "${OUT}/evidence"
sed -n '1,60p' "${OUT}/evidence/summary.md"
echo "The same with charts, in one page that needs no network: ${OUT}/evidence/report.html"

say "Done. Everything is in ${OUT}; the local stack is being stopped."
