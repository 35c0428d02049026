#!/usr/bin/env bash
# Runs, on this machine, everything needed to watch the shipped alerts fire:
#   cluster-link-exporter demo (simulated clusters A and B + the exporter)  :9849
#   Prometheus (Debian's package) with alerts/*.rules.yml                    :9090
#   Alertmanager (Debian's package) with alerts/alertmanager.yml             :9093
#   a webhook receiver standing in for the pager and the chat, printing what it gets  :9095
# Everything binds 127.0.0.1 and stops with Ctrl-C.
#
#   deploy/local/run.sh          # production durations (ClusterLinkDown pages after 2m)
#   FAST=1 deploy/local/run.sh   # alerts/test-overrides.yml: pages within seconds
#
# Then break something with the simulator's control API (printed by the demo), e.g.
#   curl -X POST http://127.0.0.1:<control port>/sim/v1/actions -d '{"do":"brokers_down","cluster":"A"}'
# and watch http://127.0.0.1:9090/alerts, http://127.0.0.1:9093 and this terminal.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
"$root/scripts/setup-deps.sh"
if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "run.sh: installing python3-yaml (for FAST=1)" >&2
  sudo_cmd=(); [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3-yaml
fi
cargo build --release --locked

work="$(mktemp -d -t cluster-link-exporter-local-XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

evaluation_interval=15s
if [ "${FAST:-0}" = 1 ]; then
  evaluation_interval=$(python3 "$root/deploy/local/overrides.py" rules "$root/alerts" "$work")
else
  cp "$root"/alerts/*.rules.yml "$work/"
fi
python3 "$root/deploy/local/overrides.py" alertmanager "$root/alerts" "$work" "${FAST:-0}"

cat > "$work/prometheus.yml" <<YAML
global:
  scrape_interval: 5s
  evaluation_interval: $evaluation_interval
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

python3 "$root/deploy/local/webhook.py" 127.0.0.1 9095 &
pids+=($!)
prometheus-alertmanager --config.file="$work/alertmanager.yml" --storage.path="$work/am" \
  --web.listen-address=127.0.0.1:9093 --cluster.listen-address= --log.level=warn &
pids+=($!)
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prom" \
  --web.listen-address=127.0.0.1:9090 --log.level=warn &
pids+=($!)
"$root/target/release/cluster-link-exporter" demo --web.listen-address 127.0.0.1:9849 &
pids+=($!)

echo "local stack: Prometheus http://127.0.0.1:9090/alerts  Alertmanager http://127.0.0.1:9093  exporter http://127.0.0.1:9849/" >&2
wait -n "${pids[@]}"
