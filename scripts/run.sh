#!/usr/bin/env bash
# README's run command: installs what is missing, builds, starts every service of the suite on
# loopback with SQLite files under ./data (or $OUTREACH_DATA_DIR), loads the demo data through
# the public gRPC APIs, and stops everything cleanly on Ctrl-C. Everything talks TLS with the
# development PKI of scripts/dev-pki.sh (data/pki, made on the first run) and every call carries
# a token: the demo operator's (data/pki/demo.token), or a service's own client certificate.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DATA_DIR=${OUTREACH_DATA_DIR:-$ROOT/data}
BUILD=$ROOT/build/default
FORCE=${OUTREACH_DEMO_FORCE:-derbyshire}
start=$(date +%s)
step() { echo "==> [$(( $(date +%s) - start ))s] $*"; }

step "dependencies"
scripts/install-deps.sh
step "configure + build (default preset; the first build takes a few minutes)"
cmake --preset default -DOUTREACH_BUILD_TESTS=OFF >/dev/null
cmake --build --preset default -j "${OUTREACH_JOBS:-$(nproc)}" | grep --line-buffered -E "^\[[0-9]+/[0-9]+\]" \
  | awk 'NR % 20 == 1 { print "    " $1 " " $NF; fflush() }' || true
cmake --build --preset default >/dev/null
TOKEN_BIN=$BUILD/tools/token/outreach-token
[[ -x $TOKEN_BIN ]] || { echo "run: the build made no $TOKEN_BIN" >&2; exit 1; }

# The development PKI (CA, a certificate per service, the token signing key and its JWKS) and
# an operator token for the demo: force_admin of $FORCE for 12 hours, minted again when it is
# older than 11 hours or the signing key changed.
PKI=$DATA_DIR/pki
step "development PKI and demo token in $PKI"
OUTREACH_TOKEN_BIN=$TOKEN_BIN scripts/dev-pki.sh "$PKI"
TOKEN_FILE=$PKI/demo.token
if [[ ! -s $TOKEN_FILE || $PKI/signing.pem -nt $TOKEN_FILE ||
      -n $(find "$TOKEN_FILE" -mmin +660) || $(cat "$PKI/demo.force" 2>/dev/null) != "$FORCE" ]]; then
  (umask 077 && "$TOKEN_BIN" mint --key "$PKI/signing.pem" --kid dev-1 \
    --issuer https://outreach.local/dev --audience outreach --subject demo-operator \
    --role force_admin --force "$FORCE" --lifetime 12h >"$TOKEN_FILE.new")
  mv -f "$TOKEN_FILE.new" "$TOKEN_FILE"
  echo "$FORCE" >"$PKI/demo.force"
fi
CLIENT_TLS=(--tls-ca-file="$PKI/ca.pem" --token-file="$TOKEN_FILE")

mkdir -p "$DATA_DIR/logs"
declare -A GRPC_PORT=([workshops]=50051 [training]=50052 [campaigns]=50053 [metrics]=50054)
declare -A HTTP_PORT=([workshops]=9101 [training]=9102 [campaigns]=9103 [metrics]=9104)
pids=()
started=()
stop_all() {
  trap - INT TERM EXIT
  if ((${#pids[@]})); then
    step "stopping ${started[*]}"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  step "stopped"
  exit 0
}
trap stop_all INT TERM EXIT

# Redis caches the dashboards: use $OUTREACH_REDIS_ADDRESS if given, else a local redis-server
# on a free loopback port with its files under the data folder.
REDIS_ADDRESS=${OUTREACH_REDIS_ADDRESS:-}
if [[ -z $REDIS_ADDRESS ]]; then
  redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$DATA_DIR/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$DATA_DIR/redis" --appendonly yes \
    --save "" >"$DATA_DIR/logs/redis.log" 2>&1 &
  pids+=($!)
  started+=(redis)
  REDIS_ADDRESS=127.0.0.1:$redis_port
  step "redis-server on $REDIS_ADDRESS"
fi

# Metrics first, so the domain services' outbox publishers find it.
for name in metrics workshops training campaigns; do
  bin=$BUILD/services/$name/$name
  [[ -x $bin ]] || continue
  extra=()
  if [[ $name == metrics ]]; then
    extra+=(--redis-address="$REDIS_ADDRESS" --kpi-forces="$FORCE")
  elif [[ -x $BUILD/services/metrics/metrics ]]; then
    extra+=(--metrics-address="127.0.0.1:${GRPC_PORT[metrics]}")
  fi
  "$bin" --grpc-address="127.0.0.1:${GRPC_PORT[$name]}" \
         --http-address="127.0.0.1:${HTTP_PORT[$name]}" \
         --db-path="$DATA_DIR/$name.db" "${extra[@]}" \
         --tls-cert-file="$PKI/$name.pem" --tls-key-file="$PKI/$name.key" \
         --tls-ca-file="$PKI/ca.pem" --jwks-file="$PKI/jwks.json" \
         --policy-file="$ROOT/deploy/security/policy.json" 2>>"$DATA_DIR/logs/$name.log" &
  pids+=($!)
  started+=("$name")
done
services=()
for name in "${started[@]}"; do [[ $name == redis ]] || services+=("$name"); done
if ((${#services[@]} == 0)); then
  echo "run: no service binaries were built (expected build/default/services/<name>/<name>)" >&2
  exit 1
fi

step "waiting for ${services[*]} to report SERVING"
for name in "${services[@]}"; do
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:${HTTP_PORT[$name]}/healthz" >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
  if ! curl -fsS "http://127.0.0.1:${HTTP_PORT[$name]}/healthz" >/dev/null 2>&1; then
    echo "run: $name did not become healthy; see $DATA_DIR/logs/$name.log" >&2
    tail -5 "$DATA_DIR/logs/$name.log" >&2
    exit 1
  fi
done

for name in "${services[@]}"; do
  demo=$BUILD/services/$name/${name}_demo
  if [[ -x $demo ]]; then
    step "loading $name demo data for forces/$FORCE"
    "$demo" --target="127.0.0.1:${GRPC_PORT[$name]}" --force="$FORCE" "${CLIENT_TLS[@]}"
  fi
done

echo
printf "%-10s %-18s %-40s %s\n" service gRPC "metrics / health" store
for name in "${services[@]}"; do
  printf "%-10s %-18s %-40s %s\n" "$name" "127.0.0.1:${GRPC_PORT[$name]}" \
    "http://127.0.0.1:${HTTP_PORT[$name]}/metrics" "$DATA_DIR/$name.db"
done
if [[ " ${services[*]} " == *" metrics "* ]]; then
  step "waiting for the outbox events to reach metrics"
  sleep 2
  base="http://127.0.0.1:${HTTP_PORT[metrics]}/dashboard?force=$FORCE"
  last_year=$(( $(date +%Y) - 1 ))
  # The dashboard is force data: the token goes in a header read from a file (curl -H @file),
  # so it stays out of the process list.
  auth=$DATA_DIR/pki/.dashboard-header
  (umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$TOKEN_FILE")" >"$auth")
  dashboard() { curl -fsS -H @"$auth" "$1"; }
  echo
  echo "forces/$FORCE, this academic year ($base&period=ACADEMIC_YEAR):"
  dashboard "$base&period=ACADEMIC_YEAR" | scripts/dashboard_summary.py || echo "  (dashboard not available)"
  echo "forces/$FORCE, calendar year $last_year (last year's training package):"
  dashboard "$base&period=DAY_RANGE&start=$last_year-01-01&end=$last_year-12-31" \
    | scripts/dashboard_summary.py || echo "  (dashboard not available)"
  echo "  full JSON: curl -H \"Authorization: Bearer \$(cat $TOKEN_FILE)\" '$base&period=ACADEMIC_YEAR'"
fi
echo
echo "redis: $REDIS_ADDRESS   logs: $DATA_DIR/logs/   Ctrl-C stops everything."
echo "TLS: CA $PKI/ca.pem; demo token (force_admin, forces/$FORCE, 12h) $TOKEN_FILE"
wait -n "${pids[@]}" || true
echo "run: a service exited; see $DATA_DIR/logs/" >&2
