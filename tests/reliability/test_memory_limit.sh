#!/usr/bin/env bash
# Memory limits (issue 20): ibp-train and ibp-verify under `ulimit -v` from too small to
# enough, on 1 and 2 threads. Every run either refuses at its start (exit 2 for
# ibp-train, 1 for ibp-verify; one line on stderr saying how many MiB it needs and the
# limit; nothing written) or runs to the end (exit 0, its files complete): never a
# crash, an abort inside BLIS or libgomp, or a failure half way. The figure a refusal
# states, plus 8 MiB, must run.
# usage: test_memory_limit.sh IBP_TRAIN IBP_VERIFY MAKE_IDX_PY
set -u
train=$1
verify=$2
make_idx=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
export OMP_WAIT_POLICY=passive

python3 "$make_idx" "$work/data" 256 16 12 || { echo "cannot make data"; exit 1; }
targs=(--data-dir "$work/data" --model cnn-small --batch 128 --schedule 1+1+1 --milestones 3)
"$train" "${targs[@]}" --threads 2 --out "$work/model" >/dev/null 2>&1 ||
    { bad "unlimited training run"; exit 1; }
vargs=(--model "$work/model/last.ibpm" --data fashion-mnist --root "$work/data" --eps 0.05
       --no-progress)

# Runs "$@" under ulimit -v MIB (in its own shell); sets rc and err (stderr).
limited() {
    local mib=$1; shift
    sh -c 'ulimit -v "$0" && exec "$@"' "$((mib * 1024))" "$@" >"$work/out" 2>"$work/err"
    rc=$?
    err=$(cat "$work/err")
}

# check NAME REFUSAL_CODE OUT DONE_FILE PROGRAM ARGS...: OUT is what the program writes
# (removed before each run), DONE_FILE what a complete run leaves.
check() {
    local name=$1 refusal=$2 out=$3 done_file=$4; shift 4
    local need="" mib=48 passed=0
    while [ "$mib" -le 1024 ] && [ "$passed" -lt 2 ]; do
        rm -rf "$out"
        limited "$mib" "$@"
        if grep -q "error while loading shared libraries" "$work/err"; then
            mib=$((mib + 8)); continue # no room for the program itself
        fi
        if [ -z "$need" ] && [ "$(wc -l <"$work/err")" -eq 1 ] &&
            grep -q "idx1-ubyte: out of memory" "$work/err" && [ ! -e "$done_file" ]; then
            # the first small read failed: below the floor of the loaded libraries (MPI's
            # among them), before anything is sized; one line, nothing written
            mib=$((mib + 8)); continue
        fi
        if [ "$rc" -eq 0 ] && [ -s "$done_file" ]; then
            passed=$((passed + 1))
            [ "$passed" -eq 1 ] && ok "$name under $mib MiB: runs to the end"
        elif [ "$rc" -eq "$refusal" ] && [ "$(wc -l <"$work/err")" -eq 1 ] &&
            grep -q "needs \(about\|more than\) [0-9]* MiB of memory.*ulimit -v) of $mib MiB" \
                "$work/err" && [ ! -e "$out" ]; then
            [ "$passed" -gt 0 ] && bad "$name under $mib MiB refused after running under less"
            local figure
            figure=$(sed -n 's/.*needs about \([0-9]*\) MiB.*/\1/p' "$work/err")
            [ -n "$figure" ] && need=$figure
            echo "ok: $name under $mib MiB: exit $rc, $err"
        else
            bad "$name under $mib MiB: exit $rc (neither a clean refusal nor a full run), stderr: $err"
        fi
        mib=$((mib + 8))
    done
    [ "$passed" -gt 0 ] || bad "$name: never ran up to 1024 MiB"
    if [ -z "$need" ]; then
        bad "$name: never refused with the figure it needs"
        return
    fi
    rm -rf "$out"
    limited $((need + 8)) "$@"
    if [ "$rc" -eq 0 ] && [ -s "$done_file" ]; then
        ok "$name runs with the $need MiB it asked for (+8)"
    else
        bad "$name with $need MiB (+8): exit $rc, stderr: $err"
    fi
}
for threads in 1 2; do
    check "ibp-train, $threads threads" 2 "$work/run" "$work/run/last.ibpm" \
        "$train" "${targs[@]}" --threads "$threads" --out "$work/run"
    check "ibp-verify, $threads threads" 1 "$work/report.json" "$work/report.json" \
        "$verify" "${vargs[@]}" --threads "$threads" --json "$work/report.json"
done
echo "$fails failed"
[ "$fails" -eq 0 ]
