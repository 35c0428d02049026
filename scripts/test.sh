#!/usr/bin/env bash
# The whole test suite: system packages, formatting, lints, unit and end-to-end tests.
# This is README's test command and exactly what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup-deps.sh
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked --all-targets
