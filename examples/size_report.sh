#!/bin/sh
# Prints the size of every built plugin, and whether add_header meets its 64 KiB goal.
# Usage: examples/size_report.sh [BUILD_DIR]   (default: build)
set -eu
build_dir=${1:-build}
dir="$build_dir/plugins"
if ! ls "$dir"/*.wasm >/dev/null 2>&1; then
  echo "no plugins in $dir; build first: ninja -C $build_dir example_plugins" >&2
  exit 1
fi
status=0
for f in "$dir"/*.wasm; do
  size=$(wc -c <"$f")
  printf '%-24s %8d bytes\n' "$(basename "$f")" "$size"
  if [ "$(basename "$f")" = add_header.wasm ] && [ "$size" -ge 65536 ]; then
    echo "add_header.wasm is over its 64 KiB goal" >&2
    status=1
  fi
done
exit $status
