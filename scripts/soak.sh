#!/usr/bin/env bash
# Chaos soak: redis-server + the four real services on free loopback ports, each with its own
# SQLite file in a temporary directory; tests/support/soak_driver drives a steady mixed load
# through the public gRPC APIs and keeps a ledger of what was acknowledged. Meanwhile a domain
# service is killed -9 (and restarted on the same data) every few seconds, Redis is restarted
# and metrics is taken away for a while. At the end (everything up, outboxes drained) the ledger
# is compared with GetDashboard and the services' lists, and RSS / open fds sampled from /proc
# are checked against the bounds below. Exit 0 only with 0 lost, 0 double counted, only
# retryable failures and RSS/fds within bounds.
# Everything runs as in production: scripts/dev-pki.sh makes a CA, per-service certificates and
# a signing key in the work directory; every service listens with TLS, verifies tokens against
# that key's JWKS, enforces deploy/security/policy.json and publishes to metrics over mutual TLS
# with its own certificate; the driver calls over TLS with a force administrator's token of the
# force "soak" minted by outreach-token.
#
#   scripts/soak.sh [--build-dir=DIR] [SECONDS]      (default 120 s of load)
#
# Without --build-dir it configures and builds build/soak (Release, 2 jobs). Bounds (env):
#   SOAK_RSS_MAX_MB=300      no sample of any service above this
#   SOAK_FD_MAX=256          no sample of any service above this many open fds
#   SOAK_RSS_GROWTH_MB=64    within one process lifetime of >= 12 samples, late vs early RSS
#   SOAK_FD_GROWTH=16        ... and late vs early open fds
#   SOAK_CHAOS_INTERVAL=4    seconds between chaos actions
#   SOAK_METRICS_AWAY=6      seconds metrics stays down when taken away
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=""
LOAD_SECONDS=120
for arg in "$@"; do
  case $arg in
    --build-dir=*) BUILD=${arg#--build-dir=} ;;
    [0-9]*) LOAD_SECONDS=$arg ;;
    *) echo "usage: scripts/soak.sh [--build-dir=DIR] [SECONDS]" >&2; exit 2 ;;
  esac
done
RSS_MAX_MB=${SOAK_RSS_MAX_MB:-300}
FD_MAX=${SOAK_FD_MAX:-256}
RSS_GROWTH_MB=${SOAK_RSS_GROWTH_MB:-64}
FD_GROWTH=${SOAK_FD_GROWTH:-16}
CHAOS_INTERVAL=${SOAK_CHAOS_INTERVAL:-4}
METRICS_AWAY=${SOAK_METRICS_AWAY:-6}
start=$(date +%s)
step() { echo "==> [$(( $(date +%s) - start ))s] $*"; }

if [[ -z $BUILD ]]; then
  BUILD=$ROOT/build/soak
  step "configure + build $BUILD"
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DOUTREACH_BUILD_BENCH=OFF >/dev/null
  cmake --build "$BUILD" -j "${OUTREACH_JOBS:-2}" \
    --target workshops training campaigns metrics soak_driver outreach-token >/dev/null
fi
DRIVER=$BUILD/tests/support/soak_driver
TOKEN_BIN=$BUILD/tools/token/outreach-token
for name in workshops training campaigns metrics; do
  [[ -x $BUILD/services/$name/$name ]] || { echo "soak: no $BUILD/services/$name/$name" >&2; exit 2; }
done
[[ -x $DRIVER ]] || { echo "soak: no $DRIVER" >&2; exit 2; }
[[ -x $TOKEN_BIN ]] || { echo "soak: no $TOKEN_BIN" >&2; exit 2; }
command -v redis-server >/dev/null || { echo "soak: redis-server not installed" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/outreach-soak.XXXXXX")
mkdir -p "$WORK/pids" "$WORK/logs" "$WORK/redis"
PKI=$WORK/pki
OUTREACH_TOKEN_BIN=$TOKEN_BIN "$ROOT/scripts/dev-pki.sh" "$PKI" >/dev/null
# The driver's caller: a force administrator of the soak's force (every method it calls is
# granted to force_admin in deploy/security/policy.json), valid well past the run.
"$TOKEN_BIN" mint --key "$PKI/signing.pem" --kid dev-1 --issuer https://outreach.local/dev \
  --audience outreach --subject soak-driver --force soak --role force_admin --lifetime 12h \
  >"$PKI/driver.token"
chmod 0600 "$PKI/driver.token"
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
REDIS_PORT=$(free_port)
declare -A GRPC HTTP
for name in workshops training campaigns metrics; do GRPC[$name]=$(free_port); HTTP[$name]=$(free_port); done
DOMAIN=(workshops training campaigns)

alive() {  # a pid that exists and is not a zombie
  local pid=$1 state
  [[ -n $pid ]] && state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) && [[ $state != Z ]]
}
pid_of() { cat "$WORK/pids/$1" 2>/dev/null || true; }
wait_gone() {  # bounded: 10 s
  for _ in $(seq 1 100); do alive "$1" || return 0; sleep 0.1; done
  return 1
}

start_redis() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" --save "" \
    --appendonly no >>"$WORK/logs/redis.log" 2>&1 &
  echo $! >"$WORK/pids/redis"
  disown  # killed on purpose: no "Killed" job report
  for _ in $(seq 1 100); do
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "soak: redis-server did not answer" >&2
  return 1
}

start_service() {
  local name=$1 extra
  if [[ $name == metrics ]]; then
    extra=--redis-address=127.0.0.1:$REDIS_PORT
  else
    extra=--metrics-address=127.0.0.1:${GRPC[metrics]}
  fi
  "$BUILD/services/$name/$name" --grpc-address="127.0.0.1:${GRPC[$name]}" \
    --http-address="127.0.0.1:${HTTP[$name]}" --db-path="$WORK/$name.db" "$extra" \
    --tls-cert-file="$PKI/$name.pem" --tls-key-file="$PKI/$name.key" --tls-ca-file="$PKI/ca.pem" \
    --jwks-file="$PKI/jwks.json" --policy-file="$ROOT/deploy/security/policy.json" \
    2>>"$WORK/logs/$name.log" &
  echo $! >"$WORK/pids/$name"
  disown
  for _ in $(seq 1 200); do
    curl -fsS "http://127.0.0.1:${HTTP[$name]}/healthz" >/dev/null 2>&1 && return 0
    alive "$!" || break
    sleep 0.1
  done
  echo "soak: $name did not become healthy; see $WORK/logs/$name.log" >&2
  tail -5 "$WORK/logs/$name.log" >&2
  return 1
}

kill9() {
  local pid
  pid=$(pid_of "$1")
  if alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; wait_gone "$pid"; fi
}

helpers=()
cleanup() {
  local rc=$?
  trap - INT TERM EXIT
  for pid in "${helpers[@]}"; do kill "$pid" 2>/dev/null || true; done
  for name in workshops training campaigns metrics redis; do
    pid=$(pid_of "$name")
    if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for name in workshops training campaigns metrics redis; do
    pid=$(pid_of "$name")
    if [[ -n $pid ]] && ! wait_gone "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
  done
  wait 2>/dev/null || true
  if ((rc == 0)) && [[ -z ${SOAK_KEEP:-} ]]; then
    rm -rf "$WORK"
  else
    echo "soak: logs and data kept in $WORK" >&2
  fi
  exit "$rc"
}
trap cleanup INT TERM EXIT

step "redis + services on 127.0.0.1 (data in $WORK)"
start_redis
for name in metrics "${DOMAIN[@]}"; do start_service "$name"; done

# RSS (kB) and open fds of every service, once a second: "name pid t rss_kb fds".
sampler() {
  while true; do
    for name in workshops training campaigns metrics; do
      pid=$(pid_of "$name")
      alive "$pid" || continue
      rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
      fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
      [[ -n $rss ]] && echo "$name $pid $(( $(date +%s) - start )) $rss $fds"
    done >>"$WORK/samples"
    sleep 1
  done
}
sampler &
helpers+=($!)

targets=(--workshops="127.0.0.1:${GRPC[workshops]}" --training="127.0.0.1:${GRPC[training]}"
         --campaigns="127.0.0.1:${GRPC[campaigns]}" --metrics="127.0.0.1:${GRPC[metrics]}"
         --tls-ca-file="$PKI/ca.pem" --token-file="$PKI/driver.token")
step "load: $LOAD_SECONDS s of mixed writes and reads"
# SOAK_DRIVER_ARGS adds driver flags, e.g. "--threads=8 --op-budget-seconds=1".
# shellcheck disable=SC2086
"$DRIVER" --mode=load --ledger="$WORK/ledger" --seconds="$LOAD_SECONDS" "${targets[@]}" \
  ${SOAK_DRIVER_ARGS:-} \
  >"$WORK/logs/driver.log" 2>&1 &
driver=$!
helpers+=("$driver")
for _ in $(seq 1 600); do
  grep -q "soak_driver ready" "$WORK/logs/driver.log" && break
  alive "$driver" || break
  sleep 0.1
done
grep -q "soak_driver ready" "$WORK/logs/driver.log" || {
  echo "soak: the driver did not get ready" >&2; cat "$WORK/logs/driver.log" >&2; exit 1; }

# Chaos until the stop file appears; each action leaves everything running again.
chaos() {
  local i=0 victim
  while [[ ! -e $WORK/stop-chaos ]]; do
    sleep "$CHAOS_INTERVAL"
    [[ -e $WORK/stop-chaos ]] && break
    i=$((i + 1))
    if ((i % 5 == 2)); then
      echo "chaos $(( $(date +%s) - start ))s: restart redis"
      kill9 redis; start_redis
    elif ((i % 5 == 4)); then
      echo "chaos $(( $(date +%s) - start ))s: metrics away for ${METRICS_AWAY}s"
      kill9 metrics; sleep "$METRICS_AWAY"; start_service metrics
    else
      victim=${DOMAIN[RANDOM % 3]}
      echo "chaos $(( $(date +%s) - start ))s: kill -9 $victim"
      kill9 "$victim"; start_service "$victim"
    fi
  done
}
chaos >"$WORK/logs/chaos.log" 2>&1 &
chaos_pid=$!
helpers+=("$chaos_pid")
load_rc=0
wait "$driver" || load_rc=$?
touch "$WORK/stop-chaos"
for _ in $(seq 1 300); do alive "$chaos_pid" || break; sleep 0.1; done
cat "$WORK/logs/driver.log"
count() { grep -c "$1" "$WORK/logs/chaos.log" || true; }
step "chaos: $(count 'kill -9') kill -9 of a domain service, $(count 'restart redis') Redis restarts," \
  "$(count 'metrics away') metrics outages of ${METRICS_AWAY}s"
if ((load_rc != 0)); then echo "soak: load phase failed ($load_rc)" >&2; exit 1; fi

# Whatever chaos left down comes back; then every outbox must drain (bounded).
alive "$(pid_of redis)" || start_redis
for name in metrics "${DOMAIN[@]}"; do alive "$(pid_of "$name")" || start_service "$name"; done
backlog() {
  curl -fsS "http://127.0.0.1:${HTTP[$1]}/metrics" 2>/dev/null |
    awk '$1 == "outreach_outbox_backlog" {print int($2); found=1} END {if (!found) print -1}'
}
step "waiting for the outboxes to drain"
drained=0
for _ in $(seq 1 900); do
  drained=1
  for name in "${DOMAIN[@]}"; do [[ $(backlog "$name") == 0 ]] || drained=0; done
  ((drained)) && break
  sleep 0.1
done
if ((!drained)); then
  for name in "${DOMAIN[@]}"; do echo "soak: $name backlog $(backlog "$name")" >&2; done
  exit 1
fi

step "verify: ledger vs dashboard and lists"
verify_rc=0
"$DRIVER" --mode=verify --ledger="$WORK/ledger" "${targets[@]}" || verify_rc=$?

kill "${helpers[0]}" 2>/dev/null || true
step "RSS / open fds per service (bounds: rss <= ${RSS_MAX_MB} MB, fds <= $FD_MAX;" \
  "growth within a process <= ${RSS_GROWTH_MB} MB / $FD_GROWTH fds)"
bounds_rc=0
awk -v rss_max="$RSS_MAX_MB" -v fd_max="$FD_MAX" -v rss_growth="$RSS_GROWTH_MB" \
    -v fd_growth="$FD_GROWTH" '
  { s = $1; n[s]++; r = $4 / 1024; f = $5
    if (!(s in rmin) || r < rmin[s]) rmin[s] = r; if (r > rmax[s]) rmax[s] = r
    if (!(s in fmin) || f < fmin[s]) fmin[s] = f; if (f > fmax[s]) fmax[s] = f
    pids[s] = pids[s] (index(" " pids[s] " ", " " $2 " ") ? "" : " " $2)
    k = s SUBSEP $2; c = ++cnt[k]; rs[k, c] = r; fs[k, c] = f; svc[k] = s }
  END {
    bad = 0
    printf "%-10s %7s %5s %9s %9s %7s %7s %13s %11s\n", "service", "samples", "procs", \
      "rss_min", "rss_max", "fd_min", "fd_max", "rss_growth", "fd_growth"
    for (k in cnt) {  # growth: mean of the last 3 samples vs samples 4-6 (after warm-up)
      if (cnt[k] < 12) continue
      s = svc[k]; e_r = e_f = l_r = l_f = 0
      for (i = 4; i <= 6; i++) { e_r += rs[k, i]; e_f += fs[k, i] }
      for (i = cnt[k] - 2; i <= cnt[k]; i++) { l_r += rs[k, i]; l_f += fs[k, i] }
      gr = (l_r - e_r) / 3; gf = (l_f - e_f) / 3
      if (!(s in grow_r) || gr > grow_r[s]) grow_r[s] = gr
      if (!(s in grow_f) || gf > grow_f[s]) grow_f[s] = gf
    }
    for (s in n) {
      np = split(pids[s], unused, " ")
      gr = (s in grow_r) ? sprintf("%+.1f MB", grow_r[s]) : "n/a"
      gf = (s in grow_f) ? sprintf("%+.1f", grow_f[s]) : "n/a"
      printf "%-10s %7d %5d %6.1f MB %6.1f MB %7d %7d %13s %11s\n", s, n[s], np, rmin[s], \
        rmax[s], fmin[s], fmax[s], gr, gf
      if (rmax[s] > rss_max || fmax[s] > fd_max) bad = 1
      if ((s in grow_r && grow_r[s] > rss_growth) || (s in grow_f && grow_f[s] > fd_growth)) bad = 1
    }
    if (!length(n)) { print "no samples"; bad = 1 }
    exit bad
  }' "$WORK/samples" || bounds_rc=$?

if ((verify_rc != 0)); then echo "soak: FAILED: lost, double counted or non-retryable codes" >&2; fi
if ((bounds_rc != 0)); then echo "soak: FAILED: RSS or open fds beyond the bounds" >&2; fi
if ((verify_rc != 0 || bounds_rc != 0)); then exit 1; fi
step "soak passed"
