#!/usr/bin/env bash
# Hot-reload benchmark: wasmgate's p99 latency under wrk load, steady vs. while a loop reloads
# the plugin set every INTERVAL seconds (a changed pluginConfig, then POST /reload). Steady and
# reloading runs alternate (ROUNDS of each, in A B B A order); prints every run, the ratio of the
# median p99s (goal: below 2x) and every error count, and writes a Markdown summary to
# bench/reload/last_results.md (or $OUT). See bench/reload/README.md.
#
#   bench/reload/run.sh
#
# Settings (environment variables, defaults in brackets):
#   BUILD_DIR [build]     where wasmgate (src/cli/wasmgate) and plugins/*.wasm are built
#   WASMGATE, PLUGIN_DIR  the binary and the folder of add_header.wasm / deny.wasm, if elsewhere
#   DURATION [10]         seconds of each measured wrk run
#   ROUNDS [2]            measured runs of each kind
#   WARMUP [2]            seconds of a discarded wrk run first
#   THREADS [2] CONNS [16]  wrk threads and keep-alive connections
#   WORKERS [2]           wasmgate workers
#   INTERVAL [0.2]        seconds between two reloads in the reload run
#   OUT [bench/reload/last_results.md]  where the summary goes ("-": nowhere)
# Exit status 1 when a request failed (socket error, non-2xx), a reload was refused, or the last
# reload did not show; the p99 ratio itself is reported, not enforced (a shared machine is noisy).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$root/build}
wasmgate=${WASMGATE:-$build/src/cli/wasmgate}
plugin_dir=${PLUGIN_DIR:-$build/plugins}
duration=${DURATION:-10}
rounds=${ROUNDS:-2}
warmup=${WARMUP:-2}
threads=${THREADS:-2}
conns=${CONNS:-16}
workers=${WORKERS:-2}
interval=${INTERVAL:-0.2}
out=${OUT:-$here/last_results.md}
settings="DURATION=$duration ROUNDS=$rounds WARMUP=$warmup THREADS=$threads CONNS=$conns WORKERS=$workers INTERVAL=$interval"

die() { echo "run.sh: $*" >&2; exit 1; }
for tool in wrk curl python3; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[[ -x $wasmgate ]] || die "no $wasmgate; build it: ninja -C $build wasmgate"
for p in add_header deny; do
  [[ -f $plugin_dir/$p.wasm ]] || die "no $plugin_dir/$p.wasm; build the example plugins (ninja -C $build)"
done

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wasmgate-reload-bench.XXXXXX")
wasmgate_pid=""
reloader_pid=""
# Stops only what this script started, by PID, and only while bash still knows it as its job.
alive() { [[ -n $1 && " $(jobs -rp | tr '\n' ' ') " == *" $1 "* ]]; }
cleanup() {
  local pid
  for pid in "$reloader_pid" "$wasmgate_pid"; do
    if alive "$pid"; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r port admin_port <<<"$(python3 - <<'EOF'
import socket
socks = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)"

# bootstrap VERSION [FILE]: add_header (a response header carrying VERSION) and deny (/blocked
# only) in front of a direct response; written to a temporary file, then renamed over FILE
# (bootstrap.yaml).
bootstrap() {
  cat >"$tmp/.bootstrap.yaml" <<EOF
admin: { address: 127.0.0.1:$admin_port }
workers: $workers
listeners:
  - name: main
    address: 127.0.0.1:$port
    routes:
      - match: { prefix: / }
        direct_response: { status: 200, body: "ok\n" }
plugins:
  - name: add-header
    url: file://$plugin_dir/add_header.wasm
    pluginName: add_header
    phase: AUTHN
    pluginConfig: { request_headers: { x-version-up: "$1" }, response_headers: { x-version: "$1" } }
  - name: deny
    url: file://$plugin_dir/deny.wasm
    pluginName: deny
    phase: AUTHZ
    pluginConfig: { path_prefixes: [/blocked], status: 403 }
EOF
  mv "$tmp/.bootstrap.yaml" "${2:-$tmp/bootstrap.yaml}"
}

bootstrap v0
"$wasmgate" serve -c "$tmp/bootstrap.yaml" --log-level warn >"$tmp/wasmgate.log" 2>&1 &
wasmgate_pid=$!
for ((i = 0; i < 100; i++)); do
  alive "$wasmgate_pid" || { cat "$tmp/wasmgate.log" >&2; die "wasmgate exited at startup"; }
  curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$admin_port/ready" && break
  sleep 0.1
done
[[ $(curl -s -D - -o /dev/null "http://127.0.0.1:$port/" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-version" { print $2 }') == v0 ]] ||
  die "wasmgate does not answer with x-version: v0 on port $port"
rss_start=$(awk '/^VmRSS:/ { print $2 }' "/proc/$wasmgate_pid/status")

to_us() {  # wrk's "123.45us", "1.20ms", "2.00s", "1.00m" -> microseconds
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") f = 1; else if (u == "ms") f = 1000; else if (u == "s") f = 1000000; else if (u == "m") f = 60000000; else f = -1
    if (f < 0) print "?"; else printf "%.0f\n", n * f }'
}

# measure NAME: one wrk run; sets p50 p90 p99 max rps requests socket_errors non2xx
measure() {
  local file=$tmp/wrk-$1.out
  timeout $((duration + 30)) wrk -t"$threads" -c"$conns" -d"${duration}s" --latency \
    "http://127.0.0.1:$port/" >"$file" 2>&1 || die "wrk failed: $(cat "$file")"
  p50=$(to_us "$(awk '$1 == "50%" { print $2 }' "$file")")
  p90=$(to_us "$(awk '$1 == "90%" { print $2 }' "$file")")
  p99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$file")")
  max=$(to_us "$(awk '$1 == "Latency" && NF >= 4 { print $4; exit }' "$file")")
  rps=$(awk '$1 == "Requests/sec:" { printf "%.0f", $2 }' "$file")
  requests=$(awk '/requests in/ { print $1 }' "$file")
  socket_errors=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$file")
  socket_errors=${socket_errors:-0}
  non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$file")
  non2xx=${non2xx:-0}
  echo "-- $1: wrk -t$threads -c$conns -d${duration}s --latency"
  sed 's/^/   /' "$file"
}

# The reloader: every INTERVAL a new version in the bootstrap, then POST /reload; one line per
# reload ("<http status> <seconds> <version>") in reloads.log. It stops when stop_reloads appears.
# One Python process does it all: a loop of date, curl and awk processes would itself disturb
# the latency being measured (a fork and exec per step on a machine that wrk keeps busy).
reloader() {
  bootstrap "@VERSION@" "$tmp/bootstrap.template"
  python3 - "$tmp" "$admin_port" "$interval" "$1" <<'PY'
import http.client, os, sys, time
tmp, port, interval, n = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
template = open(os.path.join(tmp, "bootstrap.template")).read()
with open(os.path.join(tmp, "reloads.log"), "a") as log:
    while not os.path.exists(os.path.join(tmp, "stop_reloads")):
        n += 1
        staged = os.path.join(tmp, ".bootstrap.yaml")
        with open(staged, "w") as f:
            f.write(template.replace("@VERSION@", "v%d" % n))
        os.rename(staged, os.path.join(tmp, "bootstrap.yaml"))
        t0 = time.monotonic()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/reload")
            status = conn.getresponse().status
            conn.close()
        except OSError:
            status = 0
        log.write("%03d %.4f v%d\n" % (status, time.monotonic() - t0, n))
        log.flush()
        time.sleep(interval)
PY
}

echo "== warm-up: wrk -t$threads -c$conns -d${warmup}s"
timeout $((warmup + 30)) wrk -t"$threads" -c"$conns" -d"${warmup}s" "http://127.0.0.1:$port/" >/dev/null 2>&1 ||
  die "warm-up wrk failed"

rows=""
steady_p99s=()
reload_p99s=()
total_sock=0
total_non2xx=0
version=0
: >"$tmp/reloads.log"
run() {  # KIND ROUND
  local kind=$1 round=$2 before reloads_in_run="-"
  if [[ $kind == steady ]]; then
    echo "== steady $round: no reloads"
    measure "steady-$round"
    steady_p99s+=("$p99")
  else
    echo "== reloading $round: POST /reload every ${interval}s (a changed add_header pluginConfig each time)"
    before=$(wc -l <"$tmp/reloads.log")
    rm -f "$tmp/stop_reloads"
    reloader "$version" &
    reloader_pid=$!
    measure "reloading-$round"
    touch "$tmp/stop_reloads"
    wait "$reloader_pid" 2>/dev/null || true
    reloader_pid=""
    version=$(tail -1 "$tmp/reloads.log" | awk '{ print substr($3, 2) }')
    reloads_in_run=$(($(wc -l <"$tmp/reloads.log") - before))
    reload_p99s+=("$p99")
    kind="reload every ${interval} s"
  fi
  rows+="| $kind ($round) | $p50 us | $p90 us | **$p99 us** | $max us | $rps | $requests | $socket_errors | $non2xx | $reloads_in_run |"$'\n'
  total_sock=$((total_sock + socket_errors))
  total_non2xx=$((total_non2xx + non2xx))
}
for ((round = 1; round <= rounds; round++)); do
  if ((round % 2)); then
    run steady "$round"
    run reloading "$round"
  else
    run reloading "$round"
    run steady "$round"
  fi
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

median() {
  printf '%s\n' "$@" | sort -n |
    awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.0f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
s_p99=$(median "${steady_p99s[@]}")
r_p99=$(median "${reload_p99s[@]}")
reloads=$(wc -l <"$tmp/reloads.log")
reloads_ok=$(awk '$1 == 200' "$tmp/reloads.log" | wc -l)
reload_ms_p50=$(awk '{ print $2 * 1000 }' "$tmp/reloads.log" | sort -n | awk '{ a[NR] = $1 } END { if (NR) printf "%.1f", a[int((NR + 1) / 2)]; else print "?" }')
reload_ms_max=$(awk '{ print $2 * 1000 }' "$tmp/reloads.log" | sort -n | tail -1)
last_version=$(tail -1 "$tmp/reloads.log" | awk '{ print $3 }')
served_version=$(curl -s -D - -o /dev/null "http://127.0.0.1:$port/" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-version" { print $2 }')
blocked_status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/blocked")
rss_end=$(awk '/^VmRSS:/ { print $2 }' "/proc/$wasmgate_pid/status")
ratio=$(awk -v a="$r_p99" -v b="$s_p99" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }')
goal=$(awk -v r="$ratio" 'BEGIN { print (r != "?" && r < 2) ? "met" : "NOT met" }')

kill "$wasmgate_pid"
wait "$wasmgate_pid" && exit_status=0 || exit_status=$?
wasmgate_pid=""

failures=()
((total_sock + total_non2xx == 0)) || failures+=("failed requests: $total_sock socket errors, $total_non2xx non-2xx answers")
((reloads_ok == reloads && reloads > 0)) || failures+=("$((reloads - reloads_ok)) of $reloads reloads not answered 200")
[[ $served_version == "$last_version" ]] || failures+=("after the last reload ($last_version) x-version is '$served_version'")
[[ $blocked_status == 403 ]] || failures+=("/blocked answered $blocked_status, not 403")
[[ $exit_status == 0 ]] || failures+=("wasmgate exited with $exit_status on SIGTERM")

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
cpus=$(nproc)
model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
summary=$(cat <<EOF
# Hot reload under load (bench/reload/run.sh)

\`bench/reload/run.sh\` ($settings), $(date +%Y-%m-%d), $cpus CPUs ($model), load average $load_start at the start, $load_end at the end.
wasmgate $commit, $workers workers, add_header (AUTHN) and deny (AUTHZ) in front of a direct response; wrk -t$threads -c$conns keep-alive --latency, ${duration} s per run after a ${warmup} s warm-up; steady and reloading runs alternate.

| run | p50 | p90 | **p99** | max | req/s | requests | socket errors | non-2xx | reloads |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows%$'\n'}

**p99 while reloading / p99 steady (medians of $rounds runs each): $r_p99 us / $s_p99 us = ${ratio}x** (goal < 2x: $goal).
Failed requests: $total_sock socket errors, $total_non2xx non-2xx answers.
Reloads: $reloads_ok of $reloads answered 200; POST /reload took $reload_ms_p50 ms (median), $reload_ms_max ms (max); after the last one ($last_version) the proxy served x-version: $served_version, and /blocked $blocked_status.
wasmgate VmRSS: $((rss_start / 1024)) MiB before the runs, $((rss_end / 1024)) MiB after $reloads reloads; exit status on SIGTERM $exit_status.
EOF
)
echo
echo "$summary"
if ((${#failures[@]})); then
  summary+=$'\n\n'"FAILURES: $(printf '%s; ' "${failures[@]}")"
  printf 'FAILURE: %s\n' "${failures[@]}" >&2
fi
[[ $out == - ]] || { echo "$summary" >"$out"; echo; echo "(written to $out)"; }
((${#failures[@]} == 0))
