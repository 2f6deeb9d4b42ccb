"""The PyTorch side of experiments/deep: one training run of this project's recipe in PyTorch, from
the same settings file the Go side reads (train.Config as JSON, run.json's format), written in the
same form (metrics.jsonl, one runlog record per epoch), so the two are compared run by run.

    /usr/bin/python3 peer.py -config FILE -dir DIR [-stop-after N] [-threads T]

What is the same as train.Run: the net (this project's CIFAR nets with option-A shortcuts,
cmd/trainer/peer/pytorch_bench.py, initialised as graph.Init: Kaiming normal fan_out convolutions,
BN γ=1 β=0, PyTorch's default nn.Linear, each residual branch starting as its shortcut with
zero_init_residual: pytorch_bench.zero_init_residual), the data (the first train_limit / test_limit
Fashion-MNIST images, per-channel mean and std of the training images used), the augmentation
(pad black pixels, random crop, random flip), the batches (shuffled each epoch, last partial batch
dropped), the optimiser (SGD, momentum, Nesterov, weight decay with or without BN and biases), the schedule (train.Schedule: linear or
constant warm-up, ended early by warmup_until_error over the last 10 batches, then step, cosine or
constant), and what a record holds (mean training loss and error of the batches in training mode
before each update, test loss and error in eval mode). What differs: the random streams (PyTorch's
for the weights, NumPy's for shuffling and augmentation), so a seed here is another draw, not Go's.

Resumable: DIR/peer.pt (weights, momentum, random states, warm-up state) is written atomically after
every epoch, with metrics.jsonl; a second call continues after the last epoch written.
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "cmd", "trainer", "peer"))
import pytorch_bench  # noqa: E402  this project's CIFAR nets with its state_dict names

WINDOW = 10  # train.WarmupWindow


def idx(path):
    with gzip.open(path) if path.endswith(".gz") else open(path, "rb") as f:
        b = f.read()
    dims = b[3]
    shape = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(cfg):
    if cfg["data"] != "fashion-mnist":
        sys.exit(f"peer: data {cfg['data']!r}: only fashion-mnist")
    d = cfg.get("data_dir") or "/usr/share/datasets/fashion-mnist"
    def part(stem):
        for name in (stem + ".gz", stem):
            if os.path.exists(os.path.join(d, name)):
                return idx(os.path.join(d, name))
        sys.exit(f"peer: no {stem}(.gz) in {d}")
    xtr, ytr = part("train-images-idx3-ubyte"), part("train-labels-idx1-ubyte")
    xte, yte = part("t10k-images-idx3-ubyte"), part("t10k-labels-idx1-ubyte")
    n, m = cfg.get("train_limit") or len(xtr), cfg.get("test_limit") or len(xte)
    return xtr[:n], ytr[:n].astype(np.int64), xte[:m], yte[:m].astype(np.int64)


def build(cfg):
    net, _, _ = pytorch_bench.build(cfg["model"], 10, in_ch=1)
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    if cfg.get("zero_init_residual"):  # after the init above, which would overwrite it
        pytorch_bench.zero_init_residual(net)
    return net


class Schedule:
    """train.Schedule: the rate of each step (0-based), warm-up first."""

    def __init__(s, cfg, steps_per_epoch):
        s.kind, s.base, s.gamma = cfg["schedule"], cfg["lr"], cfg.get("gamma", 0.1)
        s.milestones = cfg.get("milestones") or []
        s.warmup = int(math.floor(cfg["warmup_epochs"] * steps_per_epoch + 0.5))  # Go's math.Round
        s.warmup_lr = cfg.get("warmup_lr", 0) or 0
        s.total = cfg["epochs"] * steps_per_epoch

    def end_warmup(s, steps):
        if 0 <= steps < s.warmup:
            s.warmup = steps

    def at(s, step):
        if step < s.warmup:
            return s.warmup_lr if s.warmup_lr > 0 else s.base * (step + 1) / s.warmup
        t, n = step - s.warmup, s.total - s.warmup
        if s.kind == "step":
            lr = s.base
            for m in s.milestones:
                if t >= math.floor(m * n + 0.5):
                    lr *= s.gamma
            return lr
        if s.kind == "cosine":
            return s.base * (1 + math.cos(math.pi * t / n)) / 2
        return s.base


def evaluate(net, x, y, batch):
    net.eval()
    loss = wrong = 0.0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            o = net(torch.from_numpy(x[i:i + batch]))
            yb = torch.from_numpy(y[i:i + batch])
            loss += F.cross_entropy(o, yb, reduction="sum").item()
            wrong += (o.argmax(1) != yb).sum().item()
    return loss / len(x), wrong / len(x)


def save_atomic(path, write):
    tmp = f"{path}.tmp-{os.getpid()}"
    write(tmp)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-config", required=True)
    ap.add_argument("-dir", required=True)
    ap.add_argument("-stop-after", type=int, default=0)
    ap.add_argument("-threads", type=int, default=1)
    a = ap.parse_args()
    with open(a.config) as f:
        cfg = json.load(f)
    if cfg.get("dtype", "float32") != "float32" or cfg.get("val", 0) or cfg.get("init"):
        sys.exit("peer: float32 runs without a validation set or -init only")
    torch.set_num_threads(a.threads)
    os.makedirs(a.dir, exist_ok=True)
    state_path, metrics_path = os.path.join(a.dir, "peer.pt"), os.path.join(a.dir, "metrics.jsonl")

    xtr, ytr, xte, yte = load(cfg)
    mean, std = xtr.astype(np.float64).mean() / 255, xtr.astype(np.float64).std() / 255
    lut = ((np.arange(256) / 255 - mean) / std).astype(np.float32)  # a black pad pixel is lut[0]
    pad, B = cfg["pad"], cfg["batch"]
    xtr_p = np.pad(xtr, ((0, 0), (pad, pad), (pad, pad)))  # 0 bytes: black, as the Go loader pads
    xte_n = lut[xte][:, None]
    spe = len(xtr) // B
    sched = Schedule(cfg, spe)

    torch.manual_seed(cfg["seed"])
    net = build(cfg)
    decay, no_decay = [], []
    for _, p in net.named_parameters():
        (no_decay if cfg.get("no_decay_1d") and p.dim() == 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg["weight_decay"]}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    opt = torch.optim.SGD(groups, lr=cfg["lr"], momentum=cfg["momentum"], nesterov=cfg.get("nesterov", False))
    rng = np.random.default_rng(cfg["seed"])
    st = {"epoch": 0, "step": 0, "wall_s": 0.0, "warmup_end": 0, "warmup_errors": []}
    records = []
    if os.path.exists(state_path):
        ck = torch.load(state_path)
        net.load_state_dict(ck["net"]); opt.load_state_dict(ck["opt"])
        rng.bit_generator.state = ck["numpy"]; torch.set_rng_state(ck["torch"])
        st = ck["state"]
        with open(metrics_path) as f:
            records = [json.loads(line) for line in f if line.strip()][:st["epoch"]]
        if st["warmup_end"] > 0:
            sched.end_warmup(st["warmup_end"])
    last = cfg["epochs"] if a.stop_after <= 0 else min(cfg["epochs"], a.stop_after)
    seg_start, wall_before = time.time(), st["wall_s"]
    for epoch in range(st["epoch"] + 1, last + 1):
        t0 = time.time()
        net.train()
        perm = rng.permutation(len(xtr))
        loss_sum, wrong, n = 0.0, 0, 0
        for k in range(spe):
            ix = perm[k * B:(k + 1) * B]
            oy, ox = rng.integers(0, 2 * pad + 1, B), rng.integers(0, 2 * pad + 1, B)
            xb = np.stack([xtr_p[i, a:a + 28, b:b + 28] for i, a, b in zip(ix, oy, ox)])
            if cfg.get("flip"):
                flip = rng.random(B) < 0.5
                xb[flip] = xb[flip, :, ::-1]
            xb = torch.from_numpy(np.ascontiguousarray(lut[xb])[:, None])
            yb = torch.from_numpy(ytr[ix])
            lr = sched.at(st["step"])
            for g in opt.param_groups:
                g["lr"] = lr
            out = net(xb)
            loss = F.cross_entropy(out, yb)
            lv = loss.item()
            if not math.isfinite(lv) or lv > 1e6:  # train.MaxLoss
                finish(a.dir, records, "diverged", f"epoch {epoch}, step {st['step'] + 1} (lr {lr:g}): loss diverged ({lv:g})")
                return
            opt.zero_grad()
            loss.backward()
            opt.step()
            st["step"] += 1
            w = (out.argmax(1) != yb).sum().item()
            loss_sum, wrong, n = loss_sum + lv, wrong + w, n + B
            watch_warmup(cfg, sched, st, w / B)
        train_s = time.time() - t0
        tl, te = evaluate(net, xte_n, yte, cfg.get("eval_batch") or 500)
        if not math.isfinite(tl):
            finish(a.dir, records, "diverged", f"epoch {epoch}: loss diverged: test loss {tl:g}")
            return
        st["epoch"], st["wall_s"] = epoch, wall_before + time.time() - seg_start
        records.append({"epoch": epoch, "step": st["step"], "lr": sched.at(st["step"] - 1),
                        "train_loss": loss_sum / spe, "train_error": wrong / n, "val_loss": None, "val_error": None,
                        "test_loss": tl, "test_error": te, "img_per_s": n / train_s,
                        "epoch_s": time.time() - t0, "wall_s": st["wall_s"]})
        save_atomic(metrics_path, lambda p: open(p, "w").write("".join(json.dumps(r) + "\n" for r in records)))
        save_atomic(state_path, lambda p: torch.save({"net": net.state_dict(), "opt": opt.state_dict(),
                                                      "numpy": rng.bit_generator.state, "torch": torch.get_rng_state(),
                                                      "state": st}, p))
        print(f"epoch {epoch}/{cfg['epochs']}  lr {records[-1]['lr']:.4g}  train loss {loss_sum / spe:.4f} "
              f"err {100 * wrong / n:.2f}%  test loss {tl:.4f} err {100 * te:.2f}%  {time.time() - t0:.0f} s", flush=True)
    finish(a.dir, records, "done" if last == cfg["epochs"] else "stopped", "")


def watch_warmup(cfg, sched, st, err):
    """train.run.watchWarmup."""
    if not cfg.get("warmup_until_error") or st["warmup_end"] > 0 or st["step"] >= sched.warmup:
        return
    st["warmup_errors"] = (st["warmup_errors"] + [err])[-WINDOW:]
    if len(st["warmup_errors"]) == WINDOW and sum(e / WINDOW for e in st["warmup_errors"]) < cfg["warmup_until_error"]:
        st["warmup_end"], st["warmup_errors"] = st["step"], []
        sched.end_warmup(st["step"])
        print(f"warm-up at lr {cfg['warmup_lr']:g} ended after step {st['step']}", flush=True)


def finish(d, records, status, message):
    print(message or status, flush=True)
    save_atomic(os.path.join(d, "status.json"),
                lambda p: open(p, "w").write(json.dumps({"status": status, "message": message, "epochs": len(records)})))


if __name__ == "__main__":
    main()
