#!/usr/bin/python3
"""select_apps.py [--port-offset N] RENDERED.yaml APP... > OUT.yaml

Keeps the objects podman play kube runs (Deployment, ConfigMap, Secret, PersistentVolumeClaim)
for the named apps (label app.kubernetes.io/name); ConfigMaps and Secrets are shared and kept.
Services, NetworkPolicies and PodDisruptionBudgets are dropped: podman does not implement them
(they are checked statically by k8s_strict_check.py instead). --port-offset N moves every
127.0.0.1:PORT address and Redis' --port by N, so the check can run beside a suite that
already uses the default ports (scripts/run.sh)."""
import re
import sys

import yaml

args = sys.argv[1:]
offset = 0
if args[0] == "--port-offset":
    offset, args = int(args[1]), args[2:]
path, apps = args[0], set(args[1:])


def shift(value):
    if isinstance(value, dict):
        return {k: shift(v) for k, v in value.items()}
    if isinstance(value, list):
        out = [shift(v) for v in value]
        for i in range(len(out) - 1):
            if out[i] == "--port":
                out[i + 1] = str(int(out[i + 1]) + offset)
        return out
    if isinstance(value, str):
        return re.sub(r"127\.0\.0\.1:(\d+)", lambda m: f"127.0.0.1:{int(m.group(1)) + offset}", value)
    return value


kept = []
for doc in yaml.safe_load_all(open(path)):
    if not doc:
        continue
    kind = doc.get("kind")
    app = (doc.get("metadata", {}).get("labels") or {}).get("app.kubernetes.io/name")
    if kind in ("ConfigMap", "Secret") or (kind in ("Deployment", "PersistentVolumeClaim") and app in apps):
        kept.append(shift(doc) if offset else doc)
missing = apps - {d["metadata"]["labels"]["app.kubernetes.io/name"] for d in kept if d["kind"] == "Deployment"}
if missing:
    sys.exit(f"select_apps: no Deployment for {sorted(missing)}")
# ConfigMaps/Secrets/PVCs first so podman creates them before the pods that use them.
order = {"ConfigMap": 0, "Secret": 0, "PersistentVolumeClaim": 1, "Deployment": 2}
kept.sort(key=lambda d: order[d["kind"]])
yaml.safe_dump_all(kept, sys.stdout, sort_keys=False)
