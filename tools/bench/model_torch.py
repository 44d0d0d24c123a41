#!/usr/bin/env python3
"""PyTorch side of the model benchmark (intactkv.bench.ModelThroughput): the same LLaMA shapes
with random weights, prefill of T tokens and single-token decode steps with a KV cache, in
float64 and float32, torch intra-op threads = cores. The forward pass is the oracle's
(tools/oracle/model_fixtures.py) plain-PyTorch LLaMA. Prints one JSON line per dtype.

Usage: model_torch.py CONFIG T STEPS REPEATS   (CONFIG: 1m or tinyllama)"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "oracle"))
import model_fixtures as ref  # noqa: E402

CONFIGS = {
    "1m": dict(hidden_size=128, intermediate_size=344, num_attention_heads=4, num_key_value_heads=4,
               num_hidden_layers=4, vocab_size=1024),
    "tinyllama": dict(hidden_size=2048, intermediate_size=5632, num_attention_heads=32, num_key_value_heads=4,
                      num_hidden_layers=22, vocab_size=32000),
}


def main():
    name, T, steps, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    cfg = dict(CONFIGS[name], rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False)
    torch.set_num_threads(os.cpu_count())
    d, dff, h, hkv = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    dh, V = d // h, cfg["vocab_size"]
    for dtype in (torch.float64, torch.float32):
        ref.DT = dtype
        g = torch.Generator().manual_seed(1)
        W = {"model.embed_tokens.weight": 0.02 * torch.randn(V, d, generator=g, dtype=dtype),
             "lm_head.weight": 0.02 * torch.randn(V, d, generator=g, dtype=dtype),
             "model.norm.weight": torch.ones(d, dtype=dtype)}
        for l in range(cfg["num_hidden_layers"]):
            p = f"model.layers.{l}."
            for n, s in (("self_attn.q_proj", (d, d)), ("self_attn.k_proj", (hkv * dh, d)),
                         ("self_attn.v_proj", (hkv * dh, d)), ("self_attn.o_proj", (d, d)),
                         ("mlp.gate_proj", (dff, d)), ("mlp.up_proj", (dff, d)), ("mlp.down_proj", (d, dff))):
                W[p + n + ".weight"] = 0.02 * torch.randn(s, generator=g, dtype=dtype)
            W[p + "input_layernorm.weight"] = torch.ones(d, dtype=dtype)
            W[p + "post_attention_layernorm.weight"] = torch.ones(d, dtype=dtype)
        ids = torch.randint(0, V, (T,), generator=g)
        best_p, best_d = float("inf"), float("inf")
        with torch.no_grad():
            for r in range(repeats + 1):
                t0 = time.perf_counter()
                _, _, cache = ref.forward(W, cfg, ids)
                t1 = time.perf_counter()
                nxt = ids[-1:]
                for _ in range(steps):
                    _, _, cache = ref.forward(W, cfg, nxt, past=cache)
                    nxt = (nxt + 7) % V
                t2 = time.perf_counter()
                if r > 0:
                    best_p, best_d = min(best_p, t1 - t0), min(best_d, (t2 - t1) / steps)
        print(json.dumps({"config": name, "dtype": str(dtype).replace("torch.", ""), "T": T,
                          "prefill_tok_s": T / best_p, "decode_tok_s": 1 / best_d}))
        del W


if __name__ == "__main__":
    main()
