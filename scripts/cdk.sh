#!/usr/bin/env bash
# The CDK app in cdk/, offline: installs its npm packages from cdk/package-lock.json (npm ci, into
# cdk/node_modules, git-ignored), compiles it, and synthesises with the cdk-nag AwsSolutions checks
# (an unsuppressed finding fails the synth), then runs cfn-lint on the output.
#
# Usage: scripts/cdk.sh synth [--any-arch] [OUT_DIR] [-- -c Name=value ...]
#          OUT_DIR defaults to cdk/cdk.out; extra -c settings are the SAM parameter names.
#          Code assets: CDK_CODE_DIR (default target/lambda, the `cargo lambda build` output)
#          must hold ingest/bootstrap, alarm/bootstrap and count/bootstrap, built for the
#          stack's Architecture (arm64 unless -c Architecture=x86_64): checked, unless
#          --any-arch (the suite's synth of the default stack from its x86_64 test build,
#          which checks the stack, not the code, and is never deployed).
#        scripts/cdk.sh bootstrap [-- cdk bootstrap args]
#          once per account and Region: the stack has file assets (the function code), and CDK
#          deploys them through the bootstrap stack's bucket.
#        scripts/cdk.sh deploy [-- cdk deploy args]   (real AWS: credentials from your environment)
#          checks the bootstraps' architecture and, with the AWS CLI at hand, that the
#          environment is bootstrapped, before anything is uploaded.
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

# The Architecture the -c settings choose (template.yaml's default otherwise).
architecture() {
    local arg arch="arm64"
    for arg in "$@"; do
        if [[ "${arg}" =~ ^Architecture=(.*)$ ]]; then arch="${BASH_REMATCH[1]}"; fi
    done
    printf '%s\n' "${arch}"
}

check_code() {
    local arch="$1"
    "${ROOT}/scripts/check-lambda-arch.sh" "${arch}" \
        "${CODE_DIR}/ingest/bootstrap" "${CODE_DIR}/alarm/bootstrap" "${CODE_DIR}/count/bootstrap" \
        || die "the function binaries in ${CODE_DIR} are not for ${arch} (see above); set CDK_CODE_DIR to where 'cargo lambda build' wrote them (target/lambda)"
}

# The bootstrap stack's version parameter (CDK's bootstrapping guide: without it, a stack with
# assets cannot deploy), read with the AWS CLI as the deploy will run (the `--profile` given to
# cdk, else the environment's). Only "no such parameter" stops the deploy; anything else (no
# CLI, no Region, no permission to read it) is said and left to cdk deploy, which checks too.
check_bootstrapped() {
    local qualifier="${CDK_BOOTSTRAP_QUALIFIER:-hnb659fds}" arg profile=() previous="" out
    for arg in "$@"; do
        if [[ "${previous}" == "--profile" ]]; then profile=(--profile "${arg}"); fi
        if [[ "${arg}" =~ ^--profile=(.*)$ ]]; then profile=(--profile "${BASH_REMATCH[1]}"); fi
        previous="${arg}"
    done
    if ! command -v aws >/dev/null 2>&1; then
        log "no AWS CLI to check that this account and Region are bootstrapped; if cdk deploy says 'SSM parameter /cdk-bootstrap/${qualifier}/version not found', run: scripts/cdk.sh bootstrap"
        return 0
    fi
    if out="$(aws "${profile[@]}" ssm get-parameter --name "/cdk-bootstrap/${qualifier}/version" --query Parameter.Value --output text 2>&1)"; then
        log "bootstrapped (bootstrap version ${out})"
    elif [[ "${out}" == *ParameterNotFound* ]]; then
        die "this account and Region are not bootstrapped for CDK (no /cdk-bootstrap/${qualifier}/version parameter); run once: scripts/cdk.sh bootstrap"
    else
        log "could not check the bootstrap (${out%%$'\n'*}); cdk deploy will say if it is missing"
    fi
}

cmd_synth() {
    local out="${APP}/cdk.out" any_arch=false
    if [[ "${1:-}" == "--any-arch" ]]; then any_arch=true; shift; fi
    if [[ $# -gt 0 && "$1" != "--" ]]; then out="$(realpath -m "$1")"; shift; fi
    [[ "${1:-}" != "--" ]] || shift
    local arch
    arch="$(architecture "$@")"
    [[ -f "${CODE_DIR}/ingest/bootstrap" && -f "${CODE_DIR}/alarm/bootstrap" && -f "${CODE_DIR}/count/bootstrap" ]] \
        || die "no function binaries in ${CODE_DIR}: run 'cargo lambda build --release --arm64' (or --x86-64 with -c Architecture=x86_64), or set CDK_CODE_DIR"
    if [[ "${any_arch}" == false ]]; then check_code "${arch}"; fi
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
    check_code "$(architecture "$@")"
    check_bootstrapped "$@"
    install
    compile
    (cd "${APP}" && node_modules/.bin/cdk deploy --no-notices -c codeDir="${CODE_DIR}" "$@")
}

cmd_bootstrap() {
    [[ "${1:-}" != "--" ]] || shift
    install
    compile
    (cd "${APP}" && node_modules/.bin/cdk bootstrap --no-notices -c codeDir="${CODE_DIR}" "$@")
}

case "${1:-}" in
    synth) shift; cmd_synth "$@" ;;
    deploy) shift; cmd_deploy "$@" ;;
    bootstrap) shift; cmd_bootstrap "$@" ;;
    *)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
