"""The lesson's ResNet (the seed document this project implements), and its golden data.

The model code below is the lesson's, verbatim: the widely used from-scratch PyTorch ResNet with
BasicBlock/Bottleneck and `expansion`, every nn.Conv2d with its default bias=True, projections
named `shortcut` (nn.Sequential(conv 1x1 with stride, BatchNorm2d)), an ImageNet stem (conv 7x7/2,
BN, ReLU, max pool 3x3/2) and AdaptiveAvgPool2d + Linear. Its ResNet18(num_classes=1000) has
11,694,312 parameters: torchvision's 11,689,512 plus 4,800 convolution biases.

Import it (`from lesson_resnet import ResNet18`, with resnet/testdata on sys.path) to build the
lesson's models elsewhere, e.g. to export weights for the Go models "lesson-resnet18" etc., whose
parameter names and shapes equal this module's state_dict() keys.

Run:  cd resnet/testdata && /usr/bin/python3 lesson_resnet.py
Outputs (next to this script, compact JSON):
  keys_lesson-resnet18.json, keys_lesson-resnet50.json -- [[name, shape], ...] of the models'
        state_dict() (num_classes=1000) in order, without names ending in "num_batches_tracked".
  param_counts_lesson.json -- {"params": {...}, "macs": {...}} for lesson-resnet18 ... 152
        (1000 classes); params = sum(p.numel() for p in parameters()); MACs at 1x3x224x224 with
        gen_golden.py's hooks (Conv2d: out.numel()*in_channels/groups*kh*kw, Linear: in*out; the
        biases add no MACs).
  lesson_resnet18.json -- a parity case in gen_golden.py's format and fill convention (conv biases
        0.1*base): ResNet18(num_classes=10) in evaluation mode (so every bias reaches the output),
        input (1,3,32,32), gradients of a few biases and BatchNorm weights. Without batch
        statistics the activations grow block after block: gradients reach ~5e4.
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------- the lesson's code, verbatim

class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super(BasicBlock, self).__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1)
        self.bn2 = nn.BatchNorm2d(planes)

        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride),
                nn.BatchNorm2d(self.expansion * planes)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        out = F.relu(out)
        return out


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_planes, planes, stride=1):
        super(Bottleneck, self).__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, self.expansion * planes, kernel_size=1)
        self.bn3 = nn.BatchNorm2d(self.expansion * planes)

        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride),
                nn.BatchNorm2d(self.expansion * planes)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += self.shortcut(x)
        out = F.relu(out)
        return out


class ResNet(nn.Module):
    def __init__(self, block, num_blocks, num_classes=1000):
        super(ResNet, self).__init__()
        self.in_planes = 64

        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, num_blocks[0], stride=1)
        self.layer2 = self._make_layer(block, 128, num_blocks[1], stride=2)
        self.layer3 = self._make_layer(block, 256, num_blocks[2], stride=2)
        self.layer4 = self._make_layer(block, 512, num_blocks[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, num_blocks, stride):
        strides = [stride] + [1] * (num_blocks - 1)
        layers = []
        for stride in strides:
            layers.append(block(self.in_planes, planes, stride))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.maxpool(out)
        out = self.layer1(out)
        out = self.layer2(out)
        out = self.layer3(out)
        out = self.layer4(out)
        out = self.avgpool(out)
        out = torch.flatten(out, 1)
        out = self.fc(out)
        return out


def ResNet18(num_classes=1000):
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes)


def ResNet34(num_classes=1000):
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes)


def ResNet50(num_classes=1000):
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes)


def ResNet101(num_classes=1000):
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes)


def ResNet152(num_classes=1000):
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes)


# ---------------------------------------------------------------- golden data for the Go tests

# The Go model names (resnet.ByName) of the lesson's constructors.
MODELS = {
    "lesson-resnet18": ResNet18,
    "lesson-resnet34": ResNet34,
    "lesson-resnet50": ResNet50,
    "lesson-resnet101": ResNet101,
    "lesson-resnet152": ResNet152,
}


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


def dump(fname, obj):
    path = os.path.join(HERE, fname)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    return path


def main():
    import gen_golden  # next to this script: the parity-case runner and its fill convention

    torch.manual_seed(0)
    written = []
    params, macs = {}, {}
    for name, make in MODELS.items():
        m = make(num_classes=1000)
        if name in ("lesson-resnet18", "lesson-resnet50"):
            written.append(dump("keys_%s.json" % name, keys_of(m)))
        params[name] = sum(p.numel() for p in m.parameters())
        macs[name] = count_macs(m)
        print("%-17s params %d  MACs %d" % (name, params[name], macs[name]))
    assert params["lesson-resnet18"] == 11694312, params["lesson-resnet18"]
    written.append(dump("param_counts_lesson.json", {"params": params, "macs": macs}))

    case = gen_golden.run_case("lesson_resnet18", ResNet18(num_classes=10), (1, 3, 32, 32), [
        "conv1.bias", "bn1.weight", "layer1.0.conv1.bias", "layer1.1.conv2.bias",
        "layer2.0.shortcut.0.bias", "layer2.0.shortcut.1.weight", "layer3.1.conv1.bias",
        "layer4.0.shortcut.0.bias", "layer4.1.conv2.bias", "fc.bias"], train=False, max_grad=1e6)
    written.append(dump("lesson_resnet18.json", case))
    for p in written:
        print("%-30s %8d bytes" % (os.path.basename(p), os.path.getsize(p)))


if __name__ == "__main__":
    sys.exit(main())
