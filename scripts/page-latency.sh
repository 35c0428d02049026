#!/usr/bin/env bash
# How fast a source outage pages with the shipped defaults: the simulator (`cluster-link-exporter
# sim`) with Confluent's own availability timing (availability.check.ms 60000 x 5 checks), the
# exporter on a configuration that sets no interval (default poll_interval, the Kafka side
# measuring after each REST cycle) with a `kafka` section per cluster and every cluster listed
# under `source_clusters` (so the Kafka side corroborates a source outage), Debian's Prometheus
# with the production rules of alerts/ (scrape and evaluation every 15 s, the recommended
# intervals), Debian's Alertmanager with alerts/alertmanager.yml as shipped, and a webhook
# receiver as the pager. Not part of the test suite: it takes minutes.
#
#   scripts/page-latency.sh                      # 5 healthy minutes, then the outage
#   HEALTHY_MINUTES=10 scripts/page-latency.sh
#   BIN=target/debug/cluster-link-exporter scripts/page-latency.sh   # skip the release build
#   PORT_BASE=19840 scripts/page-latency.sh     # ports 19849, 19890, 19893, 19895
#   PHASE_SECONDS=0 scripts/page-latency.sh     # the worst phase against Confluent's checks
#
# Prints the intervals it used (poll, Kafka cycle, scrape, evaluation, the page's `for:`,
# group_wait), the healthy minutes and the pages during them (expected: none), then the seconds
# from the outage (all brokers of the source cluster A down) to the first page and which alert
# it was. Binds 127.0.0.1:9849, :9890, :9893, :9895 (offsets 9, 50, 53, 55 from PORT_BASE,
# default 9840) and stops everything on exit.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
healthy_minutes="${HEALTHY_MINUTES:-5}"
port_base="${PORT_BASE:-9840}"
exporter_port=$((port_base + 9)) prometheus_port=$((port_base + 50))
alertmanager_port=$((port_base + 53)) webhook_port=$((port_base + 55))
scrape_interval=15s evaluation_interval=15s
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
# Stops what it started, last started first (the exporter before the simulator); a process
# still running 15 s after SIGTERM is killed.
cleanup() {
  local i pid
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]}
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null && echo "page-latency: killed $pid (no exit 15 s after SIGTERM)" >&2
  done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

cp "$root"/alerts/*.rules.yml "$work/"
# Production route durations; only the webhook URLs point at the local receiver.
python3 "$root/deploy/local/overrides.py" alertmanager "$root/alerts" "$work" 0
sed -i "s#http://127.0.0.1:9095/#http://127.0.0.1:$webhook_port/#" "$work/alertmanager.yml"
cat > "$work/prometheus.yml" <<YAML
global:
  scrape_interval: $scrape_interval
  evaluation_interval: $evaluation_interval
rule_files:
  - $work/*.rules.yml
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:$alertmanager_port']
scrape_configs:
  - job_name: cluster-link-exporter
    static_configs:
      - targets: ['127.0.0.1:$exporter_port']
YAML

python3 "$root/deploy/local/webhook.py" 127.0.0.1 "$webhook_port" > "$work/notifications.log" &
pids+=($!)
prometheus-alertmanager --config.file="$work/alertmanager.yml" --storage.path="$work/am" \
  --web.listen-address="127.0.0.1:$alertmanager_port" --cluster.listen-address= --log.level=warn &
pids+=($!)
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prom" \
  --web.listen-address="127.0.0.1:$prometheus_port" --log.level=warn &
pids+=($!)
"$bin" sim > "$work/sim.log" 2>&1 &
pids+=($!)

control=""
for _ in $(seq 1 120); do
  control=$(sed -n 's/^control //p' "$work/sim.log" | head -n 1)
  [ -n "$control" ] && break
  sleep 1
done
[ -n "$control" ] || { echo "page-latency: the simulator did not start:" >&2; cat "$work/sim.log" >&2; exit 1; }
# The exporter's configuration: the simulator's clusters with a Kafka side, every one a source
# cluster too, and no interval set: every interval is the exporter's default.
{
  echo "clusters:"
  awk '/^cluster / && /bootstrap=./ { sub("id=", "", $3); sub("rest=", "", $5); sub("bootstrap=", "", $6);
         printf "  - name: %s\n    rest_url: %s\n    cluster_id: %s\n    kafka:\n      bootstrap_servers: %s\n", $2, $5, $3, $6 }' "$work/sim.log"
  echo "source_clusters:"
  awk '/^cluster / && /bootstrap=./ { sub("id=", "", $3); sub("bootstrap=", "", $6);
         printf "  - name: %s\n    cluster_id: %s\n    kafka:\n      bootstrap_servers: %s\n", $2, $3, $6 }' "$work/sim.log"
} > "$work/exporter.yml"
"$bin" check-config --config "$work/exporter.yml" > /dev/null \
  || { echo "page-latency: the generated configuration is invalid:" >&2; cat "$work/exporter.yml" >&2; exit 1; }
"$bin" --config "$work/exporter.yml" --web.listen-address "127.0.0.1:$exporter_port" > "$work/exporter.log" 2>&1 &
pids+=($!)

# The intervals this run measures with, read from what runs: the exporter's configuration (no
# interval set: the defaults), Prometheus' and the shipped rules and routing.
python3 - "$root/alerts" <<'PY' > "$work/timing.txt"
import pathlib, sys, yaml
alerts = pathlib.Path(sys.argv[1])
rule = next(r for f in alerts.glob("*.rules.yml") for g in yaml.safe_load(f.read_text())["groups"]
            for r in g["rules"] if r.get("alert") == "ClusterLinkSourceOutage")
route = yaml.safe_load((alerts / "alertmanager.yml").read_text())["route"]
pager = next((r for r in route.get("routes", []) if r.get("receiver") == "pager"), {})
print(f"for: {rule['for']} (ClusterLinkSourceOutage), group_wait: {pager.get('group_wait', route['group_wait'])} (pager route)")
PY
echo "intervals: poll_interval 30s (default; not set in the configuration), Kafka side: after each REST cycle," \
  "scrape $scrape_interval, evaluation $evaluation_interval, $(cat "$work/timing.txt")"
act() {
  curl -sf -X POST "$control/actions" -d "$1" > /dev/null \
    || { echo "page-latency: action failed: $1" >&2; exit 1; }
}
# Confluent's availability timing on every link from A (the scenario's own is 2 s x 3).
for link in ab-link dr-link bidi-link; do
  act "{\"do\":\"set_link_config\",\"cluster\":\"B\",\"link\":\"$link\",\"name\":\"availability.check.ms\",\"value\":\"60000\"}"
  act "{\"do\":\"set_link_config\",\"cluster\":\"B\",\"link\":\"$link\",\"name\":\"availability.check.consecutive.failure.threshold\",\"value\":\"5\"}"
done

# The outage's phase against Confluent's 60 s availability checks (which the configuration
# change above restarted): a whole number of healthy minutes would put the outage just after a
# check every time, the worst case (the first failed check a full interval later). Real
# outages come at any phase: PHASE_SECONDS (0-59) past the healthy minutes, random by default.
phase_s="${PHASE_SECONDS:-$((RANDOM % 60))}"
echo "page-latency: healthy for $healthy_minutes minute(s) and $phase_s s…" >&2
sleep $((healthy_minutes * 60 + phase_s)) &
wait $! # (a signal interrupts `wait`, not `sleep`: the trap runs at once)
healthy_pages=$(grep -c ' pager ' "$work/notifications.log" || true)
echo "healthy minutes: $healthy_minutes (+ $phase_s s of phase), pages during them: $healthy_pages"
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
