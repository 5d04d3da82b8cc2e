#!/usr/bin/env python3
"""Loads an `xfmr train-lm` checkpoint folder into PyTorch's tutorial TransformerModel
(bench/lm/torch_lm.py) with load_state_dict(strict=True) and evaluates it on valid/test with PyTorch,
so the figures can be compared with `xfmr eval-lm`.

  /usr/bin/python3 bench/lm/torch_load_check.py --checkpoint DIR --data ../shared/assets/wikitext-2
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_lm  # noqa: E402
from xfmr_checkpoint import read_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = json.load(open(os.path.join(a.checkpoint, "config.json")))
    itos = open(os.path.join(a.checkpoint, "vocab.txt"), encoding="utf-8").read().split("\n")[:-1]
    assert len(itos) == cfg["ntoken"], (len(itos), cfg["ntoken"])
    model = torch_lm.TransformerModel(cfg["ntoken"], cfg["d_model"], cfg["nhead"], cfg["d_hid"], cfg["nlayers"],
                                      cfg["dropout"])
    sd = read_safetensors(os.path.join(a.checkpoint, "model.safetensors"))
    model.load_state_dict(sd, strict=True)
    print(f"loaded {len(sd)} tensors into torch {torch.__version__} TransformerModel (strict=True)")
    model.eval()
    stoi = {w: i for i, w in enumerate(itos)}
    bptt, bsz = cfg["train"]["bptt"], cfg["train"]["eval_batch_size"]
    criterion = torch.nn.CrossEntropyLoss()
    for split in ("valid", "test"):
        lines = open(torch_lm.find(a.data, split), encoding="utf-8").read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if cfg["tokenization"] == "basic_english":
            ids = [stoi.get(w, 0) for l in lines for w in torch_lm.basic_english(l)]
        else:
            unk = stoi.get("<unk>")
            ids = [stoi.get(w, unk) for l in lines for w in l.split() + ["<eos>"]]
        source = torch_lm.batchify(torch.tensor(ids, dtype=torch.long), bsz)
        total = 0.0
        with torch.no_grad():
            for i in range(0, source.size(0) - 1, bptt):
                data, targets = torch_lm.get_batch(source, i, bptt)
                mask = torch_lm.generate_square_subsequent_mask(data.size(0))
                out = model(data, mask)
                total += data.size(0) * criterion(out.view(-1, cfg["ntoken"]), targets).item()
        loss = total / (len(source) - 1)
        print(f"| {split:<5} | loss {loss:5.2f} | ppl {math.exp(loss):8.2f} | loss {loss:.6f}")


if __name__ == "__main__":
    main()
