#!/usr/bin/env bash
# The whole test suite, every workspace member (the exporter and sim/): system packages,
# formatting, lints (also of the slim build), unit and end-to-end tests.
# This is README's test command and exactly what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup-deps.sh
cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings
# The slim exporter (no simulator, no demo/sim subcommands) must keep compiling.
cargo clippy --locked --no-default-features -- -D warnings
# The API docs (`///` on config keys are the user reference) must build without broken links.
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --workspace
# The container image's binary as the Dockerfile builds it (slim, zlib and libcurl compiled in),
# built once before the tests: tests/e2e/deploy_image.rs then only finds it up to date.
cargo build --locked --release --no-default-features --features static-deps --bin cluster-link-exporter
cargo test --locked --workspace --all-targets
