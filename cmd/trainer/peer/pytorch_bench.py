"""The PyTorch peer of `trainer compare`: training or inference throughput of exactly the nets
this project builds, so that the two are compared like for like.

    /usr/bin/python3 pytorch_bench.py MODEL BATCH [threads] [steps]

MODEL: resnetD / plainD for CIFAR depths D = 6n+2 (20, 32, 44, 56, 110, ...: 3x32x32 input, 10
classes, option-A shortcuts as the paper's CIFAR nets and this project's: stride-2 subsampling and
zero channels, no parameters), or torchvision's resnet18 ... resnet152 (3x224x224, 1000 classes,
projection shortcuts), or the pre-activation nets of He et al. 2016b (resnet.PreActCIFAR,
resnet.PreActImageNet): preresnetD / preplainD for CIFAR depths D = 6n+2 (basic blocks, option A)
or 9n+2 (bottlenecks, projections; 164, 1001; where D is both, basic below 164), and
preresnet18 ... preresnet152 (3x224x224, 1000 classes); a -infer suffix times inference in eval
mode instead of SGD steps. Prints one line: '<model> bs=<b> threads=<t> <img/s> img/s'.

Every net has this project's state_dict names, so weights move both ways with strict=True;
zero_init_residual(net) is graph.Config.ZeroInitResidual.
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


class PreActBlock(nn.Module):
    """He et al. (2016b), 'Identity Mappings in Deep Residual Networks': BN-ReLU-conv throughout
    the branch (basic: 3x3, 3x3; bottleneck: 1x1, 3x3 with the stride, 1x1 to 4*planes) and no
    ReLU after the addition. The first BN-ReLU is the block's pre-activation: a projection
    (downsample.0, a 1x1 conv with no BN, as the paper's code) takes it, option A the raw input.
    Names as blocks.Config.PreAct: bn1, conv1, bn2, conv2, (bn3, conv3,) downsample.0."""

    def __init__(self, cin, planes, stride, residual, bottleneck, projection):
        super().__init__()
        self.residual, self.bottleneck = residual, bottleneck
        cout = 4 * planes if bottleneck else planes
        self.bn1 = nn.BatchNorm2d(cin)
        if bottleneck:
            self.conv1 = nn.Conv2d(cin, planes, 1, 1, 0, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, cout, 1, 1, 0, bias=False)
        else:
            self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.downsample = self.shortcut = None
        if residual and (stride != 1 or cin != cout):
            if projection:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False))
            else:
                self.shortcut = ShortcutA(cin, cout, stride)

    def last_conv(self):
        return self.conv3 if self.bottleneck else self.conv2

    def forward(self, x):
        pre = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(pre))))
        if self.bottleneck:
            out = self.conv3(F.relu(self.bn3(out)))
        if not self.residual:
            return out
        if self.downsample is not None:
            return out + self.downsample(pre)
        if self.shortcut is not None:
            return out + self.shortcut(x)
        return out + x


class PreActNet(nn.Module):
    """The pre-activation ResNets (resnet.Spec with PreAct): a stem that is its convolution alone
    (CIFAR: 3x3, 16; ImageNet: 7x7/2, 64, then the 3x3/2 max pool), stages of PreActBlocks, then
    bn_final -> ReLU -> global average pool -> fc."""

    def __init__(self, stages, widths, bottleneck, projection, imagenet, residual=True, in_ch=3, classes=10):
        super().__init__()
        cin = 64 if imagenet else widths[0]
        self.conv1 = nn.Conv2d(in_ch, cin, 7, 2, 3, bias=False) if imagenet else nn.Conv2d(in_ch, cin, 3, 1, 1, bias=False)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if imagenet else nn.Identity()
        for stage, (planes, n) in enumerate(zip(widths, stages)):
            blocks = []
            for k in range(n):
                blocks.append(PreActBlock(cin, planes, 2 if stage > 0 and k == 0 else 1, residual, bottleneck, projection))
                cin = 4 * planes if bottleneck else planes
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.stages = len(stages)
        self.bn_final = nn.BatchNorm2d(cin)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        for i in range(self.stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(F.relu(self.bn_final(x)).mean((2, 3)))


IMAGENET = {18: (False, [2, 2, 2, 2]), 34: (False, [3, 4, 6, 3]), 50: (True, [3, 4, 6, 3]),
            101: (True, [3, 4, 23, 3]), 152: (True, [3, 8, 36, 3])}


def preact(depth, residual, in_ch, classes):
    """resnet.ByName's preresnetD / preplainD: torchvision's depths in the ImageNet layout, others
    as resnet.PreActCIFAR (6n+2 basic with option A, 9n+2 bottlenecks with projections; where D
    is both, basic below 164). Returns the net, its input size and its classes."""
    if depth in IMAGENET:
        bottleneck, stages = IMAGENET[depth]
        return PreActNet(stages, [64, 128, 256, 512], bottleneck, True, True, residual, in_ch, classes or 1000), 224, classes or 1000
    basic, bottleneck = depth >= 8 and (depth - 2) % 6 == 0, depth >= 11 and (depth - 2) % 9 == 0
    if basic and bottleneck:
        basic, bottleneck = depth < 164, depth >= 164
    if not (basic or bottleneck):
        sys.exit(f"pre-activation depth {depth}: not 6n+2 (basic) or 9n+2 (bottleneck)")
    n = (depth - 2) // (9 if bottleneck else 6)
    return PreActNet([n] * 3, [16, 32, 64], bottleneck, bottleneck, False, residual, in_ch, classes or 10), 32, classes or 10


def zero_init_residual(net):
    """graph.Config.ZeroInitResidual: every residual block starts as its shortcut. A post-activation
    block's last BN starts at gamma 0 (torchvision's zero_init_residual); a pre-activation block's
    branch ends with a conv, whose weight starts at 0 instead (as timm's ResNetV2 zero_init_last:
    zeroing its last BN, which a ReLU follows, would leave gamma and beta without a gradient).
    Plain twins are left as they are."""
    for m in net.modules():
        if isinstance(m, Block) and m.residual:
            nn.init.zeros_(m.bn2.weight)
        elif isinstance(m, PreActBlock) and m.residual:
            nn.init.zeros_(m.last_conv().weight)
        elif isinstance(m, torchvision.models.resnet.BasicBlock):
            nn.init.zeros_(m.bn2.weight)
        elif isinstance(m, torchvision.models.resnet.Bottleneck):
            nn.init.zeros_(m.bn3.weight)


def build(base, classes=None, in_ch=3):
    for prefix, residual in (("preresnet", True), ("preplain", False)):
        if base.startswith(prefix) and base[len(prefix):].isdigit():
            return preact(int(base[len(prefix):]), residual, in_ch, classes)
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
