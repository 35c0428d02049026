#!/usr/bin/env bash
# How fast a source outage pages, with everything as shipped: the simulator with Confluent's own
# availability timing (availability.check.ms 60000 x 5 checks), the exporter with its Kafka side
# (`cluster-link-exporter demo`), Debian's Prometheus with the production rules of alerts/
# (scrape and evaluation every 15 s), Debian's Alertmanager with alerts/alertmanager.yml as
# shipped (group_wait 30s), and a webhook receiver as the pager. Not part of the test suite: it
# takes minutes.
#
#   scripts/page-latency.sh                      # 5 healthy minutes, then the outage
#   HEALTHY_MINUTES=10 scripts/page-latency.sh
#   BIN=target/debug/cluster-link-exporter scripts/page-latency.sh   # skip the release build
#
# Prints the healthy minutes and the pages during them (expected: none), then the seconds from
# the outage (all brokers of the source cluster A down) to the first page and which alert it
# was. Binds 127.0.0.1:9849, :9090, :9093, :9095 (as deploy/local/run.sh) and stops everything
# on exit.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
healthy_minutes="${HEALTHY_MINUTES:-5}"
page_timeout_s="${PAGE_TIMEOUT_SECONDS:-900}"
"$root/scripts/setup-deps.sh" >/dev/null
if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "page-latency: installing python3-yaml" >&2
  sudo_cmd=(); [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3-yaml
fi
bin="${BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --locked
  bin="$root/target/release/cluster-link-exporter"
fi

work="$(mktemp -d -t cluster-link-exporter-page-latency-XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

cp "$root"/alerts/*.rules.yml "$work/"
# Production route durations; only the webhook URLs point at the local receiver.
python3 "$root/deploy/local/overrides.py" alertmanager "$root/alerts" "$work" 0
cat > "$work/prometheus.yml" <<YAML
global:
  scrape_interval: 15s
  evaluation_interval: 15s
rule_files:
  - $work/*.rules.yml
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:9093']
scrape_configs:
  - job_name: cluster-link-exporter
    static_configs:
      - targets: ['127.0.0.1:9849']
YAML

python3 "$root/deploy/local/webhook.py" 127.0.0.1 9095 > "$work/notifications.log" &
pids+=($!)
prometheus-alertmanager --config.file="$work/alertmanager.yml" --storage.path="$work/am" \
  --web.listen-address=127.0.0.1:9093 --cluster.listen-address= --log.level=warn &
pids+=($!)
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prom" \
  --web.listen-address=127.0.0.1:9090 --log.level=warn &
pids+=($!)
"$bin" demo --web.listen-address 127.0.0.1:9849 > "$work/demo.log" 2>&1 &
pids+=($!)

control=""
for _ in $(seq 1 120); do
  control=$(sed -n 's/^ *control API *//p' "$work/demo.log" | head -n 1)
  [ -n "$control" ] && break
  sleep 1
done
[ -n "$control" ] || { echo "page-latency: the demo did not start:" >&2; cat "$work/demo.log" >&2; exit 1; }
act() {
  curl -sf -X POST "$control/actions" -d "$1" > /dev/null \
    || { echo "page-latency: action failed: $1" >&2; exit 1; }
}
# Confluent's availability timing on every link from A (the scenario's own is 2 s x 3).
for link in ab-link dr-link bidi-link; do
  act "{\"do\":\"set_link_config\",\"cluster\":\"B\",\"link\":\"$link\",\"name\":\"availability.check.ms\",\"value\":\"60000\"}"
  act "{\"do\":\"set_link_config\",\"cluster\":\"B\",\"link\":\"$link\",\"name\":\"availability.check.consecutive.failure.threshold\",\"value\":\"5\"}"
done

echo "page-latency: healthy for $healthy_minutes minute(s)…" >&2
sleep $((healthy_minutes * 60))
healthy_pages=$(grep -c ' pager ' "$work/notifications.log" || true)
echo "healthy minutes: $healthy_minutes, pages during them: $healthy_pages"
grep ' pager ' "$work/notifications.log" || true

echo "page-latency: source cluster A down…" >&2
start=$(date +%s.%N)
act '{"do":"brokers_down","cluster":"A"}'
first=""
while [ -z "$first" ]; do
  first=$(grep ' pager firing ' "$work/notifications.log" | head -n 1 || true)
  now=$(date +%s.%N)
  if [ -z "$first" ] && awk -v n="$now" -v s="$start" -v t="$page_timeout_s" 'BEGIN { exit !(n - s > t) }'; then
    echo "page-latency: no page within $page_timeout_s s" >&2
    exit 1
  fi
  [ -n "$first" ] || sleep 1
done
seconds=$(awk -v n="$now" -v s="$start" 'BEGIN { printf "%.0f", n - s }')
echo "outage to first page: ${seconds} s (±1 s): $first"
echo "page-latency: every notification:" >&2
cat "$work/notifications.log" >&2
