#!/usr/bin/env bash
# gRPC callout benchmark: the latency a unary gRPC callout adds to a request. wrk sends requests
# through wasmgate to a direct_response route, once without plugins and once with the grpc_auth
# example, which asks wasmgate.authz.v1.Authorizer/Check on a local gRPC server (Python grpcio,
# tests/integration_grpc/grpc_server.py) before letting each request through. Both proxies run
# side by side and are measured in turn. Prints p50/p99 and the difference, and a Markdown
# summary (also written to bench/grpc/last_results.md, or $OUT). Takes about 45 s.
#
#   bench/grpc/run.sh
#
# Settings (environment variables, defaults in brackets):
#   BUILD_DIR [build]     where wasmgate (src/cli/wasmgate) and plugins/grpc_auth.wasm are built
#   WASMGATE, PLUGIN      the binary and the grpc_auth plugin, if not under BUILD_DIR
#   PYTHON [/usr/bin/python3]   an interpreter that can import grpc (python3-grpcio)
#   DURATION [4]          seconds of each measured wrk run; WARMUP [1] of the discarded run before
#   CONNS ["1 8"]         wrk connections of the runs (1 thread each); 1 = unloaded round trip
#   ROUNDS [2]            each (connections, proxy) pair is measured ROUNDS times; medians
#   WORKERS [1]           wasmgate workers
#   PIN [1]               1: taskset wasmgate on PROXY_CPU [0], wrk and the gRPC server on
#                         CLIENT_CPU [1]; 0: no pinning
#   NODELAY_SHIM [0]      1: run both proxies with LD_PRELOAD=nodelay_shim.so (built here with cc),
#                         which sets TCP_NODELAY on every socket they connect; shows what the
#                         callout costs without the Nagle stall (see README.md)
#   OUT [bench/grpc/last_results.md]   where the summary goes ("-": nowhere)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$root/build}
wasmgate=${WASMGATE:-$build/src/cli/wasmgate}
plugin=${PLUGIN:-$build/plugins/grpc_auth.wasm}
python=${PYTHON:-/usr/bin/python3}
duration=${DURATION:-4}
warmup=${WARMUP:-1}
conns_list=${CONNS:-1 8}
rounds=${ROUNDS:-2}
workers=${WORKERS:-1}
pin=${PIN:-1}
proxy_cpu=${PROXY_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
out=${OUT:-$here/last_results.md}
server_py=$root/tests/integration_grpc/grpc_server.py
shim=${NODELAY_SHIM:-0}
settings="DURATION=$duration WARMUP=$warmup CONNS=\"$conns_list\" ROUNDS=$rounds WORKERS=$workers PIN=$pin"
[[ $shim == 1 ]] && settings+=" NODELAY_SHIM=1"
[[ $pin == 1 ]] && settings+=" PROXY_CPU=$proxy_cpu CLIENT_CPU=$client_cpu"

die() { echo "run.sh: $*" >&2; exit 1; }
for tool in wrk curl; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[[ -x $wasmgate ]] || die "no $wasmgate; build it: ninja -C $build wasmgate"
[[ -f $plugin ]] || die "no $plugin; build it: ninja -C $build grpc_auth_plugin"
"$python" -c 'import grpc' 2>/dev/null || die "$python cannot import grpc (apt install python3-grpcio)"
if [[ $pin == 1 ]]; then
  command -v taskset >/dev/null || die "taskset not found (or run with PIN=0)"
  on_proxy_cpu=(taskset -c "$proxy_cpu")
  on_client_cpu=(taskset -c "$client_cpu")
else
  on_proxy_cpu=()
  on_client_cpu=()
fi

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wasmgate-grpc-bench.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (at most 10 s) until `curl $1` answers.
wait_http() {
  local i
  for i in $(seq 100); do
    curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

preload=()
if [[ $shim == 1 ]]; then
  command -v cc >/dev/null || die "NODELAY_SHIM=1 needs a C compiler (cc)"
  cc -shared -fPIC -O2 -o "$tmp/nodelay_shim.so" "$here/nodelay_shim.c" -ldl || die "cannot build the shim"
  preload=(env "LD_PRELOAD=$tmp/nodelay_shim.so")
fi

# ---- the gRPC server ----
"${on_client_cpu[@]}" "$python" "$server_py" --port-file "$tmp/grpc.port" --max-seconds 300 \
  >"$tmp/grpc.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  [[ -s $tmp/grpc.port ]] && break
  sleep 0.1
done
[[ -s $tmp/grpc.port ]] || die "the gRPC server did not start: $(cat "$tmp/grpc.log")"
grpc_port=$(cat "$tmp/grpc.port")

# ---- two proxies: plain, and with grpc_auth ----
start_proxy() {  # name plugin_yaml -> sets port_<name>, admin_<name>
  local name=$1 plugins=$2 port admin
  port=$(free_port)
  admin=$(free_port)
  cat >"$tmp/$name.yaml" <<EOF
admin:
  address: 127.0.0.1:$admin
workers: $workers
clusters:
  - name: authz
    endpoints: [127.0.0.1:$grpc_port]
    protocol: h2
listeners:
  - name: main
    address: 127.0.0.1:$port
    routes:
      - match: { prefix: / }
        direct_response: { status: 200, body: "ok\n" }
$plugins
EOF
  "${on_proxy_cpu[@]}" "${preload[@]}" "$wasmgate" serve -c "$tmp/$name.yaml" --log-level warn >"$tmp/$name.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$admin/ready" || die "wasmgate ($name) did not start: $(tail -5 "$tmp/$name.log")"
  printf -v "port_$name" '%s' "$port"
  printf -v "admin_$name" '%s' "$admin"
}
start_proxy plain ""
start_proxy grpc_auth "plugins:
  - name: grpc-auth
    url: file://$plugin
    pluginName: grpc_auth
    pluginConfig: { cluster: authz, timeout_ms: 1000, failure_status: 503 }"

header="Authorization: Bearer allow"
for name in plain grpc_auth; do
  port_var=port_$name
  code=$(curl -sS -o /dev/null -w '%{http_code}' -H "$header" "http://127.0.0.1:${!port_var}/")
  [[ $code == 200 ]] || die "$name answered $code instead of 200: $(tail -5 "$tmp/$name.log")"
done

# ---- the gRPC round trip alone, from a Python grpcio client (reference) ----
direct=$("${on_client_cpu[@]}" "$python" - "$grpc_port" "$server_py" <<'EOF'
import sys, time, importlib.util
import grpc
spec = importlib.util.spec_from_file_location("grpc_server", sys.argv[2])
gs = importlib.util.module_from_spec(spec); spec.loader.exec_module(gs)
channel = grpc.insecure_channel("127.0.0.1:%s" % sys.argv[1])
check = channel.unary_unary("/wasmgate.authz.v1.Authorizer/Check")
request = gs.encode_check_request("GET", "/", "Bearer allow")
samples = []
for i in range(1300):
    t = time.perf_counter()
    check(request, timeout=2)
    if i >= 300:
        samples.append((time.perf_counter() - t) * 1e6)
samples.sort()
print("%.0f %.0f" % (samples[len(samples) // 2], samples[int(len(samples) * 0.99)]))
EOF
)

# ---- wrk ----
to_us() {  # "123.45us" / "1.20ms" / "2.00s" -> microseconds
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "ms") n *= 1000; else if (u == "s") n *= 1000000; else if (u == "m") n *= 60000000
    printf "%.0f", n }'
}

# run name conns -> "p50_us p99_us rps non2xx"
run_wrk() {
  local name=$1 conns=$2 port_var=port_$1 text p50 p99 rps bad
  "${on_client_cpu[@]}" wrk -t1 -c"$conns" -d"${warmup}s" -H "$header" "http://127.0.0.1:${!port_var}/" >/dev/null
  text=$("${on_client_cpu[@]}" wrk -t1 -c"$conns" -d"${duration}s" --latency -H "$header" \
    "http://127.0.0.1:${!port_var}/")
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$text")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$text")
  rps=$(awk '$1 == "Requests/sec:" { printf "%.0f", $2 }' <<<"$text")
  bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$text")
  echo "$(to_us "$p50") $(to_us "$p99") $rps ${bad:-0}"
}

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.0f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "gRPC server on 127.0.0.1:$grpc_port; plain wasmgate on :$port_plain, with grpc_auth on :$port_grpc_auth"
echo "direct Python grpcio client -> server Check: p50 ${direct% *} us, p99 ${direct#* } us"
declare -A p50s p99s rpss
bad_total=0
for round in $(seq "$rounds"); do
  for conns in $conns_list; do
    for name in plain grpc_auth; do
      read -r p50 p99 rps bad < <(run_wrk "$name" "$conns")
      printf 'round %d  c=%-3s %-10s p50 %6s us  p99 %6s us  %7s req/s%s\n' "$round" "$conns" "$name" \
        "$p50" "$p99" "$rps" "$([[ $bad != 0 ]] && echo "  NON-2XX: $bad")"
      p50s[$name,$conns]+="$p50 "
      p99s[$name,$conns]+="$p99 "
      rpss[$name,$conns]+="$rps "
      bad_total=$((bad_total + bad))
    done
  done
done

allowed=$(curl -sS "http://127.0.0.1:$admin_grpc_auth/stats/prometheus" |
  awk '/^wasmgate_plugin_custom_grpc_auth_allowed_total/ { print $NF }')
failed=$(curl -sS "http://127.0.0.1:$admin_grpc_auth/stats/prometheus" |
  awk '/^wasmgate_plugin_custom_grpc_auth_failed_total/ { print $NF }')

summary=$(
  echo "# gRPC callout: latency added to a request"
  echo
  echo "\`bench/grpc/run.sh\` ($settings), $(date -u +%Y-%m-%d), $(nproc) CPUs" \
       "($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), load average at start $load_start."
  echo "wasmgate $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), one request = one unary" \
       "\`Authorizer/Check\` to the Python grpcio server (hand-encoded protobuf), then a direct_response."
  echo
  echo "| connections | p50 plain | p50 grpc_auth | **p50 added** | p99 plain | p99 grpc_auth | **p99 added** | req/s plain | req/s grpc_auth |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for conns in $conns_list; do
    a50=$(tr ' ' '\n' <<<"${p50s[plain,$conns]}" | grep . | median)
    b50=$(tr ' ' '\n' <<<"${p50s[grpc_auth,$conns]}" | grep . | median)
    a99=$(tr ' ' '\n' <<<"${p99s[plain,$conns]}" | grep . | median)
    b99=$(tr ' ' '\n' <<<"${p99s[grpc_auth,$conns]}" | grep . | median)
    ar=$(tr ' ' '\n' <<<"${rpss[plain,$conns]}" | grep . | median)
    br=$(tr ' ' '\n' <<<"${rpss[grpc_auth,$conns]}" | grep . | median)
    echo "| $conns | $a50 us | $b50 us | **$((b50 - a50)) us** | $a99 us | $b99 us | **$((b99 - a99)) us** | $ar | $br |"
  done
  echo
  echo "Medians of $rounds rounds; wrk -t1, ${duration} s per run after a ${warmup} s warm-up." \
       "Reference: the same Check from a Python grpcio client straight to the server," \
       "p50 ${direct% *} us, p99 ${direct#* } us (1000 calls)."
  echo "grpc_auth allowed ${allowed:-?} requests, failed ${failed:-0}; non-2xx answers: $bad_total."
  if awk -v l="${load_start%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n) }'; then
    echo
    echo "The machine was busy (load ${load_start%% *} on $(nproc) CPUs): p99 mostly measures other work" \
         "(a negative *added* value is that noise); p50 is the figure to compare."
  fi
)
echo
echo "$summary"
if [[ $out != - ]]; then
  echo "$summary" >"$out"
  echo
  echo "written to $out"
fi
[[ $bad_total == 0 ]] || die "$bad_total requests were not answered 200"
