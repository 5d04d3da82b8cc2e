#!/usr/bin/python3
"""The same training step as transformer_lm_step (the PyTorch tutorial's TransformerModel and train()
loop body) in PyTorch, for speed comparison: /usr/bin/python3 torch_step.py [ntoken] [threads] [steps]."""
import os
import sys
import time

import torch
from torch import nn

# The tutorial's model, as bench/lm/torch_lm.py (the PyTorch reference of `xfmr train-lm`) defines it.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "lm"))
from torch_lm import TransformerModel  # noqa: E402

ntoken = int(sys.argv[1]) if len(sys.argv) > 1 else 33278
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 20
torch.set_num_threads(threads)
bsz, bptt, d_model = 20, 35, 200


model = TransformerModel(ntoken, d_model, 2, 200, 2, 0.2)
model.train()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=5.0)
mask = torch.triu(torch.ones(bptt, bptt) * float('-inf'), diagonal=1)
data = torch.randint(0, ntoken, (bptt * (steps + 4) + 1, bsz))
times = []
for s in range(steps + 3):
    src, tgt = data[s * bptt:(s + 1) * bptt], data[s * bptt + 1:(s + 1) * bptt + 1].reshape(-1)
    t0 = time.perf_counter()
    out = model(src, mask)
    loss = criterion(out.view(-1, ntoken), tgt)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    optimizer.step()
    if s >= 3:
        times.append(time.perf_counter() - t0)
print(f"torch {torch.__version__} ({torch.get_num_threads()} threads): {1000 * sum(times) / len(times):.1f} ms/step")
