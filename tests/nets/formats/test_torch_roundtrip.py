#!/usr/bin/env python3
"""PyTorch models exported with torch.onnx.export give the same logits in ibp.

Builds cnn7 (CIFAR width 64), wrn8 and a CIFAR net that normalises its input in the graph
(Sub/Div by per-channel constants) exactly as SPEC §5 describes them, with random weights
and random BatchNorm statistics in eval mode, exports each to ONNX, and compares our
float32 clean forward (tests/nets/formats/model_forward) on random [0,1] images with
torch's: max |ours - torch| <= 1e-5 * max |torch| (relative to the logits' scale).
Usage: test_torch_roundtrip.py MODEL_FORWARD WORKDIR. Exit 77 (skipped) without torch."""
import os
import subprocess
import sys

try:
    import torch
    import torch.nn as nn
except ImportError:
    print("skipped: python3-torch is not installed")
    sys.exit(77)

TOL = 1e-5


def cnn7(w=64, hidden=512, in_ch=3, dim=32, classes=10):
    return nn.Sequential(
        nn.Conv2d(in_ch, w, 3, 1, 1), nn.BatchNorm2d(w), nn.ReLU(),
        nn.Conv2d(w, w, 3, 1, 1), nn.BatchNorm2d(w), nn.ReLU(),
        nn.Conv2d(w, 2 * w, 3, 2, 1), nn.BatchNorm2d(2 * w), nn.ReLU(),
        nn.Conv2d(2 * w, 2 * w, 3, 1, 1), nn.BatchNorm2d(2 * w), nn.ReLU(),
        nn.Conv2d(2 * w, 2 * w, 3, 1, 1), nn.BatchNorm2d(2 * w), nn.ReLU(),
        nn.Flatten(),
        nn.Linear((dim // 2) ** 2 * 2 * w, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
        nn.Linear(hidden, classes))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout)
        self.c2, self.b2 = nn.Conv2d(cout, cout, 3, 1, 1), nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
        return torch.relu(y + (x if self.short is None else self.short(x)))


def wrn8(in_ch=3, dim=32, classes=10):
    return nn.Sequential(
        nn.Conv2d(in_ch, 16, 3, 1, 1), nn.BatchNorm2d(16), nn.ReLU(),
        Block(16, 128, 1), Block(128, 256, 2), Block(256, 512, 2),
        nn.Flatten(),
        nn.Linear((dim // 4) ** 2 * 512, 512), nn.BatchNorm1d(512), nn.ReLU(),
        nn.Linear(512, classes))


class Normalised(nn.Module):
    """CIFAR normalisation in the graph, then a small conv net."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1))
        self.net = nn.Sequential(
            nn.Conv2d(3, 16, 4, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 4, 2, 1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Flatten(), nn.Linear(32 * 8 * 8, 100), nn.ReLU(), nn.Linear(100, 10))

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


def randomise_bn(model, gen):
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(0.1 * torch.randn(n, generator=gen))
            m.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=gen))
            m.weight.data.copy_(0.5 + torch.rand(n, generator=gen))
            m.bias.data.copy_(0.1 * torch.randn(n, generator=gen))


def main():
    forward, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(7)
    gen = torch.Generator().manual_seed(7)
    failed = 0
    for name, make in (("cnn7", cnn7), ("wrn8", wrn8), ("normalised", Normalised)):
        model = make()
        randomise_bn(model, gen)
        model.eval()
        x = torch.rand(4, 3, 32, 32, generator=gen)
        onnx_path = os.path.join(work, name + ".onnx")
        torch.onnx.export(model, x[:1], onnx_path, opset_version=11,
                          input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}})
        with torch.no_grad():
            ref = model(x).numpy()
        xin, zout = os.path.join(work, name + ".in"), os.path.join(work, name + ".out")
        x.numpy().astype("<f4").tofile(xin)
        r = subprocess.run([forward, onnx_path, xin, zout], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{name}: model_forward failed: {r.stderr.strip()}")
            failed += 1
            continue
        ours = torch.from_numpy(__import__("numpy").fromfile(zout, dtype="<f4")).view(ref.shape)
        scale = float(abs(torch.from_numpy(ref)).max())
        diff = float((ours - torch.from_numpy(ref)).abs().max())
        ok = diff <= TOL * scale
        print(f"{name}: max |ours - torch| = {diff:.3g}, logit scale {scale:.3g}, "
              f"relative {diff / scale:.3g} {'ok' if ok else 'FAIL'}")
        failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
