#!/usr/bin/env bash
# Soak test: the exporter against the simulator while links and mirror topics are created and
# deleted under new names, with a REST fault after every deletion (the churn of
# tests/e2e/churn.rs, for as long as you like). Prints once a minute the exporter's memory, series,
# open file descriptors and threads, measured with no churned object alive, and fails if a
# series of a deleted object survives or the exporter dies.
#
#   scripts/soak.sh 20m            # DURATION: a number with s, m or h (default 5m)
#
# Environment: CLE_BIN (a built binary; default: cargo build --locked --release),
# SOAK_STEP_SECONDS (one churn step, default 4), SOAK_POLL (exporter poll interval, default 1s),
# SOAK_KEEP=1 (keep the work directory with configs and logs).
# Everything listens on 127.0.0.1 only. See docs/operations.md.
set -euo pipefail
cd "$(dirname "$0")/.."

duration_arg="${1:-5m}"
step="${SOAK_STEP_SECONDS:-4}"
poll="${SOAK_POLL:-1s}"

to_seconds() {
  local n="${1%[smh]}" unit="${1: -1}"
  [[ "$n" =~ ^[0-9]+$ ]] || { echo "soak: bad duration $1 (e.g. 90s, 20m, 1h)" >&2; exit 2; }
  case "$unit" in
    s) echo "$n" ;;
    m) echo $((n * 60)) ;;
    h) echo $((n * 3600)) ;;
    *) echo "soak: bad duration $1 (e.g. 90s, 20m, 1h)" >&2; exit 2 ;;
  esac
}
duration=$(to_seconds "$duration_arg")
[[ "$step" =~ ^[1-9][0-9]*$ ]] || { echo "soak: SOAK_STEP_SECONDS must be a positive integer" >&2; exit 2; }
[[ "$poll" =~ ^[0-9]+(\.[0-9]+)?s$ ]] || { echo "soak: SOAK_POLL must be in seconds, like 1s or 0.5s" >&2; exit 2; }

bin="${CLE_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --locked --release --quiet
  bin=target/release/cluster-link-exporter
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cle-soak.XXXXXX")
sim_pid=""
exporter_pid=""
cleanup() {
  for pid in $exporter_pid $sim_pid; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in $exporter_pid $sim_pid; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "${SOAK_KEEP:-0}" = 1 ]; then
    echo "soak: work directory kept: $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Source A, destination B. The persistent link `base` has traffic, offset sync and the probe
# topic; churned mirrors mirror `orders` (2 records/s, read by a committing group) and
# `static` (no traffic), so a new mirror copies little history.
cat >"$work/scenario.yaml" <<'EOF'
clusters:
  - name: A
    brokers: 3
    topics:
      - {name: events, partitions: 6}
      - {name: orders, partitions: 2}
      - {name: static, partitions: 1}
      - {name: clusterlink-probe, partitions: 3}
  - name: B
    brokers: 3
links:
  - name: base
    source: A
    destination: B
    mirrors: [events, clusterlink-probe]
    configs:
      consumer.offset.sync.enable: true
      consumer.offset.sync.ms: 1000
      consumer.offset.group.filters: '{"groupFilters":[{"name":"events-app","patternType":"LITERAL","filterType":"INCLUDE"}]}'
      availability.check.ms: 1000
traffic:
  - {cluster: A, topic: events, records_per_second: 50}
  - {cluster: A, topic: orders, records_per_second: 2}
consumers:
  - {cluster: A, group: events-app, topic: events}
  - {cluster: A, group: orders-app, topic: orders}
EOF

# Waits up to $2 seconds for a line matching the regex $3 in file $1 and prints it.
wait_line() {
  local file=$1 limit=$2 pattern=$3 i
  for ((i = 0; i < limit * 10; i++)); do
    if grep -m1 -E "$pattern" "$file" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "soak: no line matching '$pattern' in $file after ${limit}s:" >&2
  tail -20 "$file" >&2
  exit 1
}

"$bin" sim --scenario "$work/scenario.yaml" --log.level warn >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
wait_line "$work/sim.out" 60 '^control ' >/dev/null
field() { # field CLUSTER KEY: a key=value of the sim's "cluster" line
  sed -n "s/^cluster $1 .*$2=\([^ ]*\).*/\1/p" "$work/sim.out"
}
ctl=$(sed -n 's/^control //p' "$work/sim.out")
b_rest=$(field B rest)
b_id=$(field B id)
b_kafka=$(field B bootstrap)
a_id=$(field A id)
a_kafka=$(field A bootstrap)

cat >"$work/config.yaml" <<EOF
defaults:
  poll_interval: $poll
  request_timeout: 5s
clusters:
  - name: B
    rest_url: $b_rest
    cluster_id: $b_id
    kafka: {bootstrap_servers: '$b_kafka'}
    probes:
      - {link: base, topic: clusterlink-probe, interval: 1s, sla: 10s, instance_id: soak}
source_clusters:
  - name: A
    cluster_id: $a_id
    kafka: {bootstrap_servers: '$a_kafka'}
EOF

"$bin" --config "$work/config.yaml" --web.listen-address 127.0.0.1:0 --log.level warn,cluster_link_exporter::exporter=info \
  >"$work/exporter.out" 2>"$work/exporter.log" &
exporter_pid=$!
address=$(wait_line "$work/exporter.log" 60 'serving' | sed -n 's/.*address=\([^ ]*\).*/\1/p')
[ -n "$address" ] || { echo "soak: the exporter did not start; log:" >&2; tail -30 "$work/exporter.log" >&2; exit 1; }
metrics="http://$address/metrics"
links="$b_rest/clusters/$b_id/links"

alive() {
  kill -0 "$exporter_pid" 2>/dev/null || { echo "soak: the exporter died; log:" >&2; tail -30 "$work/exporter.log" >&2; exit 1; }
  kill -0 "$sim_pid" 2>/dev/null || { echo "soak: the simulator died; log:" >&2; tail -30 "$work/sim.log" >&2; exit 1; }
}
status_kib() { sed -n "s/^$2:[[:space:]]*\([0-9]*\).*/\1/p" "/proc/$1/status"; }
post() { curl -sf -o /dev/null -X POST -H 'content-type: application/json' "$@"; }
action() { post "$ctl/actions" -d "$1" || { echo "soak: action failed: $1" >&2; exit 1; }; }
rest() { # METHOD URL [BODY]: a REST call to B that must succeed
  curl -sf -o /dev/null -X "$1" -H 'content-type: application/json' "$2" ${3:+-d "$3"} \
    || { echo "soak: $1 $2 failed" >&2; exit 1; }
}
# Waits until B's REST API has no fault in force (the exporter used it up).
no_fault() {
  local i
  for ((i = 0; i < 300; i++)); do
    grep -q '"name":"B"[^{}]*"rest_fault":null' <<<"$(curl -sf "$ctl/clusters")" && return 0
    sleep 0.1
  done
  echo "soak: the exporter did not use up the REST fault in 30 s" >&2
  exit 1
}
# Waits $1 poll intervals.
cycles() { sleep "$(awk -v p="${poll%s}" -v n="$1" 'BEGIN { print p * n }')"; }

faults=(
  '{"kind":"server_error"}'
  '{"kind":"malformed"}'
  '{"kind":"unknown_values"}'
  '{"kind":"truncated"}'
  '{"kind":"rate_limited","retry_after_seconds":2}'
  '{"kind":"reset"}'
  '{"kind":"unauthorized"}'
  '{"kind":"latency","ms":3000}'
  '{"kind":"hang"}'
)
steps=0
churn_step() {
  local k=$((steps + 1))
  local link="churn-$k"
  rest POST "$links?link_name=$link" "{\"source_cluster_id\":\"$a_id\",\"configs\":[
    {\"name\":\"cluster.link.prefix\",\"value\":\"churn$k.\"},
    {\"name\":\"availability.check.ms\",\"value\":\"1000\"},
    {\"name\":\"consumer.offset.sync.enable\",\"value\":\"true\"},
    {\"name\":\"consumer.offset.sync.ms\",\"value\":\"1000\"},
    {\"name\":\"consumer.offset.group.filters\",\"value\":\"{\\\"groupFilters\\\":[{\\\"name\\\":\\\"orders-app\\\",\\\"patternType\\\":\\\"LITERAL\\\",\\\"filterType\\\":\\\"INCLUDE\\\"}]}\"}]}"
  rest POST "$links/$link/mirrors" '{"source_topic_name":"orders"}'
  rest POST "$links/$link/mirrors" '{"source_topic_name":"static"}'
  rest POST "$links/base/mirrors" "{\"source_topic_name\":\"static\",\"mirror_topic_name\":\"churn-static-$k\"}"
  sleep "$(awk -v s="$step" 'BEGIN { print s / 2 }')"
  rest DELETE "$links/$link"
  action "{\"do\":\"delete_topic\",\"cluster\":\"B\",\"topic\":\"churn-static-$k\"}"
  action "{\"do\":\"rest_fault\",\"cluster\":\"B\",\"fault\":${faults[$((steps % ${#faults[@]}))]},\"requests\":2}"
  steps=$k
  sleep "$(awk -v s="$step" 'BEGIN { print s / 2 }')"
}

# Families whose label values may grow without naming a link or topic (HTTP statuses and
# Kafka request types seen so far): counted in `series`, left out of `tracked`.
may_grow='^clusterlink_(rest|kafka)_requests_total[{ ]'
# Scrapes and sets series (all samples), tracked (samples that must return to the baseline)
# and churned (samples naming a deleted object).
count() {
  local text
  text=$(curl -sf "$metrics") || { echo "soak: scrape failed" >&2; exit 1; }
  text=$(grep -v '^#' <<<"$text")
  series=$(wc -l <<<"$text")
  tracked=$(grep -cEv "$may_grow" <<<"$text" || true)
  churned=$(grep -c 'churn' <<<"$text" || true)
}
# One line of figures, measured with no churned object alive, no fault in force, and once the
# series are back to the baseline (up to 60 s: after a fault the cluster needs a successful
# cycle, and while its REST API fails the Kafka side keeps measuring the last snapshot).
# settle_s is how long that took after the last fault was used up.
report() {
  alive
  no_fault
  local since i
  since=$(date +%s)
  cycles 2
  count
  for ((i = 0; i < 60 && ${baseline:-0} > 0 && (churned != 0 || tracked != baseline); i++)); do
    sleep 1
    alive
    count
  done
  printf '%6d %9d %6d %9d %9d %7d %8d %7d %8d %9d %8d %11d\n' \
    "$1" "$(($(date +%s) - start))" "$steps" \
    "$(status_kib "$exporter_pid" VmRSS)" "$(status_kib "$exporter_pid" VmHWM)" \
    "$series" "$tracked" "$churned" "$(($(date +%s) - since))" "$(ls "/proc/$exporter_pid/fd" | wc -l)" \
    "$(status_kib "$exporter_pid" Threads)" "$(status_kib "$sim_pid" VmRSS)"
}

# Baseline: the exporter settled on the persistent objects.
for ((i = 0; i < 600; i++)); do
  grep -q '^clusterlink_consumer_offset_sync_lag_messages{.*link="base"' <<<"$(curl -sf "$metrics")" && break
  alive
  sleep 0.1
done
# ... and stable: the same number of tracked series three cycles apart.
previous=-1
for ((i = 0; i < 20; i++)); do
  cycles 3
  count
  [ "$tracked" -eq "$previous" ] && break
  previous=$tracked
done
echo "soak: sim pid $sim_pid, exporter pid $exporter_pid at http://$address; churn step ${step}s, poll $poll, for ${duration}s"
echo "minute elapsed_s  steps   rss_kib   hwm_kib  series  tracked churned settle_s  open_fds  threads sim_rss_kib"
start=$(date +%s)
baseline=0
report 0
baseline=$tracked
minute=1
reported=0
while (($(date +%s) - start < duration)); do
  alive
  no_fault
  churn_step
  if (($(date +%s) - start >= minute * 60)); then
    report "$minute"
    minute=$((minute + 1))
    reported=$steps
  fi
done
if ((reported != steps)); then report "$minute"; fi
echo "soak: $steps churn steps in $(($(date +%s) - start))s; tracked series $baseline at the start, $tracked at the end; $churned series of deleted objects"
if [ "$churned" -ne 0 ] || [ "$tracked" -ne "$baseline" ]; then
  echo "soak: FAILED: the series did not return to the baseline within 60 s" >&2
  exit 1
fi
