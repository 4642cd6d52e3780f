#!/usr/bin/python3
"""Strict offline check of rendered Kubernetes manifests.

  k8s_strict_check.py FILE.yaml...          exit 1 on the first problem of each document

Schema: the API models of Debian's python3-kubernetes (unknown field, wrong type, missing
required field, unknown kind all fail), plus the gRPC probe (core/v1 GRPCAction, GA in
Kubernetes 1.27, newer than the packaged models). Policy: the rules deploy/README.md promises
for every Deployment and StatefulSet (probes, resources, securityContext, grace period > drain
timeout, one replica + Recreate on a ReadWriteOnce volume, a PodDisruptionBudget allowing one
pod down (maxUnavailable: 1) and a Service per app; on the host network every listener on
127.0.0.1), and per store: SQLite = one replica, Recreate, the file on a PVC; PostgreSQL = at
least two replicas, RollingUpdate with maxUnavailable 0, no SQLite path or PVC, the URL from a
ConfigMap/Secret without a password and with sslmode=verify-full, the password file in a
mounted Secret; all services of a topology on the same store.
"""
import datetime
import inspect
import re
import sys

import yaml
import kubernetes.client as k8s

# Fields newer than the packaged models: {model: {json_name: type}}; types as in openapi_types.
EXTRA_FIELDS = {"V1Probe": {"grpc": "V1GRPCAction"}}
EXTRA_MODELS = {"V1GRPCAction": ({"port": "int", "service": "str"}, {"port"})}

_required_cache = {}


def model_fields(name):
    """{json_name: type}, required json names for a model class name."""
    if name in EXTRA_MODELS:
        return EXTRA_MODELS[name]
    cls = getattr(k8s, name, None)
    if cls is None:
        raise KeyError(name)
    if name not in _required_cache:
        fields, required = {}, set()
        for attr, typ in cls.openapi_types.items():
            json_name = cls.attribute_map[attr]
            fields[json_name] = typ
            setter = getattr(cls, attr).fset
            if setter and "must not be `None`" in inspect.getsource(setter):
                required.add(json_name)
        fields.update(EXTRA_FIELDS.get(name, {}))
        _required_cache[name] = (fields, required)
    return _required_cache[name]


def check(value, typ, path, errors):
    if value is None:
        return  # explicit null: the API server treats it as absent
    m = re.fullmatch(r"list\[(.+)\]", typ)
    if m:
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            check(item, m.group(1), f"{path}[{i}]", errors)
        return
    m = re.fullmatch(r"dict\(str, (.+)\)", typ)
    if m:
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        for k, v in value.items():
            check(v, m.group(1), f"{path}.{k}", errors)
        return
    simple = {
        "str": (str,),
        "int": (int,),
        "float": (int, float),
        "bool": (bool,),
        "datetime": (str, datetime.datetime),
        "date": (str, datetime.date),
    }
    if typ in simple:
        ok = isinstance(value, simple[typ]) and not (typ in ("int", "float") and isinstance(value, bool))
        if not ok:
            errors.append(f"{path}: expected {typ}, got {type(value).__name__} {value!r}")
        return
    if typ == "object":  # IntOrString, RawExtension, ...
        if not isinstance(value, (str, int, dict, list)) or isinstance(value, bool):
            errors.append(f"{path}: unexpected {type(value).__name__}")
        return
    try:
        fields, required = model_fields(typ)
    except KeyError:
        errors.append(f"{path}: no model {typ}")
        return
    if not isinstance(value, dict):
        errors.append(f"{path}: expected an object ({typ}), got {type(value).__name__}")
        return
    for k, v in value.items():
        if k not in fields:
            errors.append(f"{path}.{k}: unknown field of {typ}")
        else:
            check(v, fields[k], f"{path}.{k}", errors)
    for r in sorted(required - set(k for k, v in value.items() if v is not None)):
        errors.append(f"{path}.{r}: required field of {typ} is missing")


def model_for(doc):
    api = str(doc.get("apiVersion", ""))
    kind = str(doc.get("kind", ""))
    version = api.split("/")[-1]
    return version[:1].upper() + version[1:] + kind


def duration_seconds(text):
    m = re.fullmatch(r"(\d+)(ms|s|m)", text)
    if not m:
        return None
    n = int(m.group(1))
    return {"ms": n / 1000, "s": n, "m": 60 * n}[m.group(2)]


SUITE_COMPONENTS = ("domain-service", "metrics-service")
WORKLOADS = ("Deployment", "StatefulSet")


def env_map(container):
    return {e["name"]: e for e in container.get("env", [])}


def pdb_problem(pdb):
    """Why a PodDisruptionBudget does not allow exactly one pod down, or None."""
    spec = pdb["spec"]
    if "minAvailable" in spec:
        return "uses minAvailable (the suite's budgets are maxUnavailable: 1)"
    if spec.get("maxUnavailable") != 1:
        return f"maxUnavailable {spec.get('maxUnavailable')!r}, want 1"
    return None


def check_container(where, pod, c, labels, errors):
    cw = f"{where} container {c['name']}"
    if pod.get("hostNetwork"):  # local overlays: nothing may listen beyond loopback
        for e in c.get("env", []):
            if e["name"] in ("OUTREACH_GRPC_ADDRESS", "OUTREACH_HTTP_ADDRESS") and \
                    not str(e.get("value", "")).startswith("127.0.0.1:"):
                errors.append(f"{cw}: hostNetwork but {e['name']}={e.get('value')} is not loopback")
        args = c.get("args", [])
        if c["name"] == "redis" and args[args.index("--bind") + 1 if "--bind" in args else 0:][:1] != ["127.0.0.1"]:
            errors.append(f"{cw}: hostNetwork but redis does not --bind 127.0.0.1")
        if c["name"] == "postgres" and "listen_addresses=127.0.0.1" not in args:
            errors.append(f"{cw}: hostNetwork but postgres has no -c listen_addresses=127.0.0.1")
        if any("hostPort" in p for p in c.get("ports", [])):
            errors.append(f"{cw}: hostNetwork with hostPort")
    sc = c.get("securityContext", {})
    if sc.get("readOnlyRootFilesystem") is not True:
        errors.append(f"{cw}: readOnlyRootFilesystem must be true")
    if sc.get("allowPrivilegeEscalation") is not False:
        errors.append(f"{cw}: allowPrivilegeEscalation must be false")
    if "ALL" not in (sc.get("capabilities", {}).get("drop") or []):
        errors.append(f"{cw}: capabilities must drop ALL")
    for probe in ("readinessProbe", "livenessProbe"):
        if probe not in c:
            errors.append(f"{cw}: {probe} missing")
    res = c.get("resources", {})
    if not res.get("requests") or not res.get("limits", {}).get("memory"):
        errors.append(f"{cw}: resources.requests and limits.memory required")
    if labels.get("app.kubernetes.io/component") in SUITE_COMPONENTS:
        # The gRPC port speaks TLS only and the kubelet's grpc probe cannot, so readiness
        # is /healthz on the plaintext HTTP port, checked from inside the container.
        for probe in ("readinessProbe", "livenessProbe"):
            command = (c.get(probe, {}).get("exec") or {}).get("command") or []
            if command != ["/usr/local/bin/outreach-healthcheck"]:
                errors.append(f"{cw}: {probe} must exec /usr/local/bin/outreach-healthcheck")


def url_of(env, configmaps):
    """The literal --db-url of a container: its value, or the referenced ConfigMap key."""
    e = env["OUTREACH_DB_URL"]
    if "value" in e:
        return e["value"]
    ref = (e.get("valueFrom") or {})
    if "configMapKeyRef" in ref:
        r = ref["configMapKeyRef"]
        return (configmaps.get(r["name"]) or {}).get(r["key"])
    if "secretKeyRef" in ref:
        return None  # base64 in a Secret: not inspected
    return None


def check_postgres_store(where, spec, pod, c, docs, errors):
    """A suite service on PostgreSQL: replicas, rolling updates, no SQLite file or volume, the
    URL without a password and with sslmode=verify-full, the password from a mounted Secret."""
    env = env_map(c)
    if spec.get("replicas", 1) < 2:
        errors.append(f"{where}: PostgreSQL store but replicas {spec.get('replicas', 1)} (want >= 2)")
    strategy = spec.get("strategy", {})
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        errors.append(f"{where}: PostgreSQL store but strategy {strategy.get('type')} (want RollingUpdate)")
    elif str((strategy.get("rollingUpdate") or {}).get("maxUnavailable", "25%")) != "0":
        errors.append(f"{where}: PostgreSQL store: rollingUpdate.maxUnavailable must be 0")
    if "OUTREACH_DB_PATH" in env:
        errors.append(f"{where}: PostgreSQL store but OUTREACH_DB_PATH is set")
    if any("persistentVolumeClaim" in v for v in pod.get("volumes", [])):
        errors.append(f"{where}: PostgreSQL store but mounts a PersistentVolumeClaim (no SQLite volume here)")
    configmaps = {d["metadata"]["name"]: d.get("data") or {} for d in docs if d.get("kind") == "ConfigMap"}
    url = url_of(env, configmaps)
    if "value" in env["OUTREACH_DB_URL"]:
        errors.append(f"{where}: OUTREACH_DB_URL must come from a ConfigMap or Secret, not a literal")
    if url is not None:
        m = re.fullmatch(r"postgres(?:ql)?://([^@/]*)@([^/?]+)/([^?]+)(\?.*)?", url)
        if not m:
            errors.append(f"{where}: OUTREACH_DB_URL {url!r} is not postgresql://user@host:port/db?...")
        else:
            if ":" in m.group(1):
                errors.append(f"{where}: OUTREACH_DB_URL carries a password (use --db-password-file)")
            if "sslmode=verify-full" not in (m.group(4) or ""):
                errors.append(f"{where}: OUTREACH_DB_URL without sslmode=verify-full")
    password_file = str(env.get("OUTREACH_DB_PASSWORD_FILE", {}).get("value", ""))
    secret_volumes = {v["name"] for v in pod.get("volumes", []) if "secret" in v}
    mounted = any(m["name"] in secret_volumes and password_file.startswith(m["mountPath"].rstrip("/") + "/")
                  for m in c.get("volumeMounts", []))
    if not mounted:
        errors.append(f"{where}: OUTREACH_DB_PASSWORD_FILE={password_file!r} is not in a mounted Secret")


def check_sqlite_store(where, spec, pod, c, errors):
    env = env_map(c)
    path = str(env.get("OUTREACH_DB_PATH", {}).get("value", ""))
    claims = {v["name"] for v in pod.get("volumes", []) if "persistentVolumeClaim" in v}
    if not any(m["name"] in claims and path.startswith(m["mountPath"].rstrip("/") + "/")
               for m in c.get("volumeMounts", [])):
        errors.append(f"{where}: SQLite store {path!r} is not on a PersistentVolumeClaim")
    if spec.get("replicas", 1) != 1 or spec.get("strategy", {}).get("type") != "Recreate":
        errors.append(f"{where}: a SQLite store needs replicas 1 and strategy Recreate")


def policy(docs, errors):
    config = {}
    for d in docs:
        if d.get("kind") == "ConfigMap":
            config.update(d.get("data") or {})
    drain = duration_seconds(config.get("OUTREACH_DRAIN_TIMEOUT", "10s"))
    pdbs = [d for d in docs if d.get("kind") == "PodDisruptionBudget"]
    services = [d for d in docs if d.get("kind") == "Service"]
    rwo_claims = {d["metadata"]["name"] for d in docs if d.get("kind") == "PersistentVolumeClaim"
                  and "ReadWriteOnce" in d["spec"].get("accessModes", [])}
    backends = {}
    for d in docs:
        if d.get("kind") not in WORKLOADS:
            continue
        name = d["metadata"]["name"]
        where = f"{d['kind']}/{name}"
        spec = d["spec"]
        pod = spec["template"]["spec"]
        labels = spec["template"]["metadata"].get("labels", {})
        grace = pod.get("terminationGracePeriodSeconds", 30)
        if drain is not None and grace <= drain:
            errors.append(f"{where}: terminationGracePeriodSeconds {grace} <= drain timeout {drain}s")
        psc = pod.get("securityContext", {})
        if psc.get("runAsNonRoot") is not True:
            errors.append(f"{where}: pod securityContext.runAsNonRoot must be true")
        for c in pod["containers"]:
            check_container(where, pod, c, labels, errors)
        if labels.get("app.kubernetes.io/component") in SUITE_COMPONENTS:
            c = pod["containers"][0]
            if "OUTREACH_DB_URL" in env_map(c):
                backends[labels.get("app.kubernetes.io/name")] = "postgresql"
                check_postgres_store(where, spec, pod, c, docs, errors)
            else:
                backends[labels.get("app.kubernetes.io/name")] = "sqlite"
                check_sqlite_store(where, spec, pod, c, errors)
        claims = [v["persistentVolumeClaim"]["claimName"] for v in pod.get("volumes", [])
                  if "persistentVolumeClaim" in v]
        if any(cl in rwo_claims for cl in claims):
            if spec.get("replicas", 1) != 1 or spec.get("strategy", {}).get("type") != "Recreate":
                errors.append(f"{where}: a ReadWriteOnce volume needs replicas 1 and strategy Recreate")
        if d["kind"] == "StatefulSet":
            if not spec.get("volumeClaimTemplates"):
                errors.append(f"{where}: no volumeClaimTemplates")
            governing = [s for s in services if s["metadata"]["name"] == spec.get("serviceName")]
            if not governing or governing[0]["spec"].get("clusterIP") != "None":
                errors.append(f"{where}: serviceName {spec.get('serviceName')!r} is not a headless Service here")
        match = lambda sel: sel and all(labels.get(k) == v for k, v in sel.items())
        budgets = [p for p in pdbs if match(p["spec"]["selector"].get("matchLabels", {}))]
        if not budgets:
            errors.append(f"{where}: no PodDisruptionBudget selects it")
        for p in budgets:
            problem = pdb_problem(p)
            if problem:
                errors.append(f"{where}: PodDisruptionBudget/{p['metadata']['name']} {problem}")
        if not any(match(s["spec"].get("selector", {})) for s in services):
            errors.append(f"{where}: no Service selects it")
    if len(set(backends.values())) > 1:
        errors.append(f"services on different stores in one topology: {dict(sorted(backends.items()))}")
    for d in docs:  # the PostgreSQL topology keeps no SQLite volume behind
        app = (d.get("metadata", {}).get("labels") or {}).get("app.kubernetes.io/name")
        if d.get("kind") == "PersistentVolumeClaim" and backends.get(app) == "postgresql":
            errors.append(f"PersistentVolumeClaim/{d['metadata']['name']}: SQLite volume of {app}, "
                          "whose store is PostgreSQL")


def main(paths):
    failed = False
    for path in paths:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        errors = []
        for d in docs:
            ident = f"{d.get('kind')}/{(d.get('metadata') or {}).get('name')}"
            name = model_for(d)
            if getattr(k8s, name, None) is None:
                errors.append(f"{ident}: unknown apiVersion/kind {d.get('apiVersion')} {d.get('kind')}")
                continue
            doc_errors = []
            check(d, name, ident, doc_errors)
            errors += doc_errors
        if not errors:
            policy(docs, errors)
        for e in errors:
            print(f"{path}: {e}", file=sys.stderr)
        print(f"{path}: {len(docs)} documents, {'FAILED' if errors else 'ok'}")
        failed |= bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
