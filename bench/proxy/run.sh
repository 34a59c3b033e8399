#!/usr/bin/env bash
# Proxy benchmark: nginx and wasmgate side by side against one nginx upstream, in one run, on
# loopback. Prints each measurement as it goes, then a Markdown summary (also written to
# bench/proxy/last_results.md, or $OUT). See bench/proxy/README.md.
#
#   bench/proxy/run.sh
#
# Settings (environment variables, defaults in brackets):
#   BUILD_DIR [build]   where wasmgate (src/cli/wasmgate) and plugins/add_header.wasm are built
#   WASMGATE, PLUGIN    the binary and the add_header plugin, if not under BUILD_DIR
#   DURATION [5]        seconds of each throughput run (wrk -t$THREADS -c$CONNS)
#   LAT_DURATION [5]    seconds of each latency run (wrk -t1 -c1 --latency)
#   WARMUP [1]          seconds of the discarded wrk run before each measured run
#   THREADS [1] CONNS [32]  wrk threads and connections of the throughput runs
#   ROUNDS [3]          the compared configurations are measured in turn, ROUNDS times; medians
#   OTHERS_MAX [10] RETRIES [4]  a run during which other processes took more than OTHERS_MAX
#                       percent of the CPUs is done again, at most RETRIES times in all
#   PIN [1]             1: taskset the proxy under test on PROXY_CPU [0], wrk and the upstream
#                       nginx on CLIENT_CPU [1]; 0: no pinning
#   OUT [bench/proxy/last_results.md]   where the summary goes ("-": nowhere)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$root/build}
wasmgate=${WASMGATE:-$build/src/cli/wasmgate}
plugin=${PLUGIN:-$build/plugins/add_header.wasm}
duration=${DURATION:-5}
lat_duration=${LAT_DURATION:-5}
warmup=${WARMUP:-1}
threads=${THREADS:-1}
conns=${CONNS:-32}
rounds=${ROUNDS:-3}
others_max=${OTHERS_MAX:-10}
retries=${RETRIES:-4}
pin=${PIN:-1}
proxy_cpu=${PROXY_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
out=${OUT:-$here/last_results.md}
settings="DURATION=$duration LAT_DURATION=$lat_duration WARMUP=$warmup THREADS=$threads CONNS=$conns ROUNDS=$rounds"
settings+=" OTHERS_MAX=$others_max RETRIES=$retries PIN=$pin"
[[ $pin == 1 ]] && settings+=" PROXY_CPU=$proxy_cpu CLIENT_CPU=$client_cpu"

die() { echo "run.sh: $*" >&2; exit 1; }
for tool in nginx wrk curl python3; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[[ -x $wasmgate ]] || die "no $wasmgate; build it: ninja -C $build wasmgate"
[[ -f $plugin ]] || die "no $plugin; build it: ninja -C $build plugins/add_header.wasm"
if [[ $pin == 1 ]]; then
  command -v taskset >/dev/null || die "taskset not found (or run with PIN=0)"
  on_proxy_cpu=(taskset -c "$proxy_cpu")
  on_client_cpu=(taskset -c "$client_cpu")
else
  on_proxy_cpu=()
  on_client_cpu=()
fi

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wasmgate-proxy-bench.XXXXXX")
pids=()
# Whether a process this script started in the background still runs. Asks bash's job table, not
# the PID (kill -0), so a PID reused by another process after ours ended is never taken for ours.
alive() { [[ " $(jobs -rp | tr '\n' ' ') " == *" $1 "* ]]; }
cleanup() {
  local pid
  for pid in "${pids[@]}"; do alive "$pid" && kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Free loopback ports, all held at once while choosing so they are distinct.
read -r -a ports <<<"$(python3 - <<'EOF'
import socket
socks = []
for _ in range(8):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)"
upstream_port=${ports[0]} nginx_port=${ports[1]}
wg0_port=${ports[2]} wg1_port=${ports[3]} wg10_port=${ports[4]}
# shellcheck disable=SC2034  # read through ${!port_var}
mem0_port=${ports[5]} mem10_port=${ports[6]}

anomalies=()
anomaly() { anomalies+=("$1"); echo "ANOMALY: $1" >&2; }

# name → pid and log of the servers started
declare -A pid_of log_of

# start NAME PORT CMD...: runs CMD in the background and waits until PORT answers.
start() {
  local name=$1 port=$2; shift 2
  local log=$tmp/$name.log
  "$@" >"$log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  pid_of[$name]=$pid log_of[$name]=$log
  local i
  for ((i = 0; i < 100; i++)); do
    alive "$pid" || { cat "$log" >&2; die "$name exited at startup: $*"; }
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/" && return 0
    sleep 0.1
  done
  cat "$log" >&2
  die "$name does not answer on port $port after 10 s: $*"
}

stop() {  # NAME
  local pid=${pid_of[$1]}
  alive "$pid" && kill "$pid"
  wait "$pid" 2>/dev/null || true
}

nginx_conf() {  # NAME SERVER-BLOCK-AND-UPSTREAMS
  local dir=$tmp/$1
  mkdir -p "$dir"
  cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
$2
}
EOF
  echo "$dir/nginx.conf"
}

# wasmgate_conf NAME PORT WORKERS NPLUGINS
wasmgate_conf() {
  local file=$tmp/$1.yaml i
  {
    cat <<EOF
admin: { enabled: false }
workers: $3
listeners:
  - name: main
    address: 127.0.0.1:$2
    routes:
      - match: { prefix: / }
        cluster: upstream
clusters:
  - name: upstream
    endpoints: [127.0.0.1:$upstream_port]
EOF
    if (($4 == 1)); then
      cat <<EOF
plugins:
  - name: add-header
    url: $plugin
    pluginName: add_header
    pluginConfig: {"request_headers":{"x-a":"1"},"response_headers":{"x-b":"2"}}
EOF
    elif (($4 > 1)); then
      echo "plugins:"
      for ((i = 0; i < $4; i++)); do
        cat <<EOF
  - name: add-header-$i
    url: $plugin
    pluginName: add_header
    pluginConfig: {"request_headers":{"x-a$i":"$i"},"response_headers":{"x-b$i":"$i"}}
EOF
      done
    fi
  } >"$file"
  echo "$file"
}

# --- the servers ---------------------------------------------------------------------------------

echo "== starting servers in $tmp (ports: upstream $upstream_port, nginx proxy $nginx_port," \
  "wasmgate $wg0_port/$wg1_port/$wg10_port for 0/1/10 plugins)"
conf=$(nginx_conf upstream "  server {
    listen 127.0.0.1:$upstream_port;
    location / { return 200 \"hello\n\"; }
    location = /status { stub_status; }
    location = /echo {
      return 200 \"x-a=\$http_x_a x-a0=\$http_x_a0 x-a9=\$http_x_a9\n\";
    }
  }")
start upstream "$upstream_port" "${on_client_cpu[@]}" nginx -p "$tmp/upstream" -c "$conf"

conf=$(nginx_conf nginx "  upstream backend {
    server 127.0.0.1:$upstream_port;
    keepalive 32;
  }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
    }
  }")
start nginx "$nginx_port" "${on_proxy_cpu[@]}" nginx -p "$tmp/nginx" -c "$conf"

for n in 0 1 10; do
  port_var=wg${n}_port
  conf=$(wasmgate_conf "wg$n" "${!port_var}" 1 "$n")
  start "wg$n" "${!port_var}" "${on_proxy_cpu[@]}" "$wasmgate" serve -c "$conf"
done

# Each proxy must answer 200 with the upstream's body, and the plugins must have run both ways.
check() {  # NAME PORT EXPECTED-RESPONSE-HEADER... (and the request headers seen upstream)
  local name=$1 port=$2; shift 2
  local head body
  head=$(curl -s -D - -o /dev/null --max-time 2 "http://127.0.0.1:$port/") || die "$name: curl failed"
  [[ $head == "HTTP/1.1 200"* ]] || die "$name: not 200: $head"
  body=$(curl -s --max-time 2 "http://127.0.0.1:$port/echo") || die "$name: curl /echo failed"
  local h
  for h in "$@"; do
    case $h in
      req:*) [[ " $body" == *" ${h#req:}"* ]] || die "$name: upstream did not see ${h#req:}: $body" ;;
      *) grep -qi "^$h" <<<"$head" || die "$name: no '$h' in the response: $head" ;;
    esac
  done
}
check nginx "$nginx_port"
check wg0 "$wg0_port"
check wg1 "$wg1_port" "x-b: 2" "req:x-a=1"
check wg10 "$wg10_port" "x-b0: 0" "x-b9: 9" "req:x-a0=0" "req:x-a9=9"
echo "== all proxies answer 200; add_header ran on requests and responses"

# --- wrk -----------------------------------------------------------------------------------------

to_us() {  # wrk's "123.45us", "1.20ms", "2.00s" → microseconds
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) m = 1; else if (v ~ /ms$/) m = 1000; else if (v ~ /s$/) m = 1000000; else m = 1
    printf "%.1f", n * m }'
}

# CPU time (user + system, clock ticks) of a process, its threads and its children (nginx workers)
clk_tck=$(getconf CLK_TCK)
cpu_ticks() {
  local pid total=0 t
  for pid in "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null); do
    t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null) || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}

# Connections the upstream nginx has accepted so far.
upstream_accepts() {
  curl -s --max-time 2 "http://127.0.0.1:$upstream_port/status" | awk 'NR == 3 { print $1 }'
}

# Per-CPU busy and total time since boot (clock ticks): "cpuN busy total" lines from /proc/stat.
cpu_stat() { awk '/^cpu[0-9]/ { t = 0; for (i = 2; i <= NF; i++) t += $i; print $1, t - $5 - $6, t }' /proc/stat; }
other_runs=""  # other_pct of the runs kept

# measure NAME PORT DURATION WRK-ARGS... → sets rps, p50, p99 (µs, with --latency) and cpu_us,
# the proxy's CPU time per request (µs) during the measured run, busy (each CPU's busy share),
# other_pct (the share of the CPUs other processes took) and upstream_conns (connections the proxy
# opened to the upstream)
measure() {
  local name=$1 port=$2 secs=$3; shift 3
  local url=http://127.0.0.1:$port/ file=$tmp/wrk.out
  local cmd=("${on_client_cpu[@]}" wrk "$@" -d"${secs}s" "$url")
  # discarded warm-up, then the measured run
  timeout $((warmup + 20)) "${on_client_cpu[@]}" wrk "$@" -d"${warmup}s" "$url" >"$file" 2>&1 ||
    anomaly "$name: warm-up wrk failed (exit $?): $(tr '\n' ' ' <"$file")"
  verify_run "$name" "${cmd[*]}" "$file" warm-up
  local ticks0 ticks1 up0 up1 stat0 stat1 accepts0 accepts1 requests wrk_s TIMEFORMAT='%3U %3S'
  accepts0=$(upstream_accepts)
  stat0=$(cpu_stat) ticks0=$(cpu_ticks "${pid_of[$name]}") up0=$(cpu_ticks "${pid_of[upstream]}")
  { time timeout $((secs + 20)) "${cmd[@]}" >"$file" 2>&1; } 2>"$tmp/wrk.time" ||
    anomaly "$name: '${cmd[*]}' failed (exit $?)"
  stat1=$(cpu_stat) ticks1=$(cpu_ticks "${pid_of[$name]}") up1=$(cpu_ticks "${pid_of[upstream]}")
  accepts1=$(upstream_accepts)
  upstream_conns=$((accepts1 - accepts0 - 1))  # minus the /status request of accepts1
  verify_run "$name" "${cmd[*]}" "$file" measured
  wrk_s=$(awk 'END { print $1 + $2 }' "$tmp/wrk.time")
  # Per-CPU busy share, and the share of all CPUs that went to processes other than the proxy,
  # the upstream and wrk (other sessions, builds, tests): a measure of how disturbed the run was.
  local ours=$((ticks1 - ticks0 + up1 - up0))
  read -r busy other_pct < <(awk -v ours="$ours" -v wrk_s="$wrk_s" -v hz="$clk_tck" '
    NR == FNR { b[$1] = $2; t[$1] = $3; next }
    { d = $3 - t[$1]; p = (d > 0) ? 100 * ($2 - b[$1]) / d : 0
      line = line sprintf("%s%s=%.0f%%", (n++ ? "," : ""), $1, p)
      busy += $2 - b[$1]; total += d }
    END { other = busy - ours - wrk_s * hz; if (other < 0) other = 0
          printf "%s %.0f\n", line, (total > 0) ? 100 * other / total : 0 }' \
    <(echo "$stat0") <(echo "$stat1"))
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$file")
  requests=$(awk '/ requests in / { print $1 }' "$file")
  cpu_us=$(awk -v t="$((ticks1 - ticks0))" -v hz="$clk_tck" -v n="${requests:-0}" \
    'BEGIN { if (n > 0) printf "%.2f", t * 1e6 / hz / n; else print 0 }')
  p50=$(to_us "$(awk '$1 == "50%" { print $2 }' "$file")")
  p99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$file")")
  [[ -n $rps ]] || rps=0
}

# measure_quiet: measure, done again (at most RETRIES times in the whole script) when other
# processes took more than OTHERS_MAX percent of the CPUs during the run.
retries_left=$retries
disturbed=()  # runs kept although other processes took more than OTHERS_MAX percent
measure_quiet() {
  while :; do
    measure "$@"
    if ((other_pct <= others_max || retries_left == 0)); then
      other_runs+=" $other_pct"
      ((other_pct <= others_max)) || disturbed+=("$1 round $r: ${other_pct}%")
      return 0
    fi
    retries_left=$((retries_left - 1))
    printf '   (%s: %.0f req/s while other processes took %s%% of the CPUs; measuring again)\n' \
      "$1" "$rps" "$other_pct"
  done
}

# verify_run NAME COMMAND WRK-OUTPUT WHAT: errors, non-2xx, a dead or unresponsive server
verify_run() {
  local name=$1 shown=$2 file=$3 what=$4 line port_var=${1}_port status=0
  if line=$(grep -E 'Socket errors|Non-2xx' "$file"); then
    anomaly "$name ($what): \`$shown\`: $(tr '\n' ' ' <<<"$line")"
  fi
  grep -q '^Requests/sec:' "$file" ||
    anomaly "$name ($what): \`$shown\` printed no result: $(tr '\n' ' ' <"$file")"
  if ! alive "${pid_of[$name]}"; then
    wait "${pid_of[$name]}" 2>/dev/null || status=$?
    anomaly "$name died (exit status $status) during \`$shown\`; log tail: $(tail -5 "${log_of[$name]}" | tr '\n' ' ')"
    exit 1
  fi
  curl -s -o /dev/null --max-time 2 "http://127.0.0.1:${!port_var}/" ||
    anomaly "$name does not answer a request after \`$shown\`"
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
  if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# paired MODE A-VALUES B-VALUES [N]: per round, A/B (MODE ratio) or (A − B)/N (MODE diff), and
# the median of those. Comparing within a round cancels what drifts between rounds.
paired() {
  awk -v mode="$1" -v A="$2" -v B="$3" -v n="${4:-1}" 'BEGIN {
    k = split(A, a, " "); split(B, b, " ")
    for (i = 1; i <= k; i++) {
      x = (mode == "ratio") ? (b[i] > 0 ? a[i] / b[i] : 0) : (a[i] - b[i]) / n
      for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]
      v[j + 1] = x
    }
    m = (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
    printf "%.2f", m }'
}

# --- 1 and 2: throughput -------------------------------------------------------------------------

client_prefix=${on_client_cpu[*]:+${on_client_cpu[*]} }
throughput_cmd="${client_prefix}wrk -t$threads -c$conns -d${duration}s http://127.0.0.1:PORT/"
latency_cmd="${client_prefix}wrk -t1 -c1 -d${lat_duration}s --latency http://127.0.0.1:PORT/"
echo "== throughput: $throughput_cmd (after a ${warmup}s warm-up), $rounds rounds"
declare -A rps_runs cpu_runs
for ((r = 1; r <= rounds; r++)); do
  for name in nginx wg0 wg1; do
    port_var=${name}_port
    measure_quiet "$name" "${!port_var}" "$duration" -t"$threads" -c"$conns"
    rps_runs[$name]+=" $rps" cpu_runs[$name]+=" $cpu_us"
    printf '   round %d %-6s %8.0f req/s  %6.2f us CPU/request  (%s, others %s%%; %d upstream conns)\n' \
      "$r" "$name" "$rps" "$cpu_us" "$busy" "$other_pct" "$upstream_conns"
  done
done
declare -A rps_med cpu_med
for name in nginx wg0 wg1; do
  # shellcheck disable=SC2086
  rps_med[$name]=$(median ${rps_runs[$name]}) cpu_med[$name]=$(median ${cpu_runs[$name]})
done
ratio_wg_nginx=$(paired ratio "${rps_runs[wg0]}" "${rps_runs[nginx]}")
ratio_plugin=$(paired ratio "${rps_runs[wg1]}" "${rps_runs[wg0]}")
printf '   median: nginx %.0f, wasmgate %.0f, wasmgate+add_header %.0f req/s\n' \
  "${rps_med[nginx]}" "${rps_med[wg0]}" "${rps_med[wg1]}"
echo "   wasmgate / nginx = $ratio_wg_nginx (goal >= 1.0); add_header / no plugin = $ratio_plugin (goal >= 0.95)"
# The same ratios from CPU time per request (less sensitive to other load on the machine)
cpu_ratio_wg_nginx=$(paired ratio "${cpu_runs[nginx]}" "${cpu_runs[wg0]}")
cpu_ratio_plugin=$(paired ratio "${cpu_runs[wg0]}" "${cpu_runs[wg1]}")
printf '   median CPU/request: nginx %s, wasmgate %s, wasmgate+add_header %s us\n' \
  "${cpu_med[nginx]}" "${cpu_med[wg0]}" "${cpu_med[wg1]}"
echo "   by CPU/request: nginx / wasmgate = $cpu_ratio_wg_nginx; no plugin / add_header = $cpu_ratio_plugin"

# --- 3: latency ----------------------------------------------------------------------------------

echo "== latency: $latency_cmd (after a ${warmup}s warm-up), $rounds rounds"
declare -A p50_runs p99_runs lat_cpu_runs
lat_names=(nginx wg0 wg1 wg10)
for ((r = 1; r <= rounds; r++)); do
  for name in "${lat_names[@]}"; do
    port_var=${name}_port
    measure_quiet "$name" "${!port_var}" "$lat_duration" -t1 -c1 --latency
    key=${name#wg}  # 0, 1, 10 plugins, or nginx
    p50_runs[$key]+=" $p50" p99_runs[$key]+=" $p99" lat_cpu_runs[$key]+=" $cpu_us"
    printf '   round %d %-5s p50 %7.1f us  p99 %7.1f us  (%.0f req/s, %.2f us CPU/request; %s, others %s%%)\n' \
      "$r" "$name" "$p50" "$p99" "$rps" "$cpu_us" "$busy" "$other_pct"
  done
done
declare -A p50_med p99_med lat_cpu_med
for key in nginx 0 1 10; do
  # shellcheck disable=SC2086
  p50_med[$key]=$(median ${p50_runs[$key]}) p99_med[$key]=$(median ${p99_runs[$key]})
  # shellcheck disable=SC2086
  lat_cpu_med[$key]=$(median ${lat_cpu_runs[$key]})
done
# each_round A-VALUES B-VALUES N: (A − B)/N per round, comma-separated
each_round() {
  awk -v A="$1" -v B="$2" -v n="$3" 'BEGIN {
    k = split(A, a, " "); split(B, b, " ")
    for (i = 1; i <= k; i++) printf "%s%.1f", (i > 1 ? ", " : ""), (a[i] - b[i]) / n }'
}
p50_rounds1=$(each_round "${p50_runs[1]}" "${p50_runs[0]}" 1)
p50_rounds10=$(each_round "${p50_runs[10]}" "${p50_runs[0]}" 10)
p50_per1=$(paired diff "${p50_runs[1]}" "${p50_runs[0]}" 1)
p50_per10=$(paired diff "${p50_runs[10]}" "${p50_runs[0]}" 10)
p99_per1=$(paired diff "${p99_runs[1]}" "${p99_runs[0]}" 1)
p99_per10=$(paired diff "${p99_runs[10]}" "${p99_runs[0]}" 10)
for key in nginx 0 1 10; do
  label=$key; [[ $key == nginx ]] || label="$key plugins"
  echo "   median, $label: p50 ${p50_med[$key]} us, p99 ${p99_med[$key]} us, ${lat_cpu_med[$key]} us CPU/request"
done
echo "   added p50 per plugin: $p50_per1 us (1 plugin), $p50_per10 us (10 plugins) (goal < 2 us)"
echo "   per round: $p50_rounds1 us (1 plugin); $p50_rounds10 us (10 plugins)"
echo "   added p99 per plugin: $p99_per1 us (1 plugin), $p99_per10 us (10 plugins)"
cpu_per1=$(paired diff "${lat_cpu_runs[1]}" "${lat_cpu_runs[0]}" 1)
cpu_per10=$(paired diff "${lat_cpu_runs[10]}" "${lat_cpu_runs[0]}" 10)
echo "   added CPU/request per plugin: $cpu_per1 us (1 plugin), $cpu_per10 us (10 plugins)"

# --- 4: memory -----------------------------------------------------------------------------------

for name in wg0 wg1 wg10 nginx; do stop "$name"; done
mem_warmup=$((warmup > 2 ? warmup : 2))
echo "== memory: wasmgate with 2 workers, VmRSS after wrk -t$threads -c$conns -d${mem_warmup}s"
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
declare -A rss_idle rss
for n in 0 10; do
  port_var=mem${n}_port
  conf=$(wasmgate_conf "mem$n" "${!port_var}" 2 "$n")
  start "mem$n" "${!port_var}" "${on_proxy_cpu[@]}" "$wasmgate" serve -c "$conf"
  sleep 0.5
  rss_idle[$n]=$(rss_kb "${pid_of[mem$n]}")
  file=$tmp/wrk.out
  timeout $((mem_warmup + 20)) "${on_client_cpu[@]}" wrk -t"$threads" -c"$conns" -d"${mem_warmup}s" \
    "http://127.0.0.1:${!port_var}/" >"$file" 2>&1 || anomaly "mem$n: wrk failed"
  verify_run "mem$n" "wrk -t$threads -c$conns -d${mem_warmup}s" "$file" warm-up
  sleep 0.5
  rss[$n]=$(rss_kb "${pid_of[mem$n]}")
  echo "   $n plugins: VmRSS $((rss_idle[$n] / 1024)) MiB at start, $((rss[$n] / 1024)) MiB after warm-up"
  stop "mem$n"
done
per_plugin_worker_kb=$(awk -v a="${rss[10]}" -v b="${rss[0]}" 'BEGIN { printf "%.0f", (a - b) / 20 }')
echo "   per plugin per worker: $per_plugin_worker_kb KiB"

# --- summary -------------------------------------------------------------------------------------

goal() { awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN {
  ok = (op == ">=") ? (v >= g) : (v < g); printf "%s %s %s", (ok ? "met:" : "**missed**:"), op, g }'; }
# goal for a per-plugin latency: a negative difference is noise, not a result
latency_goal() {
  if awk -v v="$1" 'BEGIN { exit !(v < 0) }'; then echo "inconclusive (< 0: below the noise)"; else echo "$(goal "$1" "<" 2) µs"; fi
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git -C "$root" status --porcelain -- src 2>/dev/null) ]] || commit+=" (src/ has uncommitted changes)"
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
pinning="wasmgate and the nginx proxy on CPU $proxy_cpu; wrk and the upstream nginx on CPU $client_cpu"
[[ $pin == 1 ]] || pinning="none"

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
# shellcheck disable=SC2086
other_med=$(median $other_runs) other_max=$(printf '%s\n' $other_runs | sort -g | tail -1)
summary=$(cat <<EOF
### Proxy benchmark

\`bench/proxy/run.sh\` ($settings), wasmgate $commit,
$(build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null); echo "${build_type:-unknown} build"),
$(nginx -v 2>&1 | sed 's/^nginx version: //'), $(wrk --version 2>&1 | head -1 | awk '{ print "wrk " $2 }'),
$(nproc) CPUs ($cpu), pinning: $pinning. Upstream: nginx, 1 worker, \`return 200 "hello\n"\`.
Load average ${load_start// /, } at the start, ${load_end// /, } at the end; other processes took
${other_med}% of the CPUs during the median measured run, ${other_max}% at most
($((retries - retries_left)) of them repeated for that). Medians of $rounds rounds; ratios and differences are
taken within each round, then their median.

| # | measurement | result | goal |
|---|-------------|-------:|------|
| 1 | nginx reverse proxy (1 worker, keepalive 32), req/s (CPU/request) | $(printf '%.0f' "${rps_med[nginx]}") (${cpu_med[nginx]} µs) | |
| 1 | wasmgate, no plugin (workers: 1), req/s (CPU/request) | $(printf '%.0f' "${rps_med[wg0]}") (${cpu_med[wg0]} µs) | |
| 1 | wasmgate / nginx, req/s | **$ratio_wg_nginx** | $(goal "$ratio_wg_nginx" ">=" 1.0) |
| 1 | nginx / wasmgate, CPU/request | $cpu_ratio_wg_nginx | |
| 2 | wasmgate + add_header (workers: 1), req/s (CPU/request) | $(printf '%.0f' "${rps_med[wg1]}") (${cpu_med[wg1]} µs) | |
| 2 | add_header / no plugin, req/s | **$ratio_plugin** | $(goal "$ratio_plugin" ">=" 0.95) |
| 2 | no plugin / add_header, CPU/request | $cpu_ratio_plugin | |
| 3 | latency p50 / p99, nginx reverse proxy (reference) | ${p50_med[nginx]} / ${p99_med[nginx]} µs | |
| 3 | latency p50 / p99, 0 plugins | ${p50_med[0]} / ${p99_med[0]} µs | |
| 3 | latency p50 / p99, 1 plugin | ${p50_med[1]} / ${p99_med[1]} µs | |
| 3 | latency p50 / p99, 10 plugins | ${p50_med[10]} / ${p99_med[10]} µs | |
| 3 | added p50 per plugin, (p50(1) − p50(0)) / 1 (rounds: $p50_rounds1) | **$p50_per1 µs** | $(latency_goal "$p50_per1") |
| 3 | added p50 per plugin, (p50(10) − p50(0)) / 10 (rounds: $p50_rounds10) | **$p50_per10 µs** | $(latency_goal "$p50_per10") |
| 3 | added CPU/request per plugin, 1 / 10 plugins (at -c1) | $cpu_per1 / $cpu_per10 µs | |
| 4 | VmRSS, 2 workers, 0 plugins, after warm-up | $(mib "${rss[0]}") | |
| 4 | VmRSS, 2 workers, 10 plugins, after warm-up | $(mib "${rss[10]}") | |
| 4 | per plugin per worker, (RSS(10) − RSS(0)) / 20 | **$per_plugin_worker_kb KiB** | |

Throughput: \`$throughput_cmd\`; latency: \`$latency_cmd\`;
each after a ${warmup} s warm-up run, the compared configurations in turn. CPU/request: the proxy's
user + system time (all threads or processes) over the measured run divided by the requests wrk
completed. Memory: VmRSS from /proc/PID/status after \`wrk -t$threads -c$conns -d${mem_warmup}s\`.
EOF
)
if ((${#disturbed[@]})); then
  list=$(printf '%s, ' "${disturbed[@]}")
  summary+=$'\n\n'"**Disturbed:** ${#disturbed[@]} of the runs kept had other processes above ${others_max}% of"
  summary+=" the CPUs (${list%, }; no repeats left). Their req/s, ratios of req/s and p99 are not"
  summary+=" reliable; CPU/request is much less affected. Run again on a quiet machine."
fi
if ((${#anomalies[@]})); then
  summary+=$'\n\nAnomalies:\n'
  for a in "${anomalies[@]}"; do summary+="- $a"$'\n'; done
fi

echo
echo "$summary"
if [[ $out != - ]]; then
  echo "$summary" >"$out"
  echo
  echo "(written to $out)"
fi
