#!/usr/bin/env bash
# The main job on its built-in default. Until ibp-train and ibp-verify land, it runs
# what exists: builds, then times and prints IBP training steps and certified bounds of
# the zoo models on Fashion-MNIST-shaped input (bench_ibp).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/bench/bench_ibp --models cnn-small --reps 10
