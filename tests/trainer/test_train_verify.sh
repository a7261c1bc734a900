#!/usr/bin/env bash
# A model trained by ibp-train, certified by ibp-verify in the trainer's own mode (IBP,
# float32 round-to-nearest, no attack) on the whole test set: the clean and verified
# error equal what the trainer's last epoch reported; the default sound mode certifies
# no more samples than that.
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
