#!/usr/bin/env bash
# A model trained by ibp-train, certified by ibp-verify in the trainer's own mode (IBP,
# float32 round-to-nearest, no attack) on the whole test set: the clean and verified
# error equal what the trainer's last epoch reported; the default sound mode certifies
# no more samples than that. Then the crown-ibp baseline on the same data: its first
# epoch (eps = 0) is vanilla's clean training exactly, its ramp differs (the CROWN-IBP
# bound enters the loss), and its model file certifies like any other.
# usage: test_train_verify.sh IBP_TRAIN IBP_VERIFY MAKE_IDX_PY
set -u
train=$1
verify=$2
make_idx=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$make_idx" "$work/data" 1024 300 28 0.15 || exit 1
"$train" --data-dir "$work/data" --batch 64 --schedule 1+2+2 --milestones 4 --eps 0.02 \
    --threads 2 --out "$work/run" >"$work/train.log" 2>&1 || { cat "$work/train.log"; exit 1; }
"$verify" --model "$work/run/last.ibpm" --data fashion-mnist --root "$work/data" --split test \
    --eps 0.02 --methods ibp --no-sound --no-attack --no-progress --threads 2 \
    --json "$work/float.json" >/dev/null || exit 1
"$verify" --model "$work/run/last.ibpm" --data fashion-mnist --root "$work/data" --split test \
    --eps 0.02 --methods ibp --no-progress --threads 2 --json "$work/sound.json" >/dev/null || exit 1
python3 - "$work/run/metrics.jsonl" "$work/float.json" "$work/sound.json" <<'PY'
import json, sys
last = [json.loads(l) for l in open(sys.argv[1]) if '"epoch"' in l][-1]
fl = json.load(open(sys.argv[2]))['runs'][0]
so = json.load(open(sys.argv[3]))['runs'][0]
n = fl['samples']
ours_clean = 100.0 * fl['clean_errors'] / n
ours_ver = 100.0 * (n - fl['certified']) / n
print(f"trainer: clean {last['test_err']:.4f}% verified {last['test_ver_err']:.4f}%")
print(f"ibp-verify (float): clean {ours_clean:.4f}% verified {ours_ver:.4f}% ({fl['certified']} of {n} certified)")
print(f"ibp-verify (sound): {so['certified']} certified, {so['conflicts']} conflicts")
ok = abs(ours_clean - last['test_err']) < 1e-6 and abs(ours_ver - last['test_ver_err']) < 1e-6
ok = ok and so['certified'] <= fl['certified'] and so['conflicts'] == 0 and 0 < fl['certified'] < n
print('ok' if ok else 'MISMATCH')
sys.exit(0 if ok else 1)
PY
[ $? -eq 0 ] || exit 1
for m in vanilla crown-ibp; do
    "$train" --data-dir "$work/data" --batch 64 --schedule 1+2+1 --milestones 3 --eps 0.02 \
        --method $m --threads 2 --out "$work/$m" >"$work/$m.log" 2>&1 || { cat "$work/$m.log"; exit 1; }
done
"$verify" --model "$work/crown-ibp/last.ibpm" --data fashion-mnist --root "$work/data" \
    --split test --eps 0.02 --no-progress --threads 2 --json "$work/crown.json" >/dev/null || exit 1
python3 - "$work/vanilla/metrics.jsonl" "$work/crown-ibp/metrics.jsonl" "$work/crown.json" <<'PY'
import json, sys
v, c = ([json.loads(l) for l in open(p) if '"epoch"' in l] for p in sys.argv[1:3])
r = json.load(open(sys.argv[3]))['runs'][0]
print(f"epoch 1 loss: vanilla {v[0]['loss']} crown-ibp {c[0]['loss']}")
print(f"epoch 2 robust loss: vanilla {v[1]['robust_loss']} crown-ibp {c[1]['robust_loss']}")
print(f"crown-ibp model: {r['certified']} of {r['samples']} certified, {r['conflicts']} conflicts")
ok = v[0]['loss'] == c[0]['loss'] and v[0]['test_err'] == c[0]['test_err']
ok = ok and v[1]['robust_loss'] != c[1]['robust_loss'] and len(c) == 4
ok = ok and r['conflicts'] == 0 and r['certified'] > 0
print('ok' if ok else 'MISMATCH')
sys.exit(0 if ok else 1)
PY
