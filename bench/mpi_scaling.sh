#!/usr/bin/env bash
# Data-parallel training against threads on one machine: the same ibp-train run (a
# synthetic Fashion-MNIST-shaped set, batch 128, the fast method's IBP step), once as
# one process with R threads and once as mpirun -np R with one thread per rank. Prints
# each run's training images/s of its last epoch, their ratio, and the time rank 0
# spent in MPI exchanges per batch (ibp-train's own count).
# usage: bench/mpi_scaling.sh BUILD_DIR [MODEL] [SAMPLES] [RANKS]
set -eu
build=$1
model=${2:-cnn-small}
samples=${3:-4096}
ranks=${4:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=passive
python3 "$here/tests/trainer/make_idx.py" "$work/data" "$samples" 256 28 0.15
args=(--data-dir "$work/data" --model "$model" --batch 128 --schedule 1+1+0 --milestones 2
      --eps 0.05 --eval-batch 256)
OMP_NUM_THREADS=$ranks "$build/trainer/ibp-train" "${args[@]}" --threads "$ranks" \
    --out "$work/threads" >"$work/threads.log"
OMP_NUM_THREADS=1 mpirun -np "$ranks" --oversubscribe "$build/trainer/ibp-train" "${args[@]}" \
    --threads 1 --out "$work/ranks" >"$work/ranks.log"
python3 - "$work" "$model" "$ranks" <<'PY'
import json, re, sys
work, model, ranks = sys.argv[1], sys.argv[2], sys.argv[3]
rate = {k: [json.loads(l) for l in open(f"{work}/{k}/metrics.jsonl")][-1]["train_img_s"]
        for k in ("threads", "ranks")}
mpi = re.search(r"time in MPI exchanges: ([0-9.]+) s over (\d+) batches", open(f"{work}/ranks.log").read())
print(f"{model}: 1 process x {ranks} threads {rate['threads']:.1f} img/s, "
      f"{ranks} ranks x 1 thread {rate['ranks']:.1f} img/s, ratio {rate['ranks'] / rate['threads']:.3f}; "
      f"MPI exchanges {1e3 * float(mpi.group(1)) / int(mpi.group(2)):.1f} ms per batch")
PY
