"""Golden files and fuzz seeds for package weights (train/weights).

Run with Debian's PyTorch, from anywhere: /usr/bin/python3 gen_weights.py
It writes, next to itself:

  golden.pth          torch.save(state_dict) of a tiny model plus views, float64, half types
  golden_ckpt.pth     torch.save({"epoch", "state_dict", "optimizer", ...}): a training checkpoint
  golden.safetensors  the same tensors as golden.pth, by the minimal reference writer below
  golden.json         the expected tensors, as flat lists of values
  fuzz/FuzzSafetensors/*, fuzz/FuzzPTH/*   seed corpora (Go's corpus file format)

No safetensors Python package is needed: the format is a few lines of json and struct.
The output is deterministic: the seed is fixed, and torch.save writes no timestamps that vary.
"""
import collections
import json
import os
import pickle
import struct
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)


def model_state_dict():
    """A conv + BN state_dict as torchvision names it, plus tensors that exercise the reader."""
    m = torch.nn.Sequential(collections.OrderedDict([
        ("conv1", torch.nn.Conv2d(3, 4, 3, bias=False)),
        ("bn1", torch.nn.BatchNorm2d(4)),
        ("fc", torch.nn.Linear(4, 3)),
    ]))
    with torch.no_grad():
        m.bn1.running_mean.normal_()
        m.bn1.running_var.uniform_(0.5, 2.0)
        m.bn1.weight.normal_()
        m.bn1.bias.normal_()
    m.bn1.num_batches_tracked.fill_(7)
    sd = m.state_dict()  # an OrderedDict with a _metadata attribute, as torch.save sees it
    base = torch.arange(10, dtype=torch.float32) * 0.5 - 1.0
    sd["view.transposed"] = sd["fc.weight"].t()  # shares fc.weight's storage, stride (1, 4)
    sd["view.strided_slice"] = base[2:9:3]  # offset 2, stride 3, into a storage of 10
    sd["view.row"] = base.view(2, 5)[1]  # offset 5, contiguous
    sd["view.expanded"] = base[:3].unsqueeze(0).expand(2, 3)  # stride (0, 1)
    sd["float64"] = torch.randn(2, 3, dtype=torch.float64)
    sd["int64"] = torch.tensor([[-(2 ** 40), -1], [0, 2 ** 62 + 3]], dtype=torch.int64)
    sd["half"] = torch.tensor([1.0, -2.5, 65504.0, 6.1035156e-05, 5.9604645e-08], dtype=torch.float16)
    sd["bfloat16"] = torch.tensor([1.0, -3.140625, 1e30, 1e-30], dtype=torch.bfloat16)
    sd["empty"] = torch.zeros(0, 3)
    return m, sd


DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64",
          torch.float16: "F16", torch.bfloat16: "BF16"}


def write_safetensors(path, tensors, metadata=None):
    """The minimal reference writer: header keys sorted by name (json.dumps sort_keys), data in
    the order of `tensors`, so that the header order differs from the data order."""
    header, chunks, at = {}, [], 0
    for name, t in tensors.items():
        t = t.contiguous()
        if t.dtype == torch.bfloat16:  # numpy has no bfloat16: take the raw bits
            data = t.view(torch.int16).numpy().tobytes()
        else:
            data = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [at, at + len(data)]}
        chunks.append(data)
        at += len(data)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, sort_keys=True).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))


def expected(tensors):
    """What the Go readers should return: dtype as read (half types widened to F32), flat values."""
    out = []
    for name, t in tensors.items():
        e = {"name": name, "shape": list(t.shape)}
        if t.dtype == torch.int64:
            e["dtype"], e["ints"] = "I64", t.flatten().tolist()
        else:
            e["dtype"] = "F64" if t.dtype == torch.float64 else "F32"
            e["values"] = t.double().flatten().tolist()
        out.append(e)
    return out


# --- fuzz seeds --------------------------------------------------------------------------------

def go_bytes(b):
    """b as a Go []byte literal of the fuzz corpus format."""
    s = "".join(chr(c) if 32 <= c < 127 and chr(c) not in '"\\' else "\\x%02x" % c for c in b)
    return '[]byte("%s")' % s


def write_seed(target, name, *args):
    d = os.path.join(HERE, "fuzz", target)
    os.makedirs(d, exist_ok=True)
    text = "go test fuzz v1\n" + "".join(go_bytes(a) + "\n" for a in args)
    assert len(text) < 20_000, (target, name, len(text))
    with open(os.path.join(d, name), "w") as f:
        f.write(text)


def st_raw(header_json, data=b"", pad=True):
    h = header_json.encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def safetensors_seeds(golden):
    s = "FuzzSafetensors"
    write_seed(s, "valid_golden", golden)
    f32 = struct.pack("<4f", 1, 2, 3, 4)
    write_seed(s, "valid_small", st_raw(
        '{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},'
        '"n":{"dtype":"I64","shape":[],"data_offsets":[16,24]},'
        '"z":{"dtype":"F64","shape":[0],"data_offsets":[24,24]}}', f32 + struct.pack("<q", 7)))
    write_seed(s, "valid_half", st_raw(
        '{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},'
        '"b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]}}', bytes([0, 0x3c, 1, 0x80, 0x80, 0x3f, 0x80, 0x7f])))
    write_seed(s, "truncated", b"\x10\x00\x00\x00\x00")
    write_seed(s, "header_past_end", struct.pack("<Q", 123456789) + b'{"a":1}')
    write_seed(s, "header_huge", struct.pack("<Q", 2 ** 64 - 1) + b"{}")
    write_seed(s, "not_json", st_raw("[1, 2, 3]"))
    write_seed(s, "overlap", st_raw(
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
        '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', f32))
    write_seed(s, "out_of_range", st_raw(
        '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,1600]}}', f32))
    write_seed(s, "gap", st_raw(
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
        '"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', f32[:12]))
    write_seed(s, "unknown_dtype", st_raw('{"a":{"dtype":"I32","shape":[4],"data_offsets":[0,16]}}', f32))
    write_seed(s, "duplicate_name", st_raw(
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
        '"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', f32))
    write_seed(s, "shape_overflow", st_raw(
        '{"a":{"dtype":"F64","shape":[4294967296,4294967296,1024],"data_offsets":[0,0]}}'))
    write_seed(s, "shape_wraps_to_16", st_raw(
        '{"a":{"dtype":"F32","shape":[2,2305843009213693954],"data_offsets":[0,16]}}', f32))
    write_seed(s, "negative_dim", st_raw('{"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}', f32))
    write_seed(s, "trailing_garbage", st_raw('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}} x', f32))
    write_seed(s, "metadata_not_strings", st_raw('{"__metadata__":{"epoch":3}}'))


class FakeStorage:
    def __init__(self, key, numel, cls=torch.FloatStorage):
        self.key, self.numel, self.cls = key, numel, cls


class FakeTensor:
    """Pickles as torch.save pickles a tensor, with whatever storage, offset, size and stride."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, self.args


class TorchLikePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            return "storage", obj.cls, obj.key, "cpu", obj.numel
        return None


def fake_pickle(obj):
    import io
    buf = io.BytesIO()
    TorchLikePickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def storages_blob(entries):
    """The FuzzPTH framing of storages: per entry a key-length byte, the key, a little-endian
    uint32 length and the bytes (see fuzz_test.go)."""
    out = b""
    for key, data in entries:
        k = key.encode()
        out += bytes([len(k)]) + k + struct.pack("<I", len(data)) + data
    return out


def pth_parts(path):
    """data.pkl and the storages of a torch.save file."""
    z = zipfile.ZipFile(path)
    pkl, storages = None, []
    for info in z.infolist():
        parts = info.filename.split("/")
        if parts[1:] == ["data.pkl"]:
            pkl = z.read(info)
        elif len(parts) == 3 and parts[1] == "data":
            storages.append((parts[2], z.read(info)))
    return pkl, storages_blob(storages)


def pth_seeds():
    s = "FuzzPTH"
    write_seed(s, "valid_golden", *pth_parts(os.path.join(HERE, "golden.pth")))
    write_seed(s, "valid_checkpoint", *pth_parts(os.path.join(HERE, "golden_ckpt.pth")))
    four = storages_blob([("0", struct.pack("<4f", 1, 2, 3, 4))])
    st = FakeStorage("0", 4)

    def sd(**tensors):
        return fake_pickle(collections.OrderedDict(tensors))

    write_seed(s, "valid_strided", sd(t=FakeTensor(st, 1, (2, 2), (0, 2))), four)
    write_seed(s, "valid_model_key", fake_pickle({"model": collections.OrderedDict(w=FakeTensor(st, 0, (4,), (1,))),
                                                  "epoch": 3, "lr": 0.1}), four)
    write_seed(s, "stride_out_of_bounds", sd(t=FakeTensor(st, 0, (3, 3), (3, 1))), four)
    write_seed(s, "offset_past_end", sd(t=FakeTensor(st, 4, (), ())), four)
    write_seed(s, "size_overflow", sd(t=FakeTensor(st, 0, (2 ** 31, 2 ** 31, 2 ** 31), (0, 0, 0))), four)
    write_seed(s, "huge_expand", sd(t=FakeTensor(st, 0, (1 << 20, 1 << 20), (0, 1))), four)
    write_seed(s, "numel_mismatch", sd(t=FakeTensor(FakeStorage("0", 1000), 0, (4,), (1,))), four)
    write_seed(s, "missing_storage", sd(t=FakeTensor(FakeStorage("9", 4), 0, (4,), (1,))), four)
    write_seed(s, "int_storage", sd(t=FakeTensor(FakeStorage("0", 4, torch.IntStorage), 0, (4,), (1,))), four)
    write_seed(s, "forbidden_global", pickle.dumps(collections.OrderedDict(x=os.system), protocol=2), b"")
    write_seed(s, "forbidden_reduce", b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.", b"")
    write_seed(s, "memo_huge_index", b"\x80\x02j\xff\xff\xff\xff.", b"")
    write_seed(s, "string_past_end", b"\x80\x02X\xff\xff\xff\x7fabc.", b"")
    write_seed(s, "list_contains_itself", b"\x80\x02]q\x00h\x00a.", b"")
    write_seed(s, "deep_marks", b"\x80\x02" + b"(" * 4000 + b"}.", b"")
    write_seed(s, "not_a_dict", pickle.dumps([1, 2.5, "x", None, True], protocol=2), b"")
    write_seed(s, "no_stop", b"\x80\x02}", b"")


def main():
    m, sd = model_state_dict()
    torch.save(sd, os.path.join(HERE, "golden.pth"))
    write_safetensors(os.path.join(HERE, "golden.safetensors"), sd,
                      metadata={"format": "pt", "source": "gen_weights.py"})
    want = expected(sd)  # before the optimizer step below changes the parameters in place

    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    for p in m.parameters():  # one step with unit gradients gives momentum buffers
        p.grad = torch.ones_like(p)
    opt.step()
    small = collections.OrderedDict((k, sd[k]) for k in ["conv1.weight", "bn1.num_batches_tracked", "view.strided_slice"])
    ckpt = {"epoch": 3, "state_dict": small, "optimizer": opt.state_dict(), "best_acc": 0.915,
            "arch": "tiny", "amp": None, "flags": [True, False], "milestones": (30, 60)}
    torch.save(ckpt, os.path.join(HERE, "golden_ckpt.pth"))

    with open(os.path.join(HERE, "golden.json"), "w") as f:  # one tensor a line
        lines = lambda ts: ",\n  ".join(json.dumps(e) for e in ts)
        f.write('{"metadata": %s,\n "tensors": [\n  %s],\n "checkpoint": [\n  %s]}\n' % (
            json.dumps({"format": "pt", "source": "gen_weights.py"}), lines(want), lines(expected(small))))

    with open(os.path.join(HERE, "golden.safetensors"), "rb") as f:
        safetensors_seeds(f.read())
    pth_seeds()


if __name__ == "__main__":
    main()
