#!/usr/bin/env bash
# A side-by-side benchmark of /metrics at scale (not part of the test suite; see
# docs/performance.md). Builds the release binary, starts the simulator's synthetic-scale mode
# (CLUSTERS clusters × MIRRORS mirror topics × PARTITIONS partitions, one link per cluster,
# per-partition series on), the release exporter polling it, and nginx serving a copy of the
# same exposition (plain file + gzip_static), loads both with `ab`, and prints one table.
#
#   scripts/bench.sh                      # default: 50 × 500 × 10 = 250 000 partitions
#   scripts/bench.sh --clusters 5         # smaller: 5 × 500 × 10
#   scripts/bench.sh --single             # one cluster holding all of them in one mirrors response
#   scripts/bench.sh --kafka …            # the Kafka side at scale instead: scripts/bench-kafka.sh
#
# Options: --clusters N (50), --mirrors N (500), --partitions N (10), --single,
# --interval SECONDSs (whole seconds, e.g. 15s), --cycles N (cycles measured without scrapes, 4),
# --seconds N (per load run, 20), --connections N (4), --keep (leave the work directory).
# Installs nginx-light and apache2-utils (ab) with apt when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
for a in "$@"; do
  if [ "$a" = --kafka ]; then
    args=(); for b in "$@"; do [ "$b" = --kafka ] || args+=("$b"); done
    exec scripts/bench-kafka.sh "${args[@]}"
  fi
done

clusters=50 mirrors=500 partitions=10 single=0 interval=15s cycles=4 seconds=20 connections=4 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --clusters) clusters=$2; shift 2 ;;
    --mirrors) mirrors=$2; shift 2 ;;
    --partitions) partitions=$2; shift 2 ;;
    --single) single=1; shift ;;
    --interval) interval=$2; shift 2 ;;
    --cycles) cycles=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "bench: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ "$single" = 1 ]; then
  mirrors=$((clusters * mirrors)); clusters=1
fi
interval_s=${interval%s}
case "$interval_s" in
  ''|*[!0-9]*) echo "bench: --interval takes whole seconds like 15s, not '$interval'" >&2; exit 2 ;;
esac

# --- tools -------------------------------------------------------------------------------
need=()
command -v ab >/dev/null 2>&1 || need+=(apache2-utils)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]}" >&2
  sudo_cmd=(); [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
  # Where services start on install, Debian's package also starts a system nginx on port 80;
  # this script leaves it alone and runs its own on a free port with its own configuration.
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

echo "bench: building the release binary" >&2
cargo build --locked --release --bin cluster-link-exporter >&2
bin=${CARGO_TARGET_DIR:-target}/release/cluster-link-exporter

work=$(mktemp -d /tmp/clusterlink-bench.XXXXXX)
chmod 755 "$work" # nginx's workers (user nobody when started as root) read www/
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$keep" = 1 ]; then echo "bench: work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
clk=$(getconf CLK_TCK)
# CPU seconds (user + system) of the processes given, from /proc.
cpu_of() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
hwm_mib() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
now() { date +%s.%N; }

# --- simulator ---------------------------------------------------------------------------
{
  echo "clusters:"
  for i in $(seq 0 $((clusters - 1))); do
    printf '  - name: S%03d\n    flavour: cloud\n    synthetic: {links: 1, mirrors_per_link: %d, partitions: %d}\n' \
      "$i" "$mirrors" "$partitions"
  done
} >"$work/scenario.yaml"
"$bin" sim --scenario "$work/scenario.yaml" >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!; pids+=("$sim_pid")
for _ in $(seq 600); do grep -q '^control ' "$work/sim.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^control ' "$work/sim.out" || { cat "$work/sim.log" >&2; echo "bench: the simulator did not start" >&2; exit 1; }

# --- exporter ----------------------------------------------------------------------------
{
  printf 'defaults:\n  poll_interval: %s\n  request_timeout: 60s\n  partition_metrics: true\n  max_response_bytes: 1073741824\nclusters:\n' "$interval"
  awk '$1 == "cluster" {
    for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "  - name: %s\n    rest_url: %s\n    cluster_id: %s\n", $2, v["rest"], v["id"]
  }' "$work/sim.out"
} >"$work/exporter.yaml"
port=$(free_port)
"$bin" --config "$work/exporter.yaml" --web.listen-address "127.0.0.1:$port" --log.level warn \
  2>"$work/exporter.log" &
exp_pid=$!; pids+=("$exp_pid")
url="http://127.0.0.1:$port/metrics"
accept='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'

echo "bench: waiting for the first collection of $clusters cluster(s)" >&2
for _ in $(seq 1200); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/-/ready")" = 200 ] && break
  sleep 0.5
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/-/ready")" = 200 ] ||
  { tail "$work/exporter.log" >&2; echo "bench: the exporter never became ready" >&2; exit 1; }

# Sum of a family's samples in the exposition file $1 (name $2, optional label filter $3).
sum_of() { grep -E "^$2(\{|\s)" "$1" | grep -e "${3:-}" | awk '{s += $NF} END {printf "%.0f", s}'; }

# --- collection, no scrapes ---------------------------------------------------------------
curl -s -H "Accept: $accept" "$url" >"$work/before.txt"
cpu0=$(cpu_of "$exp_pid"); t0=$(now)
sleep $((cycles * interval_s))
cpu1=$(cpu_of "$exp_pid"); t1=$(now)
curl -s -H "Accept: $accept" "$url" >"$work/after.txt"
requests=$(( $(sum_of "$work/after.txt" clusterlink_rest_requests_total) - $(sum_of "$work/before.txt" clusterlink_rest_requests_total) ))
collection_cpu=$(awk -v c=$((cpu1 - cpu0)) -v k="$clk" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", 100 * c / k / (b - a)}')
durations=$(grep -E '^clusterlink_scrape_duration_seconds\{' "$work/after.txt" | awk '{s += $NF; if ($NF > m) m = $NF; n++} END {printf "%.2f s mean, %.2f s max", s / n, m}')
rss_collecting=$(awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$exp_pid/status")
req_per_cycle=$(awk -v r="$requests" -v c="$cycles" 'BEGIN {printf "%.0f", r / c}')

# --- the same bytes from nginx -------------------------------------------------------------
mkdir -p "$work/www" "$work/nginx"
cp "$work/after.txt" "$work/www/metrics"
gzip -1 -k "$work/www/metrics"
series=$(grep -vc '^#' "$work/www/metrics")
plain_bytes=$(stat -c %s "$work/www/metrics")
exp_gz_bytes=$(curl -s -H "Accept: $accept" -H 'Accept-Encoding: gzip' "$url" | wc -c)
nginx_port=$(free_port)
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  types { }
  default_type "application/openmetrics-text; version=1.0.0; charset=utf-8";
  gzip_static on;
  gzip_http_version 1.0; # ab speaks HTTP/1.0
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  server { listen 127.0.0.1:$nginx_port; root $work/www; }
}
EOF
"$nginx_bin" -c "$work/nginx/nginx.conf" -p "$work/nginx" 2>"$work/nginx/stderr" &
nginx_pid=$!; pids+=("$nginx_pid")
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$nginx_port/metrics" && break; sleep 0.1; done
nginx_url="http://127.0.0.1:$nginx_port/metrics"
served=$(curl -s -H 'Accept-Encoding: gzip' -o /dev/null -w '%{http_code} %{size_download}' "$nginx_url")
[ "$served" = "200 $(stat -c %s "$work/www/metrics.gz")" ] ||
  { cat "$work/nginx/error.log" >&2; echo "bench: nginx does not serve metrics.gz: $served" >&2; exit 1; }

# req/s and CPU-s per request of one ab run: load URL PIDS... (gzip when GZIP=1)
load() {
  local target=$1; shift
  local headers=(-H "Accept: $accept")
  [ "${GZIP:-0}" = 1 ] && headers+=(-H 'Accept-Encoding: gzip')
  local pids_now=("$@")
  if [ "$target" = "$nginx_url" ]; then pids_now=("$nginx_pid" $(pgrep -P "$nginx_pid")); fi
  local c0 c1 out done_reqs rps
  c0=$(cpu_of "${pids_now[@]}")
  out=$(ab -q -k -c "$connections" -t "$seconds" -n 100000000 "${headers[@]}" "$target" 2>&1) ||
    echo "bench: ab $target: $out" >&2
  c1=$(cpu_of "${pids_now[@]}")
  done_reqs=$(awk '/^Complete requests/ {print $3}' <<<"$out")
  rps=$(awk '/^Requests per second/ {print $4}' <<<"$out")
  body=$(awk '/^HTML transferred/ {print $3}' <<<"$out")
  awk -v r="$rps" -v n="$done_reqs" -v c=$((c1 - c0)) -v k="$clk" -v b="$body" \
    'BEGIN {printf "%s %.6f %.0f\n", r, (n > 0 ? c / k / n : 0), (n > 0 ? b / n : 0)}'
}
echo "bench: loading /metrics, ${seconds}s per run, $connections connections" >&2
read -r exp_plain exp_plain_cpu exp_plain_body < <(load "$url" "$exp_pid")
read -r ngx_plain ngx_plain_cpu ngx_plain_body < <(load "$nginx_url")
read -r exp_gz exp_gz_cpu exp_gz_body < <(GZIP=1 load "$url" "$exp_pid")
read -r ngx_gz ngx_gz_cpu ngx_gz_body < <(GZIP=1 load "$nginx_url")
rss=$(hwm_mib "$exp_pid")
sim_rss=$(hwm_mib "$sim_pid")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f×", (b > 0 ? a / b : 0)}'; }

shape="$clusters cluster(s) × $mirrors mirror topics × $partitions partitions"
cat <<EOF

Shape: $shape = $((clusters * mirrors * partitions)) mirror partitions; poll interval $interval; $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ)

| | exporter | nginx, same bytes (static file / gzip_static) |
|---|---|---|
| REST requests per cycle (all clusters) | $req_per_cycle | |
| collection time per cycle (per cluster) | $durations | |
| collection CPU (no scrapes) | $collection_cpu % of one core | |
| peak RSS | $rss MiB (RSS after the collection phase: $rss_collecting MiB; simulator's peak: $sim_rss MiB) | |
| series | $series | |
| bytes plain / gzip | $plain_bytes / $exp_gz_bytes | $plain_bytes / $(stat -c %s "$work/www/metrics.gz") (gzip -1) |
| \`/metrics\` plain, $connections connections | $exp_plain req/s ($(ratio "$exp_plain" "$ngx_plain")), $exp_plain_body B each | $ngx_plain req/s, $ngx_plain_body B each |
| \`/metrics\` gzip, $connections connections | $exp_gz req/s ($(ratio "$exp_gz" "$ngx_gz")), $exp_gz_body B each | $ngx_gz req/s, $ngx_gz_body B each |
| CPU-seconds per scrape, plain | $exp_plain_cpu | $ngx_plain_cpu |
| CPU-seconds per scrape, gzip | $exp_gz_cpu | $ngx_gz_cpu |
EOF
