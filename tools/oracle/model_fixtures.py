#!/usr/bin/env python3
"""Random LLaMA checkpoints in Hugging Face layout and the outputs of an independent float64
LLaMA implementation on them, for intactkv.model.TorchModelOracleTest.

Usage (Debian: apt-get install python3-torch libopenblas0-pthread):
    /usr/bin/python3 tools/oracle/model_fixtures.py model/src/test/resources/oracle/model

Each case directory holds config.json, the checkpoint (model.safetensors, or shards with
model.safetensors.index.json) and expected.safetensors (float64): input_ids (I64), logits
(T, V), hidden.{l} (T, d) = output of decoder layer l, and, for the KV-cache path,
past_logits (T - P, V) of tokens P.. computed with the cache of tokens 0..P-1. The model here
follows HF's modeling_llama.py (rotate_half RoPE, repeat_kv, RMSNorm, SwiGLU) but is written
from the formulas, in float64, without transformers. Safetensors are written by this script
too (header JSON + little-endian data), independently of the Java writer.
"""
import json
import math
import os
import struct
import sys

import torch

DT = torch.float64  # the benchmark (tools/bench/model_torch.py) switches it to float32 too

CASES = [
    # name, d, h, h_kv, L, d_ff, V, tied, dtype, sharded
    ("gqa_f32", 32, 4, 2, 2, 48, 64, False, "F32", False),
    ("tied_bf16", 24, 3, 3, 2, 40, 50, True, "BF16", False),
    ("mqa_f16_sharded", 16, 4, 1, 3, 24, 40, False, "F16", True),
]


def write_safetensors(path, tensors, meta=None):
    """tensors: list of (name, dtype string, torch tensor) in file order."""
    header, blobs, off = {"__metadata__": meta or {"format": "pt"}}, [], 0
    for name, dt, t in tensors:
        t = t.contiguous()
        if dt == "F64":
            raw = t.to(torch.float64).numpy().tobytes()
        elif dt == "F32":
            raw = t.to(torch.float32).numpy().tobytes()
        elif dt == "F16":
            raw = t.to(torch.float16).numpy().tobytes()
        elif dt == "BF16":
            raw = t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
        elif dt == "I64":
            raw = t.to(torch.int64).numpy().tobytes()
        else:
            raise ValueError(dt)
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def stored(t, dt):
    """The float64 value of t after storing it as dt (what the Java loader sees)."""
    return {"F32": t.to(torch.float32), "F16": t.to(torch.float16), "BF16": t.to(torch.bfloat16)}[dt].to(DT)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope(x, positions, dh, theta):
    inv = 1.0 / (theta ** (torch.arange(0, dh, 2, dtype=DT) / dh))
    freqs = torch.outer(positions.to(DT), inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    return x * emb.cos() + rotate_half(x) * emb.sin()


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def forward(W, cfg, ids, past=None, kvq=None):
    """ids: (T,) tokens after a past of length p. Returns logits, per-layer outputs, present (K, V) per layer.
    kvq, if given, fake-quantizes the new keys (after RoPE) and values before they join the past."""
    d, h, hkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    dh, L, eps = d // h, cfg["num_hidden_layers"], cfg["rms_norm_eps"]
    p = 0 if past is None else past[0][0].shape[1]
    T = ids.shape[0]
    pos = torch.arange(p, p + T)
    x = W["model.embed_tokens.weight"][ids]
    hidden, present = [], []
    for l in range(L):
        pre = f"model.layers.{l}."
        n = rms_norm(x, W[pre + "input_layernorm.weight"], eps)
        q = (n @ W[pre + "self_attn.q_proj.weight"].T).view(T, h, dh).transpose(0, 1)
        k = (n @ W[pre + "self_attn.k_proj.weight"].T).view(T, hkv, dh).transpose(0, 1)
        v = (n @ W[pre + "self_attn.v_proj.weight"].T).view(T, hkv, dh).transpose(0, 1)
        q, k = rope(q, pos, dh, cfg["rope_theta"]), rope(k, pos, dh, cfg["rope_theta"])
        if kvq is not None:
            k, v = kvq(k), kvq(v)
        if past is not None:
            k = torch.cat((past[l][0], k), dim=1)
            v = torch.cat((past[l][1], v), dim=1)
        present.append((k, v))
        rep = h // hkv
        kr = k.repeat_interleave(rep, dim=0)
        vr = v.repeat_interleave(rep, dim=0)
        scores = q @ kr.transpose(1, 2) / math.sqrt(dh)
        S = k.shape[1]
        allowed = torch.arange(S)[None, :] <= (torch.arange(T)[:, None] + p)
        scores = scores.masked_fill(~allowed, torch.finfo(DT).min)
        probs = torch.softmax(scores, dim=-1)
        ctx = (probs @ vr).transpose(0, 1).reshape(T, d)
        x = x + ctx @ W[pre + "self_attn.o_proj.weight"].T
        m = rms_norm(x, W[pre + "post_attention_layernorm.weight"], eps)
        gate = torch.nn.functional.silu(m @ W[pre + "mlp.gate_proj.weight"].T)
        up = m @ W[pre + "mlp.up_proj.weight"].T
        x = x + (gate * up) @ W[pre + "mlp.down_proj.weight"].T
        hidden.append(x)
    head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    logits = rms_norm(x, W["model.norm.weight"], eps) @ head.T
    return logits, hidden, present


def make_case(root, name, d, h, hkv, L, dff, V, tied, dt, sharded, seed):
    g = torch.Generator().manual_seed(seed)
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
           "hidden_size": d, "intermediate_size": dff, "num_attention_heads": h, "num_key_value_heads": hkv,
           "num_hidden_layers": L, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "vocab_size": V,
           "max_position_embeddings": 64, "tie_word_embeddings": tied, "bos_token_id": 1, "eos_token_id": 2,
           "torch_dtype": {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}[dt]}
    dh = d // h
    shapes = [("model.embed_tokens.weight", (V, d))]
    for l in range(L):
        pre = f"model.layers.{l}."
        shapes += [(pre + "input_layernorm.weight", (d,)), (pre + "self_attn.q_proj.weight", (d, d)),
                   (pre + "self_attn.k_proj.weight", (hkv * dh, d)), (pre + "self_attn.v_proj.weight", (hkv * dh, d)),
                   (pre + "self_attn.o_proj.weight", (d, d)), (pre + "post_attention_layernorm.weight", (d,)),
                   (pre + "mlp.gate_proj.weight", (dff, d)), (pre + "mlp.up_proj.weight", (dff, d)),
                   (pre + "mlp.down_proj.weight", (d, dff))]
    shapes.append(("model.norm.weight", (d,)))
    if not tied:
        shapes.append(("lm_head.weight", (V, d)))
    W = {}
    for n, s in shapes:
        if n.endswith("norm.weight"):
            t = 1.0 + 0.2 * torch.randn(s, generator=g, dtype=DT)
        else:
            t = 0.3 * torch.randn(s, generator=g, dtype=DT)
        W[n] = stored(t, dt)
    out = os.path.join(root, name)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    items = [(n, dt, W[n]) for n, _ in shapes]
    if sharded:
        half = len(items) // 2
        weight_map = {}
        for i, part in enumerate((items[:half], items[half:])):
            fname = f"model-{i + 1:05d}-of-00002.safetensors"
            write_safetensors(os.path.join(out, fname), part)
            weight_map.update({n: fname for n, _, _ in part})
        with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=2)
    else:
        write_safetensors(os.path.join(out, "model.safetensors"), items)

    T, P = 9, 4
    ids = torch.cat((torch.tensor([1]), torch.randint(3, V, (T - 1,), generator=g)))
    logits, hidden, _ = forward(W, cfg, ids)
    _, _, present = forward(W, cfg, ids[:P])
    past_logits, _, _ = forward(W, cfg, ids[P:], past=present)
    exp = [("input_ids", "I64", ids), ("logits", "F64", logits), ("past_logits", "F64", past_logits)]
    exp += [(f"hidden.{l}", "F64", hidden[l]) for l in range(L)]
    write_safetensors(os.path.join(out, "expected.safetensors"), exp)


def main():
    root = sys.argv[1]
    os.makedirs(root, exist_ok=True)
    for i, c in enumerate(CASES):
        make_case(root, *c, seed=100 + i)
    with open(os.path.join(root, "VERSIONS"), "w") as f:
        f.write(f"made by tools/oracle/model_fixtures.py with torch {torch.__version__}, "
                f"python {sys.version.split()[0]}\n")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
