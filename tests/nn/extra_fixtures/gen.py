#!/usr/bin/python3
"""Extra PyTorch-1.13 parity cases for configurations the shared fixtures do not cover, in the same
format as ../shared/fixtures/nn ("xfmr-nnref-1": INDEX.json + <case>.json + <case>.safetensors).

CTest runs the parity runner on this folder through XFMR_NN_FIXTURES (test nn_parity_extra_fixtures),
which also exercises the runner's fixture-folder override. Regenerate with the system PyTorch:

    /usr/bin/python3 tests/nn/extra_fixtures/gen.py tests/nn/extra_fixtures

lm_dropout.py adds the tutorial's training loop with dropout, PyTorch drawing its masks from xfmr's
generator (std::mt19937_64 replicated in numpy).

Tolerances: 10 x the float32-vs-float64 difference of the same computation, floored at 1e-6
(optimizers: relative 1e-6), as in the shared fixtures.
"""
import json
import math
import os
import struct
import sys
import zlib

import numpy as np
import torch

import lm_dropout

torch.set_num_threads(1)
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
DT = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.bool: "BOOL"}
SIZE = {"F32": 4, "F64": 8, "I64": 8, "BOOL": 1}


def write_safetensors(path, tensors, meta):
    items = sorted(tensors.items(), key=lambda kv: (-SIZE[DT[kv[1].dtype]], kv[0]))
    header, blobs, off = {}, [], 0
    for name, t in items:
        a = t.detach().contiguous().numpy()
        b = a.astype(np.uint8).tobytes() if t.dtype == torch.bool else a.tobytes()
        header[name] = {"dtype": DT[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def nice(a):
    """a rounded up to 1, 2 or 5 x a power of ten."""
    e = 10 ** math.floor(math.log10(a))
    return next(m * e for m in (1, 2, 5, 10) if a <= m * e)


def tol(t32, t64, floor=1e-6, rel=1e-4):
    err = (t32.double() - t64.double()).abs().max().item() if t32.numel() else 0.0
    return {"atol": nice(max(floor, 10 * err)), "rtol": rel, "f32_vs_f64_max_abs_err": err}


CASES = []


def save(case, family, spec, tensors, expected):
    spec = dict(spec)
    spec.update({"format": "xfmr-nnref-1", "case": case, "family": family, "set": "xfmr-extra",
                 "torch": {"version": torch.__version__, "num_threads": 1}, "dtype": "float32",
                 "expected": expected,
                 "tensors": {k: {"dtype": DT[v.dtype], "shape": list(v.shape)} for k, v in tensors.items()}})
    write_safetensors(os.path.join(OUT, case + ".safetensors"), tensors,
                      {"format": "xfmr-nnref-1", "case": case, "family": family, "set": "xfmr-extra"})
    with open(os.path.join(OUT, case + ".json"), "w") as f:
        json.dump(spec, f, indent=1)
    CASES.append({"case": case, "family": family, "description": spec.get("description", ""),
                  "json": case + ".json", "safetensors": case + ".safetensors"})


def run_module(make, call, inputs, masks, upstream_names, mode="eval"):
    """Runs the module in f32 and f64 from the same weights; returns outputs and grads (f32) + tolerances."""
    res = {}
    for dt in (torch.float32, torch.float64):
        torch.manual_seed(0)
        m = make().to(dt)
        if dt == torch.float32:
            state = {k: v.clone() for k, v in m.state_dict().items()}
        else:
            m.load_state_dict({k: v.double() for k, v in state.items()})
        m.train(mode == "train")
        ins = {k: v.to(dt).clone().requires_grad_(True) for k, v in inputs.items()}
        ms = {k: (v.to(dt) if v.is_floating_point() else v) for k, v in masks.items()}
        outs = call(m, ins, ms)
        ups = {k: upstream_names[k].to(dt) for k in upstream_names}
        loss = sum((outs[k] * ups[k]).sum() for k in ups)
        params = dict(m.named_parameters())
        grads = torch.autograd.grad(loss, list(params.values()) + list(ins.values()), allow_unused=True)
        pg = {k: g for k, g in zip(params, grads[:len(params)])}
        ig = {k: g for k, g in zip(ins, grads[len(params):])}
        res[dt] = (state, outs, pg, ig)
    return res


def module_case(case, family, description, module_type, args, make, call_spec, call, inputs, masks, mask_meta,
                outputs, mode="eval", upstream=None):
    g = torch.Generator().manual_seed(zlib.crc32(case.encode()))
    ups = {o: torch.randn(s, generator=g) for o, s in outputs.items() if upstream is None or o in upstream}
    res = run_module(make, call, inputs, masks, ups, mode)
    state, o32, pg32, ig32 = res[torch.float32]
    _, o64, pg64, ig64 = res[torch.float64]
    T, E = {}, {}
    for k, v in state.items():
        T["param." + k] = v
    for k, v in inputs.items():
        T["input." + k] = v
    for k, v in masks.items():
        T["mask." + k] = v
    for o in outputs:
        T["out." + o] = o32[o].detach()
        E["out." + o] = tol(o32[o], o64[o])
        if o in ups:
            T["grad_out." + o] = ups[o]
    for k, gr in pg32.items():
        T["grad.param." + k] = gr
        E["grad.param." + k] = tol(gr, pg64[k])
    for k, gr in ig32.items():
        T["grad.input." + k] = gr
        E["grad.input." + k] = tol(gr, ig64[k])
    spec = {"description": description, "module": {"type": module_type, "args": args}, "call": call_spec,
            "mode": mode, "grad_enabled_during_forward": True,
            "params": {k: "param." + k for k in state}, "inputs": {k: "input." + k for k in inputs},
            "masks": mask_meta, "outputs": {o: "out." + o for o in outputs},
            "backward": {"upstream": {o: "grad_out." + o for o in ups},
                         "param_grads": {k: "grad.param." + k for k in pg32},
                         "input_grads": {k: "grad.input." + k for k in ig32}}}
    save(case, family, spec, T, E)


def mha_case(case, description, args, q_shape, kv_shapes, same, am=None, am_meta=None, kpm=None, kpm_meta=None,
             weights_upstream=False, mode="eval", average=True):
    g = torch.Generator().manual_seed(zlib.crc32(case.encode()))
    inputs = {}
    if same == "qkv":
        inputs["x"] = torch.randn(q_shape, generator=g)
        names = ("x", "x", "x")
    elif same == "kv":
        inputs["q"] = torch.randn(q_shape, generator=g)
        inputs["kv"] = torch.randn(kv_shapes[0], generator=g)
        names = ("q", "kv", "kv")
    else:
        inputs["q"] = torch.randn(q_shape, generator=g)
        inputs["k"] = torch.randn(kv_shapes[0], generator=g)
        inputs["v"] = torch.randn(kv_shapes[1], generator=g)
        names = ("q", "k", "v")
    masks, meta = {}, {}
    if am is not None:
        masks["attn_mask"], meta["attn_mask"] = am, am_meta
    if kpm is not None:
        masks["key_padding_mask"], meta["key_padding_mask"] = kpm, kpm_meta

    def make():
        m = torch.nn.MultiheadAttention(**args)
        with torch.no_grad():  # non-zero biases so that every bias path is tested
            for n, p in m.named_parameters():
                if "bias" in n:
                    p.normal_(0, 0.2)
        return m

    def call(m, ins, ms):
        q, k, v = (ins[n] for n in names)
        o, w = m(q, k, v, key_padding_mask=ms.get("key_padding_mask"), need_weights=True,
                 attn_mask=ms.get("attn_mask"), average_attn_weights=average)
        return {"attn_output": o, "attn_weights": w}

    with torch.no_grad():
        torch.manual_seed(0)
        probe = call(make(), inputs, masks)
    outputs = {"attn_output": probe["attn_output"].shape, "attn_weights": probe["attn_weights"].shape}
    call_spec = {"query": "input." + names[0], "key": "input." + names[1], "value": "input." + names[2],
                 "self_attention_same_tensor": same == "qkv",
                 "key_padding_mask": "mask.key_padding_mask" if kpm is not None else None,
                 "attn_mask": "mask.attn_mask" if am is not None else None, "need_weights": True,
                 "average_attn_weights": average}
    module_case(case, "mha", description, "torch.nn.MultiheadAttention", args, make, call_spec, call, inputs, masks,
                meta, outputs, mode, upstream=None if weights_upstream else ["attn_output"])


def full_args(**kw):
    a = {"embed_dim": 8, "num_heads": 2, "dropout": 0.0, "bias": True, "add_bias_kv": False, "add_zero_attn": False,
         "kdim": None, "vdim": None, "batch_first": False}
    a.update(kw)
    return a


def bool_mask(shape, positions):
    m = torch.zeros(shape, dtype=torch.bool)
    for p in positions:
        m[p] = True
    return m


KPM_BOOL = {"dtype": "bool", "kind": "key_padding_bool"}
KPM_FLOAT = {"dtype": "float32", "kind": "key_padding_float"}
AM_BOOL = {"dtype": "bool", "kind": "bool"}
AM_FLOAT = {"dtype": "float32", "kind": "float_additive"}


def main():
    os.makedirs(OUT, exist_ok=True)
    # --- MultiheadAttention variants (weights are an output with their own upstream gradient)
    mha_case("xmha_bias_kv_zero_attn", "add_bias_kv + add_zero_attn, seq-first, bool attn_mask + bool kpm; "
             "gradients through output and averaged weights",
             full_args(add_bias_kv=True, add_zero_attn=True), (5, 3, 8), None, "qkv",
             am=bool_mask((5, 5), [(0, 4), (2, 3)]), am_meta=AM_BOOL,
             kpm=bool_mask((3, 5), [(1, 4), (2, 3), (2, 4)]), kpm_meta=KPM_BOOL, weights_upstream=True)
    mha_case("xmha_cross_floatkpm_boolmask", "cross-attention (separate k, v), batch_first, FLOAT key_padding_mask "
             "with a BOOL attn_mask (torch 1.13 ORs the non-zero kpm entries in)",
             full_args(batch_first=True, num_heads=4), (2, 4, 8), [(2, 6, 8), (2, 6, 8)], "none",
             am=bool_mask((4, 6), [(0, 5), (3, 1)]), am_meta=AM_BOOL,
             kpm=torch.tensor([[0., 0., 0., 0., float("-inf"), 0.], [0., 0., float("-inf"), 0., 0., 0.]]),
             kpm_meta=KPM_FLOAT, weights_upstream=True)
    mha_case("xmha_floatkpm_floatmask_ignored", "self-attention with a float attn_mask AND a float key_padding_mask: "
             "torch 1.13 ignores the kpm (masked_fill with a float mask is a no-op)",
             full_args(), (4, 2, 8), None, "qkv",
             am=torch.randn(4, 4, generator=torch.Generator().manual_seed(3)), am_meta=AM_FLOAT,
             kpm=torch.tensor([[0., 0., 0., float("-inf")], [0., float("-inf"), 0., 0.]]), kpm_meta=KPM_FLOAT)
    mha_case("xmha_unbatched_kdim_vdim", "unbatched query [L, E] with kdim=5, vdim=3 and a bool key padding mask [S]; "
             "per-head weights", full_args(kdim=5, vdim=3, num_heads=4), (3, 8), [(6, 5), (6, 3)], "none",
             kpm=bool_mask((6,), [(4,)]), kpm_meta=KPM_BOOL, average=False, weights_upstream=True)
    mha_case("xmha_kv_same_train_h1", "cross-attention (key is value), one head, train() with dropout 0",
             full_args(num_heads=1, batch_first=True), (3, 2, 8), [(3, 5, 8)], "kv", mode="train",
             weights_upstream=True)

    # --- encoder layer with odd sizes, one head, gelu, eps 1e-6, batch_first, train()
    g = torch.Generator().manual_seed(7)
    la = {"d_model": 10, "nhead": 1, "dim_feedforward": 13, "dropout": 0.0, "activation": "gelu",
          "layer_norm_eps": 1e-6, "batch_first": True, "norm_first": True}

    def make_layer():
        l = torch.nn.TransformerEncoderLayer(**la)
        with torch.no_grad():
            for n, p in l.named_parameters():
                if "bias" in n:
                    p.normal_(0, 0.2)
        return l

    module_case("xenc_layer_odd_h1_gelu_pre_train", "encoder_layer",
                "pre-norm gelu encoder layer, d_model 10, nhead 1, dim_ff 13, eps 1e-6, batch_first, train(), "
                "bool key padding mask", "torch.nn.TransformerEncoderLayer", dict(la, bias=True), make_layer,
                {"src": "input.src", "src_mask": None, "src_key_padding_mask": "mask.src_key_padding_mask"},
                lambda m, ins, ms: {"output": m(ins["src"], src_key_padding_mask=ms["src_key_padding_mask"])},
                {"src": torch.randn(3, 4, 10, generator=g)},
                {"src_key_padding_mask": bool_mask((3, 4), [(1, 3), (2, 2), (2, 3)])},
                {"src_key_padding_mask": KPM_BOOL}, {"output": (3, 4, 10)}, mode="train")

    # --- losses with class weights
    for case, fn, kw in [
        ("xgrad_cross_entropy_weight_smoothing_ignore", "cross_entropy",
         {"ignore_index": 2, "reduction": "mean", "label_smoothing": 0.2}),
        ("xgrad_cross_entropy_weight_none", "cross_entropy",
         {"ignore_index": -100, "reduction": "none", "label_smoothing": 0.05}),
        ("xgrad_nll_loss_weight", "nll_loss", {"ignore_index": -100, "reduction": "mean"}),
    ]:
        g = torch.Generator().manual_seed(zlib.crc32(case.encode()))
        logits = torch.randn(9, 6, generator=g) * 3
        if fn == "nll_loss":
            logits = torch.log_softmax(logits, -1)
        target = torch.randint(0, 6, (9,), generator=g)
        target[3] = 2
        weight = torch.rand(6, generator=g) + 0.5
        outs = {}
        for dt in (torch.float32, torch.float64):
            x = logits.to(dt).clone().requires_grad_(True)
            f = getattr(torch.nn.functional, fn)
            loss = f(x, target, weight=weight.to(dt), **kw)
            up = torch.randn(loss.shape, generator=torch.Generator().manual_seed(1)).to(dt)
            (gx,) = torch.autograd.grad((loss * up).sum(), x)
            outs[dt] = (loss.detach(), gx, up)
        T = {"input.logits": logits, "input.target": target, "input.weight": weight,
             "out.loss": outs[torch.float32][0], "grad_out.loss": outs[torch.float32][2].float(),
             "grad.input.logits": outs[torch.float32][1]}
        E = {"out.loss": tol(outs[torch.float32][0], outs[torch.float64][0]),
             "grad.input.logits": tol(outs[torch.float32][1], outs[torch.float64][1])}
        spec = {"description": f"F.{fn} with class weights {kw}",
                "call": {"function": "torch.nn.functional." + fn,
                         "args": dict({"input": "logits", "target": "target", "weight": "weight"}, **kw)},
                "inputs": {"logits": "input.logits", "target": "input.target", "weight": "input.weight"},
                "outputs": {"loss": "out.loss"},
                "backward": {"upstream": {"loss": "grad_out.loss"}, "input_grads": {"logits": "grad.input.logits"}}}
        save(case, "blocks", spec, T, E)

    # --- optimizers: Adam(amsgrad), AdamW(amsgrad, maximize), SGD(dampening, maximize, weight decay)
    for case, typ, args in [
        ("xoptim_adam_amsgrad", "Adam", {"lr": 0.01, "betas": [0.8, 0.99], "eps": 1e-6, "weight_decay": 0.05,
                                         "amsgrad": True}),
        ("xoptim_adamw_amsgrad_maximize", "AdamW", {"lr": 0.02, "betas": [0.9, 0.95], "eps": 1e-8,
                                                   "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
        ("xoptim_sgd_dampening_maximize", "SGD", {"lr": 0.05, "momentum": 0.7, "dampening": 0.3,
                                                  "weight_decay": 0.02, "nesterov": False, "maximize": True}),
    ]:
        g = torch.Generator().manual_seed(zlib.crc32(case.encode()))
        shapes = {"p0": (3, 4), "p1": (5,)}
        params = {k: torch.randn(s, generator=g) for k, s in shapes.items()}
        steps = 4
        grads = [{k: torch.randn(s, generator=g) for k, s in shapes.items()} for _ in range(steps)]
        T, E = {}, {}
        for k, v in params.items():
            T["param." + k] = v
        ps = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        opt = getattr(torch.optim, typ)(list(ps.values()), **args)
        by_step = []
        for t in range(steps):
            for k in ps:
                ps[k].grad = grads[t][k].clone()
                T[f"input.step{t + 1}.grad.{k}"] = grads[t][k]
            opt.step()
            exp = {}
            for k, p in ps.items():
                name = f"out.step{t + 1}.param.{k}"
                T[name] = p.detach().clone()
                exp["param." + k] = name
                for sk, sv in opt.state[p].items():
                    if sk == "step":
                        if k == "p0":
                            T[f"state.step{t + 1}.step"] = sv.clone().float().reshape(())
                            exp["step"] = f"state.step{t + 1}.step"
                        continue
                    sname = f"state.step{t + 1}.{sk}.{k}"
                    T[sname] = sv.clone()
                    exp[f"{sk}.{k}"] = sname
            by_step.append(exp)
        for n, v in T.items():
            if n.startswith(("out.", "state.")):
                E[n] = {"atol": max(1e-6 * v.abs().max().item(), 1e-7), "rtol": 1e-4}
        spec = {"description": f"{typ}({args}), {steps} steps",
                "optimizer": {"type": "torch.optim." + typ, "args": args, "foreach": False,
                              "maximize": args.get("maximize", False)},
                "params": {k: "param." + k for k in params},
                "grads_given": [{k: f"input.step{t + 1}.grad.{k}" for k in params} for t in range(steps)],
                "expected_by_step": by_step}
        save(case, "optim", spec, T, E)

    # --- schedulers
    for case, typ, base, args, make in [
        ("xsched_multistep", "torch.optim.lr_scheduler.MultiStepLR", 0.3, {"milestones": [2, 5, 5, 9], "gamma": 0.3},
         lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [2, 5, 5, 9], 0.3)),
        ("xsched_exponential", "torch.optim.lr_scheduler.ExponentialLR", 0.7, {"gamma": 0.93},
         lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.93)),
        ("xsched_cosine_annealing_long", "torch.optim.lr_scheduler.CosineAnnealingLR", 0.02,
         {"T_max": 7, "eta_min": 0.001}, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 7, 0.001)),
    ]:
        p = torch.zeros(1, requires_grad=True)
        o = torch.optim.SGD([p], lr=base)
        s = make(o)
        lrs = [o.param_groups[0]["lr"]]
        for _ in range(30):
            o.step()
            s.step()
            lrs.append(o.param_groups[0]["lr"])
        k = np.arange(31)
        if "MultiStep" in typ:
            closed = [base * 0.3 ** sum(m <= i for m in [2, 5, 5, 9]) for i in k]
        elif "Exponential" in typ:
            closed = [base * 0.93 ** i for i in k]
        else:
            closed = [0.001 + (base - 0.001) * (1 + math.cos(math.pi * i / 7)) / 2 for i in k]
        T = {"out.lr": torch.tensor(lrs, dtype=torch.float64), "out.lr_closed_form": torch.tensor(closed, dtype=torch.float64)}
        E = {"out.lr": {"atol": 1e-14 * base, "rtol": 1e-9}, "out.lr_closed_form": {"atol": 1e-14 * base, "rtol": 1e-9}}
        spec = {"description": f"{typ} {args}, 30 steps",
                "scheduler": {"type": typ, "base_lr": base, "args": args},
                "outputs": {"lr": "out.lr", "lr_closed_form": "out.lr_closed_form"}}
        save(case, "sched", spec, T, E)

    # --- the tutorial's training loop with dropout, masks from xfmr's generator (see lm_dropout.py)
    lm_dropout.lm_traj_dropout_case(save, tol, nice)

    with open(os.path.join(OUT, "INDEX.json"), "w") as f:
        json.dump({"format": "xfmr-nnref-1", "set": "xfmr-extra", "num_cases": len(CASES), "cases": CASES}, f,
                  indent=1)


if __name__ == "__main__":
    main()
