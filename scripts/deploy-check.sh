#!/usr/bin/env bash
# Checks deploy/ for real (issue 7, deploy/README.md).
#   scripts/deploy-check.sh static   manifests only (seconds): docker-compose config; kustomize
#                                    render of every overlay + strict offline schema/policy check;
#                                    promtool check config/rules + test rules; Grafana JSON
#   scripts/deploy-check.sh all      static, then (root, podman): base image (debootstrap), the
#                                    images, a dev PKI + JWKS + operator token and the Secrets,
#                                    the local overlay's manifests under `podman play kube` on
#                                    127.0.0.1, SERVING, a scenario through the public gRPC APIs
#                                    (TLS + token), /metrics, a real Prometheus scrape, SIGTERM exit
#                                    codes; then the Compose file with podman-compose and the same
#                                    scenario; teardown always (trap), also on failure
# Exit 0 when everything passed; 1 on a failure; 3 when all checks passed but some service has
# no sources in this checkout yet (named in the last line).
# Work files, podman storage (image + layer cache) and the debootstrap base image cache live under
# build/deploy/ (override with DEPLOY_WORK). Needs root (podman as deploy/README.md describes).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:-all}
case $MODE in static | all) ;; *) echo "usage: $0 static|all" >&2; exit 2 ;; esac
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
command -v kubectl >/dev/null || fail "kubectl (with kustomize v5) is needed to render deploy/k8s"

# ------------------------------------------------------------------------------------ static
step "compose: docker-compose config -q"
docker-compose -f deploy/compose/compose.yaml config -q

step "kustomize render + strict schema/policy check of every overlay"
for dir in deploy/k8s/overlays/*/; do
  overlay=$(basename "$dir")
  kubectl kustomize "$dir" >"$DEPLOY_WORK/rendered/$overlay.yaml"
done
/usr/bin/python3 deploy/tools/k8s_strict_check.py "$DEPLOY_WORK"/rendered/*.yaml
# The check must be able to fail: a fixture with one unknown field, one wrong type and one
# missing required field must give exactly those three errors.
bad=$(/usr/bin/python3 deploy/tools/k8s_strict_check.py deploy/tools/testdata/invalid.yaml 2>&1 \
  | grep -c 'Deployment/broken' || true)
[[ $bad == 3 ]] || fail "strict check found $bad of the 3 errors in deploy/tools/testdata/invalid.yaml"

step "promtool: check config, check rules, test rules"
promtool check config deploy/prometheus/prometheus.yml
promtool check rules deploy/prometheus/alerts.yml
promtool test rules deploy/prometheus/tests/*.yml

step "grafana: dashboard JSON"
/usr/bin/python3 deploy/tools/dashboard_check.py deploy/grafana/*.json deploy/prometheus/alerts.yml

if [[ $MODE == static ]]; then
  step "done"
  printf '  %s\n' "${timings[@]}"
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
  mapfile -t volumes < <(pm volume ls -q 2>/dev/null | grep -E -- '^(tmp|.*-data|outreach-.*)$')
  mapfile -t secrets < <(pm secret ls --format '{{.Name}}' 2>/dev/null | grep '^outreach-')
  if ((${#volumes[@]})); then pm volume rm -f "${volumes[@]}" >/dev/null 2>&1 || true; fi
  if ((${#secrets[@]})); then pm secret rm "${secrets[@]}" >/dev/null 2>&1 || true; fi
}
PROM_PID=""
COMPOSE_UP=""
# podman-compose calls a podman binary: give it one with this script's storage and settings.
PM_WRAPPER=$DEPLOY_WORK/podman
printf '#!/bin/sh\nexport CONTAINERS_CONF=%q\nexec podman --root %q --runroot %q --storage-driver overlay --cgroup-manager cgroupfs --events-backend file "$@"\n' \
  "$CONTAINERS_CONF" "$DEPLOY_WORK/storage" "$DEPLOY_WORK/run" >"$PM_WRAPPER"
chmod +x "$PM_WRAPPER"
compose() {
  (cd deploy/compose && OUTREACH_REDIS_IMAGE=localhost/outreach-redis:dev OUTREACH_PKI_DIR=$PKI \
    podman-compose --podman-path "$PM_WRAPPER" -p outreach-check "$@")
}
compose_down() {
  compose down -v >>"$DEPLOY_WORK/compose.log" 2>&1 || true
  pm network rm -f outreach-check_default >/dev/null 2>&1 || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $PROM_PID ]]; then kill "$PROM_PID" 2>/dev/null || true; fi
  if [[ -n $COMPOSE_UP ]]; then
    echo "==> teardown (compose)"
    if ((rc != 0)); then
      for c in redis "${built[@]}"; do
        echo "---- last log lines of outreach-check_${c}_1"
        pm logs --tail 10 "outreach-check_${c}_1" 2>&1 || true
      done
    fi
    compose_down
  fi
  if [[ -f $RENDERED ]]; then
    echo "==> teardown"
    if ((rc != 0)); then
      for c in $(pm ps -a --format '{{.Names}}' 2>/dev/null | grep -v -- '-infra$' || true); do
        echo "---- last log lines of $c"
        pm logs --tail 15 "$c" 2>&1 || true
      done
    fi
    pm play kube --down "$RENDERED" >>"$DEPLOY_WORK/play.log" 2>&1 || true
    remove_state
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
for target in "${built[@]}" redis; do
  t0=$(date +%s)
  pm build --format docker --pull=never --network host \
    -f "$CTX/deploy/docker/Dockerfile" --target "$target" -t "localhost/outreach-$target:dev" "$CTX" \
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
export OUTREACH_TLS_CA_FILE=$PKI/ca.pem OUTREACH_TOKEN_FILE=$PKI/operator.token
echo "    CA, ${built[*]} certificates, JWKS and a force_admin token for forces/derbyshire"

# The objects the base expects out of band (deploy/README.md, "Secrets"). The JWKS and policy
# ConfigMaps go into the manifests podman plays. The TLS Secrets cannot: podman 4.3 play kube
# refuses a Secret whose `data` is not base64 and mounts the base64 text undecoded. It does
# mount an existing volume of the Secret's name, once a podman secret of that name exists, so
# tls_volumes (below) makes both: the files in cert-manager's layout, and an empty secret.
SECURITY=$DEPLOY_WORK/security-objects.yaml
/usr/bin/python3 - "$PKI/jwks.json" "$ROOT/deploy/security/policy.json" >"$SECURITY" <<'PY'
import sys, yaml
jwks, policy = (open(path).read() for path in sys.argv[1:])
yaml.safe_dump_all([
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "outreach-jwks"},
     "data": {"jwks.json": jwks}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "outreach-policy"},
     "data": {"policy.json": policy}}], sys.stdout, sort_keys=False)
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
}

# The suite's default ports, or all of them + 10000 when something (scripts/run.sh) holds one.
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT_OFFSET=${DEPLOY_PORT_OFFSET:-}
if [[ -z $PORT_OFFSET ]]; then
  PORT_OFFSET=0
  for port in "${GRPC_PORT[@]}" "${HTTP_PORT[@]}" 6379; do in_use "$port" && PORT_OFFSET=10000; done
fi
for svc in "${SERVICES[@]}"; do
  GRPC_PORT[$svc]=$((GRPC_PORT[$svc] + PORT_OFFSET))
  HTTP_PORT[$svc]=$((HTTP_PORT[$svc] + PORT_OFFSET))
  export "OUTREACH_${svc^^}_GRPC_PORT=${GRPC_PORT[$svc]}" "OUTREACH_${svc^^}_HTTP_PORT=${HTTP_PORT[$svc]}"
done
step "render the local overlay for podman play kube (services: ${built[*]}; port offset $PORT_OFFSET)"
for port in "${GRPC_PORT[@]}" "${HTTP_PORT[@]}" $((6379 + PORT_OFFSET)); do
  if in_use "$port"; then fail "127.0.0.1:$port is in use (set DEPLOY_PORT_OFFSET)"; fi
done
{ cat "$DEPLOY_WORK/rendered/local.yaml"; echo "---"; cat "$SECURITY"; } >"$DEPLOY_WORK/play-input.yaml"
/usr/bin/python3 deploy/tools/select_apps.py --port-offset "$PORT_OFFSET" \
  "$DEPLOY_WORK/play-input.yaml" redis "${built[@]}" >"$RENDERED"

pm play kube --down "$RENDERED" >/dev/null 2>&1 || true # leftovers of an interrupted run
remove_state
tls_volumes
step "podman play kube (start-to-SERVING timer starts)"
t_start=$(date +%s.%N)
pm play kube --start "$RENDERED" >"$DEPLOY_WORK/play.log" 2>&1 || { cat "$DEPLOY_WORK/play.log"; fail "podman play kube"; }

step "wait until every service reports SERVING (grpc.health.v1 per service name)"
targets=()
for svc in "${built[@]}"; do targets+=("$svc=127.0.0.1:${GRPC_PORT[$svc]}"); done
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
wait_cache() {
  for _ in $(seq 1 40); do
    if curl -fsS "http://127.0.0.1:${HTTP_PORT[metrics]}/metrics" | grep -q '^outreach_metrics_cache_subscribed 1'; then
      echo "    subscribed to Redis invalidations"
      return 0
    fi
    sleep 0.25
  done
  fail "the metrics service is not connected to Redis"
}
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
# network) instead of the Compose service names; everything else as shipped.
PROM_PORT=${DEPLOY_PROMETHEUS_PORT:-19090}
rm -rf "$DEPLOY_WORK/prometheus" && mkdir -p "$DEPLOY_WORK/prometheus"
cp deploy/prometheus/alerts.yml "$DEPLOY_WORK/prometheus/"
sed -e 's/scrape_interval: 15s/scrape_interval: 1s/' -e 's/evaluation_interval: 15s/evaluation_interval: 1s/' \
  -e "s/\"workshops:9101\"/\"127.0.0.1:${HTTP_PORT[workshops]}\"/" \
  -e "s/\"training:9102\"/\"127.0.0.1:${HTTP_PORT[training]}\"/" \
  -e "s/\"campaigns:9103\"/\"127.0.0.1:${HTTP_PORT[campaigns]}\"/" \
  -e "s/\"metrics:9104\"/\"127.0.0.1:${HTTP_PORT[metrics]}\"/" \
  -e "s/localhost:9090/127.0.0.1:$PROM_PORT/" \
  deploy/prometheus/prometheus.yml >"$DEPLOY_WORK/prometheus/prometheus.yml"
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
pm play kube --down "$RENDERED" >>"$DEPLOY_WORK/play.log" 2>&1
remove_state
rm -f "$RENDERED"

step "compose: deploy/compose/compose.yaml with podman-compose (same images; Redis image local)"
# Prometheus is left out (no registry for its image; the config ran above). podman-compose
# ignores `condition: service_healthy` and podman runs HEALTHCHECKs only with systemd, so the
# script runs each container's healthcheck itself.
for port in "${GRPC_PORT[@]}" "${HTTP_PORT[@]}"; do
  for _ in $(seq 1 20); do in_use "$port" || break; sleep 0.5; done
  if in_use "$port"; then fail "127.0.0.1:$port is in use (set DEPLOY_PORT_OFFSET)"; fi
done
COMPOSE_UP=1
t_start=$(date +%s.%N)
compose up -d --no-build redis "${built[@]}" >"$DEPLOY_WORK/compose.log" 2>&1 \
  || { tail -20 "$DEPLOY_WORK/compose.log"; fail "podman-compose up"; }
for c in redis "${built[@]}"; do
  for _ in $(seq 1 60); do
    if pm healthcheck run "outreach-check_${c}_1" >/dev/null 2>&1; then break; fi
    sleep 0.5
  done
  pm healthcheck run "outreach-check_${c}_1" >/dev/null || fail "compose: $c is not healthy"
done
compose_serving_s=$(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "    every container healthy (image HEALTHCHECK) ${compose_serving_s}s after up"
node deploy/tools/wait_serving.mjs 30 "${targets[@]}"
wait_cache
node deploy/tools/scenario.mjs "$ROOT/protos" \
  "127.0.0.1:${GRPC_PORT[workshops]}" "127.0.0.1:${GRPC_PORT[metrics]}" derbyshire
compose_down
COMPOSE_UP=""

step "done"
echo
echo "image sizes:"
pm images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep outreach- | sort | sed 's/^/    /'
echo "start-to-SERVING: ${serving_s}s play kube; ${compose_serving_s}s compose to all healthy (${built[*]})"
echo "step timings:"
printf '    %s\n' "${timings[@]}"
echo "total: $(($(date +%s) - start))s"
if ((${#missing[@]})); then
  echo "deploy-check all: OK for ${built[*]}; NOT CHECKED (no sources): ${missing[*]}"
  exit 3
fi
echo "deploy-check all: OK"
