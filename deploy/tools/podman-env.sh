# shellcheck shell=bash
# Sourced by scripts/deploy-check.sh: a self-contained podman (private storage and config under
# build/deploy) set up the way this kind of machine needs it (runc and ulimits a root VM with cgroup v1 allows; deploy/README.md):
# runtime runc (crun fails on cgroup v1 hybrid), ulimits root may set, cgroupfs, file events.
DEPLOY_WORK=${DEPLOY_WORK:-$ROOT/build/deploy}
mkdir -p "$DEPLOY_WORK"
cat >"$DEPLOY_WORK/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
log_driver = "k8s-file"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF=$DEPLOY_WORK/containers.conf
pm() {
  podman --root "$DEPLOY_WORK/storage" --runroot "$DEPLOY_WORK/run" --storage-driver overlay \
    --cgroup-manager cgroupfs --events-backend file "$@"
}
