#!/usr/bin/env bash
# TCP throughput on loopback, in one run: a direct connection, nginx's stream proxy, and wasmgate
# (workers: 1) without and with the tcp_bytes network plugin, all forwarding to the same sink.
#
# Usage: bench/tcp/run.sh [BUILD_DIR]      (default: build/ next to this checkout)
# Environment: SIZE_MB (per transfer, default 1024), REPS (transfers per target, default 5).
# Prints a markdown table (median MB/s of REPS transfers, min and max) and the ratios; the goals
# are wasmgate >= 0.9x nginx and a plugin cost under 10%. About a minute with the defaults.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
size_mb=${SIZE_MB:-1024}
reps=${REPS:-5}
size=$((size_mb * 1024 * 1024))

wasmgate=$build/src/cli/wasmgate
plugin=$build/plugins/tcp_bytes.wasm
for f in "$wasmgate" "$plugin"; do
  [ -e "$f" ] || { echo "run.sh: missing $f (build first: ninja -C $build)" >&2; exit 1; }
done
command -v nginx >/dev/null || { echo "run.sh: needs nginx (scripts/setup.sh installs it)" >&2; exit 1; }
stream_so=$(dpkg -L libnginx-mod-stream 2>/dev/null | grep '/ngx_stream_module\.so$' | head -n 1 || true)
[ -n "$stream_so" ] || { echo "run.sh: needs libnginx-mod-stream (scripts/setup.sh installs it)" >&2; exit 1; }

work=$(mktemp -d /tmp/wasmgate_bench_tcp.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

read -r sink_port nginx_port plain_port bytes_port admin_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(5)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')

wait_port() {  # port, what: waits up to 10 s for a listener
  python3 - "$1" "$2" <<'EOF'
import socket, sys, time
deadline = time.monotonic() + 10
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("run.sh: %s not listening on %s" % (sys.argv[2], sys.argv[1]))
        time.sleep(0.1)
EOF
}

python3 "$here/tput.py" sink "$sink_port" &
pids+=($!)

cat > "$work/nginx.conf" <<EOF
load_module $stream_so;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx_error.log warn;
events { worker_connections 1024; }
stream {
  server {
    listen 127.0.0.1:$nginx_port;
    proxy_pass 127.0.0.1:$sink_port;
    proxy_half_close on;  # keep the sink's answer after the client's FIN, as wasmgate does
  }
}
EOF
nginx -e "$work/nginx_error.log" -p "$work" -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)

cat > "$work/wasmgate.yaml" <<EOF
admin: { address: 127.0.0.1:$admin_port }
workers: 1
listeners:
  - { name: plain, type: tcp, address: 127.0.0.1:$plain_port, cluster: sink }
  - { name: tcp_bytes, type: tcp, address: 127.0.0.1:$bytes_port, cluster: sink }
clusters:
  - { name: sink, endpoints: [127.0.0.1:$sink_port] }
plugins:
  - name: tcp-bytes
    url: file://$plugin
    type: NETWORK
    match: [{ ports: [{ number: $bytes_port }] }]
EOF
"$wasmgate" serve -c "$work/wasmgate.yaml" --log-level warn > "$work/wasmgate.log" 2>&1 &
pids+=($!)

wait_port "$sink_port" sink
wait_port "$nginx_port" nginx
wait_port "$plain_port" wasmgate
wait_port "$bytes_port" wasmgate

targets=("direct:$sink_port" "nginx-stream:$nginx_port" "wasmgate:$plain_port" "wasmgate+tcp_bytes:$bytes_port")
echo "# $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg); $reps x $size_mb MiB per target" >&2
for t in "${targets[@]}"; do  # warm-up: connections, page cache, the plugin's VM
  python3 "$here/tput.py" send "${t##*:}" $((256 * 1024 * 1024)) > /dev/null
done
: > "$work/results"
for ((i = 1; i <= reps; i++)); do  # targets interleaved, so drift in the machine's load hits all
  for t in "${targets[@]}"; do
    mbps=$(python3 "$here/tput.py" send "${t##*:}" "$size" | cut -d' ' -f3)
    echo "${t%%:*} $mbps" >> "$work/results"
    echo "  run $i ${t%%:*}: $mbps MB/s" >&2
  done
done

counted=$(curl -s "http://127.0.0.1:$admin_port/stats/prometheus" |
  awk '/^wasmgate_plugin_custom_tcp_downstream_bytes_total\{plugin="tcp-bytes"\}/ {print $2}')
expected=$((reps * size + 256 * 1024 * 1024))

python3 - "$work/results" "$counted" "$expected" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, mbps = line.split()
    runs.setdefault(name, []).append(float(mbps))
med = {name: statistics.median(v) for name, v in runs.items()}
print("| target | median MB/s | min | max |")
print("| --- | ---: | ---: | ---: |")
for name, v in runs.items():
    print("| %s | %.0f | %.0f | %.0f |" % (name, med[name], min(v), max(v)))
print()
ng, wg, wb = med["nginx-stream"], med["wasmgate"], med["wasmgate+tcp_bytes"]
print("- wasmgate / nginx stream: %.2fx (goal >= 0.9x)" % (wg / ng))
print("- wasmgate+tcp_bytes / nginx stream: %.2fx" % (wb / ng))
print("- tcp_bytes cost: %.1f%% of wasmgate's throughput (goal < 10%%)" % (100 * (1 - wb / wg)))
print("- tcp_bytes counted %s bytes client to upstream; sent %s" % (sys.argv[2] or "?", sys.argv[3]))
EOF
