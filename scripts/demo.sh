#!/usr/bin/env bash
# README's first command: installs what the build needs, then runs the exporter against the
# simulated clusters of the built-in default scenario (`demo`). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup-deps.sh --demo
exec cargo run --locked --release -- demo "$@"
