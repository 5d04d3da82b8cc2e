#!/usr/bin/env python3
"""Structural + numerical check that a BERT classifier folder written by `xfmr train-classifier`
is what HuggingFace transformers expects (transformers itself is not installable here; torch is).

Checks:
 1. config.json: every key is a BertConfig / PretrainedConfig field (transformers 4.x names),
    model_type "bert", architectures ["BertForSequenceClassification"], id2label keys "0".."n-1"
    matching label2id.
 2. model.safetensors: exactly the state_dict names of HF's BertForSequenceClassification for that
    config (bert.embeddings.*, bert.encoder.layer.N.*, bert.pooler.dense.*, classifier.*), with HF's
    shapes ([out, in] Linear weights), in a dtype torch loads.
 3. tokenizer.json: HF tokenizers' schema (version, added_tokens flags, normalizer / pre_tokenizer /
    post_processor / decoder / model types and fields), vocab ids 0..V-1 matching vocab.txt.
 4. Numerics: HF's BERT forward written in torch (BertEmbeddings -> BertLayer x N -> BertPooler ->
    classifier, erf-gelu, LayerNorm eps from config) on the weights, with BERT's slow tokenizer
    (BasicTokenizer + greedy WordPiece) re-implemented from vocab.txt, must give the logits that
    `xfmr pipeline ... --params '{"function_to_apply": "none"}'` prints (|diff| < 1e-4) and the same ids
    as `xfmr tokenize`.
Usage: scripts/hf_check_classifier.py MODEL_DIR XFMR_BINARY ["text" ...]
"""
import json, math, struct, subprocess, sys, unicodedata
import numpy as np
import torch

BERT_CONFIG_KEYS = {
    # BertConfig.__init__
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
    "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size",
    "initializer_range", "layer_norm_eps", "pad_token_id", "position_embedding_type", "use_cache",
    "classifier_dropout",
    # PretrainedConfig
    "model_type", "architectures", "id2label", "label2id", "problem_type", "torch_dtype", "transformers_version",
    "bos_token_id", "eos_token_id", "finetuning_task", "tie_word_embeddings",
}


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    dt = {"F32": np.float32, "F16": np.float16, "BF16": None}
    out = {}
    for k, v in header.items():
        a, b = v["data_offsets"]
        buf = raw[8 + n + a:8 + n + b]
        if v["dtype"] == "BF16":
            u = np.frombuffer(buf, dtype=np.uint16).astype(np.uint32) << 16
            arr = u.view(np.float32)
        else:
            arr = np.frombuffer(buf, dtype=dt[v["dtype"]]).astype(np.float32)
        out[k] = (v["dtype"], torch.from_numpy(arr.reshape(v["shape"]).copy()))
    return out


def expected_shapes(c):
    H, I, V = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    P, T, C = c["max_position_embeddings"], c.get("type_vocab_size", 2), len(c["id2label"])
    s = {"bert.embeddings.word_embeddings.weight": [V, H], "bert.embeddings.position_embeddings.weight": [P, H],
         "bert.embeddings.token_type_embeddings.weight": [T, H], "bert.embeddings.LayerNorm.weight": [H],
         "bert.embeddings.LayerNorm.bias": [H], "bert.pooler.dense.weight": [H, H], "bert.pooler.dense.bias": [H],
         "classifier.weight": [C, H], "classifier.bias": [C]}
    for i in range(c["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}."
        for m in ("query", "key", "value"):
            s[p + f"attention.self.{m}.weight"] = [H, H]
            s[p + f"attention.self.{m}.bias"] = [H]
        s[p + "attention.output.dense.weight"] = [H, H]
        s[p + "attention.output.dense.bias"] = [H]
        s[p + "attention.output.LayerNorm.weight"] = [H]
        s[p + "attention.output.LayerNorm.bias"] = [H]
        s[p + "intermediate.dense.weight"] = [I, H]
        s[p + "intermediate.dense.bias"] = [I]
        s[p + "output.dense.weight"] = [H, I]
        s[p + "output.dense.bias"] = [H]
        s[p + "output.LayerNorm.weight"] = [H]
        s[p + "output.LayerNorm.bias"] = [H]
    return s


# ---- BERT's slow tokenizer (transformers BasicTokenizer + WordpieceTokenizer), lowercasing ----
def _is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def basic_tokenize(text):
    text = "".join(" " if ch in "\t\n\r" or unicodedata.category(ch) == "Zs" else ch for ch in text
                   if not (ord(ch) == 0 or ord(ch) == 0xFFFD or (unicodedata.category(ch).startswith("C") and ch not in "\t\n\r")))
    out = []
    for tok in text.strip().split():
        tok = unicodedata.normalize("NFD", tok.lower())
        tok = "".join(ch for ch in tok if unicodedata.category(ch) != "Mn")
        cur = ""
        for ch in tok:
            if _is_punct(ch):
                if cur: out.append(cur)
                out.append(ch)
                cur = ""
            else:
                cur += ch
        if cur: out.append(cur)
    return out


def wordpiece(word, vocab, unk="[UNK]"):
    if len(word) > 100: return [unk]
    out, start = [], 0
    while start < len(word):
        end, cur = len(word), None
        while start < end:
            sub = word[start:end] if start == 0 else "##" + word[start:end]
            if sub in vocab:
                cur = sub
                break
            end -= 1
        if cur is None: return [unk]
        out.append(cur)
        start = end
    return out


def bert_forward(W, c, ids):
    H, nh = c["hidden_size"], c["num_attention_heads"]
    eps = c.get("layer_norm_eps", 1e-12)
    ids = torch.tensor([ids])
    L = ids.shape[1]
    ln = lambda x, p: torch.nn.functional.layer_norm(x, (H,), W[p + ".weight"], W[p + ".bias"], eps)
    lin = lambda x, p: torch.nn.functional.linear(x, W[p + ".weight"], W[p + ".bias"])
    x = W["bert.embeddings.word_embeddings.weight"][ids] + W["bert.embeddings.position_embeddings.weight"][:L] \
        + W["bert.embeddings.token_type_embeddings.weight"][torch.zeros_like(ids)]
    x = ln(x, "bert.embeddings.LayerNorm")
    d = H // nh
    for i in range(c["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}."
        sh = lambda t: t.view(1, L, nh, d).transpose(1, 2)
        q, k, v = sh(lin(x, p + "attention.self.query")), sh(lin(x, p + "attention.self.key")), sh(lin(x, p + "attention.self.value"))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), -1) @ v
        a = a.transpose(1, 2).reshape(1, L, H)
        x = ln(lin(a, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        h = torch.nn.functional.gelu(lin(x, p + "intermediate.dense"))
        x = ln(lin(h, p + "output.dense") + x, p + "output.LayerNorm")
    pooled = torch.tanh(lin(x[:, 0], "bert.pooler.dense"))
    return lin(pooled, "classifier")[0]


def main():
    d, xfmr = sys.argv[1], sys.argv[2]
    texts = sys.argv[3:] or ["It is great to learn deep learning.", "He dislikes any party."]
    c = json.load(open(f"{d}/config.json"))
    unknown = set(c) - BERT_CONFIG_KEYS
    if unknown: fail(f"config keys BertConfig does not know: {sorted(unknown)}")
    if c["model_type"] != "bert" or c["architectures"] != ["BertForSequenceClassification"]:
        fail("not a BertForSequenceClassification config")
    n = len(c["id2label"])
    if sorted(c["id2label"]) != [str(i) for i in range(n)] or {v: int(k) for k, v in c["id2label"].items()} != c["label2id"]:
        fail("id2label / label2id inconsistent")
    print(f"config.json: {len(c)} keys, all BertConfig/PretrainedConfig fields; labels {c['id2label']}")

    st = read_safetensors(f"{d}/model.safetensors")
    exp = expected_shapes(c)
    if set(st) != set(exp):
        fail(f"state_dict names differ: missing {sorted(set(exp) - set(st))}, unexpected {sorted(set(st) - set(exp))}")
    for k, shape in exp.items():
        if list(st[k][1].shape) != shape: fail(f"{k}: shape {list(st[k][1].shape)}, HF expects {shape}")
    print(f"model.safetensors: {len(st)} tensors = HF BertForSequenceClassification state_dict "
          f"(names and shapes), dtypes {sorted({v[0] for v in st.values()})}")
    W = {k: v[1] for k, v in st.items()}

    tj = json.load(open(f"{d}/tokenizer.json"))
    for key in ("version", "truncation", "padding", "added_tokens", "normalizer", "pre_tokenizer", "post_processor",
                "decoder", "model"):
        if key not in tj: fail(f"tokenizer.json lacks '{key}'")
    for t in tj["added_tokens"]:
        if set(t) != {"id", "content", "single_word", "lstrip", "rstrip", "normalized", "special"}:
            fail(f"added token fields {sorted(t)}")
    m = tj["model"]
    if m["type"] != "WordPiece" or set(m) != {"type", "unk_token", "continuing_subword_prefix", "max_input_chars_per_word", "vocab"}:
        fail(f"model fields {sorted(m)}")
    vocab_txt = open(f"{d}/vocab.txt", encoding="utf-8").read().split("\n")[:-1]
    if [t for t, _ in sorted(m["vocab"].items(), key=lambda kv: kv[1])] != vocab_txt or \
            sorted(m["vocab"].values()) != list(range(len(vocab_txt))):
        fail("tokenizer.json vocab != vocab.txt (or ids not 0..V-1)")
    if len(vocab_txt) != c["vocab_size"]: fail("vocab size != config vocab_size")
    print(f"tokenizer.json: HF schema fields present; WordPiece vocab of {len(vocab_txt)} = vocab.txt; "
          f"normalizer {tj['normalizer']['type']}, pre_tokenizer {tj['pre_tokenizer']['type']}, "
          f"post_processor {tj['post_processor']['type']}, decoder {tj['decoder']['type']}")

    vocab = {t: i for i, t in enumerate(vocab_txt)}
    worst = 0.0
    for text in texts:
        toks = ["[CLS]"] + [p for w in basic_tokenize(text) for p in wordpiece(w, vocab)] + ["[SEP]"]
        ids = [vocab[t] for t in toks]
        x_ids = json.loads(subprocess.check_output([xfmr, "tokenize", "--tokenizer", d, text]))["ids"]
        if x_ids != ids: fail(f"{text!r}: slow-tokenizer ids {ids} != xfmr ids {x_ids}")
        with torch.no_grad():
            logits = bert_forward(W, c, ids)
        out = json.loads(subprocess.check_output([xfmr, "pipeline", "text-classification", "--model", d, "--params",
                                                  '{"function_to_apply": "none", "top_k": null}', text]))
        xl = {r["label"]: r["score"] for r in (out[0] if isinstance(out[0], list) else out)}
        for i in range(n):
            worst = max(worst, abs(xl[c["id2label"][str(i)]] - float(logits[i])))
        label = c["id2label"][str(int(torch.argmax(logits)))]
        print(f"  {text!r}: tokens {toks} -> torch logits {[round(float(v), 5) for v in logits]} -> {label}")
    if worst > 1e-4: fail(f"xfmr and the torch re-implementation differ by {worst}")
    print(f"numerics: torch BERT forward == xfmr pipeline logits (max |diff| {worst:.2e}); OK")


if __name__ == "__main__":
    main()
