#!/usr/bin/env bash
# Builds host_bench (Release, in build-bench/ unless BUILD_DIR says otherwise), runs it with three
# repetitions and prints the medians as a Markdown table for README's Performance section.
#
#   bench/run_host_bench.sh [host_bench flags, e.g. --benchmark_filter=OnRequest]
#
# BUILD_DIR: the build directory. A new one is configured as Release; an existing one keeps its
# own settings (so pointing it at the shared RelWithDebInfo build/ does not reconfigure it).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}

if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWASMGATE_BUILD_TESTS=OFF >/dev/null
fi
ninja -C "$build" host_bench
# The SDK example plugin, for the sdk_add_header benchmarks (they skip themselves without it).
if ninja -C "$build" -t targets all | grep -q '^plugins/add_header.wasm:'; then
  ninja -C "$build" plugins/add_header.wasm || echo "warning: plugins/add_header.wasm failed to build" >&2
fi

json=$build/bench/host_bench.json
"$build/bench/host_bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_out="$json" --benchmark_out_format=json "$@"

build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt")
python3 - "$json" "$build_type" <<'EOF'
import json, sys

report = json.load(open(sys.argv[1]))
ctx = report["context"]
to_ns = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

print()
print(f"host_bench, {sys.argv[2]} build, {ctx['num_cpus']} CPUs at {ctx['mhz_per_cpu']} MHz, "
      f"load average {', '.join(f'{x:.2f}' for x in ctx.get('load_avg', []))}; "
      "median of 3 repetitions")
print()
print("| benchmark | median wall | median CPU | counters |")
print("| --- | ---: | ---: | --- |")
for b in report["benchmarks"]:
    if b.get("error_occurred"):
        if b.get("repetition_index", 0) == 0:
            print(f"| {b['run_name']} | skipped | | {b.get('error_message', '')} |")
        continue
    if b.get("aggregate_name") != "median":
        continue
    counters = [f"{k} {b[k]:,.1f}" for k in ("rss_kb_per_instance", "teardown_us") if k in b]
    # The memory benchmarks time a whole batch of VMs; their result is the counter.
    unit = to_ns[b["time_unit"]]
    wall, cpu = (f"{b[k] * unit:,.0f} ns" for k in ("real_time", "cpu_time"))
    if "rss_kb_per_instance" in b:
        wall = cpu = "-"
    print(f"| {b['run_name']} | {wall} | {cpu} | {'; '.join(counters)} |")
EOF
