#!/usr/bin/env bash
# Installs every build and test dependency of wasmgate on Debian 12 (needs root or sudo).
# Idempotent: a second run only checks what is already there.
set -euo pipefail
root_dir=$(cd "$(dirname "$0")/.." && pwd)
deps_dir="$root_dir/.deps"
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"

packages=(
  build-essential cmake ninja-build ccache pkg-config git curl ca-certificates
  clang-14 lld-14 wasi-libc libc++-14-dev-wasm32 libc++abi-14-dev-wasm32 libclang-rt-14-dev-wasm32
  libclang-rt-14-dev wabt binaryen
  libevent-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libssl-dev libnghttp2-dev libc-ares-dev
  libuv1 libicu72 libbrotli1 libc-ares2 libssl3 zlib1g
  libgtest-dev libgmock-dev libbenchmark-dev
  wrk nginx-light libnginx-mod-stream python3 python3-grpcio
  zlib1g-dev docker-registry  # src/fetch: gzip image layers; tests/integration_fetch: the oci:// registry
)
# Node.js and npm build the AssemblyScript test plugins; a machine with Node.js from elsewhere keeps it.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# V8 10.2 comes from Debian's libnode108/libnode-dev. Where an installed Node.js package conflicts
# with them, unpack the two .deb files into .deps/libnode instead and link there with an rpath.
if [ -f /usr/lib/x86_64-linux-gnu/libnode.so.108 ] && [ -f /usr/include/node/v8-version.h ] &&
   grep -q 'V8_MAJOR_VERSION 10' /usr/include/node/v8-version.h; then
  echo "setup: using system libnode108"
elif [ -f "$deps_dir/libnode/usr/include/node/v8.h" ] && [ -f "$deps_dir/libnode/usr/lib/x86_64-linux-gnu/libnode.so.108" ]; then
  echo "setup: using $deps_dir/libnode"
else
  echo "setup: unpacking libnode108 and libnode-dev into $deps_dir/libnode"
  mkdir -p "$deps_dir/debs" "$deps_dir/libnode"
  (cd "$deps_dir/debs" && $sudo_cmd apt-get download -qq libnode108 libnode-dev)
  for deb in "$deps_dir"/debs/libnode*.deb; do dpkg-deb -x "$deb" "$deps_dir/libnode"; done
  (cd "$deps_dir/libnode/usr/lib/x86_64-linux-gnu" && [ -e libnode.so ] || ln -sf libnode.so.108 libnode.so)
fi

# Third-party plugin SDKs used by the compatibility tests (versions pinned in the lockfile).
if [ -f "$root_dir/tests/compat/assemblyscript/package-lock.json" ]; then
  (cd "$root_dir/tests/compat/assemblyscript" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "setup: done"
