"""The PyTorch side of experiments/lockstep (main.go runs it; Debian's /usr/bin/python3 with torch):

    /usr/bin/python3 lockstep.py -dir DIR [-threads T]

DIR holds what the Go side wrote: meta.json (model, shapes, dtype, steps, the learning rate of
every step, momentum, weight decay, the layers to record), initial.safetensors (the initial
weights and BatchNorm statistics, this project's state_dict names), batches.bin (per step, Batch
int32 labels then Batch*C*H*W inputs in the dtype, little-endian, C order), grads1.safetensors
(Go's gradients at step 1) and final.safetensors (Go's weights after the last step).

It loads the initial weights with strict=True into CIFARNet (cmd/trainer/peer/pytorch_bench.py,
this project's net and names: option-A shortcuts), in float64 with .double() when the dtype says
so, trains the same steps on the same batches with torch.optim.SGD at the same learning rates,
and records per step, after backward and before the update, what the Go side records: loss, lr,
the global gradient norm, the gradient norm of each of grad_layers, the mean running_var and the
RMS of running_mean of each of bn_layers. It also compares, for every parameter, its gradient at
step 1 and, for every tensor, its value after the last step with Go's. Writes DIR/torch.json.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "cmd", "trainer", "peer"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "train", "weights", "testdata"))

import pytorch_bench  # noqa: E402  this project's CIFAR nets with its state_dict names
from torch_reads import read_safetensors  # noqa: E402


def rel(a, b):
    """||a - b|| / ||b|| in float64 (0 when both are 0)."""
    a, b = a.double(), b.double()
    d, n = torch.linalg.norm(a - b).item(), torch.linalg.norm(b).item()
    return d / n if n > 0 else (0.0 if d == 0 else 1e300)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-dir", required=True)
    ap.add_argument("-threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    d = args.dir
    with open(os.path.join(d, "meta.json")) as f:
        m = json.load(f)
    dtype = {"float32": torch.float32, "float64": torch.float64}[m["dtype"]]
    npdtype = {"float32": "<f4", "float64": "<f8"}[m["dtype"]]

    model = pytorch_bench.build(m["model"], m["classes"], m["c"])[0]
    if dtype == torch.float64:
        model = model.double()
    sd, _ = read_safetensors(os.path.join(d, "initial.safetensors"))
    model.load_state_dict(sd, strict=True)  # converts to the model's dtype
    model.train()
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    opt = torch.optim.SGD(model.parameters(), lr=m["lrs"][0], momentum=m["momentum"], weight_decay=m["weight_decay"])

    b, c, h, w = m["batch"], m["c"], m["h"], m["w"]
    size = 8 if dtype == torch.float64 else 4
    stride = b * 4 + b * c * h * w * size
    raw = np.memmap(os.path.join(d, "batches.bin"), dtype=np.uint8, mode="r")
    assert raw.size == stride * m["steps"], "batches.bin has %d bytes, want %d" % (raw.size, stride * m["steps"])

    go_grads, _ = read_safetensors(os.path.join(d, "grads1.safetensors"))
    grad1 = {}
    steps = []
    start = time.perf_counter()
    for k in range(m["steps"]):
        rec = raw[k * stride:(k + 1) * stride]
        y = torch.from_numpy(np.frombuffer(rec[:b * 4].tobytes(), dtype="<i4").astype(np.int64))
        x = torch.from_numpy(np.frombuffer(rec[b * 4:].tobytes(), dtype=npdtype).reshape(b, c, h, w).copy())
        for g in opt.param_groups:
            g["lr"] = m["lrs"][k]
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        r = {"loss": loss.item(), "lr": m["lrs"][k]}
        total = 0.0
        for name, p in params.items():
            ss = p.grad.double().pow(2).sum().item()
            total += ss
            if name in m["grad_layers"]:
                r["grad:" + name] = math.sqrt(ss)
        r["grad_norm"] = math.sqrt(total)
        for bn in m["bn_layers"]:
            r["running_var:" + bn] = buffers[bn + ".running_var"].double().mean().item()
            r["running_mean_rms:" + bn] = buffers[bn + ".running_mean"].double().pow(2).mean().sqrt().item()
        steps.append(r)
        if k == 0:
            for name, p in params.items():
                grad1[name] = (rel(go_grads[name], p.grad), torch.linalg.norm(p.grad.double()).item())
        opt.step()
        if (k + 1) % 10 == 0 or k + 1 == m["steps"]:
            print("  torch %s step %d/%d loss %.5f  %.2f s/step" % (m["dtype"], k + 1, m["steps"], r["loss"],
                                                                    (time.perf_counter() - start) / (k + 1)), flush=True)
    seconds = time.perf_counter() - start

    go_final, _ = read_safetensors(os.path.join(d, "final.safetensors"))
    own = model.state_dict()
    out = []
    for name, t in own.items():
        if name.endswith("num_batches_tracked"):
            continue
        g = grad1.get(name)
        out.append({"name": name, "grad1_rel": g[0] if g else None, "grad1_norm": g[1] if g else None,
                    "final_rel": rel(go_final[name], t)})
    with open(os.path.join(d, "torch.json"), "w") as f:
        json.dump({"steps": steps, "params": out, "seconds": seconds}, f, indent=1)


if __name__ == "__main__":
    main()
