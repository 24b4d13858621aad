#!/usr/bin/env bash
# The CDK app in cdk/, offline: installs its npm packages from cdk/package-lock.json (npm ci, into
# cdk/node_modules, git-ignored), compiles it, and synthesises with the cdk-nag AwsSolutions checks
# (an unsuppressed finding fails the synth), then runs cfn-lint on the output.
#
# Usage: scripts/cdk.sh synth [OUT_DIR] [-- -c Name=value ...]
#          OUT_DIR defaults to cdk/cdk.out; extra -c settings are the SAM parameter names.
#          Code assets: CDK_CODE_DIR (default target/lambda, the `cargo lambda build` output)
#          must hold ingest/bootstrap, alarm/bootstrap and count/bootstrap.
#        scripts/cdk.sh deploy [-- cdk deploy args]   (real AWS: credentials from your environment)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APP="${ROOT}/cdk"
VENV="${ROOT}/.cache/venv"
STAMP="${APP}/node_modules/.package-lock.sha256"
CODE_DIR="${CDK_CODE_DIR:-${ROOT}/target/lambda}"

log() { printf 'cdk: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Nothing of the CDK CLI reaches outside: no telemetry, no notices, no version check.
export CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=true
export NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false

install() {
    local want
    want="$(sha256sum "${APP}/package-lock.json" | cut -d' ' -f1)"
    if [[ -f "${STAMP}" && "$(cat "${STAMP}")" == "${want}" ]]; then return 0; fi
    log "npm ci (cdk/package-lock.json)"
    (cd "${APP}" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    printf '%s\n' "${want}" >"${STAMP}"
}

compile() { (cd "${APP}" && node_modules/.bin/tsc -p .); }

cmd_synth() {
    local out="${APP}/cdk.out"
    if [[ $# -gt 0 && "$1" != "--" ]]; then out="$(realpath -m "$1")"; shift; fi
    [[ "${1:-}" != "--" ]] || shift
    [[ -f "${CODE_DIR}/ingest/bootstrap" && -f "${CODE_DIR}/alarm/bootstrap" && -f "${CODE_DIR}/count/bootstrap" ]] \
        || die "no function binaries in ${CODE_DIR}: run 'cargo lambda build --release' or set CDK_CODE_DIR"
    install
    compile
    rm -rf "${out}"
    (cd "${APP}" && node_modules/.bin/cdk synth --no-notices --quiet --strict --output "${out}" \
        -c codeDir="${CODE_DIR}" "$@" >/dev/null)
    local template="${out}/SesLedger.template.json"
    [[ -f "${template}" ]] || die "synth wrote no ${template}"
    # W3005: CDK writes a DependsOn beside the GetAtt it already has; harmless, and not ours.
    "${VENV}/bin/cfn-lint" --regions us-east-1 --non-zero-exit-code error --ignore-checks W3005 -- "${template}"
    log "synthesised ${template}; cdk-nag: $(nag_summary "${out}")"
}

# "N compliant, N suppressed, N non-compliant" from cdk-nag's report.
nag_summary() {
    python3 - "$1" <<'PY'
import csv, glob, sys
counts = {}
for report in glob.glob(f"{sys.argv[1]}/AwsSolutions-*-NagReport.csv"):
    for row in csv.DictReader(open(report)):
        counts[row["Compliance"]] = counts.get(row["Compliance"], 0) + 1
print(", ".join(f"{n} {k.lower()}" for k, n in sorted(counts.items())) or "no report")
PY
}

cmd_deploy() {
    [[ "${1:-}" != "--" ]] || shift
    install
    compile
    (cd "${APP}" && node_modules/.bin/cdk deploy --no-notices -c codeDir="${CODE_DIR}" "$@")
}

case "${1:-}" in
    synth) shift; cmd_synth "$@" ;;
    deploy) shift; cmd_deploy "$@" ;;
    *)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
