#!/usr/bin/env bash
# Regenerates docs/status-page.png: runs `cluster-link-exporter demo`, takes cluster A's
# brokers down (so the page shows problems first), waits for the links from A to turn
# UNAVAILABLE, and photographs the status page with Debian's headless Chromium (installed by
# scripts/setup-deps.sh). Stops the demo when done.
#
#   scripts/status-page-screenshot.sh [OUTPUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/status-page.png}"
port="${PORT:-19849}"
log="$(mktemp -t status-page-demo-XXXXXX.log)"

cargo build --locked --quiet
target/debug/cluster-link-exporter demo --web.listen-address "127.0.0.1:$port" >"$log" 2>&1 &
demo=$!
trap 'kill "$demo" 2>/dev/null || true; wait "$demo" 2>/dev/null || true; rm -f "$log"' EXIT

control=""
for _ in $(seq 1 120); do
  control="$(sed -n 's/^  control API *//p' "$log")"
  [ -n "$control" ] && break
  sleep 1
done
[ -n "$control" ] || { echo "the demo did not start:" >&2; cat "$log" >&2; exit 1; }

# Healthy first (every link ACTIVE, lag measured), then the source outage.
sleep 20
curl -fsS -X POST "$control/actions" -d '{"do":"brokers_down","cluster":"A"}' >/dev/null
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$port/status.json" | grep -q '"name":"ab-link","state":"UNAVAILABLE"'; then
    break
  fi
  sleep 1
done
sleep 3
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --window-size=1600,820 --screenshot="$out" "http://127.0.0.1:$port/?refresh=0" 2>/dev/null
echo "wrote $out"
