#!/usr/bin/env python3
"""Replays `xfmr train-lm` in PyTorch with xfmr's random numbers, batch by batch.

A normal comparison (bench/lm/run.sh) gives the two sides different initial weights and dropout masks,
so their losses agree only statistically. Here PyTorch gets exactly the numbers xfmr draws from
`--seed` (xfmr_stream.py: the initial weights of models::TransformerLM, then every dropout mask), on
the real data with the real `xfmr train-lm` command. Then the per-batch training losses must agree up
to float rounding: this checks the whole tutorial loop - tokenisation, batching, initialisation, model,
dropout sites, loss, clipping, SGD - at full size. The reference is PyTorch in float64 (the exact
arithmetic); SGD at lr 5 amplifies rounding, so any two float32 runs drift apart after 10-20 batches
(PyTorch's own float32 run included: --f32 shows it), and only the first --check batches are judged.

  /usr/bin/python3 bench/lm/replay_check.py --data ../shared/assets/wikitext-2 --xfmr build-lm-bench/xfmr

--resume DIR starts both sides from a checkpoint of `xfmr train-lm --save DIR` instead of the
initialisation: PyTorch loads DIR/last's weights, learning rate and xfmr's generator state, and xfmr
continues with `--resume DIR`. That checks a trained model (smaller, often unclipped gradients), e.g.
the third epoch of the tutorial.

Prints the losses of both sides for the first batches and every 10th, the largest difference per
block of batches, where the runs drift apart, and exits 1 when a difference in the first --check
batches exceeds --tolerance.
"""
import argparse
import math
import os
import re
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

import torch_lm
from xfmr_checkpoint import read_safetensors, resume_point
from xfmr_stream import Mt19937_64, StreamDropout, from_generator_state, init_tutorial_model, self_check


def xfmr_losses(a):
    """Per-batch losses from `xfmr train-lm --log-interval 1` (ppl printed with 2 decimals)."""
    cmd = [a.xfmr, "train-lm", "--data", a.data, "--tokenization", a.tokenization, "--epochs", "1",
           "--max-batches", str(a.batches), "--log-interval", "1", "--no-eval", "--seed", str(a.seed),
           "--threads", str(a.threads), "--dropout", str(a.dropout)]
    env = dict(os.environ, XFMR_NO_PROGRESS="1")
    with tempfile.TemporaryDirectory(prefix="replay-") as scratch:
        if a.resume:  # the checkpoint's epoch, --max-batches counted from its start; saves go to scratch
            cmd[cmd.index("--epochs") + 1] = str(a.start["epoch"])
            cmd += ["--resume", a.resume, "--save", scratch]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    line = re.compile(r"\|\s+(\d+)/\s*\d+ batches .*\| ppl\s+([0-9.]+)")
    got = {int(m.group(1)): math.log(float(m.group(2))) for m in map(line.search, out.stdout.splitlines()) if m}
    if not got:
        sys.exit(f"no log lines in the output of {' '.join(cmd)}:\n{out.stdout}")
    return got


def torch_losses(a, ntok, train_data, dtype):
    model = torch_lm.TransformerModel(ntok, 200, 2, 200, 2, a.dropout)
    if a.resume:
        model.load_state_dict(read_safetensors(a.start["weights"]), strict=True)
        stream, lr = from_generator_state(a.start["generator"]), a.start["lr"]
    else:
        stream, lr = Mt19937_64(a.seed), 5.0
        init_tutorial_model(model, stream)
    model.to(dtype)
    crit = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    src_mask = torch_lm.generate_square_subsequent_mask(35).to(dtype)
    saved, F.dropout = F.dropout, StreamDropout(stream)  # every dropout now draws from xfmr's stream
    model.train()
    losses = []
    for batch, i in enumerate(range(0, train_data.size(0) - 1, 35)):
        if batch >= a.batches:
            break
        data, targets = torch_lm.get_batch(train_data, i, 35)
        seq_len = data.size(0)
        out = model(data, src_mask if seq_len == 35 else src_mask[:seq_len, :seq_len])
        loss = crit(out.view(-1, ntok), targets)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        losses.append(loss.item())
    F.dropout = saved
    return losses


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "..", "shared", "assets", "wikitext-2"))
    ap.add_argument("--xfmr", default=os.path.join(here, "..", "..", "build-lm-bench", "xfmr"))
    ap.add_argument("--tokenization", choices=["basic_english", "whitespace"], default="basic_english")
    ap.add_argument("--batches", type=int, default=30)
    ap.add_argument("--check", type=int, default=10, help="batches 0..N-1 must agree within --tolerance")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--f32", action="store_true", help="also run PyTorch in float32 (its own rounding drift)")
    ap.add_argument("--show", type=int, default=5, help="print every batch up to this one")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="largest allowed |loss difference| there")
    ap.add_argument("--resume", help="start from this `xfmr train-lm --save` folder's last/ checkpoint")
    a = ap.parse_args()
    self_check()
    a.start = resume_point(a.resume) if a.resume else None
    x = xfmr_losses(a)
    # Reference: PyTorch in float64, i.e. the exact arithmetic of the same run. PyTorch's own float32 run
    # (--f32) drifts from it within a few batches: its clip_grad_norm_ sums 5.8M squares in float32 and
    # is off by ~5e-4 relative, and SGD at lr 5 amplifies any such difference.
    torch.set_num_threads(a.threads)
    itos, train, _, _ = torch_lm.load(a.data, a.tokenization)
    train_data = torch_lm.batchify(train, 20)
    ref = torch_losses(a, len(itos), train_data, torch.float64)
    t32 = torch_losses(a, len(itos), train_data, torch.float32) if a.f32 else None
    # xfmr's first log line (batch 1) holds batches 0 and 1: the tutorial's interval arithmetic.
    def at(t, b):
        return (t[0] + t[1] if b == 1 else t[b]) if t else math.nan
    pairs = [(b, x[b], at(ref, b), at(t32, b)) for b in sorted(x) if b < len(ref)]
    origin = (f"from {a.resume} (epoch {a.start['epoch']}, lr {a.start['lr']:.4f})" if a.resume
              else f"seed {a.seed}")
    print(f"{origin}, dropout {a.dropout}, {len(ref)} batches, threads {a.threads}")
    print(" batch   xfmr loss  torch f64   |diff|" + ("   torch f32  |f32 - f64|" if a.f32 else ""))
    for b, xl, rl, tl in pairs:
        if b <= a.show or b % 10 == 0:
            print(f"{b:6d}  {xl:10.5f}  {rl:10.5f}  {abs(xl - rl):.2e}" +
                  (f"  {tl:10.5f}  {abs(tl - rl):.2e}" if a.f32 else ""))
    for lo in range(0, len(ref), 50):
        block = [abs(xl - rl) for b, xl, rl, _ in pairs if lo <= b < lo + 50]
        if block:
            print(f"batches {lo:4d}-{lo + 49:4d}: max |diff| {max(block):.2e}")
    apart = next((b for b, xl, rl, _ in pairs if abs(xl - rl) > 1e-3), None)
    print("the runs drift apart (|diff| > 1e-3) " +
          (f"from batch {apart}" if apart else "nowhere in these batches"))
    worst = max(abs(xl - rl) for b, xl, rl, _ in pairs if b < a.check)
    ok = worst <= a.tolerance
    verdict = "within" if ok else "ABOVE"
    print(f"batches 0-{a.check - 1}: largest |diff| {worst:.2e} ({verdict} tolerance {a.tolerance})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
