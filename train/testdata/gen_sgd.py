"""Golden data for train.SGD and train.Schedule: torch.optim.SGD and torch.optim.lr_scheduler.

Run with Debian's PyTorch: /usr/bin/python3 gen_sgd.py (writes sgd.json next to this file).
"""
import json
import math
import os

import torch

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
STEPS = 6
w0 = torch.randn(3, 2)
b0 = torch.randn(3)
grads = [(torch.randn(3, 2), torch.randn(3)) for _ in range(STEPS)]


def lrs(make, base, total):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base)
    sched = make(opt)
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def sgd_case(name, lr, momentum, wd, nesterov=False, no_decay_1d=False, schedule=None):
    w = torch.nn.Parameter(w0.clone())
    b = torch.nn.Parameter(b0.clone())
    if no_decay_1d:
        groups = [{"params": [w]}, {"params": [b], "weight_decay": 0.0}]
    else:
        groups = [{"params": [w, b]}]
    opt = torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=wd, nesterov=nesterov)
    sched = schedule(opt) if schedule else None
    ws, bs, used = [], [], []
    for gw, gb in grads:
        used.append(opt.param_groups[0]["lr"])
        w.grad, b.grad = gw.clone(), gb.clone()
        opt.step()
        if sched:
            sched.step()
        ws.append(w.detach().flatten().tolist())
        bs.append(b.detach().flatten().tolist())
    return {"name": name, "lr": lr, "momentum": momentum, "weight_decay": wd, "nesterov": nesterov,
            "no_decay_1d": no_decay_1d, "lrs": used, "w": ws, "b": bs}


total = 12
warm = 3
cases = [
    sgd_case("momentum+decay", 0.1, 0.9, 5e-2),
    sgd_case("nesterov", 0.1, 0.9, 5e-2, nesterov=True),
    sgd_case("no decay on 1-D", 0.1, 0.9, 5e-2, no_decay_1d=True),
    sgd_case("plain", 0.05, 0.0, 1e-2),
    sgd_case("nesterov, cosine lr", 0.1, 0.9, 5e-2, nesterov=True,
             schedule=lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=STEPS)),
]
schedules = {
    # Milestones 0.5 and 0.75 of 12 steps: 6 and 9.
    "step": lrs(lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [6, 9], gamma=0.1), 0.1, total),
    "cosine": lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=total), 0.1, total),
    "warmup+cosine": lrs(lambda o: torch.optim.lr_scheduler.SequentialLR(o, [
        torch.optim.lr_scheduler.LinearLR(o, start_factor=1 / warm, end_factor=1.0, total_iters=warm - 1),
        torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=total - warm)], milestones=[warm]), 0.1, total),
    # The headline runs' schedule: the drops count the steps after the warm-up (SequentialLR
    # restarts the second scheduler at 0), at round(m·(total − warm)) for milestones m = 0.5 and
    # 0.75, halves rounded up as Go's math.Round does: steps 3 + 5 and 3 + 7.
    "warmup+step": lrs(lambda o: torch.optim.lr_scheduler.SequentialLR(o, [
        torch.optim.lr_scheduler.LinearLR(o, start_factor=1 / warm, end_factor=1.0, total_iters=warm - 1),
        torch.optim.lr_scheduler.MultiStepLR(o, [math.floor(m * (total - warm) + 0.5) for m in (0.5, 0.75)], gamma=0.1)],
        milestones=[warm]), 0.1, total),
}
out = {"torch": torch.__version__, "w0": w0.flatten().tolist(), "b0": b0.tolist(),
       "grads_w": [g.flatten().tolist() for g, _ in grads], "grads_b": [g.tolist() for _, g in grads],
       "cases": cases, "schedules": schedules, "total": total, "warmup": warm}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "sgd.json"), "w") as f:
    json.dump(out, f, indent=1)
