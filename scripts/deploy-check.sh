#!/usr/bin/env bash
# Checks deploy/ for real (issue 7, deploy/README.md).
#   scripts/deploy-check.sh static   manifests only (seconds): docker-compose config; kustomize
#                                    render of every overlay + strict offline schema/policy check;
#                                    promtool check config/rules + test rules; Grafana JSON
#   scripts/deploy-check.sh all      static, then (root, podman): base image (debootstrap), the
#                                    images (+ PostgreSQL), a dev PKI + JWKS + operator token and
#                                    the Secrets, the local overlay's manifests under `podman play
#                                    kube` on 127.0.0.1, SERVING, a scenario through the public
#                                    gRPC APIs (TLS + token), /metrics, a real Prometheus scrape,
#                                    SIGTERM exit codes; then the PostgreSQL topology (overlay
#                                    local-postgres: two replicas of every service, the scenario
#                                    across replicas, PostgreSQL restarted); then the Compose file
#                                    with podman-compose, SQLite and the postgres profile, the same
#                                    scenario; teardown always (trap), also on failure
# Without kubectl (Debian 12 ships no kubectl with kustomize v5) everything that needs no
# Kubernetes render still runs (Compose config, the strict check's own fixtures, promtool, Grafana;
# the images, Compose with SQLite and with the postgres profile, the scenarios) and one line says
# the render and the play-kube stages were skipped. `--require-k8s` (after the mode) makes a
# missing kubectl a failure instead, for machines that have it.
# Exit 0 when everything passed; 1 on a failure; 3 when all checks passed but some service has
# no sources in this checkout yet (named in the last line).
# Work files, podman storage (image + layer cache) and the debootstrap base image cache live under
# build/deploy/ (override with DEPLOY_WORK). Needs root (podman as deploy/README.md describes).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:-all}
REQUIRE_K8S=0
case $MODE in static | all) ;; *) echo "usage: $0 static|all [--require-k8s]" >&2; exit 2 ;; esac
case ${2:-} in
  "") ;;
  --require-k8s) REQUIRE_K8S=1 ;;
  *) echo "usage: $0 static|all [--require-k8s]" >&2; exit 2 ;;
esac
SERVICES=(workshops training campaigns metrics)
declare -A GRPC_PORT=([workshops]=50051 [training]=50052 [campaigns]=50053 [metrics]=50054)
declare -A HTTP_PORT=([workshops]=9101 [training]=9102 [campaigns]=9103 [metrics]=9104)
DEPLOY_WORK=${DEPLOY_WORK:-$ROOT/build/deploy}
mkdir -p "$DEPLOY_WORK/rendered"
start=$(date +%s)
last=$start
timings=()
current_step=""
step() {
  local now
  now=$(date +%s)
  if [[ -n ${current_step:-} ]]; then timings+=("$((now - last))s  $current_step"); fi
  current_step=$*
  last=$now
  echo "==> [$((now - start))s] $*"
}
fail() { echo "deploy-check: FAIL: $*" >&2; exit 1; }

step "tools"
need=()
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v promtool >/dev/null || need+=(promtool)
/usr/bin/python3 -c 'import kubernetes, yaml' 2>/dev/null || need+=(python3-kubernetes)
if [[ $MODE == all ]]; then
  for t in podman runc catatonit debootstrap podman-compose node; do
    command -v "$t" >/dev/null || need+=("$t")
  done
fi
if ((${#need[@]})); then
  echo "missing: ${need[*]} -> scripts/install-deps.sh --deploy"
  scripts/install-deps.sh --deploy
fi
K8S=1
KUBECTL=${KUBECTL:-kubectl} # which kubectl (KUBECTL=none tries the path without one)
if ! command -v "$KUBECTL" >/dev/null; then
  ((REQUIRE_K8S)) && fail "kubectl (with kustomize v5) is needed to render deploy/k8s (--require-k8s)"
  K8S=0
  echo "deploy-check: SKIPPED the Kubernetes render and the play-kube stages: no kubectl (with kustomize v5) on this machine, and Debian 12 packages none; the rest runs (--require-k8s makes this a failure)"
fi

# ------------------------------------------------------------------------------------ static
step "compose: docker-compose config -q (SQLite; postgres.env + profile postgres)"
# (The SQLite topology leaves the PostgreSQL URLs unset: empty here, so compose says nothing.)
OUTREACH_WORKSHOPS_DB_URL="" OUTREACH_TRAINING_DB_URL="" OUTREACH_CAMPAIGNS_DB_URL="" OUTREACH_METRICS_DB_URL="" \
  docker-compose -f deploy/compose/compose.yaml config -q
# The PostgreSQL topology (valid, and really one: the server, two replicas, a URL per service,
# free loopback ports), from `config` with postgres.env and the profile.
/usr/bin/python3 - <<'PY' || fail "compose: postgres.env does not give the PostgreSQL topology"
import subprocess, sys, yaml
out = subprocess.run(["docker-compose", "--env-file", "deploy/compose/postgres.env", "-f",
                      "deploy/compose/compose.yaml", "--profile", "postgres", "config"],
                     check=True, capture_output=True, text=True).stdout
services = yaml.safe_load(out)["services"]
assert "postgres" in services, "no postgres service"
for svc in ("workshops", "training", "campaigns", "metrics"):
    s = services[svc]
    assert s["deploy"]["replicas"] == 2, f"{svc}: replicas {s['deploy']['replicas']}"
    url = s["environment"]["OUTREACH_DB_URL"]
    assert url.startswith(f"postgresql://{svc}@postgres:5432/{svc}?") and "sslmode=verify-full" in url, url
    assert s["environment"]["OUTREACH_DB_PASSWORD_FILE"] == "/run/secrets/db_password", f"{svc}: password file"
    for p in s["ports"]:  # "127.0.0.1::50051/tcp": loopback, a port the engine picks
        assert str(p).startswith("127.0.0.1::"), f"{svc}: port {p}"
print("    postgres profile: postgres + 2 replicas x 4 services on PostgreSQL (verify-full), free loopback ports")
PY

if ((K8S)); then
  step "kustomize render + strict schema/policy check of every overlay"
  for dir in deploy/k8s/overlays/*/; do
    overlay=$(basename "$dir")
    "$KUBECTL" kustomize "$dir" >"$DEPLOY_WORK/rendered/$overlay.yaml"
  done
  /usr/bin/python3 deploy/tools/k8s_strict_check.py "$DEPLOY_WORK"/rendered/*.yaml
else
  step "strict schema/policy check: its own fixtures only (no kubectl to render the overlays)"
fi
# The check must be able to fail: a fixture with one unknown field, one wrong type and one
# missing required field must give exactly those three errors.
bad=$(/usr/bin/python3 deploy/tools/k8s_strict_check.py deploy/tools/testdata/invalid.yaml 2>&1 \
  | grep -c 'Deployment/broken' || true)
[[ $bad == 3 ]] || fail "strict check found $bad of the 3 errors in deploy/tools/testdata/invalid.yaml"
# And the policy of the PostgreSQL topology: one error per "error:" mark in the fixture.
fixture=deploy/tools/testdata/invalid-postgres.yaml
want=$(grep -o 'error:' "$fixture" | wc -l)
bad=$(/usr/bin/python3 deploy/tools/k8s_strict_check.py "$fixture" 2>&1 | grep -c "^$fixture: .*/broken-pg" || true)
[[ $bad == "$want" ]] || fail "strict check found $bad of the $want errors in $fixture"
echo "    the check fails where it should: 3 schema errors, $want PostgreSQL-topology errors"

step "promtool: check config, check rules, test rules"
promtool check config deploy/prometheus/prometheus.yml
promtool check rules deploy/prometheus/alerts.yml
promtool test rules deploy/prometheus/tests/*.yml

step "grafana: dashboard JSON"
/usr/bin/python3 deploy/tools/dashboard_check.py deploy/grafana/*.json deploy/prometheus/alerts.yml

if [[ $MODE == static ]]; then
  step "done"
  printf '  %s\n' "${timings[@]}"
  if ((!K8S)); then echo "deploy-check static: the Kubernetes render was SKIPPED (no kubectl)"; fi
  echo "deploy-check static: OK"
  exit 0
fi

# -------------------------------------------------------------------------------------- real
[[ $(id -u) == 0 ]] || fail "the real stage runs podman as root (runc and ulimits a root VM with cgroup v1 allows; deploy/README.md)"
source deploy/tools/podman-env.sh # pm(): podman with private storage/config under DEPLOY_WORK
RENDERED=$DEPLOY_WORK/play-local.yaml
export OUTREACH_NODE_MODULES=${OUTREACH_NODE_MODULES:-$ROOT/tests/e2e/node_modules}
# Volumes (PVCs) and secrets that play kube created: each run starts from empty stores.
remove_state() {
  local volumes secrets
  mapfile -t volumes < <(pm volume ls -q 2>/dev/null | grep -E -- '^(tmp|run|.*-data|data-.*|outreach-.*)$')
  mapfile -t secrets < <(pm secret ls --format '{{.Name}}' 2>/dev/null | grep '^outreach-')
  if ((${#volumes[@]})); then pm volume rm -f "${volumes[@]}" >/dev/null 2>&1 || true; fi
  if ((${#secrets[@]})); then pm secret rm "${secrets[@]}" >/dev/null 2>&1 || true; fi
}
PROM_PID=""
COMPOSE_UP=""  # the containers of the running Compose topology, for the logs on failure
PLAYING=""     # the manifests podman play kube is running
# podman-compose calls a podman binary: give it one with this script's storage and settings.
PM_WRAPPER=$DEPLOY_WORK/podman
printf '#!/bin/sh\nexport CONTAINERS_CONF=%q\nexec podman --root %q --runroot %q --storage-driver overlay --cgroup-manager cgroupfs --events-backend file "$@"\n' \
  "$CONTAINERS_CONF" "$DEPLOY_WORK/storage" "$DEPLOY_WORK/run" >"$PM_WRAPPER"
chmod +x "$PM_WRAPPER"
COMPOSE_ENV=() # KEY=value settings of the topology (postgres.env's for the PostgreSQL one)
compose() {
  (cd deploy/compose && export OUTREACH_REDIS_IMAGE=localhost/outreach-redis:dev OUTREACH_PKI_DIR=$PKI &&
    if ((${#COMPOSE_ENV[@]})); then export "${COMPOSE_ENV[@]}"; fi &&
    podman-compose --podman-path "$PM_WRAPPER" -p outreach-check "$@")
}
compose_down() {
  # All at once (podman-compose stops one container after another), then remove them.
  # shellcheck disable=SC2086 # a list of names
  if [[ -n $COMPOSE_UP ]]; then pm stop -t 2 $COMPOSE_UP >/dev/null 2>&1 || true; fi
  compose down -v >>"$DEPLOY_WORK/compose.log" 2>&1 || true
  pm network rm -f outreach-check_default >/dev/null 2>&1 || true
}
play_down() {
  pm play kube --down "$PLAYING" >>"$DEPLOY_WORK/play.log" 2>&1 || true
  remove_state
  PLAYING=""
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $PROM_PID ]]; then kill "$PROM_PID" 2>/dev/null || true; fi
  if [[ -n $COMPOSE_UP ]]; then
    echo "==> teardown (compose)"
    if ((rc != 0)); then
      for c in $COMPOSE_UP; do
        echo "---- last log lines of $c"
        pm logs --tail 10 "$c" 2>&1 || true
      done
    fi
    compose_down
  fi
  if [[ -n $PLAYING ]]; then
    echo "==> teardown"
    if ((rc != 0)); then
      for c in $(pm ps -a --format '{{.Names}}' 2>/dev/null | grep -v -- '-infra$' || true); do
        echo "---- last log lines of $c"
        pm logs --tail 15 "$c" 2>&1 || true
      done
    fi
    play_down
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ ! -d $OUTREACH_NODE_MODULES/@grpc/grpc-js ]]; then
  (cd tests/e2e && npm ci --silent --no-audit --no-fund)
fi

step "base image debian:bookworm-slim (debootstrap, cached in $DEPLOY_WORK/base)"
if ! pm image exists docker.io/library/debian:bookworm-slim; then
  tarball=$DEPLOY_WORK/base/debian-bookworm-minbase.tar
  if [[ ! -s $tarball ]]; then
    rootfs=$DEPLOY_WORK/base/rootfs
    rm -rf "$rootfs" && mkdir -p "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" \
      >"$DEPLOY_WORK/base/debootstrap.log" 2>&1 || fail "debootstrap (see $DEPLOY_WORK/base/debootstrap.log)"
    # As in the official slim image: the three suites (the same Debian sources this machine's
    # apt uses), no docs/man/locales, no apt caches.
    rm -f "$rootfs/etc/apt/sources.list"
    cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/debian.sources" 2>/dev/null \
      || cp /etc/apt/sources.list "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
    rm -rf "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
      "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/*/[!c]* "$rootfs"/usr/share/man/* \
      "$rootfs"/usr/share/info/* "$rootfs"/var/log/*.log
    tar -C "$rootfs" -cf "$tarball" . && rm -rf "$rootfs"
  fi
  pm import --quiet "$tarball" docker.io/library/debian:bookworm-slim >/dev/null
fi

step "images (podman build --format docker --pull=never, deploy/docker/Dockerfile)"
built=()
missing=()
for svc in "${SERVICES[@]}"; do
  if [[ -f services/$svc/main.cc && -f services/$svc/CMakeLists.txt ]]; then built+=("$svc"); else missing+=("$svc"); fi
done
((${#missing[@]} == 0)) || echo "WARNING: not in this checkout yet, skipped: ${missing[*]}"
((${#built[@]})) || fail "no service sources (services/<svc>/main.cc)"
# One snapshot of the sources for every image (the files .dockerignore lets in), so all images
# come from the same tree even while someone edits the checkout, and share one build stage.
CTX=$DEPLOY_WORK/context
rm -rf "$CTX" && mkdir -p "$CTX"
tar -c .dockerignore CMakeLists.txt CMakePresets.json cmake protos common tests/support services \
  tools deploy/docker deploy/security/policy.json | tar -x -C "$CTX"
# The build stage embeds the dashboard page with uPlot from npm (`npm ci --prefer-offline`). The
# host's npm fetches the page's packages into a cache of this run, which every image build
# mounts as npm's cache: the build then needs no registry of its own (a registry behind a proxy
# whose CA only the host trusts would refuse the container's npm).
NPM_CACHE=$DEPLOY_WORK/npm-cache
mkdir -p "$NPM_CACHE" "$DEPLOY_WORK/npm-page"
cp services/metrics/web/package.json services/metrics/web/package-lock.json "$DEPLOY_WORK/npm-page/"
(cd "$DEPLOY_WORK/npm-page" && npm ci --cache "$NPM_CACHE" --ignore-scripts --no-audit --no-fund \
  >"$DEPLOY_WORK/npm-page.log" 2>&1) || { tail -20 "$DEPLOY_WORK/npm-page.log"; fail "npm ci of the dashboard page's packages"; }
for target in "${built[@]}" redis postgres; do
  t0=$(date +%s)
  if [[ $target == postgres ]]; then build=(-f "$CTX/deploy/docker/postgres.Dockerfile" "$CTX/deploy/docker"); else
    build=(-f "$CTX/deploy/docker/Dockerfile" --target "$target" "$CTX"); fi
  pm build --format docker --pull=never --network host --volume "$NPM_CACHE:/root/.npm" \
    -t "localhost/outreach-$target:dev" "${build[@]}" \
    >"$DEPLOY_WORK/build-$target.log" 2>&1 || { tail -30 "$DEPLOY_WORK/build-$target.log"; fail "image $target"; }
  echo "    outreach-$target: $(($(date +%s) - t0))s"
done
pm image prune -f >/dev/null 2>&1 || true

step "development PKI, JWKS and an operator token (scripts/dev-pki.sh; outreach-token from the image)"
# Its own PKI under DEPLOY_WORK (not data/pki, which scripts/run.sh may be using). The image's
# outreach-token runs with the PKI folder mounted at the same path, so dev-pki.sh's paths hold.
PKI=$DEPLOY_WORK/pki
TOKEN_WRAPPER=$DEPLOY_WORK/outreach-token
printf '#!/bin/sh\nexec podman --root %q --runroot %q --storage-driver overlay --cgroup-manager cgroupfs --events-backend file run --rm -i --no-healthcheck --network none --user 0 -v %q:%q:ro --entrypoint /usr/local/bin/outreach-token localhost/outreach-%s:dev "$@"\n' \
  "$DEPLOY_WORK/storage" "$DEPLOY_WORK/run" "$PKI" "$PKI" "${built[0]}" >"$TOKEN_WRAPPER"
chmod +x "$TOKEN_WRAPPER"
mkdir -p "$PKI"
OUTREACH_TOKEN_BIN=$TOKEN_WRAPPER scripts/dev-pki.sh "$PKI"
[[ -s $PKI/jwks.json ]] || fail "dev-pki.sh made no $PKI/jwks.json"
(umask 077 && "$TOKEN_WRAPPER" mint --key "$PKI/signing.pem" --kid dev-1 \
  --issuer https://outreach.local/dev --audience outreach --subject deploy-check \
  --role force_admin --force derbyshire --lifetime 1h >"$PKI/operator.token")
"$TOKEN_WRAPPER" verify --jwks "$PKI/jwks.json" --issuer https://outreach.local/dev \
  --audience outreach - <"$PKI/operator.token" >/dev/null || fail "the minted token does not verify"
# The containers run as uid 10001; compose bind-mounts the key files as they are.
for svc in "${built[@]}"; do chgrp 10001 "$PKI/$svc.key" && chmod 0640 "$PKI/$svc.key"; done
# PostgreSQL's server certificate from the same CA (its key root:999 0640, readable by postgres).
deploy/tools/postgres-cert.sh "$PKI" >/dev/null
export OUTREACH_TLS_CA_FILE=$PKI/ca.pem OUTREACH_TOKEN_FILE=$PKI/operator.token
echo "    CA, ${built[*]} and postgres certificates, JWKS and a force_admin token for forces/derbyshire"

# The objects the base expects out of band (deploy/README.md, "Secrets"). The JWKS and policy
# ConfigMaps go into the manifests podman plays. The TLS Secrets cannot: podman 4.3 play kube
# refuses a Secret whose `data` is not base64 and mounts the base64 text undecoded. It does
# mount an existing volume of the Secret's name, once a podman secret of that name exists, so
# tls_volumes (below) makes both: the files in cert-manager's layout, and an empty secret.
SECURITY=$DEPLOY_WORK/security-objects.yaml
/usr/bin/python3 - "$PKI/jwks.json" "$ROOT/deploy/security/policy.json" "$PKI/ca.pem" >"$SECURITY" <<'PY'
import sys, yaml
jwks, policy, ca = (open(path).read() for path in sys.argv[1:])
yaml.safe_dump_all([
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "outreach-jwks"},
     "data": {"jwks.json": jwks}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "outreach-policy"},
     "data": {"policy.json": policy}},
    # The CA the services verify PostgreSQL's certificate with (sslmode=verify-full).
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "outreach-postgres-ca"},
     "data": {"ca.crt": ca}}], sys.stdout, sort_keys=False)
PY
tls_volumes() {
  local svc dir
  for svc in "${built[@]}"; do
    printf '{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "outreach-%s-tls"}}' "$svc" \
      | pm secret create "outreach-$svc-tls" - >/dev/null
    pm volume create "outreach-$svc-tls" >/dev/null
    dir=$(pm volume inspect "outreach-$svc-tls" --format '{{.Mountpoint}}')
    install -m 0444 "$PKI/$svc.pem" "$dir/tls.crt"
    install -m 0440 -g 10001 "$PKI/$svc.key" "$dir/tls.key"
    install -m 0444 "$PKI/ca.pem" "$dir/ca.crt"
  done
  # PostgreSQL's (components/postgres): a root-owned key of mode 0640 with its gid is one it accepts.
  printf '{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "outreach-postgres-tls"}}' \
    | pm secret create outreach-postgres-tls - >/dev/null
  pm volume create outreach-postgres-tls >/dev/null
  dir=$(pm volume inspect outreach-postgres-tls --format '{{.Mountpoint}}')
  install -m 0444 "$PKI/postgres.pem" "$dir/tls.crt"
  install -m 0440 -g 999 "$PKI/postgres.key" "$dir/tls.key"
}

# The suite's default ports, or all of them + 10000 when something (scripts/run.sh) holds one.
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT_OFFSET=${DEPLOY_PORT_OFFSET:-}
if [[ -z $PORT_OFFSET ]]; then
  PORT_OFFSET=0
  for port in "${GRPC_PORT[@]}" "${HTTP_PORT[@]}" 6379 5432; do
    in_use "$port" && PORT_OFFSET=10000
    in_use $((port + 100)) && PORT_OFFSET=10000
  done
fi
for svc in "${SERVICES[@]}"; do
  GRPC_PORT[$svc]=$((GRPC_PORT[$svc] + PORT_OFFSET))
  HTTP_PORT[$svc]=$((HTTP_PORT[$svc] + PORT_OFFSET))
  export "OUTREACH_${svc^^}_GRPC_PORT=${GRPC_PORT[$svc]}" "OUTREACH_${svc^^}_HTTP_PORT=${HTTP_PORT[$svc]}"
done
PG_PORT=$((5432 + PORT_OFFSET))
targets=() # every service's gRPC address, for wait_serving.mjs
for svc in "${built[@]}"; do targets+=("$svc=127.0.0.1:${GRPC_PORT[$svc]}"); done
HAVE_SCENARIO=0 # the scenario needs workshops and metrics
if [[ " ${built[*]} " == *" workshops "* && " ${built[*]} " == *" metrics "* ]]; then HAVE_SCENARIO=1; fi

wait_cache() { # [HTTP_PORT...] of metrics replicas (default: the one of the SQLite topology)
  local port ports=("$@")
  ((${#ports[@]})) || ports=("${HTTP_PORT[metrics]}")
  for port in "${ports[@]}"; do
    for _ in $(seq 1 40); do
      # (the body first: grep -q closing the pipe early fails curl, and pipefail the test)
      if [[ $(curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null) == *$'\n'"outreach_metrics_cache_subscribed 1"* ]]; then
        echo "    metrics at 127.0.0.1:$port: subscribed to Redis invalidations"
        continue 2
      fi
      sleep 0.25
    done
    fail "the metrics service at 127.0.0.1:$port is not connected to Redis"
  done
}

# ---------------------------------------------------------------- SQLite topology (k8s, play kube)
if ((K8S)); then
step "render the local overlay for podman play kube (services: ${built[*]}; port offset $PORT_OFFSET)"
for port in "${GRPC_PORT[@]}" "${HTTP_PORT[@]}" $((6379 + PORT_OFFSET)) "$PG_PORT"; do
  if in_use "$port"; then fail "127.0.0.1:$port is in use (set DEPLOY_PORT_OFFSET)"; fi
  if [[ $port != "$PG_PORT" ]] && in_use $((port + 100)); then fail "127.0.0.1:$((port + 100)) is in use (set DEPLOY_PORT_OFFSET)"; fi
done
{ cat "$DEPLOY_WORK/rendered/local.yaml"; echo "---"; cat "$SECURITY"; } >"$DEPLOY_WORK/play-input.yaml"
/usr/bin/python3 deploy/tools/select_apps.py --port-offset "$PORT_OFFSET" \
  "$DEPLOY_WORK/play-input.yaml" redis "${built[@]}" >"$RENDERED"

for leftover in "$RENDERED" "$DEPLOY_WORK/play-local-postgres.yaml"; do # of an interrupted run
  if [[ -f $leftover ]]; then pm play kube --down "$leftover" >/dev/null 2>&1 || true; fi
done
remove_state
tls_volumes
step "podman play kube (start-to-SERVING timer starts)"
t_start=$(date +%s.%N)
PLAYING=$RENDERED
pm play kube --start "$RENDERED" >"$DEPLOY_WORK/play.log" 2>&1 || { cat "$DEPLOY_WORK/play.log"; fail "podman play kube"; }

step "wait until every service reports SERVING (grpc.health.v1 per service name)"
node deploy/tools/wait_serving.mjs 60 "${targets[@]}"
t_serving=$(date +%s.%N)
serving_s=$(awk -v a="$t_start" -v b="$t_serving" 'BEGIN { printf "%.1f", b - a }')
echo "    start-to-SERVING: ${serving_s}s"

step "image HEALTHCHECK: declared in each image, and its command passes inside the container"
# (podman play kube follows Kubernetes and uses the probes, not the image HEALTHCHECK, so run the
# HEALTHCHECK command itself in each running container.)
for svc in "${built[@]}"; do
  c=$(pm ps --format '{{.Names}}' | grep -E "^$svc-pod-[0-9]+-$svc\$" | head -1)
  [[ -n $c ]] || fail "no running container for $svc"
  hc=$(pm image inspect --format '{{json .HealthCheck}}' "localhost/outreach-$svc:dev")
  [[ $hc == *outreach-healthcheck* ]] || fail "image outreach-$svc has no HEALTHCHECK ($hc)"
  pm exec "$c" /usr/local/bin/outreach-healthcheck || fail "HEALTHCHECK command fails in $c"
  user=$(pm exec "$c" id -u)
  [[ $user == 10001 ]] || fail "$c runs as uid $user"
  if pm exec "$c" touch /usr/local/bin/x 2>/dev/null; then fail "$c root filesystem is writable"; fi
  echo "    $c: healthy, uid $user, read-only root filesystem"
done

step "scenario through the public APIs"
if [[ " ${built[*]} " == *" workshops "* && " ${built[*]} " == *" metrics "* ]]; then
  node deploy/tools/scenario.mjs "$ROOT/protos" \
    "127.0.0.1:${GRPC_PORT[workshops]}" "127.0.0.1:${GRPC_PORT[metrics]}" derbyshire
else
  fail "the scenario needs workshops and metrics (built: ${built[*]})"
fi

step "metrics service reaches Redis (outreach_metrics_cache_subscribed 1)"
wait_cache

step "/metrics: promtool check metrics + suite series present"
for svc in "${built[@]}"; do
  body=$(curl -fsS "http://127.0.0.1:${HTTP_PORT[$svc]}/metrics") || fail "$svc /metrics"
  printf '%s\n' "$body" >"$DEPLOY_WORK/metrics-$svc.txt"
  # promtool prints lint findings (naming advice) on stdout; a parse error fails.
  echo "$body" | promtool check metrics >/dev/null 2>"$DEPLOY_WORK/promtool-$svc.log" \
    || { cat "$DEPLOY_WORK/promtool-$svc.log"; fail "$svc /metrics does not parse"; }
  want=(outreach_serving outreach_rpc_calls_total)
  if [[ $svc == metrics ]]; then want+=(outreach_kpi_workshops_delivered); else want+=(outreach_outbox_backlog); fi
  for series in "${want[@]}"; do
    grep -q "^$series" <<<"$body" || fail "$svc /metrics has no $series"
  done
done
echo "    ${built[*]}: parse; carry outreach_serving, outreach_rpc_calls_total and outbox/KPI gauges"
if ((${#missing[@]} == 0)); then # every series the dashboard and alerts use is really exposed
  /usr/bin/python3 deploy/tools/dashboard_check.py deploy/grafana/*.json deploy/prometheus/alerts.yml \
    --metrics "$DEPLOY_WORK"/metrics-*.txt
fi

step "Prometheus scrapes the running suite (deploy/prometheus config, rules loaded)"
# The scrape job of deploy/prometheus/prometheus.yml pointed at 127.0.0.1 (the containers' host
# network) instead of the Compose service names (its DNS lookups become static targets with the
# same `app` label); everything else as shipped.
PROM_PORT=${DEPLOY_PROMETHEUS_PORT:-19090}
rm -rf "$DEPLOY_WORK/prometheus" && mkdir -p "$DEPLOY_WORK/prometheus"
cp deploy/prometheus/alerts.yml "$DEPLOY_WORK/prometheus/"
/usr/bin/python3 - deploy/prometheus/prometheus.yml "$PROM_PORT" "${HTTP_PORT[workshops]}" \
  "${HTTP_PORT[training]}" "${HTTP_PORT[campaigns]}" "${HTTP_PORT[metrics]}" \
  >"$DEPLOY_WORK/prometheus/prometheus.yml" <<'PY'
import sys, yaml
config = yaml.safe_load(open(sys.argv[1]))
prom_port, *ports = sys.argv[2:]
config["global"].update(scrape_interval="1s", evaluation_interval="1s")
for job in config["scrape_configs"]:
    if job["job_name"] == "outreach":
        names = [sd["names"][0] for sd in job.pop("dns_sd_configs")]
        job.pop("relabel_configs")
        job["static_configs"] = [{"targets": [f"127.0.0.1:{port}"], "labels": {"app": name}}
                                 for name, port in zip(names, ports)]
    elif job["job_name"] == "prometheus":
        job["static_configs"] = [{"targets": [f"127.0.0.1:{prom_port}"]}]
yaml.safe_dump(config, sys.stdout, sort_keys=False)
PY
promtool check config "$DEPLOY_WORK/prometheus/prometheus.yml" >/dev/null
prometheus --config.file="$DEPLOY_WORK/prometheus/prometheus.yml" \
  --storage.tsdb.path="$DEPLOY_WORK/prometheus/data" --web.listen-address="127.0.0.1:$PROM_PORT" \
  >"$DEPLOY_WORK/prometheus/log" 2>&1 &
PROM_PID=$!
query() { curl -fsS "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" 2>/dev/null; }
count() { query "$1" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]["result"]))' 2>/dev/null || echo 0; }
ok=""
for _ in $(seq 1 60); do
  if [[ $(count 'up{job="outreach"} == 1') == "${#built[@]}" &&
        $(count 'outreach_kpi_workshops_delivered{force="derbyshire",area="all"} == 1') == 1 ]]; then
    ok=1 && break
  fi
  sleep 0.5
done
[[ -n $ok ]] || { tail -5 "$DEPLOY_WORK/prometheus/log"; fail "Prometheus: targets not all up or the delivery KPI not scraped"; }
[[ $(count 'outreach:rpc_calls:rate5m') -ge 1 ]] || sleep 2
echo "    up{job=outreach} == 1 for ${#built[@]} targets; outreach_kpi_workshops_delivered{force=derbyshire} == 1"
echo "    recording rules: $(count 'outreach:rpc_calls:rate5m') outreach:rpc_calls:rate5m series; rule groups: $(curl -fsS "http://127.0.0.1:$PROM_PORT/api/v1/rules" | grep -o '"name":"outreach-[a-z]*"' | sort -u | wc -l)"
kill "$PROM_PID" && wait "$PROM_PID" 2>/dev/null || true
PROM_PID=""

step "SIGTERM: every service container drains and exits 0 (PID 1)"
for svc in "${built[@]}"; do
  c=$(pm ps --format '{{.Names}}' | grep -E "^$svc-pod-[0-9]+-$svc\$" | head -1)
  t0=$(date +%s.%N)
  pm stop -t 25 "$c" >/dev/null
  code=$(pm inspect --format '{{.State.ExitCode}}' "$c")
  took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  [[ $code == 0 ]] || fail "$c exited $code after SIGTERM"
  echo "    $c: exit 0 after ${took}s"
done

step "restart: the containers start again on their volumes and the delivery is still there"
for svc in "${built[@]}"; do
  pm start "$(pm ps -a --format '{{.Names}}' | grep -E "^$svc-pod-[0-9]+-$svc\$" | head -1)" >/dev/null
done
node deploy/tools/wait_serving.mjs 30 "${targets[@]}"
delivered=$(node deploy/tools/dashboard_count.mjs "$ROOT/protos" "127.0.0.1:${GRPC_PORT[metrics]}" derbyshire)
[[ $delivered == 1 ]] || fail "after restart the dashboard shows $delivered delivered workshops, want 1"
echo "    dashboard after restart: $delivered delivered"

step "teardown"
# (podman logs harmless errors here: no systemd for healthcheck timers; a shared emptyDir.)
play_down
rm -f "$RENDERED"

fi # K8S: SQLite topology

# ------------------------------------------------------------------ PostgreSQL topology (k8s)
# overlays/local-postgres: the services of components/postgres-store (2 replicas, the stores in
# PostgreSQL over verify-full TLS) on the evaluation server of components/postgres. podman runs
# one pod per Deployment, so select_apps.py makes replica k a Deployment <svc>-rk on the ports
# + 100*(k-1); the domain services of both replicas publish to metrics replica 1 (the address
# in outreach-endpoints), both metrics replicas serve from the shared store and Redis.
if ((K8S && HAVE_SCENARIO)); then
step "render the local-postgres overlay: 2 replicas per service + PostgreSQL (port offset $PORT_OFFSET)"
RENDERED_PG=$DEPLOY_WORK/play-local-postgres.yaml
{ cat "$DEPLOY_WORK/rendered/local-postgres.yaml"; echo "---"; cat "$SECURITY"; } >"$DEPLOY_WORK/play-input-postgres.yaml"
/usr/bin/python3 deploy/tools/select_apps.py --port-offset "$PORT_OFFSET" \
  "$DEPLOY_WORK/play-input-postgres.yaml" postgres redis "${built[@]}" >"$RENDERED_PG"
pg_targets=()
for svc in "${built[@]}"; do
  for k in 1 2; do
    pg_targets+=("$svc=127.0.0.1:$((GRPC_PORT[$svc] + 100 * (k - 1)))")
  done
done
workshops_addrs="127.0.0.1:${GRPC_PORT[workshops]},127.0.0.1:$((GRPC_PORT[workshops] + 100))"
metrics_addrs="127.0.0.1:${GRPC_PORT[metrics]},127.0.0.1:$((GRPC_PORT[metrics] + 100))"
metrics_http=("${HTTP_PORT[metrics]}" $((HTTP_PORT[metrics] + 100)))
for _ in $(seq 1 20); do in_use "$PG_PORT" || in_use "${GRPC_PORT[metrics]}" || break; sleep 0.5; done
remove_state
tls_volumes
step "podman play kube: PostgreSQL + ${#pg_targets[@]} service pods (start-to-SERVING timer starts)"
t_start=$(date +%s.%N)
PLAYING=$RENDERED_PG
pm play kube --start "$RENDERED_PG" >"$DEPLOY_WORK/play-postgres.log" 2>&1 \
  || { cat "$DEPLOY_WORK/play-postgres.log"; fail "podman play kube (local-postgres)"; }
pg_container=$(pm ps --format '{{.Names}}' | grep -E '^postgres-pod-[0-9]+-postgres$' | head -1)
[[ -n $pg_container ]] || fail "no running postgres container"
for _ in $(seq 1 60); do
  pm exec "$pg_container" /usr/local/bin/outreach-postgres-healthcheck >/dev/null 2>&1 && break
  sleep 0.5
done
pm exec "$pg_container" /usr/local/bin/outreach-postgres-healthcheck || fail "PostgreSQL is not ready"
echo "    PostgreSQL ready after $(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
node deploy/tools/wait_serving.mjs 90 "${pg_targets[@]}"
pg_serving_s=$(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "    start-to-SERVING (PostgreSQL topology, ${#pg_targets[@]} replicas): ${pg_serving_s}s"

step "PostgreSQL container: HEALTHCHECK, uid 999, read-only root, the four databases UTF8 / C"
hc=$(pm image inspect --format '{{json .HealthCheck}}' localhost/outreach-postgres:dev)
[[ $hc == *outreach-postgres-healthcheck* ]] || fail "image outreach-postgres has no HEALTHCHECK ($hc)"
user=$(pm exec "$pg_container" id -u)
[[ $user == 999 ]] || fail "$pg_container runs as uid $user"
if pm exec "$pg_container" touch /usr/local/bin/x 2>/dev/null; then fail "$pg_container root filesystem is writable"; fi
databases=$(pm exec "$pg_container" psql -h /var/run/postgresql -p "$PG_PORT" -U postgres -Atc \
  "SELECT string_agg(datname || ':' || pg_encoding_to_char(encoding) || ':' || datcollate || ':' || datctype || ':' || pg_get_userbyid(datdba), ' ' ORDER BY datname) FROM pg_database WHERE datname IN ('workshops','training','campaigns','metrics')")
want_dbs="campaigns:UTF8:C:C:campaigns metrics:UTF8:C:C:metrics training:UTF8:C:C:training workshops:UTF8:C:C:workshops"
[[ $databases == "$want_dbs" ]] || fail "databases: $databases (want $want_dbs)"
tls=$(pm exec "$pg_container" psql -h /var/run/postgresql -p "$PG_PORT" -U postgres -Atc \
  "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.client_addr IS NOT NULL")
echo "    $pg_container: healthy, uid 999, read-only root; $databases"
echo "    service connections over TLS: ${tls%%|*} of ${tls##*|}"
[[ ${tls%%|*} == "${tls##*|}" && ${tls##*|} -gt 0 ]] || fail "service connections without TLS ($tls)"

step "scenario through the public APIs, across the replicas"
node deploy/tools/scenario.mjs "$ROOT/protos" "$workshops_addrs" "$metrics_addrs" derbyshire
wait_cache "${metrics_http[@]}"

step "PostgreSQL restart: SIGTERM -> exit 0, start, every replica SERVING again, the delivery kept"
t0=$(date +%s.%N)
pm stop -t 60 "$pg_container" >/dev/null
code=$(pm inspect --format '{{.State.ExitCode}}' "$pg_container")
[[ $code == 0 ]] || fail "$pg_container exited $code after SIGTERM"
echo "    $pg_container: exit 0 after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
pm start "$pg_container" >/dev/null
node deploy/tools/wait_serving.mjs 60 "${pg_targets[@]}"
for addr in ${metrics_addrs//,/ }; do
  delivered=$(node deploy/tools/dashboard_count.mjs "$ROOT/protos" "$addr" derbyshire)
  [[ $delivered == 1 ]] || fail "after the PostgreSQL restart metrics at $addr shows $delivered delivered, want 1"
done
echo "    dashboard after the restart, on both metrics replicas: 1 delivered"

step "teardown (PostgreSQL topology)"
play_down
rm -f "$RENDERED_PG"
fi

step "compose: deploy/compose/compose.yaml with podman-compose (same images; Redis image local)"
# Prometheus is left out (no registry for its image; the config ran above). podman-compose
# ignores `condition: service_healthy` and podman runs HEALTHCHECKs only with systemd, so the
# script runs each container's healthcheck itself.
for port in "${GRPC_PORT[@]}" "${HTTP_PORT[@]}"; do
  for _ in $(seq 1 20); do in_use "$port" || break; sleep 0.5; done
  if in_use "$port"; then fail "127.0.0.1:$port is in use (set DEPLOY_PORT_OFFSET)"; fi
done
compose_healthy() { # CONTAINER...: each one's image HEALTHCHECK passes (podman-compose ignores
  local c pids=()   # condition: service_healthy, and podman runs HEALTHCHECKs only with systemd)
  for c in "$@"; do # all containers at once
    (for _ in $(seq 1 60); do
       if pm healthcheck run "$c" >/dev/null 2>&1; then exit 0; fi
       sleep 0.5
     done
     echo "compose: $c is not healthy" >&2
     exit 1) &
    pids+=($!)
  done
  for c in "${pids[@]}"; do wait "$c" || fail "compose: a container is not healthy (above)"; done
}
COMPOSE_UP="outreach-check_redis_1"
for svc in "${built[@]}"; do COMPOSE_UP+=" outreach-check_${svc}_1"; done
t_start=$(date +%s.%N)
compose up -d --no-build redis "${built[@]}" >"$DEPLOY_WORK/compose.log" 2>&1 \
  || { tail -20 "$DEPLOY_WORK/compose.log"; fail "podman-compose up"; }
# shellcheck disable=SC2086 # a list of names
compose_healthy $COMPOSE_UP
compose_serving_s=$(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "    every container healthy (image HEALTHCHECK) ${compose_serving_s}s after up"
node deploy/tools/wait_serving.mjs 30 "${targets[@]}"
wait_cache
node deploy/tools/scenario.mjs "$ROOT/protos" \
  "127.0.0.1:${GRPC_PORT[workshops]}" "127.0.0.1:${GRPC_PORT[metrics]}" derbyshire
compose_down
COMPOSE_UP=""

if ((HAVE_SCENARIO)); then
step "compose: the PostgreSQL topology (postgres.env + profile postgres: the server, 2 replicas each)"
# podman-compose 1.0.3 reads no --env-file and ignores profiles: the file's settings go into
# its environment and the services are named. One `up` (each costs podman-compose's set-up):
# the services wait at start-up until PostgreSQL accepts connections.
mapfile -t COMPOSE_ENV < <(grep -E '^[A-Z_]+=' deploy/compose/postgres.env)
COMPOSE_UP="outreach-check_postgres_1 outreach-check_redis_1"
for svc in "${built[@]}"; do COMPOSE_UP+=" outreach-check_${svc}_1 outreach-check_${svc}_2"; done
t_start=$(date +%s.%N)
compose up -d --no-build postgres redis "${built[@]}" >"$DEPLOY_WORK/compose-postgres.log" 2>&1 \
  || { tail -20 "$DEPLOY_WORK/compose-postgres.log"; fail "podman-compose up (postgres profile)"; }
# shellcheck disable=SC2086 # a list of names
compose_healthy $COMPOSE_UP
compose_pg_serving_s=$(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "    postgres + $((${#built[@]} * 2)) service containers + redis healthy ${compose_pg_serving_s}s after up"
host_port() { # CONTAINER PORT -> the 127.0.0.1 port the engine picked
  local p
  p=$(pm port "$1" "$2/tcp") || fail "compose: $1 publishes no $2"
  [[ $p == 127.0.0.1:* ]] || fail "compose: $1 publishes $2 on $p, not on 127.0.0.1"
  echo "${p##*:}"
}
compose_targets=() workshops_addrs="" metrics_addrs="" metrics_http=()
for svc in "${built[@]}"; do
  for k in 1 2; do
    port=$(host_port "outreach-check_${svc}_$k" "$(( ${GRPC_PORT[$svc]} - PORT_OFFSET ))")
    compose_targets+=("$svc=127.0.0.1:$port")
    if [[ $svc == workshops ]]; then workshops_addrs+="${workshops_addrs:+,}127.0.0.1:$port"; fi
    if [[ $svc == metrics ]]; then
      metrics_addrs+="${metrics_addrs:+,}127.0.0.1:$port"
      metrics_http+=("$(host_port "outreach-check_metrics_$k" 9104)")
    fi
  done
done
node deploy/tools/wait_serving.mjs 60 "${compose_targets[@]}"
wait_cache "${metrics_http[@]}"
node deploy/tools/scenario.mjs "$ROOT/protos" "$workshops_addrs" "$metrics_addrs" derbyshire
compose_down
COMPOSE_UP=""
COMPOSE_ENV=()
fi

step "done"
echo
echo "image sizes:"
pm images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep outreach- | sort | sed 's/^/    /'
echo "start-to-SERVING: ${serving_s:-(skipped)}s play kube; ${compose_serving_s}s compose to all healthy (${built[*]})"
if [[ -n ${pg_serving_s:-} ]]; then
  echo "PostgreSQL topology (2 replicas each): ${pg_serving_s}s play kube to SERVING; ${compose_pg_serving_s:-?}s compose to all healthy"
fi
echo "step timings:"
printf '    %s\n' "${timings[@]}"
echo "total: $(($(date +%s) - start))s"
if ((!K8S)); then echo "deploy-check all: the Kubernetes render and play-kube stages were SKIPPED (no kubectl)"; fi
if ((${#missing[@]})); then
  echo "deploy-check all: OK for ${built[*]}; NOT CHECKED (no sources): ${missing[*]}"
  exit 3
fi
echo "deploy-check all: OK"
