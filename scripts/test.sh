#!/usr/bin/env bash
# The whole suite, as `make test` runs it (after building build/, build-asan/, build-tsan/):
#   1. every test (unit + integration) against the Release build;
#   2. unit + integration under ASan+UBSan;
#   3. unit tests and the threaded daemon end to end (a subset) under TSan;
#   4. every libFuzzer target for a short, bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
fail=0

step() { printf '\n=== %s ===\n' "$*"; }

step "Release: unit + integration"
(cd build && ctest --output-on-failure -j"$JOBS" --timeout 600) || fail=1

step "ASan+UBSan: unit + integration"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
export TG_SANITIZER=asan
(cd build-asan && ctest --output-on-failure -j"$JOBS" --timeout 900) || fail=1
unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

step "TSan: unit tests, and the daemon's threads end to end"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp"
export TG_SANITIZER=tsan
# every integration test fails on a sanitizer report in the daemon's stderr
(cd build-tsan && ctest --output-on-failure -j"$JOBS" --timeout 900 -R \
  "unit\.|integration\.test_(e2e_slice|multinode|feeds|conformance|recovery|persistence_redis|reload|webhook|rfc6455)$") || fail=1
unset TSAN_OPTIONS TG_SANITIZER

step "Fuzz: every target, ${FUZZ_SECONDS:-10} s each"
scripts/fuzz.sh || fail=1

if [ $fail -ne 0 ]; then
  printf '\nmake test: FAILED\n'
  exit 1
fi
printf '\nmake test: all passed\n'
