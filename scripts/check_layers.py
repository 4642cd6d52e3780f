#!/usr/bin/env python3
"""The layering rules of docs/architecture.md, checked on every #include of our C++ code.

Layers come from the build: the sources of each `add_library(<name> ...)` in common/ and
services/*/ (and the header beside each source) belong to that library's layer. A violation
prints `file:line: rule` and the script exits 1.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
LIBRARY = re.compile(r'add_library\((\w+)\s+STATIC\s+([^)]*)\)', re.S)
SERVICES = ("workshops", "training", "campaigns", "metrics")

# What each layer may not include (regular expressions over the include path).
TRANSPORT = [r"^grpcpp/", r"^grpc/", r"\.grpc\.pb\.h$", r"^httplib\.h$", r"^hiredis/"]
SQL = [r"^sqlite3\.h$", r"^libpq", r"^pqxx/"]
COMMON_STORE = [r"^common/(audit|db|query|store_kit|store_support)\.h$"]
COMMON_RUNTIME = [
    r"^common/(audit_service|client|grpc_status|server|service_main|publisher|redis|event_sink)\.h$",
    r"^common/security/(tls|authorizer|interceptor|policy|tenancy)\.h$"]
FORBIDDEN = {
    "rules": TRANSPORT + SQL + COMMON_STORE + COMMON_RUNTIME + [r"^outreach/", r"^google/"],
    "base": TRANSPORT + SQL + COMMON_STORE + COMMON_RUNTIME,
    "store": TRANSPORT + COMMON_RUNTIME,
    "runtime": [],
    "domain": TRANSPORT + SQL + COMMON_STORE + COMMON_RUNTIME,
    "client": [],
}
WHY = {
    "rules": "shared domain rules use std and absl only",
    "base": "common's base layer links neither gRPC nor SQLite",
    "store": "store code speaks SQL, never transport (gRPC, HTTP, Redis)",
    "domain": "domain code needs no network and no database",
}


# common/security/ (issue 11): tokens need no gRPC; TLS credentials and the policy do.
SECURITY = {"outreach_security_tokens": "base", "outreach_security_tls": "runtime",
            "outreach_security": "runtime"}


def layer_of_library(name):
    if name == "outreach_rules":
        return "rules"
    if name in SECURITY:
        return SECURITY[name]
    if name.startswith("outreach_common_"):
        return name[len("outreach_common_"):]
    for svc in SERVICES:
        for layer in ("domain", "store", "service", "client"):
            if name == f"outreach_{svc}_{layer}":
                return "runtime" if layer == "service" else layer
    return None


def classify():
    """file path (relative) -> (layer, owner) from the CMake libraries."""
    files = {}
    for cmake in [*ROOT.glob("common/**/CMakeLists.txt"), *ROOT.glob("services/**/CMakeLists.txt")]:
        folder = cmake.parent
        for name, sources in LIBRARY.findall(cmake.read_text()):
            layer = layer_of_library(name)
            if layer is None:
                continue
            for src in sources.split():
                for path in (folder / src, (folder / src).with_suffix(".h")):
                    if path.exists():
                        files[path.relative_to(ROOT).as_posix()] = layer
    return files


def owner(path):
    parts = path.split("/")
    return parts[1] if parts[0] == "services" and len(parts) > 2 else parts[0]


def main():
    layers = classify()
    problems = []
    sources = [p for p in ROOT.glob("**/*") if p.suffix in (".h", ".cc")
               and p.relative_to(ROOT).parts[0] in ("common", "services", "tests", "bench")
               and "node_modules" not in p.parts]
    for path in sorted(sources):
        rel = path.relative_to(ROOT).as_posix()
        layer = layers.get(rel)
        mine = owner(rel)
        for number, line in enumerate(path.read_text().splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            inc = m.group(1)
            where = f"{rel}:{number}"
            if rel.startswith("common/") and (inc.startswith("services/") or re.match(
                    r"^outreach/(workshops|training|campaigns|metrics)/", inc)):
                problems.append(f"{where}: common/ includes no service ({inc})")
            if rel.startswith("services/") and inc.startswith("services/"):
                other = inc.split("/")[1]
                if other != mine and not inc.startswith(f"services/{other}/client/"):
                    problems.append(f"{where}: a service includes only another service's "
                                    f"published client (services/<name>/client/), not {inc}")
            if layer is None:
                continue
            for pattern in FORBIDDEN.get(layer, []):
                if re.search(pattern, inc):
                    problems.append(f"{where}: {WHY.get(layer, layer)} ({inc})")
            if layer in ("domain", "rules", "base") and rel.startswith("services/"):
                target = layers.get(inc)
                if target not in (None, "domain", "rules", "base"):
                    problems.append(f"{where}: domain code includes the {target} layer ({inc})")
            if layer == "store" and layers.get(inc) == "runtime" and inc.startswith("services/"):
                problems.append(f"{where}: store code includes the service layer ({inc})")
    if not layers:
        problems.append("no layered libraries found in the CMake files")
    for p in problems:
        print(p)
    print(f"layers: {len(layers)} files in layers, {len(sources)} files read, "
          f"{len(problems)} violations")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
