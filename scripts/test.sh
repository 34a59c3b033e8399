#!/usr/bin/env bash
# Sets up dependencies, builds wasmgate twice (release, and ASan + UBSan) and runs every test in
# both, then runs each libFuzzer target for a bounded time. Exits non-zero on any failure.
#   FUZZ_SECONDS=N   seconds per fuzzer (default 20; 0 replays the corpus only)
set -euo pipefail
root_dir=$(cd "$(dirname "$0")/.." && pwd)
cd "$root_dir"
bash scripts/setup.sh
jobs=$(nproc)

echo "== release build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 300

echo "== ASan + UBSan build"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DWASMGATE_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"
# V8 keeps process-lifetime allocations that LeakSanitizer would report; ASan proper stays on.
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 600

echo "== fuzzing"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
