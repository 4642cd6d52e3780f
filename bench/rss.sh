#!/usr/bin/env bash
# RSS and threads of each service idle and after the demo load (issue 15, goal 7): the four
# binaries of build/default with the development PKI, TLS and tokens as scripts/run.sh runs them,
# on free loopback ports, SQLite files in a temporary folder, a local redis-server; VmRSS from
# /proc 3 s after start, then again after the demo loaders and one /metrics scrape.
#   bench/rss.sh        (after: cmake --build --preset default)
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/default
D=$(mktemp -d /tmp/outreach-rss.XXXX)
PKI=$D/pki
OUTREACH_TOKEN_BIN=$B/tools/token/outreach-token scripts/dev-pki.sh "$PKI" >/dev/null
"$B/tools/token/outreach-token" mint --key "$PKI/signing.pem" --kid dev-1 \
  --issuer https://outreach.local/dev --audience outreach --subject demo-operator \
  --role force_admin --force derbyshire --lifetime 1h >"$D/token"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" >/dev/null 2>&1 &
pids=($!)
declare -A G H P
for n in metrics workshops training campaigns; do G[$n]=$(free_port); H[$n]=$(free_port); done
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$D"' EXIT
for n in metrics workshops training campaigns; do
  if [[ $n == metrics ]]; then
    extra=("--redis-address=127.0.0.1:$redis_port" --kpi-forces=derbyshire)
  else
    extra=("--metrics-address=127.0.0.1:${G[metrics]}")
  fi
  "$B/services/$n/$n" "--grpc-address=127.0.0.1:${G[$n]}" "--http-address=127.0.0.1:${H[$n]}" \
    "--db-path=$D/$n.db" "${extra[@]}" "--tls-cert-file=$PKI/$n.pem" "--tls-key-file=$PKI/$n.key" \
    "--tls-ca-file=$PKI/ca.pem" "--jwks-file=$PKI/jwks.json" \
    --policy-file=deploy/security/policy.json --log-level=warn 2>>"$D/$n.log" &
  P[$n]=$!
  pids+=("${P[$n]}")
done
for n in metrics workshops training campaigns; do
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:${H[$n]}/healthz" >/dev/null && break; sleep 0.1; done
done
sleep 3
report() {
  for n in metrics workshops training campaigns; do
    awk -v what="$1" -v n="$n" '/^VmRSS/ {rss = $2} /^Threads/ {t = $2}
      END {printf "%-22s %-10s %6.1f MB  %3d threads\n", what, n, rss / 1024, t}' "/proc/${P[$n]}/status"
  done
}
report idle
for n in workshops training campaigns; do
  "$B/services/$n/${n}_demo" "--target=127.0.0.1:${G[$n]}" --force=derbyshire \
    "--tls-ca-file=$PKI/ca.pem" "--token-file=$D/token" >/dev/null 2>&1 ||
    { echo "rss: the $n demo load failed" >&2; exit 1; }
done
sleep 3
curl -fs "http://127.0.0.1:${H[metrics]}/metrics" >/dev/null
sleep 2
report "after the demo load"
