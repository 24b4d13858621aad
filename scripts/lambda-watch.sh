#!/usr/bin/env bash
# Runs `cargo lambda watch` (the Lambda invoke API emulator of cargo-lambda) for this workspace in
# the background, bound to 127.0.0.1 on a free port.
#
# Usage: scripts/lambda-watch.sh start [-- EXTRA cargo-lambda-watch ARGS] | stop | status
#
#   start  needs scripts/local-stack.sh install + start first: the function processes inherit
#          .local-stack/env (dummy credentials, region, AWS_ENDPOINT_URL_* of the local servers),
#          so they never reach for real AWS. Writes .local-stack/lambda-watch.{pid,log} and
#          .local-stack/lambda.env (LAMBDA_INVOKE_URL=http://127.0.0.1:PORT).
#          Invoke: POST $LAMBDA_INVOKE_URL/2015-03-31/functions/<bin name>/invocations
#          (bins of this workspace: ingest, alarm). Functions start at their first invocation,
#          through `cargo run --bin NAME` (a fresh debug build in target/ is reused).
#   stop   TERM to its process group and to every descendant (function instances run in their
#          own sessions), KILL after a bounded wait.
#
# Knobs: LAMBDA_WATCH_RELOAD=1 rebuilds/restarts functions on source changes (default: off, so
# edits made while tests run do not restart functions); LAMBDA_WATCH_MANIFEST_PATH (default: the
# workspace Cargo.toml); LAMBDA_WATCH_START_TIMEOUT (s, default 60); LAMBDA_WATCH_STOP_TIMEOUT
# (s, default 10). Do not pass --timeout: cargo-lambda 1.9.2 also cuts the function's idle
# long-poll with it, the function panics and is not respawned (see scripts/CARGO_LAMBDA_NOTES.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${ROOT}/.local-stack"
STACK_ENV="${STATE}/env"
PID_FILE="${STATE}/lambda-watch.pid"
LOG_FILE="${STATE}/lambda-watch.log"
PORT_FILE="${STATE}/lambda-watch.port"
LAMBDA_ENV="${STATE}/lambda.env"
HOST="127.0.0.1"
MANIFEST="${LAMBDA_WATCH_MANIFEST_PATH:-${ROOT}/Cargo.toml}"
START_TIMEOUT="${LAMBDA_WATCH_START_TIMEOUT:-60}"
STOP_TIMEOUT="${LAMBDA_WATCH_STOP_TIMEOUT:-10}"
MARKER="lambda watch"

log() { printf 'lambda-watch: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

live_pid() {
    local pid
    [[ -f "${PID_FILE}" ]] || return 1
    pid="$(cat "${PID_FILE}")"
    [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
    kill -0 "${pid}" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -qF -- "${MARKER}" || return 1
    printf '%s' "${pid}"
}

# PIDs of every descendant of $1 (function instances live in sessions of their own, so the
# process group alone does not reach them).
descendants() {
    python3 - "$1" <<'PY'
import os, sys
root = int(sys.argv[1])
children = {}
for entry in os.listdir("/proc"):
    if not entry.isdigit():
        continue
    try:
        with open(f"/proc/{entry}/stat") as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        continue
    children.setdefault(ppid, []).append(int(entry))
out, todo = [], [root]
while todo:
    for child in children.get(todo.pop(), []):
        out.append(child)
        todo.append(child)
print(" ".join(map(str, out)))
PY
}

free_port() {
    python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "${HOST}"
}

# Waits until the emulator accepts TCP connections on its port. A plain TCP connect on purpose:
# an HTTP request to / would be routed to the "default function" (it invokes the function when
# the package has a single binary, and blocks with --only-lambda-apis).
wait_ready() {
    python3 - "$1" "$2" "${HOST}" "${START_TIMEOUT}" <<'PY'
import os, socket, sys, time
pid, port, host, timeout = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                sys.exit(2)
    except (ProcessLookupError, OSError):
        sys.exit(2)
    try:
        socket.create_connection((host, port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
}

cmd_start() {
    local pid port rc=0 t0
    if pid="$(live_pid)"; then
        log "already running (pid ${pid}, $(cat "${LAMBDA_ENV}" 2>/dev/null | tr '\n' ' '))"
        return 0
    fi
    [[ -f "${STACK_ENV}" ]] || die "${STACK_ENV} missing: run scripts/local-stack.sh install && scripts/local-stack.sh start first"
    [[ -f "${MANIFEST}" ]] || die "no manifest ${MANIFEST}"
    # shellcheck disable=SC1090 # written by scripts/local-stack.sh
    source "${STACK_ENV}"
    command -v cargo >/dev/null 2>&1 || die "cargo not on PATH"
    command -v cargo-lambda >/dev/null 2>&1 || die "cargo-lambda not on PATH: run scripts/local-stack.sh install"
    rm -f "${PID_FILE}" "${PORT_FILE}" "${LAMBDA_ENV}"

    local -a extra=()
    if [[ "${LAMBDA_WATCH_RELOAD:-0}" != 1 ]]; then
        extra+=(--ignore-changes)
    fi
    extra+=("$@")

    port="$(free_port)"
    t0="$(date +%s%N)"
    # Plain logs; nothing of cargo-lambda phones home (it has no telemetry or update check).
    export CARGO_TERM_COLOR=never NO_COLOR=1
    (
        cd "$(dirname "${MANIFEST}")"
        exec setsid cargo lambda watch --invoke-address "${HOST}" --invoke-port "${port}" \
            --manifest-path "${MANIFEST}" "${extra[@]}" </dev/null >"${LOG_FILE}" 2>&1
    ) &
    pid=$!
    printf '%s\n' "${pid}" >"${PID_FILE}"
    wait_ready "${pid}" "${port}" || rc=$?
    if [[ "${rc}" -ne 0 ]]; then
        if [[ "${rc}" -eq 1 ]]; then
            log "no answer on ${HOST}:${port} within ${START_TIMEOUT} s"
        else
            log "cargo lambda watch exited during start-up"
        fi
        tail -n 30 "${LOG_FILE}" >&2 || true
        cmd_stop
        exit 1
    fi
    printf '%s\n' "${port}" >"${PORT_FILE}"
    {
        printf '# Written by scripts/lambda-watch.sh start: source it.\n'
        printf 'export LAMBDA_INVOKE_URL=%q\n' "http://${HOST}:${port}"
    } >"${LAMBDA_ENV}"
    log "ready on http://${HOST}:${port} (pid ${pid}) after $(( ($(date +%s%N) - t0) / 1000000 )) ms; env: ${LAMBDA_ENV}"
}

cmd_stop() {
    local pid pids deadline p alive
    if pid="$(live_pid)"; then
        pids="${pid} $(descendants "${pid}")"
        kill -TERM -- "-${pid}" 2>/dev/null || true
        # shellcheck disable=SC2086 # word splitting of the PID list is intended
        kill -TERM ${pids} 2>/dev/null || true
        deadline=$((SECONDS + STOP_TIMEOUT))
        while ((SECONDS < deadline)); do
            alive=""
            for p in ${pids}; do
                if kill -0 "${p}" 2>/dev/null; then alive="${alive} ${p}"; fi
            done
            [[ -n "${alive}" ]] || break
            sleep 0.1
        done
        if [[ -n "${alive:-}" ]]; then
            log "still alive after ${STOP_TIMEOUT} s:${alive}; sending KILL"
            kill -KILL -- "-${pid}" 2>/dev/null || true
            # shellcheck disable=SC2086
            kill -KILL ${alive} 2>/dev/null || true
        fi
        log "stopped (pid ${pid})"
    fi
    rm -f "${PID_FILE}" "${PORT_FILE}" "${LAMBDA_ENV}"
}

cmd_status() {
    local pid
    if pid="$(live_pid)"; then
        printf 'lambda-watch running  pid %s  http://%s:%s\n' "${pid}" "${HOST}" "$(cat "${PORT_FILE}" 2>/dev/null || printf '?')"
        return 0
    fi
    printf 'lambda-watch stopped\n'
    return 3
}

case "${1:-}" in
    start)
        shift
        [[ "${1:-}" != "--" ]] || shift
        cmd_start "$@"
        ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
