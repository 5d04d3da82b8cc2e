#!/usr/bin/python3
"""The same training step as transformer_lm_step (the PyTorch tutorial's TransformerModel and train()
loop body) in PyTorch, for speed comparison: /usr/bin/python3 torch_step.py [ntoken] [threads] [steps]."""
import math
import sys
import time

import torch
from torch import nn

ntoken = int(sys.argv[1]) if len(sys.argv) > 1 else 33278
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 20
torch.set_num_threads(threads)
bsz, bptt, d_model = 20, 35, 200


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, dropout=0.1, max_len=5000):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer('pe', pe)

    def forward(self, x):
        return self.dropout(x + self.pe[:x.size(0)])


class TransformerModel(nn.Module):
    def __init__(self, ntoken, d_model, nhead, d_hid, nlayers, dropout=0.5):
        super().__init__()
        self.pos_encoder = PositionalEncoding(d_model, dropout)
        self.transformer_encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout), nlayers)
        self.encoder = nn.Embedding(ntoken, d_model)
        self.d_model = d_model
        self.decoder = nn.Linear(d_model, ntoken)

    def forward(self, src, src_mask):
        src = self.encoder(src) * math.sqrt(self.d_model)
        src = self.pos_encoder(src)
        return self.decoder(self.transformer_encoder(src, src_mask))


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
