#!/usr/bin/env bash
# ibp-train from the command line: a run killed with SIGKILL (twice, at moments that
# vary; once before its first checkpoint) and resumed, and a run stopped by SIGTERM and
# resumed, end with model files byte-identical to an uninterrupted run; bad options, data and states are refused
# before anything is written.
# usage: test_resume.sh IBP_TRAIN MAKE_IDX_PY
set -u
train=$1
make_idx=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }

python3 "$make_idx" "$work/data" 6144 256 || { echo "cannot make data"; exit 1; }
python3 "$make_idx" "$work/small" 64 32 12 || { echo "cannot make data"; exit 1; }
common=(--data-dir "$work/data" --model cnn-small --batch 64 --schedule 1+3+2
        --milestones 5 --eval-batch 128 --threads 2 --seed 5)

# The uninterrupted reference run.
"$train" "${common[@]}" --out "$work/ref" >"$work/ref.log" 2>&1 || { cat "$work/ref.log"; bad "reference run"; }
[ -f "$work/ref/last.ibpm" ] && ok "reference run wrote last.ibpm" || bad "reference run files"

# Killed with SIGKILL twice, each time a moment after a new training state appeared
# (mid-epoch), and resumed.
state_sum() { md5sum "$1/train.state" 2>/dev/null | cut -d' ' -f1; }
run_until_killed() {
    local out=$1 delay=$2
    local args=("${common[@]}" --out "$out")
    [ -f "$out/train.state" ] && args+=(--resume)
    local before
    before=$(state_sum "$out")
    "$train" "${args[@]}" >>"$work/kill.log" 2>&1 &
    local pid=$!
    for _ in $(seq 600); do
        [ "$(state_sum "$out")" != "$before" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null && kills=$((kills + 1))
    wait "$pid" 2>/dev/null
}
kills=0
run_until_killed "$work/kill" 0.4
run_until_killed "$work/kill" 0.7
"$train" "${common[@]}" --out "$work/kill" --resume >>"$work/kill.log" 2>&1 || { cat "$work/kill.log"; bad "resumed run after SIGKILL"; }
[ "$kills" -eq 2 ] && ok "killed twice with SIGKILL mid-run" || bad "only $kills of 2 kills landed during the run"
if cmp -s "$work/ref/last.ibpm" "$work/kill/last.ibpm" && cmp -s "$work/ref/best.ibpm" "$work/kill/best.ibpm"; then
    ok "SIGKILL + --resume: last.ibpm and best.ibpm byte-identical"
else
    bad "SIGKILL + --resume: model files differ"
fi

# Killed with SIGKILL before its first checkpoint (train.cfg written, no train.state yet):
# --resume starts the run afresh from train.cfg, says so in one line (other stderr lines
# are progress, every 30 s when stderr is no terminal), and ends with the same model files.
"$train" "${common[@]}" --out "$work/early" >"$work/early.log" 2>&1 &
pid=$!
for _ in $(seq 600); do
    [ -f "$work/early/train.cfg" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
if [ -f "$work/early/train.cfg" ] && [ ! -f "$work/early/train.state" ]; then
    "$train" "${common[@]}" --out "$work/early" --resume >"$work/early.out" 2>"$work/early.err"
    rc=$?
    if [ "$rc" -eq 0 ] && [ "$(grep -c "^ibp-train:" "$work/early.err")" -eq 1 ] && grep -q "starting it afresh" "$work/early.err" \
        && cmp -s "$work/ref/last.ibpm" "$work/early/last.ibpm" && cmp -s "$work/ref/best.ibpm" "$work/early/best.ibpm"; then
        ok "SIGKILL before the first checkpoint + --resume: started afresh ($(grep "^ibp-train:" "$work/early.err")), identical"
    else
        bad "SIGKILL before the first checkpoint + --resume: exit $rc, stderr: $(cat "$work/early.err")"
    fi
else
    bad "the kill before the first checkpoint did not land (train.cfg or train.state)"
fi

# SIGTERM: finishes the batch, saves the state, exits 3; --resume completes identically.
"$train" "${common[@]}" --out "$work/term" >"$work/term.log" 2>&1 &
pid=$!
sleep 1.1
kill -TERM "$pid" 2>/dev/null
wait "$pid"
rc=$?
if [ "$rc" -eq 3 ] && grep -q "state saved" "$work/term.log"; then
    ok "SIGTERM: exit 3, state saved"
elif [ "$rc" -eq 0 ]; then
    echo "note: the run finished before SIGTERM arrived"
else
    cat "$work/term.log"; bad "SIGTERM: exit $rc"
fi
if [ "$rc" -ne 0 ]; then
    "$train" "${common[@]}" --out "$work/term" --resume >>"$work/term.log" 2>&1 || { cat "$work/term.log"; bad "resume after SIGTERM"; }
fi
cmp -s "$work/ref/last.ibpm" "$work/term/last.ibpm" && ok "SIGTERM + --resume: identical" || bad "SIGTERM + --resume: model differs"

# Bad input: exit 2, one line naming the problem, nothing written or overwritten.
expect_refused() {
    local what=$1 pattern=$2; shift 2
    local before
    before=$(cat "$work/ref/train.state" "$work/ref/last.ibpm" 2>/dev/null | md5sum)
    "$train" "$@" >"$work/bad.out" 2>"$work/bad.err"
    local rc=$?
    local after
    after=$(cat "$work/ref/train.state" "$work/ref/last.ibpm" 2>/dev/null | md5sum)
    if [ "$rc" -eq 2 ] && [ "$(wc -l <"$work/bad.err")" -eq 1 ] && grep -q -- "$pattern" "$work/bad.err" \
        && [ ! -s "$work/bad.out" ] && [ "$before" = "$after" ]; then
        ok "refused: $what ($(cat "$work/bad.err"))"
    else
        bad "$what: exit $rc, stderr: $(cat "$work/bad.err")"
    fi
}
expect_refused "unknown option" "unknown option --bogus" "${common[@]}" --out "$work/x1" --bogus 3
expect_refused "eps above 1" "must be in \[0, 1\]" "${common[@]}" --out "$work/x2" --eps 1.5
expect_refused "malformed eps" "eps" "${common[@]}" --out "$work/x3" --eps 0.1x
expect_refused "ramp longer than the run" "after the run" --data-dir "$work/data" --epochs 3 --sched-start 2 --sched-length 5 --out "$work/x4"
expect_refused "schedule with epochs" "conflicts" "${common[@]}" --epochs 4 --out "$work/x5"
expect_refused "fresh run over a saved one" "already holds a run" "${common[@]}" --out "$work/ref"
expect_refused "resume with another eps" "eps differs" "${common[@]}" --out "$work/ref" --resume --eps 0.2
expect_refused "resume on data of another shape" "does not match" --data-dir "$work/small" --out "$work/ref" --resume
touch "$work/file"
expect_refused "unwritable output folder" "file" "${common[@]}" --out "$work/file/sub"
cp "$work/ref/train.state" "$work/corrupt.state"
mkdir -p "$work/corrupt"
printf 'X' | dd of="$work/ref/train.state" bs=1 seek=200 conv=notrunc status=none
expect_refused "corrupt training state" "checksum mismatch" "${common[@]}" --out "$work/ref" --resume
cp "$work/corrupt.state" "$work/ref/train.state"
head -c 1000 "$work/corrupt.state" >"$work/ref/train.state"
expect_refused "truncated training state" "truncated" "${common[@]}" --out "$work/ref" --resume
expect_refused "resume without a state or a configuration" "No such file.*no train.cfg" "${common[@]}" --out "$work/none" --resume

echo "$fails failed"
[ "$fails" -eq 0 ]
