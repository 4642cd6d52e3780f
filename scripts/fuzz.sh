#!/usr/bin/env bash
# The libFuzzer targets (tests/fuzz/README.md): builds the `fuzz` preset (clang, ASan + UBSan),
# runs every target for SECONDS each (default 30, as CI does; `scripts/fuzz.sh 600` is the
# longer run) from its committed seed corpus, two at a time on a 2-core machine, and prints the
# executions and coverage each reached. Fails when any target crashes, leaks, times out or runs
# out of memory; the input that did it is kept under build/fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
parallel="${OUTREACH_FUZZ_PARALLEL:-2}"
# A fixed seed makes a CI run replay the same mutations every time (a failure is a regression,
# not luck); OUTREACH_FUZZ_SEED=0 lets libFuzzer pick one, for exploratory longer runs.
seed="${OUTREACH_FUZZ_SEED:-1}"
start=$(date +%s)

# One target per seed-corpus folder.
mapfile -t targets < <(ls tests/fuzz/corpus)
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "${OUTREACH_JOBS:-2}" --target "${targets[@]}"
echo "fuzz: built ${#targets[@]} targets in $(($(date +%s) - start))s"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
run() {
  local target="$1" work="build/fuzz/corpus/$1" artifacts="build/fuzz/artifacts/$1"
  local extra=()
  [[ "$target" == common_fuzz_query ]] && extra+=("-dict=tests/fuzz/filter.dict")
  mkdir -p "$work" "$artifacts"
  # New inputs go to the first folder (build/), never into the committed seeds.
  "build/fuzz/tests/fuzz/$target" -max_total_time="$seconds" -seed="$seed" -timeout=10 \
    -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "${extra[@]}" \
    "$work" "tests/fuzz/corpus/$target" >"build/fuzz/$target.log" 2>&1
}

pids=() names=()
for target in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= parallel)); do wait -n || true; done
  run "$target" &
  pids+=($!) names+=("$target")
done

failed=0
printf '%-28s %12s  %s\n' target executions coverage
for i in "${!pids[@]}"; do
  target="${names[$i]}" log="build/fuzz/${names[$i]}.log"
  status=ok
  wait "${pids[$i]}" || status=FAILED
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
  cov=$( (grep -oE 'DONE +cov: [0-9]+ ft: [0-9]+' "$log" || true) | tail -1 | sed 's/DONE *//')
  printf '%-28s %12s  %s  %s\n' "$target" "${execs:-?}" "${cov:-?}" "$status"
  if [[ "$status" != ok ]]; then
    failed=1
    tail -n 40 "$log"
  fi
done
echo "fuzz: ${#targets[@]} targets x ${seconds}s, $(($(date +%s) - start))s in all"
# For .ci/run's closing line: how many targets ran without a crash.
((failed)) || echo "${#targets[@]}" >build/fuzz/targets-run.count
exit "$failed"
