#!/usr/bin/env python3
"""Our ONNX export, run in PyTorch, gives our logits.

A small ONNX evaluator written here on torch.nn.functional (the graph read with
python3-onnx, every operator our exporter writes) runs:
  - SPEC §5's cnn7, wrn8 and the normalising CIFAR net (test_torch_roundtrip.py), built
    in PyTorch with random weights and BatchNorm statistics, exported by torch, imported
    and re-exported by `ibp-model convert` (ONNX -> model file -> ONNX): its logits must
    be the original PyTorch model's;
  - a model trained by `ibp-train --onnx` (cnn-small with BN and its normalisation, on a
    small synthetic dataset): last.onnx in PyTorch against our forward of last.ibpm.
Tolerance: max |a - b| <= 1e-5 * max |b|.
Usage: test_torch_export.py MODEL_FORWARD IBP_MODEL IBP_TRAIN MAKE_IDX WORKDIR.
Exit 77 (skipped) without python3-torch or python3-onnx."""
import os
import subprocess
import sys

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
    import torch
    import torch.nn.functional as F
except ImportError as e:
    print(f"skipped: {e.name} is not installed (python3-torch, python3-onnx)")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_torch_roundtrip as rt  # noqa: E402  (the PyTorch nets of SPEC §5)

TOL = 1e-5


def attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def pad_input(x, pads):
    """ONNX pads [begin..., end...] over the spatial axes -> F.pad's (last axis first)."""
    if not pads or not any(pads):
        return x
    h0, w0, h1, w1 = pads
    return F.pad(x, (w0, w1, h0, h1))


def run_onnx(path, x):
    """Evaluates the ONNX model at path on the batch x (N,C,H,W) with torch."""
    model = onnx.load(path)
    g = model.graph
    env = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in g.initializer}
    inp = [i for i in g.input if i.name not in env][0]
    dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    env[inp.name] = x.reshape([x.shape[0]] + dims[1:])
    for n in g.node:
        v = [env[i] for i in n.input if i]
        op = n.op_type
        if op == "Constant":
            r = torch.from_numpy(numpy_helper.to_array(attr(n, "value")).copy())
        elif op in ("Sub", "Div", "Add", "Mul"):
            r = {"Sub": torch.sub, "Div": torch.div, "Add": torch.add, "Mul": torch.mul}[op](*v)
        elif op == "Relu":
            r = F.relu(v[0])
        elif op == "Flatten":
            r = torch.flatten(v[0], attr(n, "axis", 1))
        elif op == "Gemm":
            a = v[0].t() if attr(n, "transA", 0) else v[0]
            b = v[1].t() if attr(n, "transB", 0) else v[1]
            r = attr(n, "alpha", 1.0) * (a @ b)
            if len(v) > 2:
                r = r + attr(n, "beta", 1.0) * v[2]
        elif op == "MatMul":
            r = v[0] @ v[1]
        elif op == "Conv":
            r = F.conv2d(pad_input(v[0], attr(n, "pads")), v[1], v[2] if len(v) > 2 else None,
                         stride=attr(n, "strides", [1, 1]),
                         dilation=attr(n, "dilations", [1, 1]), groups=attr(n, "group", 1))
        elif op == "BatchNormalization":
            r = F.batch_norm(v[0], v[3], v[4], v[1], v[2], training=False,
                             eps=attr(n, "epsilon", 1e-5))
        elif op in ("AveragePool", "MaxPool"):
            pads = attr(n, "pads", [0, 0, 0, 0])
            if pads[0] != pads[2] or pads[1] != pads[3]:
                raise ValueError(f"asymmetric {op} padding")
            k, s = attr(n, "kernel_shape"), attr(n, "strides", attr(n, "kernel_shape"))
            if op == "MaxPool":  # padding never wins the max, in ONNX and in torch
                r = F.max_pool2d(v[0], k, s, padding=pads[:2])
            else:
                r = F.avg_pool2d(v[0], k, s, padding=pads[:2],
                                 count_include_pad=bool(attr(n, "count_include_pad", 0)))
        elif op == "Reshape":
            r = v[0].reshape([int(s) for s in v[1]])
        elif op == "Identity":
            r = v[0]
        else:
            raise ValueError(f"operator {op} is not handled by this evaluator")
        env[n.output[0]] = r
    return env[g.output[0].name]


def forward_ours(forward, model, x, work, name):
    xin, zout = os.path.join(work, name + ".in"), os.path.join(work, name + ".out")
    x.numpy().astype("<f4").tofile(xin)
    subprocess.run([forward, model, xin, zout], check=True)
    return torch.from_numpy(np.fromfile(zout, dtype="<f4")).view(x.shape[0], -1)


def compare(name, got, ref):
    scale = float(ref.abs().max())
    diff = float((got - ref).abs().max())
    ok = diff <= TOL * scale
    print(f"{name}: max |torch(our ONNX) - reference| = {diff:.3g}, logit scale {scale:.3g}, "
          f"relative {diff / scale:.3g} {'ok' if ok else 'FAIL'}")
    return ok


def main():
    forward, ibp_model, ibp_train, make_idx, work = sys.argv[1:6]
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(11)
    gen = torch.Generator().manual_seed(11)
    failed = 0
    with torch.no_grad():
        for name, make in (("cnn7", rt.cnn7), ("wrn8", rt.wrn8), ("normalised", rt.Normalised)):
            model = make()
            rt.randomise_bn(model, gen)
            model.eval()
            x = torch.rand(4, 3, 32, 32, generator=gen)
            a, b, c = (os.path.join(work, name + s) for s in (".torch.onnx", ".ibpm", ".ours.onnx"))
            torch.onnx.export(model, x[:1], a, opset_version=11)
            subprocess.run([ibp_model, "convert", a, b], check=True, stdout=subprocess.DEVNULL)
            subprocess.run([ibp_model, "convert", b, c], check=True, stdout=subprocess.DEVNULL)
            failed += not compare(name, run_onnx(c, x), model(x))

        data, run = os.path.join(work, "data"), os.path.join(work, "run")
        subprocess.run([sys.executable, make_idx, data, "512", "64"], check=True)
        subprocess.run([ibp_train, "--data-dir", data, "--batch", "64", "--schedule", "1+1+0",
                        "--milestones", "2", "--eps", "0.02", "--threads", "2", "--onnx",
                        "--out", run], check=True, stdout=subprocess.DEVNULL)
        x = torch.rand(8, 1, 28, 28, generator=gen)
        ours = forward_ours(forward, os.path.join(run, "last.ibpm"), x, work, "trained")
        failed += not compare("ibp-train last.onnx", run_onnx(os.path.join(run, "last.onnx"), x),
                              ours)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
