"""Generate golden test data for the Go ResNet reimplementation (PyTorch 1.13 / torchvision).

Run:  cd resnet/testdata && /usr/bin/python3 gen_golden.py
Outputs (written next to this script, compact JSON, floats = repr of float32 value via "%.9g"):
  keys_resnet18.json, keys_resnet50.json  -- [[name, shape], ...] of torchvision resnet18/50
        (num_classes=1000, random init, no download) state_dict() in order, excluding
        names ending in "num_batches_tracked".
  param_counts.json  -- {"params": {...}, "macs": {...}} for resnet18/34/50/101/152 (1000 classes);
        params = sum(p.numel() for p in parameters()); MACs at input 1x3x224x224 via forward hooks:
        Conv2d: out.numel() * in_channels/groups * kh * kw;  Linear: in_features*out_features per sample.
  basic_block.json, bottleneck.json, resnet20.json  -- parity cases, each
        {"case", "mode", "input_shape", "output_shape", "output", "input_grad", "param_grads": {name: flat},
         "running_mean": {"<bn>.running_mean": flat}, "running_var": {"<bn>.running_var": flat}, "loss"}
        running_* are after the single training-mode forward. All arrays flat, row-major.
        ("mode" is "train", or "eval" for lesson_resnet.py's case; files without it are "train".)

Deterministic fill convention (all arithmetic in float64 with math.sin/cos, cast to float32 at the end):
  fnv1a(s): 32-bit FNV-1a over UTF-8 bytes of the state-dict name:
            h = 2166136261; for each byte b: h ^= b; h = (h * 16777619) mod 2**32
  phase(name) = (fnv1a(name) % 1000) / 1000 * 2*pi
  base(name, j) = sin(0.7*j + phase(name)),  j = flat row-major element index
  Conv2d weight (O,C,kh,kw):   base * 2 / sqrt(C*kh*kw)     (C = weight.shape[1], i.e. in/groups)
  Conv2d bias (if any):        0.1 * base                   (torchvision has none; lesson_resnet.py)
  Linear weight (out,in):      base / sqrt(in)
  Linear bias:                 0.1 * base
  BatchNorm weight:            1 + 0.1 * base
  BatchNorm bias:              0.1 * base
  BatchNorm running_mean:      0.1 * base
  BatchNorm running_var:       1 + 0.5 * abs(base)
  (num_batches_tracked untouched, = 0 initially.)
  Input x, flat NCHW index j:  sin(0.37*j + p), p = 0.5, or the case's "input_phase" when it has one
  Loss: L = sum_j out[j] * cos(0.13*j) over flat output (cos weights cast to float32, sum in float32);
        L.backward() gives input_grad and param_grads.
  Models are in training mode (BatchNorm uses batch statistics, biased variance for normalisation,
  running stats updated with momentum 0.1 using the unbiased batch variance, eps 1e-5), float32,
  torch.set_num_threads(1).

Cases:
  basic_block: torchvision BasicBlock(16, 32, stride=2, downsample=Sequential(conv1x1(16,32,2), BN(32))),
               input (2,16,8,8); param_grads for all parameters.
  bottleneck:  torchvision Bottleneck(32, 16, stride=2, downsample=Sequential(conv1x1(32,64,2), BN(64))),
               stride on the 3x3 conv2; input (2,32,8,8); param_grads for all parameters.
  resnet20:    CIFAR ResNet-20 (He et al. 2016), option-A shortcut
               (identity, or F.pad(x[:, :, ::2, ::2], (0,0,0,0,lo,hi)), lo=(out-in)//2, hi=out-in-lo),
               global average pool, fc=Linear(64,10); 269722 params; input (2,3,32,32);
               param_grads only for conv1.weight, layer1.0.conv1.weight, layer3.2.bn2.weight,
               layer3.2.bn2.bias, fc.weight, fc.bias.
"""
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.resnet import BasicBlock, Bottleneck, conv1x1

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_num_threads(1)
torch.manual_seed(0)


def fnv1a(s):
    h = 2166136261
    for b in s.encode("utf-8"):
        h ^= b
        h = (h * 16777619) % (1 << 32)
    return h


def phase(name):
    return (fnv1a(name) % 1000) / 1000.0 * 2.0 * math.pi


def base_list(name, n):
    p = phase(name)
    return [math.sin(0.7 * j + p) for j in range(n)]


def fill_tensor(t, vals):
    with torch.no_grad():
        t.copy_(torch.tensor(vals, dtype=torch.float64).reshape(t.shape).to(torch.float32))


def fill_model(model):
    for mname, m in model.named_modules():
        pre = mname + "." if mname else ""
        if isinstance(m, nn.Conv2d):
            w = m.weight
            fan = w.shape[1] * w.shape[2] * w.shape[3]
            s = 2.0 / math.sqrt(fan)
            fill_tensor(w, [b * s for b in base_list(pre + "weight", w.numel())])
            if m.bias is not None:
                fill_tensor(m.bias, [0.1 * b for b in base_list(pre + "bias", m.bias.numel())])
        elif isinstance(m, nn.Linear):
            w = m.weight
            s = 1.0 / math.sqrt(w.shape[1])
            fill_tensor(w, [b * s for b in base_list(pre + "weight", w.numel())])
            if m.bias is not None:
                fill_tensor(m.bias, [0.1 * b for b in base_list(pre + "bias", m.bias.numel())])
        elif isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            fill_tensor(m.weight, [1 + 0.1 * b for b in base_list(pre + "weight", n)])
            fill_tensor(m.bias, [0.1 * b for b in base_list(pre + "bias", n)])
            fill_tensor(m.running_mean, [0.1 * b for b in base_list(pre + "running_mean", n)])
            fill_tensor(m.running_var, [1 + 0.5 * abs(b) for b in base_list(pre + "running_var", n)])
        elif len(list(m.children())) == 0 and len(list(m.parameters(recurse=False))) > 0:
            raise RuntimeError("unhandled parametrised module %s" % mname)


def make_input(shape, phase=0.5):
    n = 1
    for d in shape:
        n *= d
    return torch.tensor([math.sin(0.37 * j + phase) for j in range(n)],
                        dtype=torch.float64).reshape(shape).to(torch.float32)


def flt(v):
    return float(f"{v:.9g}")


def flat(t):
    return [flt(v) for v in t.detach().reshape(-1).tolist()]


def dump(fname, obj):
    path = os.path.join(HERE, fname)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    return path


# ---------------- ResNet-20 (CIFAR, option A) ----------------
class CifarBlock(nn.Module):
    def __init__(self, inp, out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.inp, self.out, self.stride = inp, out, stride

    def shortcut(self, x):
        if self.stride == 1 and self.inp == self.out:
            return x
        lo = (self.out - self.inp) // 2
        hi = self.out - self.inp - lo
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, lo, hi))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNet20(nn.Module):
    def __init__(self, num_classes=10, n=3):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        inp = 16
        for s, (w, st) in enumerate([(16, 1), (32, 2), (64, 2)], start=1):
            blocks = []
            for i in range(n):
                blocks.append(CifarBlock(inp, w, st if i == 0 else 1))
                inp = w
            setattr(self, "layer%d" % s, nn.Sequential(*blocks))
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = x.mean(dim=(2, 3))
        return self.fc(x)


# ---------------- parity case runner ----------------
def run_case(case, model, input_shape, grad_names=None, train=True, max_grad=1e4, input_phase=None):
    """Runs one parity case, in training mode unless train is False (then "mode": "eval": BatchNorm
    uses the filled running statistics and leaves them unchanged). Every parameter gradient must
    be nonzero and below max_grad. input_phase replaces the input's phase 0.5 (and is recorded)."""
    fill_model(model)
    model.train(train)
    x = make_input(input_shape, 0.5 if input_phase is None else input_phase).requires_grad_(True)
    out = model(x)
    n = out.numel()
    wts = torch.tensor([math.cos(0.13 * j) for j in range(n)],
                       dtype=torch.float64).to(torch.float32).reshape(out.shape)
    loss = (out * wts).sum()
    loss.backward()
    params = dict(model.named_parameters())
    if grad_names is None:
        grad_names = list(params.keys())
    res = {
        "case": case,
        "mode": "train" if train else "eval",
        "input_shape": list(input_shape),
        "output_shape": list(out.shape),
        "loss": flt(loss.item()),
        "output": flat(out),
        "input_grad": flat(x.grad),
        "param_grads": {k: flat(params[k].grad) for k in grad_names},
        "running_mean": {},
        "running_var": {},
    }
    if input_phase is not None:
        res["input_phase"] = input_phase
    for mname, m in model.named_modules():
        if train and isinstance(m, nn.BatchNorm2d):  # (evaluation leaves them as filled)
            res["running_mean"][mname + ".running_mean"] = flat(m.running_mean)
            res["running_var"][mname + ".running_var"] = flat(m.running_var)
    # sanity
    allv = res["output"] + res["input_grad"] + [v for g in res["param_grads"].values() for v in g]
    assert all(math.isfinite(v) for v in allv), case
    assert any(v != 0 for v in res["output"]) and any(v != 0 for v in res["input_grad"]), case
    for k, g in res["param_grads"].items():
        mx = max(abs(v) for v in g)
        assert 0 < mx < max_grad, (case, k, mx)
    print("%-12s out %s loss %.6g |out|max %.4g |dx|max %.4g" % (
        case, list(out.shape), loss.item(), out.abs().max().item(), x.grad.abs().max().item()))
    for k, g in res["param_grads"].items():
        print("    grad %-28s max|g| %.4g" % (k, max(abs(v) for v in g)))
    return res


def keys_of(model):
    return [[k, list(v.shape)] for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")]


def count_macs(model):
    macs = [0]

    def conv_hook(m, inp, out):
        kh, kw = m.kernel_size
        macs[0] += out.numel() * (m.in_channels // m.groups) * kh * kw

    def lin_hook(m, inp, out):
        macs[0] += m.in_features * m.out_features * (out.numel() // m.out_features)

    hs = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hs.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hs.append(m.register_forward_hook(lin_hook))
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    for h in hs:
        h.remove()
    return macs[0]


def main():
    written = []
    # 1. keys + counts
    params, macs = {}, {}
    for name in ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]:
        m = getattr(torchvision.models, name)(num_classes=1000)
        if name in ("resnet18", "resnet50"):
            written.append(dump("keys_%s.json" % name, keys_of(m)))
        params[name] = sum(p.numel() for p in m.parameters())
        macs[name] = count_macs(m)
        print("%-10s params %d  MACs %d" % (name, params[name], macs[name]))
    written.append(dump("param_counts.json", {"params": params, "macs": macs}))

    # 3. parity cases
    bb = BasicBlock(16, 32, stride=2,
                    downsample=nn.Sequential(conv1x1(16, 32, 2), nn.BatchNorm2d(32)))
    written.append(dump("basic_block.json", run_case("basic_block", bb, (2, 16, 8, 8))))

    bn = Bottleneck(32, 16, stride=2,
                    downsample=nn.Sequential(conv1x1(32, 64, 2), nn.BatchNorm2d(64)))
    written.append(dump("bottleneck.json", run_case("bottleneck", bn, (2, 32, 8, 8))))

    r20 = ResNet20()
    npar = sum(p.numel() for p in r20.parameters())
    assert npar == 269722, npar
    # Input phase 1.0, not 0.5: with 0.5 one of the net's 375k ReLU inputs lies 2.6e-7 from zero,
    # inside the float32 rounding of any order of a convolution's sums, so that whether its mask
    # is on depended on the order (and the input gradient on that mask, by up to 4e-4). With 1.0
    # the nearest is 7.9e-6 from zero.
    written.append(dump("resnet20.json", run_case(
        "resnet20", r20, (2, 3, 32, 32),
        ["conv1.weight", "layer1.0.conv1.weight", "layer3.2.bn2.weight",
         "layer3.2.bn2.bias", "fc.weight", "fc.bias"], input_phase=1.0)))

    total = 0
    for p in written:
        sz = os.path.getsize(p)
        total += sz
        print("%-22s %8d bytes" % (os.path.basename(p), sz))
    print("%-22s %8d bytes" % ("total", total))
    assert total < 1000000


if __name__ == "__main__":
    sys.exit(main())
