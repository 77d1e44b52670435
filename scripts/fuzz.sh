#!/usr/bin/env bash
# Runs each libFuzzer target of Fuzz/ for SECONDS (built by `make fuzz-build`), starting from the
# committed seeds in Fuzz/Corpus/<target>/. Inputs the fuzzer finds interesting go to a scratch
# corpus under Fuzz/.build-fuzz/corpus/<target>/ (not committed); an input that breaks a
# property or crashes is written to Fuzz/Crashes/<target>/, to be committed with its fix and
# replayed by Tests/FuzzReplayTests. Exits non-zero if any target found one.
#
# usage: scripts/fuzz.sh SECONDS TARGET...
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=$1
shift
bin=$(cd Fuzz && swift build -c release --sanitize=fuzzer --scratch-path .build-fuzz --show-bin-path)
# Without this, Swift's backtracer handles the fatal signal and libFuzzer never writes the input.
export SWIFT_BACKTRACE=enable=no

failed=()
for target in "$@"; do
  scratch="Fuzz/.build-fuzz/corpus/$target"
  crashes="Fuzz/Crashes/$target"
  mkdir -p "$scratch" "$crashes"
  # PNG inputs need room for a few chunks; every other decoder's interesting inputs are small.
  max_len=4096
  [ "$target" = png-validation ] && max_len=65536
  echo "== fuzz-$target: ${seconds}s"
  start=$(date +%s)
  "$bin/fuzz-$target" -max_total_time="$seconds" -max_len="$max_len" -timeout=30 -rss_limit_mb=3072 \
    -print_final_stats=1 -artifact_prefix="$crashes/" "$scratch" "Fuzz/Corpus/$target" \
    >"Fuzz/.build-fuzz/fuzz-$target.log" 2>&1
  status=$?
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)|^#[0-9]+.*DONE" "Fuzz/.build-fuzz/fuzz-$target.log" | tr '\n' ' '
  echo "(exit $status, $(( $(date +%s) - start ))s)"
  if [ $status -ne 0 ]; then
    failed+=("$target")
    grep -E "property violated|Fatal error|ERROR: libFuzzer|SUMMARY|Test unit written" "Fuzz/.build-fuzz/fuzz-$target.log" | head -5
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found failing inputs in: ${failed[*]} (see Fuzz/Crashes/ and Fuzz/.build-fuzz/fuzz-*.log)"
  exit 1
fi
echo "fuzzing: no failing input in $# targets"
