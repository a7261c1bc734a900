#!/usr/bin/env bash
# ibp-train under mpirun -np 2 (data-parallel, SyncBN): the same model as one process up
# to float rounding (the sums run in another order, and Adam turns a rounding-level
# gradient into a step of lr: weights within 2e-2 of their largest
# magnitude, every epoch's loss within 1e-5 relative, the same test errors); a repeated
# -np 2 run is byte-identical; a rank killed with SIGKILL ends the run with an error, and
# --resume under -np 2 ends with the uninterrupted run's model bytes, so does SIGTERM on
# mpirun; resuming with
# another process count, and more processes than samples in a batch, are refused with
# one message before anything is written, and so are ranks started with different
# configurations.
# usage: test_mpi_train.sh MPIRUN IBP_TRAIN MODEL_DIFF MAKE_IDX_PY
set -u
source "$(dirname "$0")/mpi_env.sh" "$1"
train=$2
model_diff=$3
make_idx=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }

# 500 samples in batches of 64: the epoch's last batch has 52, shared 26 + 26
python3 "$make_idx" "$work/data" 500 200 28 0.15 || { echo "cannot make data"; exit 1; }
base=(--data-dir "$work/data" --schedule 1+3+4 --milestones 7 --eps 0.05 --eval-batch 64
      --threads 1)
common=("${base[@]}" --batch 64)

"$train" "${common[@]}" --out "$work/one" >"$work/one.log" 2>&1 || { cat "$work/one.log"; bad "one process"; }
mpirun_np 2 "$train" "${common[@]}" --out "$work/two" >"$work/two.log" 2>&1 || { cat "$work/two.log"; bad "-np 2"; }
mpirun_np 2 "$train" "${common[@]}" --out "$work/again" >"$work/again.log" 2>&1 || bad "-np 2 again"
grep -q "2 processes" "$work/two.log" && ok "rank 0 says it runs on 2 processes" || bad "no process count in the log"
[ "$(grep -c "^final model" "$work/two.log")" -eq 1 ] && ok "one rank reports" || bad "final line not printed once"

if "$model_diff" "$work/one/init.ibpm" "$work/two/init.ibpm" 0 >/dev/null; then
    ok "same initial model"
else
    bad "initial models differ"
fi
if diff=$("$model_diff" "$work/one/last.ibpm" "$work/two/last.ibpm" 2e-2); then
    ok "-np 2 against one process: $diff"
else
    bad "-np 2 against one process: $diff"
fi
python3 - "$work/one/metrics.jsonl" "$work/two/metrics.jsonl" <<'PY' || bad "metrics of -np 2 and one process differ"
import json, sys
a, b = ([json.loads(l) for l in open(p)] for p in sys.argv[1:3])
ok = len(a) == len(b) == 8
for x, y in zip(a, b):
    rel = abs(x['loss'] - y['loss']) / abs(x['loss'])
    print(f"epoch {x['epoch']}: loss {x['loss']} / {y['loss']} (rel {rel:.2g}), test err "
          f"{x['test_err']} / {y['test_err']}, verified {x['test_ver_err']} / {y['test_ver_err']}")
    ok = ok and rel < 1e-5 and x['test_err'] == y['test_err'] and x['test_ver_err'] == y['test_ver_err']
sys.exit(0 if ok else 1)
PY
cmp -s "$work/two/last.ibpm" "$work/again/last.ibpm" && cmp -s "$work/two/best.ibpm" "$work/again/best.ibpm" &&
    ok "-np 2 twice: byte-identical last.ibpm and best.ibpm" || bad "-np 2 twice: model files differ"

# SIGKILL to rank 1 as soon as the first checkpoint exists (7 epochs still to run): mpirun ends the run with an error; the
# files left are whole, and --resume under -np 2 finishes the uninterrupted run's model.
"$MPIRUN" -np 2 --oversubscribe "$train" "${common[@]}" --out "$work/kill" >"$work/kill.log" 2>&1 &
mpirun_pid=$!
killed=0
for _ in $(seq 600); do
    if [ -f "$work/kill/train.state" ]; then
        rank=$(pgrep -P "$mpirun_pid" -f ibp-train | sed -n 2p)
        [ -n "$rank" ] && kill -9 "$rank" 2>/dev/null && killed=1
        break
    fi
    kill -0 "$mpirun_pid" 2>/dev/null || break
    sleep 0.05
done
wait "$mpirun_pid"
rc=$?
[ "$killed" -eq 1 ] && [ "$rc" -ne 0 ] && ok "a rank killed: mpirun exits with $rc" ||
    bad "kill of a rank: killed=$killed, exit $rc"
mpirun_np 2 "$train" "${common[@]}" --out "$work/kill" --resume >>"$work/kill.log" 2>&1 ||
    { cat "$work/kill.log"; bad "--resume under -np 2"; }
grep -q "(resumed)" "$work/kill.log" && ok "the killed run was resumed mid-way" || bad "no resumed run"
cmp -s "$work/two/last.ibpm" "$work/kill/last.ibpm" && ok "SIGKILL + --resume under -np 2: last.ibpm byte-identical" ||
    bad "SIGKILL + --resume under -np 2: last.ibpm differs"

# SIGTERM to mpirun (which hands it to the ranks) as soon as the first checkpoint exists: all stop after the same batch, rank 0
# saves the state (Open MPI's mpirun itself then exits 1), --resume finishes the run.
"$MPIRUN" -np 2 --oversubscribe "$train" "${common[@]}" --out "$work/term" >"$work/term.log" 2>&1 &
mpirun_pid=$!
for _ in $(seq 600); do
    [ -f "$work/term/train.state" ] && break
    kill -0 "$mpirun_pid" 2>/dev/null || break
    sleep 0.05
done
kill -TERM "$mpirun_pid"
wait "$mpirun_pid"
if [ "$(grep -c "state saved in" "$work/term.log")" -eq 1 ]; then
    ok "SIGTERM on mpirun: $(grep "state saved in" "$work/term.log" | sed "s|$work/||")"
elif grep -q "^final model" "$work/term.log" && ! grep -q "state saved in" "$work/term.log"; then
    # as in tests/trainer/test_resume.sh: on an idle machine the run (about 1 s) can end
    # before mpirun hands the signal on; the resume below must then still match
    echo "note: the run finished before SIGTERM arrived"
else
    cat "$work/term.log"; bad "SIGTERM on mpirun: no one 'state saved' line"
fi
mpirun_np 2 "$train" "${common[@]}" --out "$work/term" --resume >>"$work/term.log" 2>&1 ||
    { cat "$work/term.log"; bad "--resume after SIGTERM"; }
cmp -s "$work/two/last.ibpm" "$work/term/last.ibpm" && ok "SIGTERM + --resume under -np 2: last.ibpm byte-identical" ||
    bad "SIGTERM + --resume under -np 2: last.ibpm differs"

# another process count on --resume: refused, nothing touched
before=$(md5sum "$work/two/train.state")
"$train" "${common[@]}" --out "$work/two" --resume >"$work/n1.log" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "configured for 2 processes but 1 was started" "$work/n1.log" &&
    ok "resume of a 2-process run by one process refused: $(head -1 "$work/n1.log")" || { cat "$work/n1.log"; bad "resume with N=1: exit $rc"; }
mpirun_np 3 "$train" "${common[@]}" --out "$work/two" --resume >"$work/n3.log" 2>&1
rc=$?
[ $rc -ne 0 ] && [ "$(grep -c "configured for 2 processes but 3 were started" "$work/n3.log")" -eq 1 ] &&
    ok "resume with -np 3 refused, one message" || { cat "$work/n3.log"; bad "resume with N=3: exit $rc"; }
[ "$(md5sum "$work/two/train.state")" = "$before" ] && ok "state untouched" || bad "state changed"

# more processes than samples in a batch: refused before anything is written
mpirun_np 3 "$train" "${base[@]}" --batch 2 --out "$work/tiny" >"$work/tiny.log" 2>&1
rc=$?
[ $rc -ne 0 ] && [ ! -e "$work/tiny" ] &&
    [ "$(grep -c "every process needs at least one sample" "$work/tiny.log")" -eq 1 ] &&
    ok "3 processes for batches of 2 refused: $(grep "^ibp-train" "$work/tiny.log")" || { cat "$work/tiny.log"; bad "3 processes, batch 2: exit $rc"; }

# ranks started with different configurations: refused before anything is written
"$MPIRUN" --oversubscribe -np 1 "$train" "${common[@]}" --out "$work/mixed" : \
    -np 1 "$train" "${common[@]}" --seed 7 --out "$work/mixed" >"$work/mixed.log" 2>&1
rc=$?
[ $rc -ne 0 ] && [ ! -e "$work/mixed" ] &&
    [ "$(grep -c "disagree on the configuration" "$work/mixed.log")" -eq 1 ] &&
    ok "ranks with different seeds refused: $(grep "^ibp-train" "$work/mixed.log")" || { cat "$work/mixed.log"; bad "different seeds: exit $rc"; }

[ $fails -eq 0 ] && echo ok
exit $fails
