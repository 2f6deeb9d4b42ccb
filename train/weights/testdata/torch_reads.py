"""PyTorch reads a safetensors file that Go wrote (TestPyTorchReadsSafetensors runs this).

/usr/bin/python3 torch_reads.py IN.safetensors OUT_DIR

Parses IN with json + struct, checking the layout the Go writer promises (header padded with
spaces to a multiple of 8, data offsets tiling the data section), loads the conv1/bn1/fc tensors
into a torch.nn module with strict load_state_dict, and prints JSON to stdout: the metadata and,
for every tensor in data order, its torch dtype, shape and elements (floats as their IEEE bits,
so NaN and -0 compare exactly), the module's tensors taken from the module's own state_dict.
Then it saves the module's state_dict plus the other tensors with torch.save, in OUT_DIR/p2.pth
(pickle protocol 2, torch's default) and OUT_DIR/p4.pth (protocol 4), for Go to read back.
"""
import collections
import json
import os
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}
BITS = {torch.float32: torch.int32, torch.float64: torch.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        b = f.read()
    (n,) = struct.unpack("<Q", b[:8])
    assert n % 8 == 0, "header length %d is not a multiple of 8" % n
    raw = b[8:8 + n].decode("utf-8")
    header, end = json.JSONDecoder(object_pairs_hook=collections.OrderedDict).raw_decode(raw)
    assert raw[end:].strip(" ") == "", "padding is not spaces: %r" % raw[end:]
    data = b[8 + n:]
    metadata = header.pop("__metadata__", None)
    entries = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"])
    at = 0
    tensors = collections.OrderedDict()
    for name, e in entries:
        begin, end = e["data_offsets"]
        assert begin == at, "%s: data_offsets %r after %d" % (name, e["data_offsets"], at)
        dtype = DTYPES[e["dtype"]]
        if begin == end:
            t = torch.empty(e["shape"], dtype=dtype)
        else:
            t = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype).reshape(e["shape"])
        assert t.numel() * t.element_size() == end - begin
        tensors[name] = t
        at = end
    assert at == len(data), "data section of %d bytes, tensors cover %d" % (len(data), at)
    # The header keeps the writer's order, which is the data order.
    assert list(header) == list(tensors), "header order %r is not the data order" % list(header)
    return tensors, metadata


def main():
    path, out = sys.argv[1], sys.argv[2]
    tensors, metadata = read_safetensors(path)
    model = torch.nn.Sequential(collections.OrderedDict([
        ("conv1", torch.nn.Conv2d(3, 4, 3, bias=False)),
        ("bn1", torch.nn.BatchNorm2d(4)),
        ("fc", torch.nn.Linear(4, 3)),
    ]))
    own = model.state_dict()
    model.load_state_dict({k: tensors[k] for k in own}, strict=True)
    sd = model.state_dict()
    for k, t in tensors.items():
        if k not in sd:
            sd[k] = t
    report = []
    for k, t in tensors.items():
        t = sd[k]
        e = {"name": k, "dtype": str(t.dtype), "shape": list(t.shape)}
        flat = t.flatten()
        e["ints"] = (flat.view(BITS[t.dtype]) if t.dtype in BITS else flat).tolist()
        report.append(e)
    json.dump({"metadata": metadata, "tensors": report, "module": list(own)}, sys.stdout)
    torch.save(sd, os.path.join(out, "p2.pth"))
    torch.save(sd, os.path.join(out, "p4.pth"), pickle_protocol=4)


if __name__ == "__main__":
    main()
