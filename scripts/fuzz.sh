#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (a CMake project of its own) in build-fuzz with
# clang-14, ASan and UBSan, then runs each for a bounded time with its checked-in seed corpus and
# dictionary. Fails if any fuzzer finds a crash, a leak, undefined behaviour or a timeout.
#
#   scripts/fuzz.sh [seconds]   seconds per fuzzer, default 30; 0 only replays the corpus
#
# New inputs go to build-fuzz/corpus/<fuzzer>/ (the checked-in corpus is only read) and crash
# reproducers to build-fuzz/artifacts/<fuzzer>/; rerun one with build-fuzz/<fuzzer> <file>.
set -euo pipefail
root_dir=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-30}
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 [seconds per fuzzer]" >&2
  exit 2
fi
build_dir="$root_dir/build-fuzz"

if ! command -v clang++-14 >/dev/null 2>&1 ||
   ! compgen -G "/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null; then
  bash "$root_dir/scripts/setup.sh"
fi

CC=clang-14 CXX=clang++-14 cmake -S "$root_dir/tests/fuzz" -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWASMGATE_FUZZ=ON >/dev/null
cmake --build "$build_dir" -j "$(nproc)"

if [ "$seconds" -eq 0 ]; then
  duration=(-runs=0)
else
  duration=(-max_total_time="$seconds")
fi

failed=()
while read -r name corpus dict; do
  work="$build_dir/corpus/$name"
  artifacts="$build_dir/artifacts/$name/"
  log="$build_dir/$name.log"
  mkdir -p "$work" "$artifacts"
  echo "== $name (${seconds}s)"
  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     "$build_dir/$name" "${duration[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -dict="$dict" -artifact_prefix="$artifacts" "$work" "$corpus" >"$log" 2>&1; then
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' "$log" || true
  else
    echo "fuzz: $name failed; log $log, reproducers in $artifacts" >&2
    tail -n 40 "$log" >&2
    failed+=("$name")
  fi
done <"$build_dir/fuzzers.txt"

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all fuzzers ran clean"
