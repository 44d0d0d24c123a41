#!/usr/bin/env python3
"""A small LLaMA-shaped F32 GGUF whose rows are multiples of 256, so that llama-quantize's k-quant
types (and its Q4_K_M / Q3_K_M mixes) are actually chosen; the built-in model's rows (128, 384)
make every k-quant fall back to a 32-block type.

Usage: PYTHONPATH=LLAMA_CPP/gguf-py /usr/bin/python3 tools/gguf/kshaped_model.py OUT.gguf

Shapes (CONFIG): d 256, d_ff 768, 4 heads, 2 KV heads (d_h 64), 2 layers, vocabulary 512. The
values come from a formula, not from a file, so the test (LlamaQuantizeKShapedTest) computes the
same floats in Java: tensor k of TENSORS (in order), element i (row-major, numpy order) is
    z = splitmix64(SEED * (k + 1) + i)                  (64-bit wrap-around arithmetic)
    u = (z >> 40) / 2^24                                (24 bits: exact)
    v = (u - 0.5) * 0.08, times 8 when z & 255 == 0     (an outlier 1 time in 256)
    norms: v + 1
computed in double and rounded to float32 once. Tensors are written in GGUF layout directly (no
Q/K permutation is involved: the formula is defined on the GGUF tensors).
"""
import os
import sys

import numpy as np
import gguf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "oracle"))
from gguf_fixtures import finish, llama_metadata, placeholder_vocab  # noqa: E402

SEED = 0x5EED2026
CONFIG = dict(hidden_size=256, intermediate_size=768, num_attention_heads=4, num_key_value_heads=2,
              num_hidden_layers=2, vocab_size=512, rms_norm_eps=1e-5, max_position_embeddings=2048)


def tensors(cfg):
    """(GGUF name, numpy shape (rows, row length) or (n,)) in the order the formula numbers them."""
    d, f, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    kv = d // cfg["num_attention_heads"] * cfg["num_key_value_heads"]
    out = [("token_embd.weight", (v, d))]
    for layer in range(cfg["num_hidden_layers"]):
        b = "blk.%d." % layer
        out += [(b + "attn_norm.weight", (d,)), (b + "attn_q.weight", (d, d)), (b + "attn_k.weight", (kv, d)),
                (b + "attn_v.weight", (kv, d)), (b + "attn_output.weight", (d, d)), (b + "ffn_norm.weight", (d,)),
                (b + "ffn_gate.weight", (f, d)), (b + "ffn_up.weight", (f, d)), (b + "ffn_down.weight", (d, f))]
    out += [("output_norm.weight", (d,)), ("output.weight", (v, d))]
    return out


def values(k, n, norm):
    with np.errstate(over="ignore"):
        z = np.uint64(SEED) * np.uint64(k + 1) + np.arange(n, dtype=np.uint64)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float64) / float(1 << 24)
    v = (u - 0.5) * 0.08
    v = np.where((z & np.uint64(255)) == 0, v * 8.0, v)
    if norm:
        v = v + 1.0
    return v.astype(np.float32)


def main():
    w = gguf.GGUFWriter(sys.argv[1], "llama")
    llama_metadata(w, CONFIG)
    placeholder_vocab(w, CONFIG["vocab_size"])
    for k, (name, shape) in enumerate(tensors(CONFIG)):
        n = int(np.prod(shape))
        w.add_tensor(name, values(k, n, len(shape) == 1).reshape(shape))
    finish(w)


if __name__ == "__main__":
    main()
