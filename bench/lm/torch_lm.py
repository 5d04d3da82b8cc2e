#!/usr/bin/env python3
"""PyTorch reference for `xfmr train-lm`: the tutorial "Language Modeling with nn.Transformer and
torchtext" (PyTorch 1.13 era) written out without torchtext (not in Debian), same model, data
handling, optimiser and schedule.

  /usr/bin/python3 bench/lm/torch_lm.py --data ../shared/assets/wikitext-2 --epochs 3 --threads 2

Prints the tutorial's log lines, per-epoch validation loss/ppl, test loss/ppl of the best model,
training tokens/s, the BLAS torch is using, and a final JSON line (prefix "RESULT ") for bench scripts.

--resume DIR continues an `xfmr train-lm --save DIR` run in PyTorch from its end-of-epoch checkpoint
(DIR/last: weights, next epoch, learning rate, best validation loss and model), with PyTorch's own
dropout masks: e.g. the tutorial's third epoch on both sides from the same trained model.
"""
import argparse
import json
import math
import os
import re
import time
import warnings

import torch
from torch import nn
from torch.nn import TransformerEncoder, TransformerEncoderLayer

from xfmr_checkpoint import read_safetensors, resume_point

# torchtext.data.utils.get_tokenizer("basic_english"): lowercase, then these substitutions, then split.
_PATTERNS = [(re.compile(p), r) for p, r in [
    (r"\'", " '  "), (r"\"", ""), (r"\.", " . "), (r"<br \/>", " "), (r",", " , "), (r"\(", " ( "),
    (r"\)", " ) "), (r"\!", " ! "), (r"\?", " ? "), (r"\;", " "), (r"\:", " "), (r"\s+", " ")]]


def basic_english(line):
    line = line.lower()
    for pat, rep in _PATTERNS:
        line = pat.sub(rep, line)
    return line.split()


def find(data_dir, split):
    for name in (f"{split}.txt", f"wiki.{split}.tokens"):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    raise SystemExit(f"no {split}.txt or wiki.{split}.tokens in {data_dir}")


def load(data_dir, tokenization):
    lines = {s: open(find(data_dir, s), encoding="utf-8").read().split("\n") for s in ("train", "valid", "test")}
    # str.split("\n") leaves a final "" after the last newline; file iteration (what torchtext and
    # data.py do) does not see it. It tokenizes to nothing, so dropping it changes nothing but <eos> counts.
    for s in lines:
        if lines[s] and lines[s][-1] == "":
            lines[s].pop()
    if tokenization == "basic_english":
        # build_vocab_from_iterator(map(tokenizer, train_iter), specials=['<unk>']): frequency
        # descending, ties by token; '<unk>' first and the default index.
        counts = {}
        for line in lines["train"]:
            for w in basic_english(line):
                counts[w] = counts.get(w, 0) + 1
        itos = ["<unk>"] + [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if w != "<unk>"]
        stoi = {w: i for i, w in enumerate(itos)}

        def process(split):  # data_process: per line, drop empty lines, concatenate
            ids = [torch.tensor([stoi.get(w, 0) for w in basic_english(l)], dtype=torch.long) for l in lines[split]]
            return torch.cat(tuple(filter(lambda t: t.numel() > 0, ids)))
    else:
        # pytorch/examples word_language_model/data.py: words + '<eos>' per line, vocabulary in order
        # of first appearance in train (valid/test words must be in it).
        stoi, itos = {}, []
        for line in lines["train"]:
            for w in line.split() + ["<eos>"]:
                if w not in stoi:
                    stoi[w] = len(itos)
                    itos.append(w)

        def process(split):
            ids = [stoi[w] for line in lines[split] for w in line.split() + ["<eos>"]]
            return torch.tensor(ids, dtype=torch.long)
    return itos, process("train"), process("valid"), process("test")


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, dropout=0.1, max_len=5000):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):
        x = x + self.pe[:x.size(0)]
        return self.dropout(x)


class TransformerModel(nn.Module):
    def __init__(self, ntoken, d_model, nhead, d_hid, nlayers, dropout=0.5):
        super().__init__()
        self.model_type = "Transformer"
        self.pos_encoder = PositionalEncoding(d_model, dropout)
        encoder_layers = TransformerEncoderLayer(d_model, nhead, d_hid, dropout)
        self.transformer_encoder = TransformerEncoder(encoder_layers, nlayers)
        self.encoder = nn.Embedding(ntoken, d_model)
        self.d_model = d_model
        self.decoder = nn.Linear(d_model, ntoken)
        self.init_weights()

    def init_weights(self):
        initrange = 0.1
        self.encoder.weight.data.uniform_(-initrange, initrange)
        self.decoder.bias.data.zero_()
        self.decoder.weight.data.uniform_(-initrange, initrange)

    def forward(self, src, src_mask):
        src = self.encoder(src) * math.sqrt(self.d_model)
        src = self.pos_encoder(src)
        output = self.transformer_encoder(src, src_mask)
        return self.decoder(output)


def generate_square_subsequent_mask(sz):
    return torch.triu(torch.ones(sz, sz) * float("-inf"), diagonal=1)


def batchify(data, bsz):
    seq_len = data.size(0) // bsz
    data = data[:seq_len * bsz]
    return data.view(bsz, seq_len).t().contiguous()


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len].reshape(-1)


def blas_in_use():
    maps = open("/proc/self/maps").read()
    for lib in ("libopenblas", "libblis", "libmkl", "libblas.so"):
        m = re.search(r"(\S*%s\S*)" % re.escape(lib), maps)
        if m:
            return os.path.realpath(m.group(1))
    return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--tokenization", choices=["basic_english", "whitespace"], default="basic_english")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=20)
    ap.add_argument("--eval-batch-size", type=int, default=10)
    ap.add_argument("--bptt", type=int, default=35)
    ap.add_argument("--lr", type=float, default=5.0)
    ap.add_argument("--gamma", type=float, default=0.95)
    ap.add_argument("--clip", type=float, default=0.5)
    ap.add_argument("--emsize", type=int, default=200)
    ap.add_argument("--d-hid", type=int, default=200)
    ap.add_argument("--nlayers", type=int, default=2)
    ap.add_argument("--nhead", type=int, default=2)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-batches", type=int, default=0, help="cap training batches per epoch (0 = all)")
    ap.add_argument("--no-eval", action="store_true", help="skip validation/test (throughput runs)")
    ap.add_argument("--log-interval", type=int, default=200)
    ap.add_argument("--resume", help="continue this `xfmr train-lm --save` folder (see above)")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    itos, train, val, test = load(a.data, a.tokenization)
    ntokens = len(itos)
    train_data, val_data, test_data = batchify(train, a.batch_size), batchify(val, a.eval_batch_size), batchify(test, a.eval_batch_size)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, BLAS {blas_in_use()}")
    print(f"vocab {ntokens}, train tokens {train.numel()}, batches/epoch {len(range(0, train_data.size(0) - 1, a.bptt))}")

    model = TransformerModel(ntokens, a.emsize, a.nhead, a.d_hid, a.nlayers, a.dropout)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=a.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1.0, gamma=a.gamma)
    first_epoch, best_val, best_state = 1, float("inf"), None
    if a.resume:
        start = resume_point(a.resume)
        model.load_state_dict(read_safetensors(start["weights"]), strict=True)
        first_epoch, best_val = start["epoch"], start["best_val"]
        best_state = read_safetensors(start["best_weights"]) if start["best_weights"] else None
        with warnings.catch_warnings():  # "scheduler.step() before optimizer.step()": intended here
            warnings.simplefilter("ignore")
            for _ in range(first_epoch - 1):
                scheduler.step()
        assert abs(scheduler.get_last_lr()[0] - start["lr"]) < 1e-12, (scheduler.get_last_lr(), start["lr"])
        print(f"resuming from {a.resume}: epoch {first_epoch}, lr {start['lr']:.4f}")

    def evaluate(data_source):
        model.eval()
        total = 0.0
        src_mask = generate_square_subsequent_mask(a.bptt)
        with torch.no_grad():
            for i in range(0, data_source.size(0) - 1, a.bptt):
                data, targets = get_batch(data_source, i, a.bptt)
                seq_len = data.size(0)
                mask = src_mask if seq_len == a.bptt else src_mask[:seq_len, :seq_len]
                output = model(data, mask)
                total += seq_len * criterion(output.view(-1, ntokens), targets).item()
        return total / (len(data_source) - 1)

    result = {"epochs": [], "threads": a.threads, "blas": blas_in_use(), "vocab": ntokens}
    train_tokens, train_seconds = 0, 0.0
    for epoch in range(first_epoch, a.epochs + 1):
        model.train()
        total_loss, log_start = 0.0, time.time()
        epoch_start = time.time()
        src_mask = generate_square_subsequent_mask(a.bptt)
        num_batches = len(train_data) // a.bptt
        epoch_tokens = 0
        for batch, i in enumerate(range(0, train_data.size(0) - 1, a.bptt)):
            if a.max_batches and batch >= a.max_batches:
                break
            data, targets = get_batch(train_data, i, a.bptt)
            seq_len = data.size(0)
            mask = src_mask if seq_len == a.bptt else src_mask[:seq_len, :seq_len]
            output = model(data, mask)
            loss = criterion(output.view(-1, ntokens), targets)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
            optimizer.step()
            epoch_tokens += targets.numel()
            total_loss += loss.item()
            if batch % a.log_interval == 0 and batch > 0:
                lr = scheduler.get_last_lr()[0]
                ms = (time.time() - log_start) * 1000 / a.log_interval
                cur = total_loss / a.log_interval
                print(f"| epoch {epoch:3d} | {batch:5d}/{num_batches:5d} batches | lr {lr:02.2f} | ms/batch {ms:5.2f} | "
                      f"loss {cur:5.2f} | ppl {math.exp(cur):8.2f}", flush=True)
                total_loss, log_start = 0.0, time.time()
        secs = time.time() - epoch_start
        train_tokens += epoch_tokens
        train_seconds += secs
        rec = {"epoch": epoch, "train_seconds": secs, "tokens_per_s": epoch_tokens / secs}
        if not a.no_eval:
            val_loss = evaluate(val_data)
            rec.update(val_loss=val_loss, val_ppl=math.exp(val_loss))
            print("-" * 89)
            print(f"| end of epoch {epoch:3d} | time: {secs:5.2f}s | valid loss {val_loss:5.2f} | valid ppl {math.exp(val_loss):8.2f}")
            print("-" * 89, flush=True)
            if val_loss < best_val:
                best_val = val_loss
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
        result["epochs"].append(rec)
        scheduler.step()
    result["tokens_per_s"] = train_tokens / train_seconds
    print(f"training: {train_tokens} tokens in {train_seconds:.1f} s = {train_tokens / train_seconds:.0f} tokens/s")
    if not a.no_eval and best_state is not None:
        model.load_state_dict(best_state)
        test_loss = evaluate(test_data)
        result.update(test_loss=test_loss, test_ppl=math.exp(test_loss))
        print("=" * 89)
        print(f"| End of training | test loss {test_loss:5.2f} | test ppl {math.exp(test_loss):8.2f}")
        print("=" * 89)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
