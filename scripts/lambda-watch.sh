#!/usr/bin/env bash
# Runs the real, already built function binaries under cargo-lambda's Runtime API emulator
# (`cargo lambda watch --only-lambda-apis`), bound to 127.0.0.1 on a free port.
#
# Usage: scripts/lambda-watch.sh start | stop | status
#
#   start  needs scripts/local-stack.sh install + start first: the function processes inherit
#          .local-stack/env (dummy credentials, region, AWS_ENDPOINT_URL_* of the local servers)
#          and whatever SES_LEDGER_* variables the caller exported, so they never reach for real
#          AWS. Starts the emulator, then one process per function from the binaries already
#          built in ${CARGO_TARGET_DIR:-target}/debug, and returns only when every function is
#          long-polling the emulator's /next, so the first invocation is answered at once.
#          Writes .local-stack/lambda-watch.{pid,log}, .local-stack/fn-NAME.{pid,log} and
#          .local-stack/lambda.env (LAMBDA_INVOKE_URL=http://127.0.0.1:PORT).
#          Invoke: POST $LAMBDA_INVOKE_URL/2015-03-31/functions/NAME/invocations.
#   stop   TERM to the functions and the emulator by PID, KILL after a bounded wait.
#
# Why not plain `cargo lambda watch`: it builds each function itself with `cargo run --bin NAME`.
# Cargo unifies features per build, so a single-binary build resolves different features from the
# suite's `cargo build --workspace` and recompiles the whole dependency tree: more than 6 minutes
# on 2 cores on a fresh machine, while the tests wait. Here nothing is compiled after the build.
#
# Knobs: LAMBDA_WATCH_FUNCTIONS (default "ingest alarm count"); LAMBDA_WATCH_INSTANCES (processes
# per function, default 1: Lambda's concurrent execution environments, each taking one
# invocation at a time; the emulator gets the same --concurrency); LAMBDA_WATCH_BIN_DIR (default
# ${CARGO_TARGET_DIR:-<repo>/target}/debug); LAMBDA_WATCH_START_TIMEOUT (s, default 60);
# LAMBDA_WATCH_STOP_TIMEOUT (s, default 10). Do not pass --timeout to the emulator: cargo-lambda
# 1.9.2 also cuts the function's idle long-poll with it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# SES_LEDGER_STACK_STATE: the same state folder as scripts/local-stack.sh (a second stack beside
# a test run).
STATE="${SES_LEDGER_STACK_STATE:-${ROOT}/.local-stack}"
STACK_ENV="${STATE}/env"
PID_FILE="${STATE}/lambda-watch.pid"
LOG_FILE="${STATE}/lambda-watch.log"
PORT_FILE="${STATE}/lambda-watch.port"
LAMBDA_ENV="${STATE}/lambda.env"
HOST="127.0.0.1"
FUNCTIONS="${LAMBDA_WATCH_FUNCTIONS:-ingest alarm count}"
BIN_DIR="${LAMBDA_WATCH_BIN_DIR:-${CARGO_TARGET_DIR:-${ROOT}/target}/debug}"
START_TIMEOUT="${LAMBDA_WATCH_START_TIMEOUT:-60}"
STOP_TIMEOUT="${LAMBDA_WATCH_STOP_TIMEOUT:-10}"
INSTANCES="${LAMBDA_WATCH_INSTANCES:-1}"
EMULATOR_MARKER="lambda watch"

log() { printf 'lambda-watch: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The PID in $1 if that process is alive and its command line contains $2 (so a recycled PID is
# never signalled).
live_pid() {
    local file="$1" marker="$2" pid
    [[ -f "${file}" ]] || return 1
    pid="$(cat "${file}")"
    [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
    kill -0 "${pid}" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -qF -- "${marker}" || return 1
    printf '%s' "${pid}"
}

free_port() {
    python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "${HOST}"
}

# Waits until PID $1 holds an established TCP connection to HOST:$2 (mode "connected": a function
# long-polling /next), or until HOST:$2 accepts connections (mode "listening": the emulator).
# Exit 0 ready, 1 timed out, 2 the process died.
wait_ready() {
    python3 - "$1" "$2" "$3" "${HOST}" "${START_TIMEOUT}" <<'PY'
import os, socket, sys, time
pid, port, mode, host, timeout = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])

def alive():
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

def polling():
    # Sockets of the process, matched against the kernel's TCP table: state 01 = ESTABLISHED.
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        with open(f"/proc/{pid}/net/tcp") as f:
            rows = f.read().splitlines()[1:]
    except OSError:
        return False
    for row in rows:
        cols = row.split()
        if cols[3] == "01" and int(cols[2].split(":")[1], 16) == port and cols[9] in inodes:
            return True
    return False

deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    if not alive():
        sys.exit(2)
    if mode == "connected" and polling():
        sys.exit(0)
    if mode == "listening":
        try:
            socket.create_connection((host, port), timeout=1).close()
            sys.exit(0)
        except OSError:
            pass
    time.sleep(0.05)
sys.exit(1)
PY
}

fail_start() {
    log "$1"
    tail -n 30 "$2" >&2 || true
    cmd_stop
    exit 1
}

cmd_start() {
    local pid port rc t0 name bin
    if pid="$(live_pid "${PID_FILE}" "${EMULATOR_MARKER}")"; then
        log "already running (pid ${pid}, $(cat "${LAMBDA_ENV}" 2>/dev/null | tr '\n' ' '))"
        return 0
    fi
    [[ -f "${STACK_ENV}" ]] || die "${STACK_ENV} missing: run scripts/local-stack.sh install && scripts/local-stack.sh start first"
    for name in ${FUNCTIONS}; do
        [[ -x "${BIN_DIR}/${name}" ]] || die "no binary ${BIN_DIR}/${name}: run 'cargo build --workspace' first (this script compiles nothing)"
    done
    # shellcheck disable=SC1090 # written by scripts/local-stack.sh
    source "${STACK_ENV}"
    command -v cargo-lambda >/dev/null 2>&1 || die "cargo-lambda not on PATH: run scripts/local-stack.sh install"
    rm -f "${PID_FILE}" "${PORT_FILE}" "${LAMBDA_ENV}" "${STATE}"/fn-*.pid

    port="$(free_port)"
    t0="$(date +%s%N)"
    export CARGO_TERM_COLOR=never NO_COLOR=1
    (
        cd "${ROOT}"
        exec setsid cargo lambda watch --only-lambda-apis --invoke-address "${HOST}" \
            --invoke-port "${port}" --concurrency "${INSTANCES}" </dev/null >"${LOG_FILE}" 2>&1
    ) &
    pid=$!
    printf '%s\n' "${pid}" >"${PID_FILE}"
    printf '%s\n' "${port}" >"${PORT_FILE}"
    rc=0
    wait_ready "${pid}" "${port}" listening || rc=$?
    [[ "${rc}" -eq 0 ]] || fail_start "the emulator did not listen on ${HOST}:${port} (code ${rc})" "${LOG_FILE}"

    # INSTANCES processes per function; the emulator routes /.rt/NAME/... to function NAME.
    local k
    for name in ${FUNCTIONS}; do
        bin="${BIN_DIR}/${name}"
        for k in $(seq "${INSTANCES}"); do
            (
                export AWS_LAMBDA_RUNTIME_API="http://${HOST}:${port}/.rt/${name}"
                export AWS_LAMBDA_FUNCTION_NAME="${name}" AWS_LAMBDA_FUNCTION_VERSION=1
                export AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256
                export AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/${name}" AWS_LAMBDA_LOG_STREAM_NAME="local-${k}"
                exec setsid "${bin}" </dev/null >"${STATE}/fn-${name}.${k}.log" 2>&1
            ) &
            printf '%s\n' "$!" >"${STATE}/fn-${name}.${k}.pid"
        done
    done
    for name in ${FUNCTIONS}; do
        for k in $(seq "${INSTANCES}"); do
            rc=0
            wait_ready "$(cat "${STATE}/fn-${name}.${k}.pid")" "${port}" connected || rc=$?
            [[ "${rc}" -eq 0 ]] || fail_start "function ${name} (instance ${k}) is not polling the emulator (code ${rc}: 1 timed out, 2 exited)" "${STATE}/fn-${name}.${k}.log"
        done
    done
    {
        printf '# Written by scripts/lambda-watch.sh start: source it.\n'
        printf 'export LAMBDA_INVOKE_URL=%q\n' "http://${HOST}:${port}"
    } >"${LAMBDA_ENV}"
    log "ready on http://${HOST}:${port} (emulator pid ${pid}; functions: ${FUNCTIONS}, ${INSTANCES} each) after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}

# TERM, then KILL after STOP_TIMEOUT, to the PID recorded in $1 when its command line has $2.
stop_one() {
    local pid deadline
    pid="$(live_pid "$1" "$2")" || { rm -f "$1"; return 0; }
    kill -TERM "${pid}" 2>/dev/null || true
    deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "${pid}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    if kill -0 "${pid}" 2>/dev/null; then
        log "pid ${pid} still alive after ${STOP_TIMEOUT} s; sending KILL"
        kill -KILL "${pid}" 2>/dev/null || true
    fi
    rm -f "$1"
}

cmd_stop() {
    local file name
    for file in "${STATE}"/fn-*.pid; do
        [[ -f "${file}" ]] || continue
        name="$(basename "${file}" .pid)"
        name="${name#fn-}"
        stop_one "${file}" "${BIN_DIR}/${name%.*}"
    done
    stop_one "${PID_FILE}" "${EMULATOR_MARKER}"
    rm -f "${PORT_FILE}" "${LAMBDA_ENV}"
}

cmd_status() {
    local pid
    if pid="$(live_pid "${PID_FILE}" "${EMULATOR_MARKER}")"; then
        printf 'lambda-watch running  pid %s  http://%s:%s\n' "${pid}" "${HOST}" "$(cat "${PORT_FILE}" 2>/dev/null || printf '?')"
        return 0
    fi
    printf 'lambda-watch stopped\n'
    return 3
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
