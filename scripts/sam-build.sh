#!/usr/bin/env bash
# `sam build` of template.yaml on this machine, non-interactively: the three functions (ingest,
# alarm, count) through cargo-lambda (BuildMethod rust-cargolambda), for x86_64 unless
# SAM_BUILD_ARCHITECTURE=arm64 (the template's default, which needs the aarch64 Rust target;
# this machine cannot install it). Then checks that each bootstrap is an ELF executable of that
# architecture. Not part of the test suite: it is a full release build (cargo-lambda adds
# panic=abort and a target CPU), about 12 minutes on 2 cores. Then: sam deploy
# --parameter-overrides Architecture=x86_64 (see README).
#
# Usage: scripts/sam-build.sh     (writes .aws-sam/build; prints the size of each bootstrap)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
ARCH="${SAM_BUILD_ARCHITECTURE:-x86_64}"

scripts/local-stack.sh install >&2
export PATH="${ROOT}/.cache/venv/bin:${PATH}"   # cargo-lambda (and the zig it brings)
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

start=${SECONDS}
# Standard input closed: anything that would wait for an answer fails here instead.
.cache/venv-sam/bin/sam build --template-file template.yaml --build-dir .aws-sam/build \
    --parameter-overrides "Architecture=${ARCH}" </dev/null
bootstraps=()
for fn in IngestFunction AlarmFunction CountFunction; do
    bootstrap=".aws-sam/build/${fn}/bootstrap"
    [[ -x "${bootstrap}" ]] || { echo "sam-build: ${bootstrap} missing" >&2; exit 1; }
    printf 'sam-build: %s %s bytes\n' "${bootstrap}" "$(stat -c %s "${bootstrap}")"
    bootstraps+=("${bootstrap}")
done
scripts/check-lambda-arch.sh "${ARCH}" "${bootstraps[@]}"
printf 'sam-build: %s built in %s s\n' "${ARCH}" "$((SECONDS - start))"
