"""Reads `xfmr train-lm` checkpoints from Python (PyTorch side of the LM benchmarks).

Also a command: `xfmr_checkpoint.py reseed SRC DST SEED` copies a `--save` folder and gives its
resumable state a fresh generator (std::mt19937_64(SEED)), so `xfmr train-lm --resume DST` continues
from the same weights with other dropout masks (bench/lm/fork.sh).

Debian's python3-torch has no `safetensors` package; the format is simple enough to read here:
8-byte little-endian header length, JSON header {name: {dtype, shape, data_offsets}}, raw data.
"""
import json
import os
import shutil
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64}


def _split(path):
    """(header dict, data bytes) of a safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8:8 + n]), blob[8 + n:]


def read_safetensors(path, with_metadata=False):
    """{name: tensor}, and with_metadata=True also the header's __metadata__ strings."""
    header, data = _split(path)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"]).clone()
    return (out, header.get("__metadata__", {})) if with_metadata else out


def resume_point(directory):
    """Where `xfmr train-lm --save DIR` left off, from DIR/last's training state (weights not read):
    the epoch to run next, its learning rate, xfmr's generator state, the best validation loss, and
    the paths of the last weights and of the best model (None when DIR has none)."""
    last = os.path.join(directory, "last")
    meta = _split(os.path.join(last, "training_state.safetensors"))[0].get("__metadata__", {})
    if int(meta["lm.next_batch"]) != 0:
        sys.exit(f"{last}: saved in the middle of an epoch (batch {meta['lm.next_batch']}); "
                 "use one written at the end of an epoch")
    best = os.path.join(directory, "model.safetensors")
    return {"weights": os.path.join(last, "model.safetensors"),
            "epoch": int(meta["lm.epoch"]),
            "lr": json.loads(meta["xfmr.scheduler"])["last_lr"][0],
            "generator": meta["lm.generator"],
            "best_val": float(meta["lm.best_val_loss"]),
            "best_weights": best if os.path.exists(best) else None}


def write_metadata(path, update):
    """Rewrites a safetensors file with __metadata__ entries replaced or added (tensors unchanged)."""
    header, data = _split(path)
    header.setdefault("__metadata__", {}).update(update)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # the data section stays 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def reseed(src, dst, seed):
    """Copies checkpoint folder src to dst with xfmr::Generator::state() of a fresh Generator(seed)."""
    from xfmr_stream import Mt19937_64  # numpy, only needed here
    shutil.copytree(src, dst)
    words = " ".join(str(int(w)) for w in Mt19937_64(seed).mt)  # seeded, not yet twisted: position 312
    write_metadata(os.path.join(dst, "last", "training_state.safetensors"),
                   {"lm.generator": f"{seed} 0 0 {words} {Mt19937_64.N}"})


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] != "reseed":
        sys.exit("usage: xfmr_checkpoint.py reseed SRC_DIR DST_DIR SEED")
    reseed(sys.argv[2], sys.argv[3], int(sys.argv[4]))
