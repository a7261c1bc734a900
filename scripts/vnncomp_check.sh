#!/usr/bin/env bash
# The external VNN-COMP check at full length (too long for the default test run): every
# instance of each benchmark through the competition harness (scripts/vnncomp/
# prepare_instance.sh, then run_instance.sh with the instance's own time limit), one
# process per instance as the competition runs it. Per instance: the verdict from
# verdicts.csv, our answer, the wall time including start-up, and for `sat` the
# independent witness check (scripts/vnncomp/check_witness.py, numpy + python3-onnx,
# no code shared with ibp-verify; skipped with a note when python3-onnx is absent).
# A summary line per benchmark: unsat / sat proved, wrong, witnesses accepted, median
# and largest wall time.
# Exit 1 on any wrong answer, rejected witness or error.
# Usage: scripts/vnncomp_check.sh [--timeout-scale F] [BENCHMARK...]
#        (benchmarks: directories of ../shared/data/vnncomp2022, default: test mnist_fc)
# Environment: IBP_DATA (default ../shared/data), IBP_BUILD_DIR (default build-vnncomp,
# built by scripts/vnncomp/install_tool.sh), IBP_VNNCOMP_OPTS (extra ibp-verify options).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${IBP_DATA:-../shared/data}
scale=1
if [ "${1:-}" = "--timeout-scale" ]; then
    scale=$2
    shift 2
fi
benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(test mnist_fc)
if [ ! -d "$data/vnncomp2022" ]; then
    echo "vnncomp_check: $data/vnncomp2022 not found" >&2
    exit 1
fi
scripts/vnncomp/install_tool.sh v1 >/dev/null
checker=()
if /usr/bin/python3 -c 'import onnx, numpy' 2>/dev/null; then
    checker=(/usr/bin/python3 scripts/vnncomp/check_witness.py)
else
    echo "vnncomp_check: python3-onnx absent, sat witnesses are checked by ibp-verify only"
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0

for bench in "${benches[@]}"; do
    dir=$data/vnncomp2022/$bench
    echo "== $bench (time limits x $scale)"
    unsat=0 sat=0 wrong=0 accepted=0 total=0 known_unsat=0 known_sat=0
    : > "$out/times"
    while IFS=, read -r onnx vnnlib timeout; do
        [ -n "$onnx" ] || continue
        verdict=$(awk -F, -v o="$onnx" -v v="$vnnlib" '$1 == o && $2 == v { print $3 }' \
                  "$dir/verdicts.csv")
        [ "$verdict" = unsat ] && known_unsat=$((known_unsat + 1))
        [ "$verdict" = sat ] && known_sat=$((known_sat + 1))
        limit=$(awk -v t="$timeout" -v s="$scale" 'BEGIN { print t * s }')
        result=$out/result
        rm -f "$result"
        scripts/vnncomp/prepare_instance.sh v1 "$bench" "$dir/$onnx" "$dir/$vnnlib"
        start=$(date +%s%N)
        scripts/vnncomp/run_instance.sh v1 "$bench" "$dir/$onnx" "$dir/$vnnlib" "$result" \
            "$limit" >/dev/null 2>"$out/stderr" || true
        ms=$(( ($(date +%s%N) - start) / 1000000 ))
        echo "$ms" >> "$out/times"
        answer=$(head -n 1 "$result" 2>/dev/null || echo error)
        mark=ok
        case "$answer" in
            unsat) unsat=$((unsat + 1)) ;;
            sat) sat=$((sat + 1)) ;;
            error) mark="ERROR $(head -c 200 "$out/stderr")"; status=1 ;;
        esac
        if { [ "$answer" = sat ] && [ "$verdict" = unsat ]; } ||
           { [ "$answer" = unsat ] && [ "$verdict" = sat ]; }; then
            mark=WRONG; wrong=$((wrong + 1)); status=1
        fi
        if [ "$answer" = sat ] && [ ${#checker[@]} -gt 0 ]; then
            net=$dir/$onnx; [ -e "$net" ] || net=$net.gz
            prop=$dir/$vnnlib; [ -e "$prop" ] || prop=$prop.gz
            if "${checker[@]}" "$net" "$prop" "$result" > "$out/check"; then
                accepted=$((accepted + 1)); mark="$mark, witness accepted"
            else
                mark="$mark, $(cat "$out/check")"; status=1
            fi
        fi
        total=$((total + 1))
        printf '%-26s %-24s verdict %-7s answer %-8s %8d ms  %s\n' "$(basename "$onnx")" \
            "$(basename "$vnnlib")" "$verdict" "$answer" "$ms" "$mark"
    done < "$dir/instances.csv"
    median=$(sort -n "$out/times" | awk '{ v[NR] = $1 } END {
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    largest=$(sort -n "$out/times" | tail -n 1)
    echo "$bench: $total instances, $unsat of $known_unsat unsat, $sat of $known_sat sat" \
         "($accepted witnesses accepted), $wrong wrong; wall median $median ms, largest $largest ms"
done
exit $status
