#!/usr/bin/env python3
"""A model trained in PyTorch with plain PGD, exported, certified by ibp-verify:
certified implies that PyTorch's own PGD finds no counterexample.

Trains a small convolutional net (normalisation in the graph, as torchvision users write
it) for two epochs of PGD adversarial training (4 steps) on 10,000 Fashion-MNIST training images,
exports it with torch.onnx.export, and certifies the first 100 test images at eps 0.02
with ibp-verify's complete chain (sound mode, branch and bound 2 s per sample). Then, on
every sample: ibp-verify's clean prediction is torch's; on every certified one, a strong
PGD in torch (50 steps, 5 random starts, in the clipped box) must not change the
prediction. The test also requires some samples to be certified and reports how many
uncertified ones torch's PGD breaks.
Usage: test_torch_pgd_certify.py IBP_VERIFY WORKDIR. Exit 77 (skipped) without
python3-torch or the Debian Fashion-MNIST package."""
import gzip
import json
import os
import subprocess
import sys
import time

import numpy as np

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("skipped: python3-torch is not installed")
    sys.exit(77)

DATA = "/usr/share/datasets/fashion-mnist"
EPS_TRAIN, EPS = 0.06, 0.02
COUNT = 100


def idx(name):
    with gzip.open(os.path.join(DATA, name)) as f:
        raw = f.read()
    if raw[2] == 8 and raw[3] == 3:
        n, h, w = (int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
        return np.frombuffer(raw, np.uint8, offset=16).reshape(n, 1, h, w) / np.float32(255)
    return np.frombuffer(raw, np.uint8, offset=8).astype(np.int64)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(0.2860).view(1, 1, 1, 1))
        self.register_buffer("std", torch.tensor(0.3530).view(1, 1, 1, 1))
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 4, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 4, 2, 1), nn.ReLU(),
            nn.Flatten(), nn.Linear(32 * 7 * 7, 100), nn.ReLU(), nn.Linear(100, 10))

    def forward(self, x):
        return self.body((x - self.mean) / self.std)


def pgd(model, x, y, eps, steps, restarts, gen):
    """Adversarial points in clip(x +- eps, 0, 1); returns (points, fooled mask)."""
    lo, hi = (x - eps).clamp(0, 1), (x + eps).clamp(0, 1)
    best, fooled = x.clone(), torch.zeros(len(x), dtype=torch.bool)
    step = 2.5 * eps / steps
    for r in range(restarts):
        z = x.clone() if r == 0 else lo + (hi - lo) * torch.rand(x.shape, generator=gen)
        for _ in range(steps):
            z.requires_grad_(True)
            loss = F.cross_entropy(model(z), y)
            (g,) = torch.autograd.grad(loss, z)
            with torch.no_grad():
                z = torch.min(torch.max(z + step * g.sign(), lo), hi)
                hit = model(z).argmax(1) != y
                best[hit & ~fooled] = z[hit & ~fooled]
                fooled |= hit
    return best, fooled


def main():
    verify, work = sys.argv[1:3]
    if not os.path.isdir(DATA):
        print(f"skipped: {DATA} not found (Debian package dataset-fashion-mnist)")
        return 77
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(3)
    torch.set_num_threads(2)
    gen = torch.Generator().manual_seed(3)
    xs = torch.from_numpy(idx("train-images-idx3-ubyte.gz")[:10000].astype(np.float32))
    ys = torch.from_numpy(idx("train-labels-idx1-ubyte.gz")[:10000])
    model = Net()
    start = time.time()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    for epoch in range(2):
        order = torch.randperm(len(xs), generator=gen)
        for i in range(0, len(xs), 128):
            b = order[i:i + 128]
            model.eval()
            xa, _ = pgd(model, xs[b], ys[b], EPS_TRAIN, 4, 1, gen)
            model.train()
            loss = F.cross_entropy(model(xa), ys[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    print(f"trained in {time.time() - start:.1f} s")
    onnx_path = os.path.join(work, "pgd_net.onnx")
    torch.onnx.export(model, xs[:1], onnx_path, opset_version=11)

    report = os.path.join(work, "report.json")
    subprocess.run([verify, "--model", onnx_path, "--data", "fashion-mnist", "--count",
                    str(COUNT), "--eps", str(EPS), "--methods",
                    "ibp,crown-ibp,crown,alpha-crown,bab", "--bab-timeout", "2", "--threads",
                    "2", "--no-progress", "--json", report], check=True,
                   stdout=subprocess.DEVNULL)
    print(f"certified by ibp-verify, {time.time() - start:.1f} s from the start")
    records = json.load(open(report))["runs"][0]["records"]
    xt = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz")[:COUNT].astype(np.float32))
    yt = torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz")[:COUNT])
    with torch.no_grad():
        pred = model(xt).argmax(1)
    _, fooled = pgd(model, xt, yt, EPS, 50, 5, gen)
    status = [r["status"] for r in records]
    bad = 0
    for r in records:
        i = r["index"]
        if r["label"] != int(yt[i]) or r["prediction"] != int(pred[i]):
            print(f"sample {i}: ibp-verify reads label {r['label']} / predicts "
                  f"{r['prediction']}, torch {int(yt[i])} / {int(pred[i])}")
            bad += 1
        if r["status"] == "certified" and bool(fooled[i]):
            print(f"sample {i}: CERTIFIED but torch's PGD finds a counterexample")
            bad += 1
    n_cert = status.count("certified")
    broken = sum(bool(fooled[r["index"]]) for r in records if r["status"] != "certified")
    print(f"{len(records)} samples: {n_cert} certified, {status.count('attacked')} attacked, "
          f"{status.count('unknown')} unknown; torch's PGD breaks {int(fooled.sum())}, "
          f"{broken} of them uncertified")
    if n_cert < 20:
        print(f"only {n_cert} certified: the check says too little")
        bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
