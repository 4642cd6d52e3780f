#!/usr/bin/env bash
# README's test command: installs what is missing, lints, builds with AddressSanitizer +
# UndefinedBehaviorSanitizer and runs every test under them. A memory error, leak or undefined
# behaviour fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { echo "==> [$(( $(date +%s) - start ))s] $*"; }

step "dependencies"
scripts/install-deps.sh --test
(cd tests/e2e && [[ -d node_modules/@grpc/grpc-js ]] || npm ci --silent --no-audit --no-fund)

step "lint"
scripts/lint.sh

step "configure + build (asan preset)"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "${OUTREACH_JOBS:-$(nproc)}"

step "clang-tidy on the changed files"
BUILD_DIR=build/asan scripts/tidy.sh

step "test"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --preset asan -j "${OUTREACH_TEST_JOBS:-2}" "$@"
# For .ci/run's closing line: how many tests ran (all passed, or set -e stopped us above).
ctest --preset asan -N "$@" | sed -n 's/^Total Tests: //p' >build/asan/tests-run.count
step "done"
