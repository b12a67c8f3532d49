# An independent safetensors reader and writer, in the Python standard library only (struct, json),
# written from the format spec (docs/gemma2.md section 3.4), to cross-check the TypeScript IO.
#   read FILE OUT_JSON OUT_F32: checks the layout, dumps each tensor's values as float32 LE, in name order
#   write FILE: writes a small file with F32, F16, BF16, I32, I64, 0-rank and empty tensors
import json
import struct
import sys

SIZES = {"F32": 4, "F16": 2, "BF16": 2, "I32": 4, "I64": 8}


def read(path, out_json, out_f32):
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert n % 8 == 0, "header not padded to a multiple of 8"
    raw = blob[8 : 8 + n]
    assert raw.rstrip(b" ") == raw.rstrip(), "padding is not spaces"
    header = json.loads(raw.decode("utf-8"))
    data = blob[8 + n :]
    meta = header.pop("__metadata__", None)
    spans = sorted((v["data_offsets"][0], v["data_offsets"][1]) for v in header.values())
    position = 0
    for begin, end in spans:
        assert begin == position, "tensors not contiguous"
        position = end
    assert position == len(data), "tensors do not cover the data buffer"
    manifest = {"metadata": meta, "tensors": {}}
    with open(out_f32, "wb") as out:
        for name in sorted(header):
            entry = header[name]
            begin, end = entry["data_offsets"]
            chunk = data[begin:end]
            count = 1
            for d in entry["shape"]:
                count *= d
            assert len(chunk) == count * SIZES[entry["dtype"]], name
            if entry["dtype"] == "F32":
                values = struct.unpack("<%df" % count, chunk)
            elif entry["dtype"] == "F16":
                values = struct.unpack("<%de" % count, chunk)  # exact in float32
            elif entry["dtype"] == "BF16":
                words = struct.unpack("<%dH" % count, chunk)
                values = struct.unpack("<%df" % count, struct.pack("<%dI" % count, *(w << 16 for w in words)))
            else:
                values = struct.unpack("<%d%s" % (count, "i" if entry["dtype"] == "I32" else "q"), chunk)
            out.write(struct.pack("<%df" % count, *values))
            manifest["tensors"][name] = {"dtype": entry["dtype"], "shape": entry["shape"]}
    with open(out_json, "w") as f:
        json.dump(manifest, f)


def write(path):
    tensors = [  # deliberately unsorted, mixed widths, no metadata
        ("b.half", "F16", [2, 2], struct.pack("<4e", 1.0, -2.0, 0.5, 65504.0)),
        ("a.float", "F32", [3], struct.pack("<3f", 1.5, -0.25, 3.0e38)),
        ("c.bf16", "BF16", [2], struct.pack("<2H", 0x3F80, 0xC040)),  # 1.0, -3.0
        ("d.int32", "I32", [2], struct.pack("<2i", -7, 2**31 - 1)),
        ("e.int64", "I64", [], struct.pack("<q", 2**40)),
        ("f.empty", "F32", [0, 4], b""),
    ]
    header, data = {}, b""
    for name, dtype, shape, chunk in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(chunk)]}
        data += chunk
    text = json.dumps(header).encode("utf-8")  # with spaces after separators, and unpadded
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


if __name__ == "__main__":
    if sys.argv[1] == "read":
        read(*sys.argv[2:5])
    else:
        write(sys.argv[2])
