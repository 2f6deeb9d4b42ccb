"""PyTorch's side of the weights tests (train/weights_test.go), run with Debian's /usr/bin/python3:

    torch_models.py make OUT MODEL CLASSES SIZE SEED   random weights with non-trivial BatchNorm
        statistics (eval mode), saved as OUT/model.pth (torch.save of the state_dict) and
        OUT/model.safetensors (reference writer), an input OUT/x.f32 (2x3xSIZExSIZE) and the
        logits PyTorch computes for it, OUT/logits.f32 (raw little-endian float32)
    torch_models.py logits WEIGHTS.safetensors MODEL CLASSES X.f32 C SIZE OUT.f32   loads a file
        written by this project into the PyTorch model with strict=True and writes its logits
    torch_models.py predict WEIGHTS.pth IMAGE.png   top-5 classes and probabilities of a
        224x224 RGB image with ImageNet's normalisation, as JSON

MODEL is torchvision's resnet18 ... resnet152, lesson-resnet18 ... for the lesson's own model
(resnet/testdata/lesson_resnet.py, its code verbatim), or a CIFAR net resnetD / plainD or a
pre-activation net preresnetD / preplainD (preresnet18 ... preresnet152 included)
(cmd/trainer/peer/pytorch_bench.py, with this project's state_dict names).
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "weights", "testdata"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "resnet", "testdata"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "cmd", "trainer", "peer"))


def build(name, classes, in_ch=3):
    if name not in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152") and name[-1].isdigit() and not name.startswith("lesson-"):
        import pytorch_bench  # this project's CIFAR nets, with its state_dict names
        return pytorch_bench.build(name, classes, in_ch)[0]
    if name.startswith("lesson-"):
        import lesson_resnet
        depth = name[len("lesson-resnet"):]
        return getattr(lesson_resnet, "ResNet" + depth)(num_classes=classes)
    return getattr(torchvision.models, name)(num_classes=classes)


def randomise(m, seed):
    """Non-trivial BatchNorm statistics and affine parameters, so that eval mode is tested."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                n = mod.num_features
                mod.weight.copy_(0.5 + torch.rand(n, generator=g))
                mod.bias.copy_(0.1 * torch.randn(n, generator=g))
                mod.running_mean.copy_(0.1 * torch.randn(n, generator=g))
                mod.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=g))
                mod.num_batches_tracked.fill_(7)
            elif isinstance(mod, torch.nn.Conv2d) and mod.bias is not None:
                mod.bias.copy_(0.05 * torch.randn(mod.bias.shape, generator=g))


def write_safetensors(path, sd):
    header, chunks, at = {}, [], 0
    names = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}
    for k, t in sd.items():
        data = t.contiguous().numpy().tobytes()
        header[k] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [at, at + len(data)]}
        chunks.append(data)
        at += len(data)
    h = json.dumps(header, sort_keys=True).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))


def make(out, name, classes, size, seed):
    torch.manual_seed(seed)
    m = build(name, classes)
    randomise(m, seed)
    m.eval()
    sd = m.state_dict()
    torch.save(sd, os.path.join(out, "model.pth"))
    write_safetensors(os.path.join(out, "model.safetensors"), sd)
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        y = m(x)
    x.numpy().astype("<f4").tofile(os.path.join(out, "x.f32"))
    y.numpy().astype("<f4").tofile(os.path.join(out, "logits.f32"))


def logits(path, name, classes, xpath, c, size, out):
    from torch_reads import read_safetensors
    sd, _ = read_safetensors(path)
    m = build(name, classes, c)
    m.load_state_dict(sd, strict=True)
    m.eval()
    x = torch.from_numpy(np.fromfile(xpath, dtype="<f4").reshape(-1, c, size, size))
    with torch.no_grad():
        m(x).numpy().astype("<f4").tofile(out)


def predict(pth, image):
    from PIL import Image
    m = torchvision.models.resnet18(num_classes=1000)
    m.load_state_dict(torch.load(pth), strict=True)
    m.eval()
    img = np.asarray(Image.open(image).convert("RGB"), dtype=np.float32) / 255
    x = torch.from_numpy(img).permute(2, 0, 1)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    x = ((x - mean[:, None, None]) / std[:, None, None])[None]
    with torch.no_grad():
        p = torch.softmax(m(x), 1)[0].double()
    top = torch.topk(p, 5)
    print(json.dumps([{"class": int(c), "prob": float(v)} for v, c in zip(top.values, top.indices)]))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
    elif cmd == "logits":
        logits(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6]), int(sys.argv[7]), sys.argv[8])
    elif cmd == "predict":
        predict(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {cmd!r}")
