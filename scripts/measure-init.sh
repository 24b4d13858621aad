#!/usr/bin/env bash
# Start-up of the release function binaries, measured as Lambda sees it: from process start to
# the first `GET /2018-06-01/runtime/invocation/next` on a loopback Runtime API stub, against a
# hello-world `lambda_runtime` binary of the same profile (functions/ingest/examples/
# hello_runtime.rs). Runs the binaries interleaved, ROUNDS times each, and prints the Markdown
# table docs/benchmarks.md quotes: median and 90th percentile, the ratio of medians, and each
# bootstrap's size zipped (what Lambda stores and loads).
#
#   scripts/measure-init.sh [ROUNDS=30]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
TARGET_DIR="${CARGO_TARGET_DIR:-${ROOT}/target}"
ROUNDS="${1:-30}"

cargo build --release --locked -p ses-ledger-ingest -p ses-ledger-alarm -p ses-ledger-count >&2
cargo build --release --locked -p ses-ledger-ingest --example hello_runtime >&2

python3 - "${TARGET_DIR}/release" "${ROUNDS}" <<'PY'
import http.server, io, os, socket, statistics, subprocess, sys, threading, time, zipfile

release, rounds = sys.argv[1], int(sys.argv[2])
# name: (binary, extra environment). The `system` rows are the SDK's default trust store (the
# operating system's bundle), which the functions used before SES_LEDGER_TLS_ROOTS existed.
binaries = {
    "hello world (baseline)": (f"{release}/examples/hello_runtime", {}),
    "ingest": (f"{release}/ingest", {}),
    "alarm": (f"{release}/alarm", {}),
    "count": (f"{release}/count", {}),
    "ingest, SES_LEDGER_TLS_ROOTS=system": (f"{release}/ingest", {"SES_LEDGER_TLS_ROOTS": "system"}),
    "alarm, SES_LEDGER_TLS_ROOTS=system": (f"{release}/alarm", {"SES_LEDGER_TLS_ROOTS": "system"}),
}
first_next = {}
lock = threading.Lock()

class Stub(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            with lock:
                first_next.setdefault("t", time.perf_counter())
        # Never answer: the measurement ends at the first poll.
        time.sleep(30)
    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]
env = dict(os.environ)
env.pop("SES_LEDGER_TLS_ROOTS", None)
env.update({
    "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
    "AWS_LAMBDA_FUNCTION_NAME": "measure", "AWS_LAMBDA_FUNCTION_VERSION": "1",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
    # Nothing is contacted at start-up; should anything try, it reaches nobody.
    "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
    "SES_LEDGER_TABLE": "t", "SES_LEDGER_EVENT_LOG_GROUP": "/g",
    "SES_LEDGER_ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t",
})
times = {name: [] for name in binaries}
for _ in range(rounds):
    for name, (path, extra) in binaries.items():
        first_next.clear()
        start = time.perf_counter()
        p = subprocess.Popen([path], env={**env, **extra}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while "t" not in first_next:
            if p.poll() is not None:
                sys.exit(f"{name} exited with {p.returncode} before polling")
            if time.perf_counter() - start > 10:
                sys.exit(f"{name} did not poll within 10 s")
            time.sleep(0.0002)
        times[name].append((first_next["t"] - start) * 1000)
        p.kill()
        p.wait()

def zipped(path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(path, "bootstrap")
    return buf.tell()

base = statistics.median(times["hello world (baseline)"])
print(f"{rounds} interleaved starts each, process start to first /next:\n")
print("| binary | median | p90 | ratio to hello world | bootstrap zipped |")
print("|---|---|---|---|---|")
for name, (path, _) in binaries.items():
    t = sorted(times[name])
    med, p90 = statistics.median(t), t[int(len(t) * 0.9) - 1]
    print(f"| {name} | {med:.1f} ms | {p90:.1f} ms | {med / base:.2f}x | {zipped(path) / 1e6:.2f} MB |")
PY
