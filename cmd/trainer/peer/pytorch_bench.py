"""The PyTorch peer of `trainer compare`: training or inference throughput of exactly the nets
this project builds, so that the two are compared like for like.

    /usr/bin/python3 pytorch_bench.py MODEL BATCH [threads] [steps]

MODEL: resnetD / plainD for CIFAR depths D = 6n+2 (20, 32, 44, 56, 110, ...: 3x32x32 input, 10
classes, option-A shortcuts as the paper's CIFAR nets and this project's: stride-2 subsampling and
zero channels, no parameters), or torchvision's resnet18 ... resnet152 (3x224x224, 1000 classes,
projection shortcuts); a -infer suffix times inference in eval mode instead of SGD steps.
Prints one line: '<model> bs=<b> threads=<t> <img/s> img/s'.
"""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class ShortcutA(nn.Module):
    """Option A: x[:, :, ::s, ::s] with (out - in) zero channels, half before and half after."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride, self.lo, self.hi = stride, (cout - cin) // 2, cout - cin - (cout - cin) // 2

    def forward(self, x):
        return F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, self.lo, self.hi))


class Block(nn.Module):
    def __init__(self, cin, cout, stride, residual):
        super().__init__()
        self.residual = residual
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = ShortcutA(cin, cout, stride) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.shortcut(x)) if self.residual else F.relu(out)


class CIFARNet(nn.Module):
    """He et al. (2016), section 4.2: a 3x3 stem, three stages of n blocks (16, 32, 64 wide).
    Its state_dict names are this project's (conv1, bn1, layer1.0.conv1, ..., fc), so a net
    exported by `trainer export` loads with strict=True."""

    def __init__(self, depth, residual=True, in_ch=3, classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_ch, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        cin = 16
        for stage, cout in enumerate([16, 32, 64]):
            blocks = []
            for k in range(n):
                blocks.append(Block(cin, cout, 2 if stage > 0 and k == 0 else 1, residual))
                cin = cout
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(x.mean((2, 3)))


def build(base, classes=None, in_ch=3):
    for prefix, residual in (("resnet", True), ("plain", False)):
        depth = base[len(prefix):]
        if base.startswith(prefix) and depth.isdigit() and base not in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152"):
            d = int(depth)
            if d < 8 or (d - 2) % 6:
                sys.exit(f"{base}: not a CIFAR depth 6n+2")
            return CIFARNet(d, residual, in_ch, classes or 10), 32, classes or 10
    if base in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152"):
        return getattr(torchvision.models, base)(num_classes=classes or 1000), 224, classes or 1000
    sys.exit(f"unknown model {base!r}")


def main():
    name, bs = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
    steps = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    torch.manual_seed(0)
    infer = name.endswith("-infer")
    m, size, classes = build(name.removesuffix("-infer"))
    x = torch.randn(bs, 3, size, size)
    y = torch.randint(0, classes, (bs,))
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)

    def step():
        if infer:
            with torch.no_grad():
                m(x)
            return
        opt.zero_grad()
        F.cross_entropy(m(x), y).backward()
        opt.step()

    if infer:
        m.eval()
    for _ in range(2):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    dt = (time.perf_counter() - t) / steps
    print(f"{name} bs={bs} threads={torch.get_num_threads()} {bs / dt:.1f} img/s")


if __name__ == "__main__":
    main()
