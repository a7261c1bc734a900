#!/usr/bin/python3
"""Cross-checks ibp-train's training steps against the PyTorch reference recipe
(../shared/peer/train_ibp.py, itself checked against the original authors' code).

Runs ibp-train on the first 256 Fashion-MNIST training images as ONE batch per epoch
(so the data order inside the batch does not matter) for 10 epochs with schedule 1+8+1:
step 0 at eps = 0 (fast: clean CE + regulariser on 1e-6 bounds; vanilla: clean only),
steps 1-8 on the ramp, step 9 at eps_max. Then replays the same steps in PyTorch with the
reference's own functions (clean_forward, ibp_bounds, regulariser, robust_ce,
eps_schedule, Adam, clip_grad_norm_) from ibp-train's initial weights (init.ibpm), and
compares the loss of every step and the final weights (last.ibpm).

Needs Debian's python3-torch; not part of the default test run.
usage: scripts/check_step_vs_peer.py [IBP_TRAIN] [--method fast|vanilla]"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'shared', 'peer'))
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import train_ibp as ref  # noqa: E402


def read_model(path):
    """params and buffers of an ibp model file (nets/formats/model_file.h layout)."""
    data = open(path, 'rb').read()
    assert data[:8] == b'IBPMODEL', path
    pos = 8 + 4 + 8 + 12
    n_layers = struct.unpack_from('<I', data, pos)[0]
    pos += 4
    pos += 4 + struct.unpack_from('<I', data, pos)[0]          # name
    n_classes = struct.unpack_from('<I', data, pos)[0]
    pos += 4
    for _ in range(n_classes):
        pos += 4 + struct.unpack_from('<I', data, pos)[0]
    pos += n_layers * 17 * 4
    n_params, n_buffers = struct.unpack_from('<QQ', data, pos)
    pos += 16
    params = torch.frombuffer(bytearray(data[pos:pos + 4 * n_params]), dtype=torch.float32)
    pos += 4 * n_params
    buffers = torch.frombuffer(bytearray(data[pos:pos + 4 * n_buffers]), dtype=torch.float32)
    return params, buffers


def load_into(model, params, buffers):
    """Our params are every layer's tensors in order (PyTorch layouts); our buffers start
    with the Normalize layer's mean/std (1 channel: 2 floats), then BN running stats."""
    p = b = 0
    b += 2
    with torch.no_grad():
        for m in model:
            for t in ([m.weight, m.bias] if hasattr(m, 'weight') and m.weight is not None else []):
                t.copy_(params[p:p + t.numel()].view_as(t))
                p += t.numel()
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                for t in (m.running_mean, m.running_var):
                    t.copy_(buffers[b:b + t.numel()])
                    b += t.numel()
    assert p == params.numel() and b == buffers.numel(), (p, params.numel(), b, buffers.numel())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('ibp_train', nargs='?', default=os.path.join(HERE, '..', 'build', 'trainer', 'ibp-train'))
    ap.add_argument('--method', choices=['fast', 'vanilla'], default='fast')
    args = ap.parse_args()
    torch.set_num_threads(2)
    n, eps_max, tau, lam0 = 256, 0.1, 0.5, 0.5
    out = tempfile.mkdtemp(prefix='ibp-step-')
    subprocess.run([args.ibp_train, '--method', args.method, '--model', 'cnn-small',
                    '--train-limit', str(n), '--batch', str(n), '--schedule', '1+8+1',
                    '--milestones', '', '--out', out, '--threads', '2'],
                   check=True, stdout=subprocess.DEVNULL)
    ours = [json.loads(line) for line in open(os.path.join(out, 'metrics.jsonl'))]

    model = ref.MODELS['cnn-small']()
    load_into(model, *read_model(os.path.join(out, 'init.ibpm')))
    model.train()
    x, y = ref.load_fmnist('train')
    x, y = x[:n], y[:n]
    opt = torch.optim.Adam(model.parameters(), lr=5e-4, betas=(0.9, 0.999), eps=1e-8)
    fast = args.method == 'fast'
    worst = 0.0
    for s in range(10):
        eps_t = ref.eps_schedule(s, 2, 8, 1, eps_max)
        lam = lam0 * (1.0 - eps_t / eps_max) if fast else 0.0
        logits, aff = ref.clean_forward(model, x, training=True)
        robust = eps_t > 0
        if robust or fast:
            e = eps_t if robust else max(eps_t, 1e-6)
            lb, r0, relu_in = ref.ibp_bounds(model, aff, x, y, e, keep_relu_inputs=fast)
        loss = ref.robust_ce(lb) if robust else torch.nn.functional.cross_entropy(logits, y)
        if fast and lam > 0:
            lt, lr_ = ref.regulariser(relu_in, r0, tau)
            loss = loss + lam * (lt + lr_)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
        opt.step()
        rel = abs(loss.item() - ours[s]['loss']) / max(abs(loss.item()), 1e-12)
        worst = max(worst, rel)
        print(f'step {s}: eps {eps_t:.6f} lambda {lam:.4f}  loss ours {ours[s]["loss"]:.7f} '
              f'reference {loss.item():.7f}  rel diff {rel:.2e}')
    params, _ = read_model(os.path.join(out, 'last.ibpm'))
    init_params, _ = read_model(os.path.join(out, 'init.ibpm'))
    # Per tensor: the change over the steps, ours vs the reference. A Conv/Linear bias
    # followed by BatchNorm is skipped: its exact gradient is 0 (BN subtracts the batch
    # mean), so both sides get rounding noise that Adam scales up to lr-sized steps.
    mods = list(model)
    p = 0
    worst_change = 0.0
    for i, m in enumerate(mods):
        if not (hasattr(m, 'weight') and m.weight is not None):
            continue
        for name, t in (('weight', m.weight), ('bias', m.bias)):
            k = t.numel()
            ours_d = params[p:p + k] - init_params[p:p + k]
            ref_d = t.detach().flatten() - init_params[p:p + k]
            p += k
            before_bn = i + 1 < len(mods) and isinstance(mods[i + 1], (nn.BatchNorm1d, nn.BatchNorm2d))
            if name == 'bias' and before_bn:
                continue
            rel = ((ours_d - ref_d).norm() / ref_d.norm().clamp(min=1e-30)).item()
            worst_change = max(worst_change, rel)
            print(f'  {i}:{type(m).__name__}.{name}: |change ours - reference| / |change| = {rel:.2e}')
    ok = worst < 1e-5 and worst_change < 1e-3
    print('agree' if ok else 'DISAGREE')
    return 0 if ok else 1


sys.exit(main())
