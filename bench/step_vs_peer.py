#!/usr/bin/python3
"""The real training step, ours against the PyTorch reference recipe, in one run.

bench_ibp.py (the peer's throughput benchmark) times an IBP step that normalises with the
batch statistics of the box centres and runs no clean pass; SPEC §4.7's step (and
train_ibp.py, the reference recipe) runs a clean forward in train mode and an IBP pass
re-using those statistics, with the gradient flowing through both: about 1.5x the GEMM
work. This times that same step in train_ibp.py, with its own functions
(clean_forward, ibp_bounds, robust_ce, clip_grad_norm_, Adam) at batch 128, eps 0.1, on
the first 128 Fashion-MNIST training images, for cnn-small and cnn7, and our bench_ibp on
the same shapes right after, and prints the ratio.

Needs Debian's python3-torch and dataset-fashion-mnist; not part of the default run.
usage: bench/step_vs_peer.py BENCH_IBP [--reps N] [--threads 2]"""
import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, '..', '..', 'shared', 'peer')
TCMALLOC = '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4'

ap = argparse.ArgumentParser()
ap.add_argument('bench_ibp')
ap.add_argument('--reps', type=int, default=5)
ap.add_argument('--threads', type=int, default=2)
args = ap.parse_args()

# The peer's own settings (../shared/peer/README.md): tcmalloc, BLIS threads.
if os.path.exists(TCMALLOC) and TCMALLOC not in os.environ.get('LD_PRELOAD', ''):
    env = dict(os.environ, LD_PRELOAD=TCMALLOC, BLIS_NUM_THREADS=str(args.threads))
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

sys.path.insert(0, PEER)
import torch  # noqa: E402
import train_ibp as ref  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(100)
B, EPS = 128, 0.1
X, Y = ref.load_fmnist('train')
x, y = X[:B], Y[:B]


def peer_step_rate(model):
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-6)

    def step():
        _, aff = ref.clean_forward(model, x, training=True)
        lb, _, _ = ref.ibp_bounds(model, aff, x, y, EPS)
        loss = ref.robust_ce(lb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
        opt.step()
    step()
    best = float('inf')
    for _ in range(args.reps):
        t0 = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t0)
    return B / best


peer = {'cnn-small': peer_step_rate(ref.cnn_small()), 'cnn7': peer_step_rate(ref.cnn7())}
env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
env.pop('LD_PRELOAD', None)
out = subprocess.run([args.bench_ibp, '--models', 'cnn-small,cnn7', '--reps', str(args.reps)],
                     env=env, capture_output=True, text=True, check=True).stdout
ours = {m: float(v) for m, v in re.findall(r'RESULT (\S+) train_img_s=([0-9.]+)', out)}
print(f"training step (SPEC 4.7: clean + IBP forward, backward, clip, Adam), batch {B}, "
      f"eps {EPS}, {args.threads} threads, best of {args.reps}, img/s")
print(f"| model | ours | train_ibp.py | ratio |")
print(f"|---|---|---|---|")
for m in ('cnn-small', 'cnn7'):
    print(f"| {m} | {ours[m]:.1f} | {peer[m]:.1f} | {ours[m] / peer[m]:.2f} |")
