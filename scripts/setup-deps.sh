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
  python3-venv      # the venv below (tests/e2e/exposition.rs)
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

# Python packages the tests use, in a venv of the repository (.venv/, git-ignored), pinned:
# prometheus_client's OpenMetrics parser checks /metrics (tests/e2e/exposition.rs).
venv="$(cd "$(dirname "$0")/.." && pwd)/.venv"
prometheus_client_version=0.21.1
have_version() {
  "$venv/bin/python3" -c 'import importlib.metadata as m, sys; sys.exit(m.version(sys.argv[1]) != sys.argv[2])' \
    prometheus_client "$prometheus_client_version" 2>/dev/null
}
if ! have_version; then
  echo "setup-deps: making $venv with prometheus_client==$prometheus_client_version" >&2
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "prometheus_client==$prometheus_client_version"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup-deps: cargo not found; install the Rust toolchain (rustup) first" >&2
  exit 1
fi
