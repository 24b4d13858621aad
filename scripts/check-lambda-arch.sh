#!/usr/bin/env bash
# Checks that Lambda bootstraps are Linux ELF executables built for ARCH, the stack's
# Architecture parameter. Lambda runs only code built for the function's instruction set (AWS:
# "Your Lambda function code must be compatible with the instruction set architecture of the
# function"); a bootstrap of the other machine deploys green and then fails every invocation.
#
# Usage: scripts/check-lambda-arch.sh arm64|x86_64 BOOTSTRAP...
#        exit 0 when every file is an ELF executable of that machine, 1 otherwise (each problem
#        named, with the command that builds the right one).
set -euo pipefail

arch="${1:-}"
shift || true
case "${arch}" in
    arm64) want=183 name="aarch64 (arm64)" build="cargo lambda build --release --arm64" ;;
    x86_64) want=62 name="x86-64" build="cargo lambda build --release --x86-64" ;;
    *) echo "usage: $0 arm64|x86_64 BOOTSTRAP..." >&2; exit 2 ;;
esac
[[ $# -gt 0 ]] || { echo "usage: $0 arm64|x86_64 BOOTSTRAP..." >&2; exit 2; }

machine_name() {
    case "$1" in
        62) echo "x86-64" ;;
        183) echo "aarch64 (arm64)" ;;
        *) echo "machine $1" ;;
    esac
}

bad=0
for file in "$@"; do
    if [[ ! -f "${file}" ]]; then
        echo "check-lambda-arch: ${file}: missing" >&2
        bad=1
        continue
    fi
    magic="$(od -An -t x1 -N 4 "${file}" | tr -d ' \n')"
    if [[ "${magic}" != "7f454c46" ]]; then
        echo "check-lambda-arch: ${file}: not an ELF executable" >&2
        bad=1
        continue
    fi
    # e_machine: two bytes at offset 18, little-endian (every Lambda target is little-endian).
    machine="$(od -An -t u2 -j 18 -N 2 "${file}" | tr -d ' \n')"
    if [[ "${machine}" != "${want}" ]]; then
        echo "check-lambda-arch: ${file}: built for $(machine_name "${machine}"), but the stack's Architecture is ${arch} (${name})" >&2
        bad=1
    fi
done
if [[ "${bad}" -ne 0 ]]; then
    echo "check-lambda-arch: build the functions for ${arch} with: ${build}" >&2
    echo "check-lambda-arch: (or deploy the other architecture: Architecture=x86_64 or arm64, to match the binaries)" >&2
    exit 1
fi
