"""Golden data for the pre-activation ResNets of He et al. 2016b, "Identity Mappings in Deep Residual
Networks" (resnet.PreActCIFAR, resnet.PreActImageNet, blocks.Config.PreAct), PyTorch 1.13.

Run:  cd resnet/testdata && /usr/bin/python3 gen_golden_preact.py

The nets are written out below after the paper, independently of this project's PyTorch peer
(cmd/trainer/peer/pytorch_bench.py), with the state_dict names of the Go nets:
  stem        conv1 (CIFAR 3x3/1, 16; ImageNet 7x7/2, 64, then max pool 3x3/2; no BN-ReLU after it:
              the first block's pre-activation does that)
  block       layerS.B.bn1, conv1, bn2, conv2, (bn3, conv3,) downsample.0 (a 1x1 conv with the
              stride and no BN, applied to relu(bn1(x)), the block's pre-activation); option A
              (CIFAR basic nets) subsamples and zero-pads x itself; y = branch + shortcut, no ReLU
  head        bn_final -> ReLU -> global average pool -> fc
The script checks that the peer's nets have the same names, shapes and outputs.

Outputs (compact JSON, floats "%.9g" of float32 values), all small:
  param_counts_preact.json  {"params": {...}, "macs": {...}}: preresnet20/32/44/56/110/164 (10
        classes, MACs at 1x3x32x32) and preresnet18/34/50/101/152 (1000 classes, at 1x3x224x224),
        counted as gen_golden.py counts them.
  keys_preresnet20.json, keys_preresnet50.json  [[name, shape], ...] of state_dict() in order
        (num_batches_tracked left out).
  preact_basic_block.json   PreAct basic block, 4 -> 8 channels, stride 2, projection; input (2,4,6,6)
  preact_bottleneck.json    PreAct bottleneck, 8 -> planes 4 -> 16 channels, stride 2, projection;
                            input (2,8,6,6)
  preresnet20.json          preresnet20 (option A), 10 classes, input (2,3,16,16); gradients and
                            running statistics of some parameters
  preresnet18.json          preresnet18 (ImageNet layout), 10 classes, 1 input channel, input
                            (2,1,40,40), so that layer4 sees 2x2 maps; gradients and running
                            statistics of some parameters
  Each case is gen_golden.py's run_case in training mode, with its deterministic fill, input and
  loss (see gen_golden.py's docstring).
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from gen_golden import count_macs, dump, fill_model, keys_of, make_input, run_case

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "cmd", "trainer", "peer"))
import pytorch_bench  # noqa: E402  the peer, checked against the nets below


class PreActBasic(nn.Module):
    """BN-ReLU-conv3x3(stride)-BN-ReLU-conv3x3, plus the shortcut; no ReLU after the sum."""

    def __init__(self, inp, planes, stride, shortcut):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inp)
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.sc = make_shortcut(self, inp, planes, stride, shortcut)

    def forward(self, x):
        pre = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(pre))))
        return out + apply_shortcut(self, x, pre)


class PreActBottleneck(nn.Module):
    """BN-ReLU-conv1x1-BN-ReLU-conv3x3(stride)-BN-ReLU-conv1x1(4*planes), plus the shortcut."""

    def __init__(self, inp, planes, stride, shortcut):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inp)
        self.conv1 = nn.Conv2d(inp, planes, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, 4 * planes, 1, bias=False)
        self.sc = make_shortcut(self, inp, 4 * planes, stride, shortcut)

    def forward(self, x):
        pre = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(pre))))
        out = self.conv3(F.relu(self.bn3(out)))
        return out + apply_shortcut(self, x, pre)


def make_shortcut(block, inp, out, stride, kind):
    """None (identity), ("A", stride, lo, hi) or "B" with block.downsample = Sequential(conv1x1)."""
    if stride == 1 and inp == out:
        return None
    if kind == "A":
        return ("A", stride, (out - inp) // 2, out - inp - (out - inp) // 2)
    block.downsample = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False))
    return "B"


def apply_shortcut(block, x, pre):
    if block.sc is None:
        return x
    if block.sc == "B":
        return block.downsample(pre)  # the paper's code: the projection sees the pre-activation
    _, s, lo, hi = block.sc
    return F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, lo, hi))


class PreActResNet(nn.Module):
    def __init__(self, block, expansion, layers, widths, imagenet, shortcut, num_classes, in_ch=3):
        super().__init__()
        inp = 64 if imagenet else widths[0]
        if imagenet:
            self.conv1 = nn.Conv2d(in_ch, inp, 7, 2, 3, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_ch, inp, 3, 1, 1, bias=False)
        self.imagenet = imagenet
        self.layers = []
        for s, (w, n) in enumerate(zip(widths, layers), start=1):
            blocks = []
            for i in range(n):
                blocks.append(block(inp, w, 2 if s > 1 and i == 0 else 1, shortcut))
                inp = w * expansion
            setattr(self, "layer%d" % s, nn.Sequential(*blocks))
            self.layers.append("layer%d" % s)
        self.bn_final = nn.BatchNorm2d(inp)
        self.fc = nn.Linear(inp, num_classes)

    def forward(self, x):
        x = self.conv1(x)
        if self.imagenet:
            x = F.max_pool2d(x, 3, 2, 1)
        for name in self.layers:
            x = getattr(self, name)(x)
        x = F.relu(self.bn_final(x))
        return self.fc(x.mean(dim=(2, 3)))


def cifar(depth, num_classes=10, in_ch=3):
    if (depth - 2) % 9 == 0 and depth >= 164:
        n = (depth - 2) // 9
        return PreActResNet(PreActBottleneck, 4, [n] * 3, [16, 32, 64], False, "B", num_classes, in_ch)
    assert (depth - 2) % 6 == 0, depth
    n = (depth - 2) // 6
    return PreActResNet(PreActBasic, 1, [n] * 3, [16, 32, 64], False, "A", num_classes, in_ch)


IMAGENET = {18: (PreActBasic, 1, [2, 2, 2, 2]), 34: (PreActBasic, 1, [3, 4, 6, 3]),
            50: (PreActBottleneck, 4, [3, 4, 6, 3]), 101: (PreActBottleneck, 4, [3, 4, 23, 3]),
            152: (PreActBottleneck, 4, [3, 8, 36, 3])}


def imagenet(depth, num_classes=1000, in_ch=3):
    block, exp, layers = IMAGENET[depth]
    return PreActResNet(block, exp, layers, [64, 128, 256, 512], True, "B", num_classes, in_ch)


def count(model, size):
    macs = [0]

    def conv_hook(m, inp, out):
        kh, kw = m.kernel_size
        macs[0] += out.numel() * (m.in_channels // m.groups) * kh * kw

    def lin_hook(m, inp, out):
        macs[0] += m.in_features * m.out_features * (out.numel() // m.out_features)

    hs = [m.register_forward_hook(conv_hook if isinstance(m, nn.Conv2d) else lin_hook)
          for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in hs:
        h.remove()
    return sum(p.numel() for p in model.parameters()), macs[0]


def same_as_peer(name, ours, classes, in_ch, shape):
    """The peer's net of that name has our state_dict names and shapes, in order, and our output."""
    peer, _, _ = pytorch_bench.build(name, classes, in_ch)
    assert keys_of(peer) == keys_of(ours), name
    fill_model(ours)
    fill_model(peer)
    ours.train()
    peer.train()
    x = make_input(shape)
    a, b = ours(x), peer(x)
    assert torch.equal(a, b), (name, (a - b).abs().max().item())
    print("peer %-12s same names, shapes and output" % name)


def keep(res, stats):
    """Leaves only the running statistics of the BatchNorms named in stats (keeps files small)."""
    res["running_mean"] = {k: v for k, v in res["running_mean"].items() if k.rsplit(".", 1)[0] in stats}
    res["running_var"] = {k: v for k, v in res["running_var"].items() if k.rsplit(".", 1)[0] in stats}
    assert len(res["running_mean"]) == len(stats), sorted(res["running_mean"])
    return res


def main():
    written = []
    params, macs = {}, {}
    for d in [20, 32, 44, 56, 110, 164]:
        params["preresnet%d" % d], macs["preresnet%d" % d] = count(cifar(d), 32)
    for d in [18, 34, 50, 101, 152]:
        params["preresnet%d" % d], macs["preresnet%d" % d] = count(imagenet(d), 224)
    for k in params:
        print("%-13s params %9d  MACs %d" % (k, params[k], macs[k]))
    assert 1.65e6 < params["preresnet110"] < 1.75e6 and 1.65e6 < params["preresnet164"] < 1.75e6  # the paper: 1.7M
    written.append(dump("param_counts_preact.json", {"params": params, "macs": macs}))
    written.append(dump("keys_preresnet20.json", keys_of(cifar(20))))
    written.append(dump("keys_preresnet50.json", keys_of(imagenet(50))))

    same_as_peer("preresnet20", cifar(20), 10, 3, (2, 3, 16, 16))
    same_as_peer("preresnet164", cifar(164), 10, 3, (2, 3, 8, 8))
    same_as_peer("preresnet18", imagenet(18, 10, 1), 10, 1, (2, 1, 32, 32))
    same_as_peer("preresnet50", imagenet(50, 10), 10, 3, (2, 3, 32, 32))

    torch.manual_seed(0)
    written.append(dump("preact_basic_block.json", run_case(
        "preact_basic_block", PreActBasic(4, 8, 2, "B"), (2, 4, 6, 6))))
    written.append(dump("preact_bottleneck.json", run_case(
        "preact_bottleneck", PreActBottleneck(8, 4, 2, "B"), (2, 8, 6, 6))))
    written.append(dump("preresnet20.json", keep(run_case(
        "preresnet20", cifar(20), (2, 3, 16, 16),
        ["conv1.weight", "layer1.0.bn1.weight", "layer1.0.bn1.bias", "layer2.0.bn1.weight", "layer2.0.bn2.bias",
         "layer3.2.bn2.weight", "bn_final.weight", "bn_final.bias", "fc.weight", "fc.bias"]),
        ["layer1.0.bn1", "layer2.0.bn1", "layer2.0.bn2", "layer3.2.bn2", "bn_final"])))
    written.append(dump("preresnet18.json", keep(run_case(
        "preresnet18", imagenet(18, 10, 1), (2, 1, 40, 40),
        ["layer1.0.bn1.weight", "layer1.0.bn1.bias", "layer2.0.bn1.weight", "layer4.1.bn2.weight",
         "bn_final.weight", "bn_final.bias", "fc.bias"]),
        ["layer1.0.bn1", "layer2.0.bn1", "bn_final"])))

    total = 0
    for p in written:
        sz = os.path.getsize(p)
        total += sz
        print("%-26s %8d bytes" % (os.path.basename(p), sz))
    print("%-26s %8d bytes" % ("total", total))
    assert total < 200000


if __name__ == "__main__":
    sys.exit(main())
