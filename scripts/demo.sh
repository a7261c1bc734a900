#!/usr/bin/env bash
# The main job on its built-in default: installs what is missing, builds, trains a small
# certifiably robust model on Fashion-MNIST (cnn-small with BatchNorm, the short-warmup
# "fast" method, eps = 0.1, a 7-epoch schedule 1+4+2 that takes a few minutes on two
# cores), then certifies it on the first 1000 test images with ibp-verify (IBP and
# CROWN-IBP, floating-point-sound, plus a PGD attack). Output goes to runs/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
rm -rf runs/demo
build/trainer/ibp-train --preset fmnist --schedule 1+4+2 --milestones 6 --out runs/demo
build/verifier/ibp-verify --model runs/demo/last.ibpm --data fashion-mnist --split test \
    --count 1000 --eps 0.1 --methods ibp,crown-ibp --json runs/demo/verify.json
