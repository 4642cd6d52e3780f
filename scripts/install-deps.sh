#!/usr/bin/env bash
# Installs exactly the Debian 12 packages the suite needs; idempotent (installs only what is
# missing, and runs apt-get update only then).
#   scripts/install-deps.sh          build + run
#   scripts/install-deps.sh --test   build + run + tests, linters and benchmarks
set -euo pipefail

BUILD_PACKAGES=(
  cmake ninja-build g++ pkg-config
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libabsl-dev libhiredis-dev libsqlite3-dev libssl-dev libcpp-httplib-dev
  # google/rpc/{status,error_details}.proto for rich errors; grpc/health + reflection protos
  golang-github-gogo-googleapis-dev golang-google-grpc-dev
  redis-server curl tzdata
)
TEST_PACKAGES=(
  googletest libgtest-dev libgmock-dev
  clang-format
)
# Node.js + npm run the @grpc/grpc-js client tests and the buf linter (both from the npm
# registry). A machine may already have them from another source (which conflicts with
# Debian's npm package), so they are checked as commands.

packages=("${BUILD_PACKAGES[@]}")
if [[ "${1:-}" == "--test" ]]; then packages+=("${TEST_PACKAGES[@]}"); fi

missing=()
if [[ "${1:-}" == "--test" ]] && ! { command -v node && command -v npm; } >/dev/null; then
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
