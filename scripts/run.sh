#!/usr/bin/env bash
# Sets up dependencies, builds wasmgate, and serves the built-in example: the add_header plugin in
# front of a direct response on http://127.0.0.1:8080 (admin on http://127.0.0.1:9901).
# Extra arguments go to `wasmgate serve` (for example: -c examples/bootstrap.yaml).
set -euo pipefail
root_dir=$(cd "$(dirname "$0")/.." && pwd)
cd "$root_dir"
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DWASMGATE_BUILD_TESTS=OFF -DWASMGATE_BUILD_BENCH=OFF >/dev/null
cmake --build build -j "$(nproc)" --target wasmgate example_plugins
echo "wasmgate: try  curl -i http://127.0.0.1:8080/  (Ctrl-C stops it)"
exec build/src/cli/wasmgate serve "$@"
