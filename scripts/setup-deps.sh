#!/usr/bin/env bash
# Installs the system packages the build and the tests need, when they are missing.
# Debian packages only; safe to run again (does nothing when all are present).
set -euo pipefail

packages=(
  build-essential   # C toolchain for librdkafka (rdkafka-sys builds it from source)
  pkg-config
  libssl-dev        # librdkafka with TLS and SASL SCRAM
  zlib1g-dev        # librdkafka compression
  libcurl4-openssl-dev  # librdkafka SASL/OAUTHBEARER OIDC token retrieval (rdkafka feature curl)
  python3           # librdkafka's configure script
  curl
  prometheus        # real Prometheus and promtool: tests/e2e/prometheus.rs, alert_rules.rs, paging.rs
  prometheus-alertmanager  # real Alertmanager and amtool: tests/e2e/paging.rs, alert_rules.rs
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-deps: installing ${missing[*]}" >&2
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup-deps: cargo not found; install the Rust toolchain (rustup) first" >&2
  exit 1
fi
