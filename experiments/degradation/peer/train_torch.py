"""PyTorch peer of the degradation study's recipe, to tell the recipe's behaviour from this
project's: trains a CIFAR-style net (option-A shortcuts, as the Go nets) on Fashion-MNIST with the
same settings and prints the mean training loss every 39 steps and the errors after every epoch.

  /usr/bin/python3 experiments/degradation/peer/train_torch.py resnet56 [epochs-run] [epochs-schedule] [seed]

The schedule is that of a run of epochs-schedule epochs (default 6): linear warm-up over the first
epoch, lr 0.1 ÷10 at 50% and 75% of the steps after it; epochs-run (default 3) of them are run.
SGD momentum 0.9, weight decay 1e-4 on every parameter, batch 128 (last partial batch dropped),
4-pixel zero padding + random 28×28 crops + horizontal flips, per-channel normalisation."""
import gzip, math, sys, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"

def idx(name):
    with gzip.open(f"{DATA}/{name}.gz") as f:
        b = f.read()
    dims = b[3]
    shape = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * dims).reshape(shape)

class Block(nn.Module):
    def __init__(s, i, o, st, residual):
        super().__init__()
        s.residual, s.pad, s.st = residual, o - i, st
        s.c1 = nn.Conv2d(i, o, 3, st, 1, bias=False); s.b1 = nn.BatchNorm2d(o)
        s.c2 = nn.Conv2d(o, o, 3, 1, 1, bias=False); s.b2 = nn.BatchNorm2d(o)
    def forward(s, x):
        o = s.b2(s.c2(F.relu(s.b1(s.c1(x)))))
        if not s.residual:
            return F.relu(o)
        sc = x[:, :, ::s.st, ::s.st]
        if s.pad:  # option A: subsample, zero channels on both sides
            sc = F.pad(sc, (0, 0, 0, 0, s.pad // 2, s.pad - s.pad // 2))
        return F.relu(o + sc)

class Net(nn.Module):
    def __init__(s, depth, residual):
        super().__init__()
        n = (depth - 2) // 6
        s.c = nn.Conv2d(1, 16, 3, 1, 1, bias=False); s.b = nn.BatchNorm2d(16)
        L, i = [], 16
        for si, o in enumerate([16, 32, 64]):
            for k in range(n):
                L.append(Block(i, o, 2 if si > 0 and k == 0 else 1, residual)); i = o
        s.l = nn.Sequential(*L); s.fc = nn.Linear(64, 10)
        for m in s.modules():  # torchvision's init, as graph.Init
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    def forward(s, x):
        return s.fc(s.l(F.relu(s.b(s.c(x)))).mean((2, 3)))

def main():
    model = sys.argv[1] if len(sys.argv) > 1 else "resnet56"
    run_epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    sched_epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 6
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    torch.set_num_threads(2); torch.manual_seed(seed); rng = np.random.default_rng(seed)
    residual = model.startswith("resnet")
    net = Net(int(model.lstrip("resnetplain")), residual)
    xtr = idx("train-images-idx3-ubyte").astype(np.float32) / 255; ytr = idx("train-labels-idx1-ubyte").astype(np.int64)
    xte = idx("t10k-images-idx3-ubyte").astype(np.float32) / 255; yte = idx("t10k-labels-idx1-ubyte").astype(np.int64)
    mean, std = xtr.mean(), xtr.std()
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    B = 128; steps = len(xtr) // B; total = steps * sched_epochs; warm = steps
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    def lr_at(t):
        if t < warm:
            return 0.1 * (t + 1) / warm
        u, n = t - warm, total - warm
        return 0.1 * (0.1 if u >= round(0.5 * n) else 1) * (0.1 if u >= round(0.75 * n) else 1)
    padded = np.pad(xtr, ((0, 0), (4, 4), (4, 4)))
    print(f"{model}, {sched_epochs}-epoch schedule, {run_epochs} epochs run, seed {seed}", flush=True)
    t = 0
    for ep in range(run_epochs):
        net.train(); perm = rng.permutation(len(xtr)); start = time.time()
        loss_sum = err_sum = 0.0; window = []
        for k in range(steps):
            ix = perm[k * B:(k + 1) * B]
            oy, ox = rng.integers(0, 9, B), rng.integers(0, 9, B)
            xb = np.stack([padded[i, a:a + 28, b:b + 28] for i, a, b in zip(ix, oy, ox)])
            flip = rng.random(B) < 0.5
            xb[flip] = xb[flip, :, ::-1]
            xb = torch.from_numpy(np.ascontiguousarray(xb))[:, None]; yb = torch.from_numpy(ytr[ix])
            for g in opt.param_groups:
                g["lr"] = lr_at(t)
            out = net(xb); loss = F.cross_entropy(out, yb)
            opt.zero_grad(); loss.backward(); opt.step(); t += 1
            loss_sum += loss.item(); err_sum += (out.argmax(1) != yb).float().mean().item(); window.append(loss.item())
            if len(window) == 39:
                print(f"  epoch {ep + 1} steps {k - 37:3d}-{k + 1:3d}  loss {np.mean(window):.4f}  max {np.max(window):.4f}", flush=True); window = []
        net.eval(); wrong = 0; tl = 0.0
        with torch.no_grad():
            for i in range(0, len(xte), 1000):
                o = net(torch.from_numpy(xte[i:i + 1000])[:, None]); yb = torch.from_numpy(yte[i:i + 1000])
                wrong += (o.argmax(1) != yb).sum().item(); tl += F.cross_entropy(o, yb, reduction="sum").item()
        print(f"epoch {ep + 1}  lr {lr_at(t - 1):g}  train loss {loss_sum / steps:.4f} err {100 * err_sum / steps:.2f}%  "
              f"test loss {tl / len(xte):.4f} err {100 * wrong / len(xte):.2f}%  {time.time() - start:.0f} s", flush=True)

if __name__ == "__main__":
    main()
