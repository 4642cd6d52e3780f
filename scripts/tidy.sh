#!/usr/bin/env bash
# clang-tidy (the repo's .clang-tidy, every warning an error) on the C++ files a change touched:
# the files changed since BASE, which is $OUTREACH_TIDY_BASE, else the newest commit older than
# 4 hours (the work of the current session; CI runs right after it), else the first commit.
# `scripts/tidy.sh --all` checks every file. Needs a compile database: BUILD_DIR (default
# build/asan, which scripts/test.sh builds) must hold compile_commands.json.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build/asan}
[[ -f $build_dir/compile_commands.json ]] || {
  echo "tidy: no $build_dir/compile_commands.json (configure the build first)" >&2
  exit 2
}

if [[ ${1:-} == --all ]]; then
  mapfile -t files < <(git ls-files '*.cc')
  scope="every file"
else
  base=${OUTREACH_TIDY_BASE:-$(git rev-list -1 --before='4 hours ago' HEAD 2>/dev/null || true)}
  [[ -n $base ]] || base=$(git rev-list --max-parents=0 HEAD | tail -n 1)
  # A changed header is checked through the source beside it (headers have no compile command).
  mapfile -t files < <(
    { git diff --name-only --diff-filter=d "$base" -- '*.cc' '*.h'; git ls-files --others --exclude-standard '*.cc' '*.h'; } |
      sed -E 's/\.h$/.cc/' | sort -u | while read -r f; do [[ -f $f ]] && echo "$f"; done)
  scope="files changed since $(git rev-parse --short "$base")"
fi
# Only sources the build compiles (a header-only change without a .cc has nothing to run on).
mapfile -t files < <(for f in "${files[@]}"; do
  grep -q "\"file\": \"$PWD/$f\"" "$build_dir/compile_commands.json" && echo "$f"; done)
echo "tidy: ${#files[@]} files ($scope)"
[[ ${#files[@]} -gt 0 ]] || exit 0
start=$(date +%s)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if printf '%s\n' "${files[@]}" |
  xargs -P "${OUTREACH_JOBS:-$(nproc)}" -n 1 clang-tidy -p "$build_dir" --quiet \
    --warnings-as-errors='*' >"$log" 2>/dev/null; then
  echo "tidy: ok ($(( $(date +%s) - start ))s)"
else
  grep -E 'warning:|error:' "$log" | sort -u >&2
  echo "tidy: FAIL: clang-tidy found the problems above" >&2
  exit 1
fi
