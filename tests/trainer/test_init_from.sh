#!/usr/bin/env bash
# ibp-train --onnx and --init-from end to end: a run with --onnx writes last.onnx and
# best.onnx that certify like last.ibpm; --init-from an ONNX file or a model file starts
# from that network unchanged (its init.ibpm classifies the test set exactly as the
# source does) and fine-tunes it; bad input is refused before anything is written.
# usage: test_init_from.sh IBP_TRAIN IBP_VERIFY MAKE_IDX_PY [SHARED_DATA]
set -u
train=$1
verify=$2
make_idx=$3
shared=${4:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
python3 "$make_idx" "$work/data" 1024 300 28 0.15 || exit 1
common=(--data-dir "$work/data" --batch 64 --eps 0.02 --threads 2)
"$train" "${common[@]}" --schedule 1+2+1 --milestones 3 --onnx --out "$work/src" \
    >"$work/src.log" 2>&1 || { cat "$work/src.log"; exit 1; }
for f in last.onnx best.onnx; do
    [ -s "$work/src/$f" ] || fail "--onnx wrote no $f"
done

# Clean errors and certified count of MODEL on the test set (IBP, float, no attack).
summary() {
    "$verify" --model "$1" --data fashion-mnist --root "$work/data" --split test --eps 0.02 \
        --methods ibp --no-sound --no-attack --no-progress --threads 2 --json "$work/r.json" \
        >/dev/null || return 1
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][0]
print(r["clean_errors"], r["certified"])' "$work/r.json"
}
want=$(summary "$work/src/last.ibpm") || fail "ibp-verify on last.ibpm"
got=$(summary "$work/src/last.onnx") || fail "ibp-verify on last.onnx"
echo "last.ibpm: clean errors, certified = $want; last.onnx: $got"
[ "$want" = "$got" ] || fail "last.onnx certifies differently from last.ibpm"

for from in last.onnx last.ibpm; do
    out=$work/ft_${from/./_}
    "$train" "${common[@]}" --init-from "$work/src/$from" --schedule 0+1+1 --milestones 2 \
        --out "$out" >"$out.log" 2>&1 || { cat "$out.log"; exit 1; }
    start=$(summary "$out/init.ibpm") || fail "ibp-verify on $out/init.ibpm"
    echo "--init-from $from: init.ibpm $start, after 2 epochs $(summary "$out/last.ibpm")"
    [ "$start" = "$want" ] || fail "--init-from $from did not start from the source network"
    grep -q "^init_from = $work/src/$from\$" "$out/train.cfg" ||
        fail "train.cfg does not record init_from"
    cmp -s "$out/init.ibpm" "$out/last.ibpm" && fail "--init-from $from did not train"
done

# Bad input: one line naming the problem, exit 2, no output folder.
refuse() {
    local what=$1 pattern=$2
    shift 2
    rm -rf "$work/bad"
    "$train" "${common[@]}" --schedule 0+1+0 --milestones 1 --out "$work/bad" "$@" \
        >"$work/bad.log" 2>&1
    local rc=$?
    [ $rc -eq 2 ] || { cat "$work/bad.log"; fail "$what: exit $rc, not 2"; }
    grep -q -- "$pattern" "$work/bad.log" || { cat "$work/bad.log"; fail "$what: no '$pattern'"; }
    [ ! -e "$work/bad/train.state" ] || fail "$what: a state was written"
    echo "refused ($what): $(tail -n 1 "$work/bad.log")"
}
refuse "missing file" "$work/none.onnx" --init-from "$work/none.onnx"
refuse "width with init_from" "width does not apply" --init-from "$work/src/last.onnx" --width 8
head -c 100 "$work/src/last.onnx" > "$work/cut.onnx"
refuse "truncated ONNX" "cut.onnx" --init-from "$work/cut.onnx"
if [ -n "$shared" ] && [ -f "$shared/vnncomp2022/test/test_small.onnx" ]; then
    refuse "input shape" "the training images" --init-from "$shared/vnncomp2022/test/test_small.onnx"
fi
echo ok
