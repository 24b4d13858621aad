#!/usr/bin/env bash
# Plants one known bug at a time in a scratch worktree of HEAD, runs the whole suite there
# (scripts/test.sh) and lists the tests that fail. A bug that no test catches is a hole in the
# suite. Results are recorded in docs/testing.md.
#
#   scripts/plant-bugs.sh [BUG...]      BUG: drop-recipient swap-defaults break-query-field
#                                            fbl-numerator-all-providers recount-on-resume
#                                            privacy-fails-open
#
# Reuses this checkout's .cache/ (tools) and a separate target folder, so each bug costs a
# rebuild of the workspace's own crates and one suite run (about 6 minutes on 2 cores).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUGS=("$@")
[[ ${#BUGS[@]} -gt 0 ]] || BUGS=(drop-recipient swap-defaults break-query-field fbl-numerator-all-providers recount-on-resume privacy-fails-open)

# Each bug: file, text to replace, replacement. The replacement must change exactly one place.
plant() {
    local bug="$1" file from to
    case "${bug}" in
        drop-recipient)
            # Only the first recipient of a multi-recipient event is kept.
            file=shared/core/src/input/normalise.rs
            from='for (original, detail) in recipients {'
            to='for (original, detail) in recipients.into_iter().take(1) {'
            ;;
        swap-defaults)
            # The soft-bounce rule's two defaults swapped: 7 bounces within 3 days.
            file=shared/core/src/config.rs
            from=$'soft_bounce_limit: 3,\n            soft_bounce_window_days: 7,'
            to=$'soft_bounce_limit: 7,\n            soft_bounce_window_days: 3,'
            ;;
        break-query-field)
            # One saved Logs Insights query names a field the log lines do not carry.
            file=template.yaml
            from='as hard_bounces by recipient_domain'
            to='as hard_bounces by recipient_domian'
            ;;
        fbl-numerator-all-providers)
            # The feedback-loop rate's numerator counts complaints from every provider again.
            file=shared/core/src/ledger/rates.rs
            from='numerator: totals.get(Metric::FeedbackLoopComplaints),'
            to='numerator: totals.get(Metric::ComplaintsNotSuppressed),'
            ;;
        recount-on-resume)
            # A retry that finds a counter's mark inside its batch adds the marked record again.
            file=shared/core/src/ledger/tally.rs
            from='.filter(|c| c.sequence > *mark)'
            to='.filter(|c| c.sequence >= *mark)'
            ;;
        privacy-fails-open)
            # A record that cannot be read back redacted is kept as it was, addresses and all.
            file=shared/core/src/privacy.rs
            from='serde_json::from_value(json).map_err(|e| fail("the redacted record read back", e))?;'
            to='match serde_json::from_value(json) { Ok(v) => v, Err(_) => return serde_json::to_value(value).and_then(serde_json::from_value).map_err(|e| fail("the record as JSON", e)) };'
            ;;
        *)
            echo "unknown bug ${bug}" >&2
            return 2
            ;;
    esac
    FROM="${from}" TO="${to}" python3 - "${file}" <<'EOF'
import os, sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
old, new = os.environ["FROM"], os.environ["TO"]
if text.count(old) != 1:
    sys.exit(f"{path}: expected exactly one {old!r}, found {text.count(old)}")
open(path, "w", encoding="utf-8").write(text.replace(old, new))
EOF
    # Formatted as a developer would commit it, so the suite's format check is not what catches it.
    if [[ "${file}" == *.rs ]]; then
        rustfmt --edition 2021 "${file}"
    fi
}

for bug in "${BUGS[@]}"; do
    scratch="$(mktemp -d)"
    tree="${scratch}/ses-ledger"
    git -C "${ROOT}" worktree add --detach --quiet "${tree}" HEAD
    ln -s "${ROOT}/.cache" "${tree}/.cache"
    (cd "${tree}" && plant "${bug}")
    log="${scratch}/test.log"
    started=${SECONDS}
    if (cd "${tree}" && CARGO_TARGET_DIR="${ROOT}/target/planted" bash scripts/test.sh >"${log}" 2>&1); then
        verdict="NOT CAUGHT: the suite passed"
    else
        verdict="caught"
    fi
    echo "== ${bug}: ${verdict} ($((SECONDS - started)) s, log ${log})"
    # `Running tests/x.rs (...)` names the binary; `test name ... FAILED` the test.
    awk '/^ +Running /{sub(/^ +Running /, ""); sub(/ \(.*$/, ""); bin=$0} / \.\.\. FAILED$/{print "   " bin ": " $2}' "${log}"
    grep -E '^error(\[|:)' "${log}" | head -5 | sed 's/^/   /' || true
    git -C "${ROOT}" worktree remove --force "${tree}"
done
