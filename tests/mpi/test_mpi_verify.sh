#!/usr/bin/env bash
# ibp-verify under mpirun -np 2: the Markdown, JSON and CSV reports equal the
# single-process ones byte for byte except for the times (wall and per-sample seconds,
# masked here); more ranks than batches, a rank that fails to open a model, and a bad
# option, ranks started with different command lines give one message and a non-zero exit from every rank with no report; vnncomp
# mode runs on rank 0 alone and says so.
# usage: test_mpi_verify.sh MPIRUN IBP_TRAIN IBP_VERIFY MAKE_IDX_PY
set -u
source "$(dirname "$0")/mpi_env.sh" "$1"
train=$2
verify=$3
make_idx=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$make_idx" "$work/data" 512 200 28 0.15 || exit 1
"$train" --data-dir "$work/data" --batch 64 --schedule 1+1+0 --milestones 2 --eps 0.02 \
    --threads 1 --out "$work/run" >"$work/train.log" 2>&1 || { cat "$work/train.log"; exit 1; }
args=(--model "$work/run/last.ibpm" --data fashion-mnist --root "$work/data" --split test
      --eps 0.01,0.02 --batch 16 --threads 1 --no-progress)
"$verify" "${args[@]}" --json "$work/one.json" --csv "$work/one.csv" >"$work/one.md" || exit 1
mpirun_np 2 "$verify" "${args[@]}" --json "$work/two.json" --csv "$work/two.csv" \
    >"$work/two.md" || exit 1
mask() {
    sed -E -e 's/\| [0-9.]+ \|$/| T |/' -e 's/"seconds": [0-9.]+/"seconds": T/g' \
        -e 's/,[0-9]+\.[0-9]{6},([a-z ]*)$/,T,\1/' "$1"
}
fail=0
for f in one.md one.json one.csv; do
    g=${f/one/two}
    if ! cmp -s <(mask "$work/$f") <(mask "$work/$g"); then
        echo "MISMATCH: $f and $g differ beyond the times:"
        diff <(mask "$work/$f") <(mask "$work/$g") | head -10
        fail=1
    fi
done
# the masks must leave something to compare: every sample of both eps in the CSV
[ "$(wc -l <"$work/two.csv")" -eq 401 ] || { echo "two.csv: $(wc -l <"$work/two.csv") lines"; fail=1; }
grep -q "| 200 |" "$work/two.md" || { echo "two.md lacks the sample count"; fail=1; }

# bad input: one message (from rank 0), non-zero exit, no report
check_refused() {
    local what=$1 want=$2
    shift 2
    rm -f "$work/bad.json"
    mpirun_np "$@" >"$work/bad.md" 2>"$work/bad.err"
    local rc=$?
    local lines
    lines=$(grep -c "^ibp-verify" "$work/bad.err")
    if [ $rc -eq 0 ] || [ -s "$work/bad.md" ] || [ -e "$work/bad.json" ] ||
       ! grep -q "$want" "$work/bad.err" || [ "$lines" -ne 1 ]; then
        echo "MISMATCH: $what: exit $rc, $lines messages:"; cat "$work/bad.err"; fail=1
    else
        echo "ok: $what: $(grep "^ibp-verify" "$work/bad.err")"
    fi
}
check_refused "3 ranks for 2 batches" "a process would have no samples" 3 "$verify" \
    "${args[@]}" --count 20 --json "$work/bad.json"
check_refused "a missing model" "nonexistent.ibpm" 2 "$verify" "${args[@]}" \
    --model "$work/nonexistent.ibpm" --json "$work/bad.json"
check_refused "ranks given different command lines" "disagree on the command line" 1 \
    "$verify" "${args[@]}" --json "$work/bad.json" : -np 1 "$verify" "${args[@]}" --seed 7 \
    --json "$work/bad.json"
check_refused "a bad option" "unknown option --bogus" 2 "$verify" "${args[@]}" --bogus

mpirun_np 2 "$verify" vnncomp --help >"$work/vnn.out" 2>"$work/vnn.err" || { echo "vnncomp --help failed"; fail=1; }
grep -q "runs on rank 0 alone" "$work/vnn.err" || { echo "vnncomp: no rank-0 note"; fail=1; }
[ "$(grep -c "^usage: ibp-verify vnncomp" "$work/vnn.out")" -eq 1 ] || { echo "vnncomp: usage not printed once"; fail=1; }
[ $fail -eq 0 ] && echo ok
exit $fail
