#!/usr/bin/env bash
# Build the libFuzzer targets (clang, ASan+UBSan) and run each for a bounded time
# over its seed corpus (tests/fuzz/corpus/<name>/). New crashes fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${FUZZ_SECONDS:-10}
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DTG_FUZZ=ON \
      -DTG_ASAN=ON -DTG_WERROR=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
fail=0
for src in tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  corpus=tests/fuzz/corpus/${name#fuzz_}
  work=$(mktemp -d)
  [ -d "$corpus" ] && cp -r "$corpus/." "$work/" 2>/dev/null || true
  printf '%-20s ' "$name"
  if ASAN_OPTIONS=detect_leaks=1 ./build-fuzz/"$name" -max_total_time="$SECS" -rss_limit_mb=2048 \
       -max_len=65536 -print_final_stats=1 -artifact_prefix=build-fuzz/"$name"- "$work" >build-fuzz/"$name".log 2>&1; then
    echo "ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' build-fuzz/"$name".log | awk '{print $2}') runs)"
  else
    echo "FAILED (see build-fuzz/$name.log)"
    tail -30 build-fuzz/"$name".log
    fail=1
  fi
  rm -rf "$work"
done
exit $fail
