#!/usr/bin/python3
"""dashboard_check.py DASHBOARD.json... ALERTS.yml [--metrics FILE...]

Static: each dashboard is valid JSON with a uid, unique panel ids, a datasource and a query on
every panel; every series the dashboards and alert rules use (outreach_* names, recording rules
outreach:*) is defined by the code (a string in common/ or services/) or by a recording rule.
With --metrics FILE... (bodies of the running services' /metrics): every outreach_* series the
dashboards and alerts use that is not a lazily-created counter must be present there.
"""
import json
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
NAME = re.compile(r"\boutreach[_:][a-z0-9_:]+")
SUFFIXES = ("_bucket", "_sum", "_count")


def base(name):
    for s in SUFFIXES:
        if name.endswith(s):
            return name[: -len(s)]
    return name


def main(argv):
    metrics_files = []
    if "--metrics" in argv:
        i = argv.index("--metrics")
        argv, metrics_files = argv[:i], argv[i + 1:]
    dashboards = [a for a in argv if a.endswith(".json")]
    rules_files = [a for a in argv if a.endswith((".yml", ".yaml"))]
    errors, used, recorded = [], set(), set()
    for rf in rules_files:
        for group in yaml.safe_load(open(rf))["groups"]:
            for rule in group["rules"]:
                if "record" in rule:
                    recorded.add(rule["record"])
                used.update(base(n) for n in NAME.findall(rule["expr"]))
    for path in dashboards:
        d = json.load(open(path))
        for key in ("uid", "title", "panels"):
            if not d.get(key):
                errors.append(f"{path}: no {key}")
        ids = set()
        for p in d.get("panels", []):
            if p["id"] in ids:
                errors.append(f"{path}: duplicate panel id {p['id']}")
            ids.add(p["id"])
            if p["type"] == "row":
                continue
            if not p.get("datasource") or not p.get("targets"):
                errors.append(f"{path}: panel '{p.get('title')}' has no datasource or targets")
            for t in p.get("targets", []):
                used.update(base(n) for n in NAME.findall(t.get("expr", "")))
        for v in d.get("templating", {}).get("list", []):
            q = v.get("query")
            used.update(base(n) for n in NAME.findall(json.dumps(q)))
    sources = "\n".join(p.read_text(errors="replace") for sub in ("common", "services")
                        for p in (ROOT / sub).rglob("*.cc"))
    for name in sorted(used):
        if ":" in name:
            if name not in recorded:
                errors.append(f"recording rule {name} is used but not defined")
        elif f'"{name}"' not in sources:
            errors.append(f"series {name} is used but no code in common/ or services/ defines it")
    if metrics_files:
        exposed = set()
        for mf in metrics_files:
            for line in open(mf):
                m = re.match(r"# TYPE (\S+)", line)
                if m:
                    exposed.add(m.group(1))
        for name in sorted(n for n in used if ":" not in n):
            if name not in exposed:
                errors.append(f"series {name} is used but no running service exposes it")
    for e in errors:
        print(f"dashboard_check: {e}", file=sys.stderr)
    print(f"dashboard_check: {len(dashboards)} dashboard(s), {len(used)} series/rules referenced, "
          f"{'FAILED' if errors else 'ok'}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
