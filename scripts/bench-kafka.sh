#!/usr/bin/env bash
# The Kafka-side benchmark (not part of the test suite; see docs/performance.md, "The Kafka
# side at scale"). Builds the release binary, starts the simulator with two librdkafka mock
# clusters (real Kafka protocol): a source with TOTAL partitions in topics of TOPIC_PARTITIONS
# partitions each, and a destination whose one link mirrors every one of them, with traffic
# on a few topics (the link copies them DELAY_MS late: lagging partitions, lag in seconds to
# read) and one consumer group whose offsets the link syncs. Then runs the release exporter
# with a `kafka` section and the source cluster configured (watermarks both sides, log-start
# offsets, lag in seconds, offset sync, all at their defaults), scrapes it once per interval
# as Prometheus would, and prints one table: Kafka requests per cycle by client and type
# (`clusterlink_kafka_requests_total`), bytes on the exporter's broker sockets (`ss`), the
# cycle's duration against the interval, CPU (% of one core, from /proc), peak RSS, and the
# time the exporter takes to exit on SIGTERM.
#
#   scripts/bench.sh --kafka                           # 10 000 mirror partitions, interval 30s
#   scripts/bench.sh --kafka --partitions-total 50000 --topic-partitions 500  # 100 topics × 500
#     (the simulator's mock clusters did not finish starting with 500 topics × 100 partitions)
#   scripts/bench.sh --kafka --interval 5s             # a short interval
#   scripts/bench.sh --kafka --smoke                   # 200 partitions, 2s, 2 cycles: a minute
#
# Options: --partitions-total N (10000), --topic-partitions N (100), --interval SECONDSs (30s,
# the exporter's default poll_interval), --cycles N (cycles measured, 4), --warmup N (cycles
# before measuring, 2), --traffic-topics N (topics with traffic, 10), --rate N (records per
# second per traffic topic, 50), --delay-ms N (replication delay, 20000), --smoke, --keep.
set -euo pipefail
cd "$(dirname "$0")/.."

total=10000 per_topic=100 interval=30s cycles=4 warmup=2 traffic_topics=10 rate=50 delay_ms=20000 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --partitions-total) total=$2; shift 2 ;;
    --topic-partitions) per_topic=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --cycles) cycles=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --traffic-topics) traffic_topics=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --delay-ms) delay_ms=$2; shift 2 ;;
    --smoke) total=200 per_topic=20 interval=2s cycles=2 warmup=1 traffic_topics=2 rate=20 delay_ms=3000; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "bench: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
interval_s=${interval%s}
for v in "$total" "$per_topic" "$interval_s" "$cycles" "$warmup" "$traffic_topics" "$rate" "$delay_ms"; do
  case "$v" in ''|*[!0-9]*) echo "bench: options take whole numbers (the interval as 30s), not '$v'" >&2; exit 2 ;; esac
done
topics=$(( (total + per_topic - 1) / per_topic ))
[ "$traffic_topics" -le "$topics" ] || traffic_topics=$topics

echo "bench: building the release binary" >&2
cargo build --locked --release --bin cluster-link-exporter >&2
bin=${CARGO_TARGET_DIR:-target}/release/cluster-link-exporter

work=$(mktemp -d /tmp/clusterlink-bench-kafka.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$keep" = 1 ]; then echo "bench: work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
clk=$(getconf CLK_TCK)
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }
now() { date +%s.%N; }

# --- simulator: the source's topics, one link mirroring them all ---------------------------
topic() { printf 'bench-%05d' "$1"; }
{
  echo "clusters:"
  echo "  - name: source"
  echo "    topics:"
  left=$total
  for i in $(seq 0 $((topics - 1))); do
    n=$(( left < per_topic ? left : per_topic )); left=$((left - n))
    printf '      - {name: %s, partitions: %d}\n' "$(topic "$i")" "$n"
  done
  echo "  - name: destination"
  echo "links:"
  echo "  - name: bench-link"
  echo "    source: source"
  echo "    destination: destination"
  echo "    delay_ms: $delay_ms"
  echo "    configs:"
  echo "      consumer.offset.sync.enable: true"
  echo "      consumer.offset.sync.ms: 5000"
  echo "      consumer.offset.group.filters: '{\"groupFilters\":[{\"name\":\"bench-app\",\"patternType\":\"LITERAL\",\"filterType\":\"INCLUDE\"}]}'"
  echo "    mirrors:"
  for i in $(seq 0 $((topics - 1))); do echo "      - $(topic "$i")"; done
  echo "traffic:"
  for i in $(seq 0 $((traffic_topics - 1))); do
    printf '  - {cluster: source, topic: %s, records_per_second: %d}\n' "$(topic "$i")" "$rate"
  done
  echo "consumers:"
  echo "  - {cluster: source, group: bench-app, topic: $(topic 0)}"
} >"$work/scenario.yaml"
echo "bench: starting the simulator ($topics topics, $total partitions mirrored)" >&2
"$bin" sim --scenario "$work/scenario.yaml" --log.level warn >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!; pids+=("$sim_pid")
for _ in $(seq 1800); do grep -q '^control ' "$work/sim.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^control ' "$work/sim.out" || { tail "$work/sim.log" >&2; echo "bench: the simulator did not start" >&2; exit 1; }
field() { awk -v c="$1" -v k="$2" '$1 == "cluster" && $2 == c {
  for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' "$work/sim.out"; }

# --- exporter: the destination with its kafka section, the source cluster configured -------
cat >"$work/exporter.yaml" <<EOF
defaults:
  poll_interval: $interval
  request_timeout: 60s
clusters:
  - name: destination
    rest_url: $(field destination rest)
    cluster_id: $(field destination id)
    kafka:
      bootstrap_servers: $(field destination bootstrap)
source_clusters:
  - name: source
    cluster_id: $(field source id)
    kafka:
      bootstrap_servers: $(field source bootstrap)
EOF
port=$(free_port)
"$bin" --config "$work/exporter.yaml" --web.listen-address "127.0.0.1:$port" --log.level warn \
  2>"$work/exporter.log" &
exp_pid=$!; pids+=("$exp_pid")
url="http://127.0.0.1:$port/metrics"
scrape() { curl -s --compressed -H 'Accept: application/openmetrics-text;version=1.0.0' "$url" >"$1"; }
# The value of one series: family $2 with labels containing $3, in the file $1 (empty if none).
value_of() { grep -E "^$2(\{|\s)" "$1" | grep -F -e "${3:-}" | awk '{print $NF; exit}'; }
cycles_in() { value_of "$1" clusterlink_kafka_measurements_total 'kafka_cluster="destination"'; }

echo "bench: waiting for $warmup Kafka-side cycle(s) before measuring" >&2
deadline=$(( $(date +%s) + 600 + warmup * interval_s * 4 ))
while :; do
  scrape "$work/warm.txt" || true
  c=$(cycles_in "$work/warm.txt" 2>/dev/null || true)
  [ -n "$c" ] && [ "${c%.*}" -ge "$warmup" ] && break
  [ "$(date +%s)" -lt "$deadline" ] || { tail "$work/exporter.log" >&2; echo "bench: no Kafka-side cycle" >&2; exit 1; }
  sleep 1
done

# Bytes sent and received on the exporter's sockets to the brokers (open ones only).
broker_ports=$( (field source bootstrap; field destination bootstrap) | tr ',' '\n' | awk -F: 'NF {print $NF}' | sort -u | paste -sd' ')
socket_bytes() {
  ss -tinpH 2>/dev/null | awk -v pid="pid=$exp_pid," -v ports=" $broker_ports " '
    /^[A-Z]/ || /^ESTAB/ { mine = 0 }
    index($0, pid) { n = split($5, a, ":"); mine = index(ports, " " a[n] " ") > 0; next }
    mine { for (i = 1; i <= NF; i++) { if ($i ~ /^bytes_acked:/) { split($i, v, ":"); s += v[2] }
                                       if ($i ~ /^bytes_received:/) { split($i, v, ":"); r += v[2] } } mine = 0 }
    END { printf "%.0f %.0f\n", s, r }'
}

# --- the measured cycles: one scrape per interval, as Prometheus would ----------------------
scrape "$work/before.txt"
read -r tx0 rx0 < <(socket_bytes)
cpu0=$(cpu_of "$exp_pid"); sim_cpu0=$(cpu_of "$sim_pid"); t0=$(now)
durations=()
last=$(cycles_in "$work/before.txt")
for i in $(seq "$cycles"); do
  sleep "$interval_s"
  scrape "$work/cycle-$i.txt"
  c=$(cycles_in "$work/cycle-$i.txt")
  if [ "${c%.*}" != "${last%.*}" ]; then
    durations+=("$(value_of "$work/cycle-$i.txt" clusterlink_kafka_measurement_duration_seconds 'kafka_cluster="destination"')")
  fi
  last=$c
done
cpu1=$(cpu_of "$exp_pid"); sim_cpu1=$(cpu_of "$sim_pid"); t1=$(now)
read -r tx1 rx1 < <(socket_bytes)
after="$work/cycle-$cycles.txt"
done_cycles=$(awk -v a="$(cycles_in "$work/before.txt")" -v b="$(cycles_in "$after")" 'BEGIN {print b - a}')
[ "$done_cycles" -gt 0 ] || { echo "bench: no Kafka-side cycle completed in the window" >&2; exit 1; }

pct() { awk -v c="$1" -v k="$clk" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", 100 * c / k / (b - a)}'; }
per_cycle() { awk -v d="$1" -v n="$done_cycles" 'BEGIN {printf "%.1f", d / n}'; }
# Requests per cycle by connection, client and request type (the counters' increase).
requests=$(join -t'|' -a2 -e0 -o '0,1.2,2.2' \
  <(grep -E '^clusterlink_kafka_requests_total\{' "$work/before.txt" | sed -E 's/^[^{]*\{(.*)\} ([0-9.e+]+).*/\1|\2/' | sort) \
  <(grep -E '^clusterlink_kafka_requests_total\{' "$after" | sed -E 's/^[^{]*\{(.*)\} ([0-9.e+]+).*/\1|\2/' | sort) |
  awk -F'|' -v n="$done_cycles" '{d = $3 - $2; if (d > 0) {
      l = $1; gsub(/kafka_cluster="destination",?/, "", l); gsub(/"/, "", l)
      printf "| `%s` | %.1f |\n", l, d / n } }')
lag_reads=$(( $(value_of "$after" clusterlink_lag_seconds_records_read_total) - $(value_of "$work/before.txt" clusterlink_lag_seconds_records_read_total) ))
unread=$(value_of "$after" clusterlink_lag_seconds_unread_partitions)
rest_duration=$(value_of "$after" clusterlink_scrape_duration_seconds 'kafka_cluster="destination"')
durs=$(printf '%s\n' "${durations[@]}" | awk 'NF {s += $1; if ($1 > m) m = $1; n++} END {if (n) printf "%.2f s mean, %.2f s max (%d sampled)", s / n, m, n; else print "none sampled"}')
rss=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$exp_pid/status")
rss_now=$(awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$exp_pid/status")
sim_rss=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$sim_pid/status")
series=$(grep -vc '^#' "$after")
expected=$(awk -v t0="$t0" -v t1="$t1" -v i="$interval_s" 'BEGIN {printf "%.1f", (t1 - t0) / i}')

cat <<EOF

Shape: 1 link, $topics topics × $per_topic partitions = $total mirror partitions ($traffic_topics topics with traffic, $rate records/s each, copied ${delay_ms} ms late; 1 synced group); poll interval $interval; $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ)

| | exporter |
|---|---|
| Kafka-side cycles in the window | $done_cycles in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", b - a}') s ($expected intervals) |
| Kafka-side cycle duration (\`clusterlink_kafka_measurement_duration_seconds\`) | $durs, interval $interval |
| REST cycle duration (\`clusterlink_scrape_duration_seconds\`, last) | ${rest_duration} s |
| CPU, exporter (REST + Kafka side + one scrape per interval) | $(pct $((cpu1 - cpu0))) % of one core |
| CPU, simulator (for reference) | $(pct $((sim_cpu1 - sim_cpu0))) % of one core |
| bytes to / from the brokers per cycle (open sockets, \`ss\`) | $(per_cycle $((tx1 - tx0))) / $(per_cycle $((rx1 - rx0))) |
| source records read for lag in seconds per cycle | $(per_cycle "$lag_reads") (unread lagging partitions at the end: $unread) |
| peak RSS | $rss MiB (now $rss_now MiB; simulator's peak: $sim_rss MiB) |
| series | $series |

| requests per cycle (\`connection\`, \`client\`, \`request\`) | count |
|---|---|
$requests

(The lag-in-seconds reader keeps no librdkafka statistics: its \`Fetch\` requests are not counted; see its records read above.)
EOF
# More cycles than intervals: the exporter polled at its in-trouble pace (every 10 s), so the
# CPU is not that of this interval. The simulator's link turns SOURCE_UNAVAILABLE when its
# machine cannot keep up with the shape.
unavailable=$(grep -cE '^clusterlink_mirror_topic_state\{.*state="SOURCE_UNAVAILABLE"\} 1' "$after" || true)
if awk -v c="$done_cycles" -v e="$expected" 'BEGIN {exit !(c > e + 1)}' || [ "${unavailable:-0}" -gt 0 ]; then
  echo "bench: warning: $done_cycles cycles in $expected intervals, ${unavailable:-0} mirror topics SOURCE_UNAVAILABLE: the exporter ran at its in-trouble pace; the CPU figure is not that of a healthy link" >&2
fi
# The exit on SIGTERM (what a rollout waits for: Kubernetes kills a pod 30 s after SIGTERM by
# default). Killed after 120 s so that the benchmark always ends.
# Running: not gone and not a zombie (the shell reaps its children at any moment).
running() { local state; state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true); [ -n "$state" ] && [ "$state" != Z ]; }
stop0=$(now)
kill -TERM "$exp_pid"
for _ in $(seq 1200); do running "$exp_pid" || break; sleep 0.1; done
stop1=$(now)
if running "$exp_pid"; then kill -KILL "$exp_pid" 2>/dev/null || true; fi
wait "$exp_pid" 2>/dev/null || true
echo "| exit after SIGTERM | $(awk -v a="$stop0" -v b="$stop1" 'BEGIN {printf "%.1f", b - a}') s |"
