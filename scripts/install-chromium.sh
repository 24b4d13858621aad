#!/usr/bin/env bash
# Debian's headless Chromium, for the test that renders the evidence folder's report.html offline
# and screenshots it (cli/tests/report_html_browser.rs). A no-op when /usr/bin/chromium is there.
#
#   scripts/install-chromium.sh          installs chromium and a font for its text (needs root)
#   scripts/install-chromium.sh path     prints the path the tests use
#
# The tests find the browser through SES_LEDGER_CHROMIUM (default /usr/bin/chromium).
set -euo pipefail

CHROMIUM="${SES_LEDGER_CHROMIUM:-/usr/bin/chromium}"
log() { printf 'install-chromium: %s\n' "$*" >&2; }

if [[ "${1:-}" == path ]]; then
    echo "${CHROMIUM}"
    exit 0
fi
if [[ -x "${CHROMIUM}" ]]; then
    log "$("${CHROMIUM}" --version 2>/dev/null || echo "${CHROMIUM}") is installed"
    exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
    log "error: ${CHROMIUM} is missing and installing Debian's chromium needs root: run 'apt-get install chromium fonts-dejavu-core' as root, or point SES_LEDGER_CHROMIUM at a Chromium"
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
log "apt-get update"
apt-get update -qq >&2
log "apt-get install chromium fonts-dejavu-core"
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
log "$("${CHROMIUM}" --version)"
