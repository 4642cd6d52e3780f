#!/usr/bin/env bash
# Installs exactly the Debian 12 packages the suite needs; idempotent (installs only what is
# missing, and runs apt-get update only then).
#   scripts/install-deps.sh          build + run
#   scripts/install-deps.sh --test   build + run + tests, linters and benchmarks
#   scripts/install-deps.sh --deploy build + run + the container/manifest tools of
#                                    scripts/deploy-check.sh (may be combined with --test)
set -euo pipefail

BUILD_PACKAGES=(
  cmake ninja-build g++ pkg-config
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libabsl-dev libhiredis-dev libsqlite3-dev libpq-dev libssl-dev libcpp-httplib-dev
  # google/rpc/{status,error_details}.proto for rich errors; grpc/health + reflection protos
  golang-github-gogo-googleapis-dev golang-google-grpc-dev
  redis-server curl tzdata openssl  # openssl: scripts/dev-pki.sh (development certificates)
  libyaml-dev  # outreachctl's YAML input (-f x.yaml)
)
# postgresql-15: the throwaway server of the postgres_* tests (scripts/pg-test-server.sh);
# python3-yaml: deploy/tools/dashboard_check.py in metrics_grafana_dashboard_test; chromium: the
# headless browser of the dashboard page test (driven by playwright-core from npm).
TEST_PACKAGES=(
  googletest libgtest-dev libgmock-dev
  clang-format
  postgresql-15
  python3-yaml
  chromium
)
# scripts/deploy-check.sh: podman with runc (crun fails on this cgroup v1 host) and catatonit
# (play kube's pause image), debootstrap for a base image without a registry, docker-compose
# for `config -q`, podman-compose + the CNI dnsname plugin to run the Compose file, promtool (prometheus), python3-kubernetes for the offline schema check,
# Node.js (checked below) for the gRPC scenario. kubectl with kustomize v5 is not in Debian 12
# (kubernetes-client is 1.20, kustomize v2): where it is missing, deploy-check skips the
# Kubernetes render and the play-kube stages (and says so); --require-k8s makes that a failure.
DEPLOY_PACKAGES=(
  podman runc catatonit debootstrap docker-compose podman-compose
  golang-github-containernetworking-plugin-dnsname prometheus python3-kubernetes python3-yaml curl
)

packages=("${BUILD_PACKAGES[@]}")
for arg in "$@"; do
  case $arg in
    --test) packages+=("${TEST_PACKAGES[@]}") ;;
    --deploy) packages+=("${DEPLOY_PACKAGES[@]}") ;;
    *) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done
if [[ " $* " == *" --deploy "* ]] && ! command -v kubectl >/dev/null; then
  echo "install-deps: no kubectl with kustomize v5 (Debian 12's kubernetes-client is too old):" >&2
  echo "              scripts/deploy-check.sh will skip its Kubernetes stages" >&2
fi

# Node.js + npm: the build embeds the metrics dashboard page with uPlot from the npm registry,
# and the @grpc/grpc-js client tests, the browser test and the buf linter come from there too. A
# machine may already have them from another source (which conflicts with Debian's npm
# package), so they are checked as commands.
missing=()
if ! { command -v node && command -v npm; } >/dev/null; then
  missing+=(nodejs npm)
fi
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
