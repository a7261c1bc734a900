#!/usr/bin/env bash
# Memory limits (issue 20): under a `ulimit -v` too small for the model and batch,
# ibp-train and ibp-verify fail at start (exit non-zero, nothing written, no abort) with
# one line saying how much memory they need; given that much, they run to the end.
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

python3 "$make_idx" "$work/data" 256 16 12 || { echo "cannot make data"; exit 1; }
targs=(--data-dir "$work/data" --model cnn-small --batch 128 --schedule 1+1+1 --milestones 3
       --threads 2)
"$train" "${targs[@]}" --out "$work/model" >/dev/null 2>&1 || { bad "unlimited training run"; exit 1; }
vargs=(--model "$work/model/last.ibpm" --data fashion-mnist --root "$work/data" --eps 0.05
       --methods ibp --no-attack
       --no-progress --threads 2)

# Runs "$@" under ulimit -v LIMIT_KIB (in its own shell); sets rc, and err to stderr.
limited() {
    local kib=$1; shift
    sh -c 'ulimit -v "$0" && exec "$@"' "$kib" "$@" >"$work/out" 2>"$work/err"
    rc=$?
    err=$(cat "$work/err")
}

# One program, writing OUT: refused under low limits with the figure it needs (where an allocation
# at start already fails: more than what it had taken), then run with the figure it
# gave once everything up front was allocated.
check() {
    local name=$1 out=$2; shift 2
    local need=""
    for mib in 64 80 96; do
        rm -rf "$out"
        limited $((mib * 1024)) "$@"
        if grep -q "error while loading shared libraries" "$work/err"; then
            continue # the limit leaves no room for the program itself
        fi
        if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ "$(wc -l <"$work/err")" -eq 1 ] &&
            grep -q "needs \(about\|more than\) [0-9]* MiB of memory.*ulimit -v" "$work/err" &&
            [ ! -s "$work/out" ] && [ ! -e "$out" ]; then
            ok "$name under $mib MiB: exit $rc, $err"
            need=${need:-$(sed -n 's/.*needs about \([0-9]*\) MiB.*/\1/p' "$work/err")}
        else
            bad "$name under $mib MiB: exit $rc, stderr: $err"
        fi
    done
    if [ -z "$need" ]; then
        bad "$name: never refused with a figure"
        return
    fi
    rm -rf "$out"
    limited $(((need + 8) * 1024)) "$@"
    [ "$rc" -eq 0 ] && ok "$name runs to the end with the $need MiB it asked for (+8)" ||
        bad "$name with $need MiB (+8): exit $rc, stderr: $err"
}
check ibp-train "$work/run" "$train" "${targs[@]}" --out "$work/run"
check ibp-verify "$work/report.json" "$verify" "${vargs[@]}" --json "$work/report.json"

echo "$fails failed"
[ "$fails" -eq 0 ]
