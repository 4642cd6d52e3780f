#!/usr/bin/env bash
# Static checks: buf lint on the public protos, clang-format on every C++ and proto file we own,
# the layering rules of docs/architecture.md, and no generated code in git. (clang-tidy needs a
# compile database, so scripts/test.sh runs scripts/tidy.sh after the build.)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "lint: buf"
if [[ ! -x scripts/tools/node_modules/.bin/buf ]]; then
  (cd scripts/tools && npm ci --silent --no-audit --no-fund)
fi
scripts/tools/node_modules/.bin/buf lint

echo "lint: clang-format"
mapfile -t files < <(git ls-files '*.cc' '*.h' '*.proto')
clang-format --dry-run --Werror "${files[@]}"

echo "lint: layering (docs/architecture.md)"
python3 scripts/check_layers.py

echo "lint: no generated code in git"
if git ls-files | grep -E '\.pb\.(cc|h)$'; then
  echo "generated protobuf code is committed; remove it" >&2
  exit 1
fi
echo "lint: ok (${#files[@]} files formatted, protos lint-clean)"
