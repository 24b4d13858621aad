#!/usr/bin/env bash
# Lints a SAM template offline, in two passes:
#   1. cfn-lint on the template as written (catches CloudFormation-level errors with the
#      template's own line numbers);
#   2. aws-sam-translator expands the template (scripts/sam_expand.py, no AWS calls), then
#      cfn-lint on the expanded JSON: cfn-lint 1.x does not run the SAM transform itself, so
#      errors inside AWS::Serverless::Function (bad schedule expression, bad !GetAtt in Events,
#      DeadLetterQueue or Policies, bad runtime) are only seen in this pass.
#
# Usage: scripts/lint-template.sh [TEMPLATE]     (default: template.yaml at the repo root)
# Tools come from .cache/venv (installed on demand by scripts/local-stack.sh install).
# The expanded template is written to .cache/sam-expanded/<name>.json.
# LINT_TEMPLATE_FAIL_ON=error|warning|informational (default error) sets what fails the run.
# Exit status: 0 clean, 1 errors found (or expansion failed), 2 usage error.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ROOT}/.cache/venv"
OUT_DIR="${ROOT}/.cache/sam-expanded"
REGION="us-east-1"
FAIL_ON="${LINT_TEMPLATE_FAIL_ON:-error}"

case "${1:-}" in
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
        exit 0
        ;;
esac
[[ $# -le 1 ]] || { echo "usage: $0 [TEMPLATE]" >&2; exit 2; }
TEMPLATE="${1:-${ROOT}/template.yaml}"
[[ -f "${TEMPLATE}" ]] || { echo "lint-template: no such template: ${TEMPLATE}" >&2; exit 2; }
case "${FAIL_ON}" in
    error | warning | informational) ;;
    *) echo "lint-template: LINT_TEMPLATE_FAIL_ON must be error, warning or informational" >&2; exit 2 ;;
esac

"${ROOT}/scripts/local-stack.sh" install >&2

# Offline and deterministic: fixed region and dummy credentials, no metadata service.
export AWS_DEFAULT_REGION="${REGION}" AWS_REGION="${REGION}"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
export PIP_DISABLE_PIP_VERSION_CHECK=1

name="$(basename "${TEMPLATE}")"
EXPANDED="${OUT_DIR}/${name%.*}.json"
mkdir -p "${OUT_DIR}"
rm -f "${EXPANDED}"

status=0

echo "== cfn-lint ${TEMPLATE}"
if "${VENV}/bin/cfn-lint" --regions "${REGION}" --non-zero-exit-code "${FAIL_ON}" -- "${TEMPLATE}"; then
    echo "ok"
else
    status=1
fi

echo "== SAM expansion (aws-sam-translator, offline) -> ${EXPANDED}"
if "${VENV}/bin/python" "${ROOT}/scripts/sam_expand.py" --region "${REGION}" \
    -o "${EXPANDED}" "${TEMPLATE}"; then
    echo "ok"
    echo "== cfn-lint ${EXPANDED} (line numbers refer to the expanded JSON)"
    if "${VENV}/bin/cfn-lint" --regions "${REGION}" --non-zero-exit-code "${FAIL_ON}" -- "${EXPANDED}"; then
        echo "ok"
    else
        status=1
    fi
else
    echo "SAM expansion failed: the template is not valid SAM" >&2
    status=1
fi

echo "== sam validate --lint (SAM CLI, offline)"
if SAM_CLI_TELEMETRY=0 "${ROOT}/.cache/venv-sam/bin/sam" validate --lint --region "${REGION}" \
    --template-file "${TEMPLATE}"; then
    echo "ok"
else
    status=1
fi

# checkov on the template (it understands SAM) and on the expansion, which holds the IAM roles SAM
# generates. Every skip is justified in the template beside its resource (Metadata.checkov.skip).
echo "== checkov (offline: --skip-download)"
for scanned in "${TEMPLATE}" "${EXPANDED}"; do
    [[ -f "${scanned}" ]] || continue
    if "${ROOT}/.cache/venv-checkov/bin/checkov" --skip-download --quiet --compact \
        --framework cloudformation -f "${scanned}" >"${OUT_DIR}/checkov.txt" 2>&1; then
        echo "$(basename "${scanned}"): $(grep -m1 -o 'Passed checks.*' "${OUT_DIR}/checkov.txt")"
    else
        cat "${OUT_DIR}/checkov.txt"
        status=1
    fi
done

# cfn-lint treats a dashboard body as an opaque string: parse each one as JSON ourselves.
echo "== dashboard bodies are JSON"
if "${VENV}/bin/python" - "${TEMPLATE}" <<'PY'
import json, re, sys
from samtranslator.yaml_helper import yaml_parse
template = yaml_parse(open(sys.argv[1]).read())
for name, res in template.get("Resources", {}).items():
    if res.get("Type") != "AWS::CloudWatch::Dashboard":
        continue
    body = res["Properties"]["DashboardBody"]
    body = body.get("Fn::Sub", body) if isinstance(body, dict) else body
    json.loads(re.sub(r"\$\{[^}]+\}", "x", body))
    print(f"{name}: ok")
PY
then :; else status=1; fi

if [[ "${status}" -eq 0 ]]; then
    echo "lint-template: ${TEMPLATE}: no ${FAIL_ON}s"
else
    echo "lint-template: ${TEMPLATE}: FAILED" >&2
fi
exit "${status}"
