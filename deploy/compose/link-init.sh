#!/bin/bash
# Run once by the link-init service of compose.yaml when both clusters are healthy: creates
# demo-perf-topic on the source, the cluster link ab-link (source -> destination, defined on
# the destination) and the mirror topic demo-perf-topic. Idempotent: each step first looks.
set -euo pipefail
src=source:29092
dst=destination:29092

kafka-topics --bootstrap-server "$src" --create --if-not-exists \
  --topic demo-perf-topic --partitions 6 --replication-factor 1

if ! kafka-cluster-links --bootstrap-server "$dst" --list | grep -q "ab-link"; then
  kafka-cluster-links --bootstrap-server "$dst" --create --link ab-link \
    --config "bootstrap.servers=$src"
fi

if ! kafka-mirrors --bootstrap-server "$dst" --list --link ab-link | grep -qx "demo-perf-topic"; then
  kafka-mirrors --bootstrap-server "$dst" --create --mirror-topic demo-perf-topic --link ab-link
fi
echo "link-init: ab-link mirrors demo-perf-topic"
