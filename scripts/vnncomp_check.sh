#!/usr/bin/env bash
# The external VNN-COMP check at full length (too long for the default test run):
#   1. the five vnncomp2022/test instances through the competition harness scripts
#      (scripts/vnncomp/prepare_instance.sh, run_instance.sh), result files compared
#      with verdicts.csv;
#   2. batch mode on vnncomp2022/test and on the 90 mnist_fc instances at their own
#      time limits (120 s): answers against verdicts.csv, every counterexample re-read
#      from its printed form and re-checked by our forward pass; a summary per benchmark.
# Exit 1 on any wrong answer or error.
# Usage: scripts/vnncomp_check.sh [ibp-verify vnncomp options, e.g. --timeout-scale 0.1]
# Environment: IBP_DATA (default ../shared/data), IBP_BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${IBP_DATA:-../shared/data}
export IBP_BUILD_DIR=${IBP_BUILD_DIR:-build}
bin=$IBP_BUILD_DIR/verifier/ibp-verify
if [ ! -d "$data/vnncomp2022" ]; then
    echo "vnncomp_check: $data/vnncomp2022 not found" >&2
    exit 1
fi
[ -x "$bin" ] || scripts/setup.sh
status=0

echo "== harness scripts on vnncomp2022/test"
test_dir=$data/vnncomp2022/test
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
while IFS=, read -r onnx vnnlib timeout; do
    [ -n "$onnx" ] || continue
    verdict=$(awk -F, -v o="$onnx" -v v="$vnnlib" '$1 == o && $2 == v { print $3 }' \
              "$test_dir/verdicts.csv")
    result=$out/${onnx%.onnx}_${vnnlib%.vnnlib}.result
    scripts/vnncomp/prepare_instance.sh v1 test "$test_dir/$onnx" "$test_dir/$vnnlib"
    start=$(date +%s%N)
    scripts/vnncomp/run_instance.sh v1 test "$test_dir/$onnx" "$test_dir/$vnnlib" "$result" \
        "$timeout" >/dev/null
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    answer=$(head -n 1 "$result")
    mark=ok
    if [ "$answer" = sat ] && [ "$verdict" = unsat ]; then mark=WRONG; status=1; fi
    if [ "$answer" = unsat ] && [ "$verdict" = sat ]; then mark=WRONG; status=1; fi
    printf '%-18s %-18s verdict %-6s answer %-8s %6d ms  %s\n' "$onnx" "$vnnlib" "$verdict" \
        "$answer" "$ms" "$mark"
done < "$test_dir/instances.csv"

for bench in test mnist_fc; do
    echo "== batch mode on vnncomp2022/$bench"
    dir=$data/vnncomp2022/$bench
    "$bin" vnncomp --instances "$dir/instances.csv" --verdicts "$dir/verdicts.csv" "$@" ||
        status=1
done
exit $status
