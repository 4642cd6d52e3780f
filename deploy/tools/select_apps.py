#!/usr/bin/python3
"""select_apps.py [--port-offset N] RENDERED.yaml APP... > OUT.yaml

Turns a rendered overlay into what `podman play kube` (4.3) runs, for the named apps (label
app.kubernetes.io/name); ConfigMaps and Secrets are shared and kept.
- Deployment, PersistentVolumeClaim: kept. A Deployment of N > 1 replicas becomes N Deployments
  <name>-r1 ... <name>-rN of one replica each (podman runs one pod per Deployment), replica k
  listening on its 127.0.0.1 ports + 100*(k-1) (a cluster gives each pod its own address; on
  one host network the replicas need their own ports). Callers' addresses stay on replica 1.
- StatefulSet (podman 4.3 has none): a Deployment of the same pod, and per volumeClaimTemplate
  the PVC a StatefulSet makes for its pod 0 (<template>-<name>-0).
- Services, NetworkPolicies and PodDisruptionBudgets are dropped: podman does not implement
  them (k8s_strict_check.py checks them statically instead).
--port-offset N moves every 127.0.0.1:PORT address, Redis' --port and PostgreSQL's -p by N, so
the check can run beside a suite that already uses the default ports (scripts/run.sh)."""
import copy
import re
import sys

import yaml

REPLICA_PORT_STEP = 100
args = sys.argv[1:]
offset = 0
if args[0] == "--port-offset":
    offset, args = int(args[1]), args[2:]
path, apps = args[0], set(args[1:])


def shift(value, by):
    if isinstance(value, dict):
        return {k: shift(v, by) for k, v in value.items()}
    if isinstance(value, list):
        out = [shift(v, by) for v in value]
        for i in range(len(out) - 1):
            if out[i] in ("--port", "-p"):
                out[i + 1] = str(int(out[i + 1]) + by)
        return out
    if isinstance(value, str):
        return re.sub(r"127\.0\.0\.1:(\d+)", lambda m: f"127.0.0.1:{int(m.group(1)) + by}", value)
    return value


def own_listeners(deployment, by):
    """Replica k's own listening addresses (not the addresses it dials)."""
    for c in deployment["spec"]["template"]["spec"]["containers"]:
        for e in c.get("env", []):
            if e["name"] in ("OUTREACH_GRPC_ADDRESS", "OUTREACH_HTTP_ADDRESS") and "value" in e:
                e["value"] = shift(e["value"], by)


def app_of(doc):
    return (doc.get("metadata", {}).get("labels") or {}).get("app.kubernetes.io/name")


def from_statefulset(sts):
    name = sts["metadata"]["name"]
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    pvcs = []
    for tpl in spec.get("volumeClaimTemplates", []):
        claim = f"{tpl['metadata']['name']}-{name}-0"
        pvcs.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                     "metadata": {"name": claim, "labels": dict(sts["metadata"].get("labels") or {})},
                     "spec": tpl["spec"]})
        pod.setdefault("volumes", []).append(
            {"name": tpl["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim}})
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": sts["metadata"],
                  "spec": {"replicas": 1, "strategy": {"type": "Recreate"},
                           "selector": spec["selector"], "template": spec["template"]}}
    return [deployment] + pvcs


kept = []
for doc in yaml.safe_load_all(open(path)):
    if not doc:
        continue
    kind = doc.get("kind")
    if kind in ("ConfigMap", "Secret"):
        kept.append(doc)
    elif app_of(doc) not in apps:
        continue
    elif kind == "StatefulSet":
        kept += from_statefulset(doc)
    elif kind == "PersistentVolumeClaim":
        kept.append(doc)
    elif kind == "Deployment":
        replicas = doc["spec"].get("replicas", 1)
        if replicas == 1:
            kept.append(doc)
            continue
        for k in range(1, replicas + 1):
            copy_k = copy.deepcopy(doc)
            copy_k["metadata"]["name"] = f"{doc['metadata']['name']}-r{k}"
            copy_k["spec"]["replicas"] = 1
            own_listeners(copy_k, REPLICA_PORT_STEP * (k - 1))
            kept.append(copy_k)
if offset:
    kept = [shift(d, offset) for d in kept]
missing = apps - {app_of(d) for d in kept if d["kind"] == "Deployment"}
if missing:
    sys.exit(f"select_apps: no Deployment or StatefulSet for {sorted(missing)}")
# ConfigMaps/Secrets/PVCs first so podman creates them before the pods that use them; the
# database before the services that open their stores at start-up.
order = {"ConfigMap": 0, "Secret": 0, "PersistentVolumeClaim": 1, "Deployment": 2}
kept.sort(key=lambda d: (order[d["kind"]], app_of(d) != "postgres"))
yaml.safe_dump_all(kept, sys.stdout, sort_keys=False)
