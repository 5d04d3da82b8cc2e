"""The tutorial's training loop WITH dropout, for gen.py.

Every other trajectory golden of the tutorial model runs with dropout 0, because PyTorch's and xfmr's
random streams differ. Here PyTorch draws its dropout masks from xfmr's stream instead
(bench/lm/xfmr_stream.py: std::mt19937_64 seeded with `seed`, keep when u >= p, one draw per element in
row-major order of each dropout input, dropout calls in forward order). So both sides apply the same masks
and the losses must agree step by step: any difference in where dropout sits (positional encoding,
attention probabilities, the feed-forward hidden layer, both residual branches), in its scaling or in its
backward shows up at once.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "bench", "lm"))
import torch_lm  # noqa: E402  (the tutorial's model as the PyTorch side of bench/lm runs it)
from xfmr_stream import Mt19937_64, StreamDropout, self_check  # noqa: E402


def markov_stream(ntoken, length, rng):
    succ = rng.integers(0, ntoken, size=(ntoken, 3))
    out, t = [], int(rng.integers(ntoken))
    for _ in range(length):
        out.append(t)
        t = int(succ[t, rng.integers(3)])
    return torch.tensor(out, dtype=torch.int64)


def run(args, init, train_stream, val_stream, cfg, dtype, seed):
    model = torch_lm.TransformerModel(**args).to(dtype)
    missing = model.load_state_dict({k: v.to(dtype) for k, v in init.items()}, strict=False).missing_keys
    assert missing == ["pos_encoder.pe"], missing
    train_data = torch_lm.batchify(train_stream, cfg["bsz"])
    val_data = torch_lm.batchify(val_stream, cfg["eval_bsz"])
    bptt, ntok = cfg["bptt"], args["ntoken"]
    full_mask = torch_lm.generate_square_subsequent_mask(bptt).to(dtype)
    crit = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"])
    sched = torch.optim.lr_scheduler.StepLR(opt, 1.0, gamma=cfg["gamma"])
    drop = StreamDropout(Mt19937_64(seed))
    saved_dropout, F.dropout = F.dropout, drop
    try:
        losses, norms, lrs, vals, steps = [], [], [], [], []
        for epoch in range(1, cfg["epochs"] + 1):
            model.train()
            for i in range(0, train_data.size(0) - 1, bptt):
                data, targets = torch_lm.get_batch(train_data, i, bptt)
                L = data.size(0)
                out = model(data, full_mask if L == bptt else full_mask[:L, :L])
                loss = crit(out.view(-1, ntok), targets)
                lrs.append(opt.param_groups[0]["lr"])
                steps.append({"step": len(steps) + 1, "epoch": epoch, "i": i, "seq_len": L, "lr": lrs[-1]})
                opt.zero_grad()
                loss.backward()
                norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip"])))
                opt.step()
                losses.append(loss.item())
            model.eval()
            total = 0.0
            with torch.no_grad():
                for i in range(0, val_data.size(0) - 1, bptt):
                    data, targets = torch_lm.get_batch(val_data, i, bptt)
                    L = data.size(0)
                    out = model(data, full_mask if L == bptt else full_mask[:L, :L])
                    total += L * crit(out.view(-1, ntok), targets).item()
            vals.append(total / (len(val_data) - 1))
            sched.step()
    finally:
        F.dropout = saved_dropout
    final = {k: v.detach().clone() for k, v in model.named_parameters()}
    return losses, norms, lrs, vals, steps, final, drop.calls


def lm_traj_dropout_case(save, tol, nice):  # gen.py's writer, tolerance and rounding helpers
    self_check()
    case, seed = "xlm_traj_dropout", 20261126
    args = {"ntoken": 97, "d_model": 64, "nhead": 2, "d_hid": 96, "nlayers": 2, "dropout": 0.2}
    cfg = {"bsz": 8, "eval_bsz": 10, "bptt": 16, "epochs": 3, "lr": 5.0, "gamma": 0.95, "clip": 0.5}
    rng = np.random.default_rng(11)
    stream = markov_stream(args["ntoken"], 1120 + 400, rng)
    train_stream, val_stream = stream[:1120], stream[1120:]
    torch.manual_seed(5)
    init = torch_lm.TransformerModel(**args).state_dict()
    init = {k: v.clone() for k, v in init.items() if k != "pos_encoder.pe"}
    r32 = run(args, init, train_stream, val_stream, cfg, torch.float32, seed)
    r64 = run(args, init, train_stream, val_stream, cfg, torch.float64, seed)
    losses, norms, lrs, vals, steps, final, calls = r32
    assert calls == len(steps) * (1 + 4 * args["nlayers"]), calls
    per_step, worst = [], 0.0
    for a, b in zip(losses, r64[0]):
        worst = max(worst, abs(a - b))
        per_step.append(nice(max(1e-5, 10 * worst)))
    T = {"param." + k: v for k, v in init.items()}
    T["input.train_stream"], T["input.val_stream"] = train_stream, val_stream
    T["out.train_loss"] = torch.tensor(losses, dtype=torch.float32)
    T["out.grad_norm"] = torch.tensor(norms, dtype=torch.float64)
    T["out.lr"] = torch.tensor(lrs, dtype=torch.float64)
    T["out.val_loss"] = torch.tensor(vals, dtype=torch.float64)
    E = {"out.train_loss": {"atol": per_step[-1], "rtol": 0.0, "note": "per-step tolerance in per_step_atol"},
         "out.grad_norm": dict(tol(T["out.grad_norm"], torch.tensor(r64[1], dtype=torch.float64)), rtol=1e-3),
         "out.lr": {"atol": 1e-12, "rtol": 0.0},
         "out.val_loss": tol(T["out.val_loss"], torch.tensor(r64[3], dtype=torch.float64), rel=0.0)}
    for k, v in final.items():
        T["out.final_params." + k] = v
        E["out.final_params." + k] = tol(v, r64[5][k])
    n_batches = len(steps) // cfg["epochs"]
    spec = {
        "description": f"tutorial training loop WITH dropout={args['dropout']}: masks drawn from xfmr's generator "
                       f"(mt19937_64 seed {seed}); {cfg['epochs']} epochs x {n_batches} batches = {len(steps)} steps",
        "seed": 5,
        "model": {"type": "TransformerModel (PyTorch tutorial 'Language Modeling with nn.Transformer', torch 1.13 era)",
                  "args": args, "init": "torch.manual_seed(5) defaults; the exact initial values are stored (param.*)"},
        "dropout_stream": {
            "generator": "std::mt19937_64", "seed": seed, "uniform": "(draw >> 40) * 2^-24 (float32)",
            "keep": "uniform >= p", "scale": "float32(1) / (float32(1) - p)",
            "order": "one draw per element in row-major order of each dropout input; calls in forward order: "
                     "pos_encoder, then per layer: attention probabilities [batch, heads, L, S], dropout1, the "
                     "feed-forward hidden layer, dropout2; none in eval()"},
        "params": {k: "param." + k for k in init},
        "param_order": [k for k, _ in torch_lm.TransformerModel(**args).named_parameters()],
        "data": {"train_stream": "input.train_stream", "val_stream": "input.val_stream",
                 "streams": "one random sparse Markov chain over the ntoken ids (val_stream continues train_stream)",
                 "train_data": f"batchify(train_stream, bsz={cfg['bsz']})",
                 "val_data": f"batchify(val_stream, eval_batch_size={cfg['eval_bsz']})",
                 "bptt": cfg["bptt"]},
        "procedure": [
            f"model = TransformerModel({', '.join(f'{k}={v}' for k, v in args.items())}) loaded with param.*; "
            "torch.nn.functional.dropout replaced by the dropout_stream",
            f"criterion = nn.CrossEntropyLoss(); optimizer = SGD(model.parameters(), lr={cfg['lr']}); "
            f"scheduler = StepLR(optimizer, 1.0, gamma={cfg['gamma']})",
            f"for epoch in 1..{cfg['epochs']}: train() as the tutorial with clip_grad_norm_(model.parameters(), "
            f"{cfg['clip']}); evaluate(model, val_data); scheduler.step()"],
        "outputs": {"train_loss": "out.train_loss", "grad_norm": "out.grad_norm", "lr": "out.lr",
                    "val_loss": "out.val_loss", "final_params": {k: "out.final_params." + k for k in final}},
        "steps": steps,
        "per_step_atol": per_step,
        "tolerance_note": "per_step_atol[k] = 10 x the largest float32-vs-float64 loss difference up to step k "
                          "(min 1e-5); both runs use the same masks",
    }
    save(case, "lm_traj", spec, T, E)
