#!/usr/bin/env python3
"""PyTorch side of the training benchmark (intactkv.bench.TrainThroughput): the built-in model's
shape in float64, random tokens, forward + cross-entropy + backward + clip + AdamW per step, with
the oracle's plain-PyTorch LLaMA (tools/oracle/model_fixtures.py), threads = cores. Best of the
timed steps after 3 warm-up steps. Usage: train_torch.py B T STEPS"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "oracle"))
import model_fixtures as mf  # noqa: E402


def main():
    B, T, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(os.cpu_count())
    DT = torch.float64
    cfg = dict(hidden_size=128, intermediate_size=384, num_attention_heads=8, num_key_value_heads=8,
               num_hidden_layers=4, vocab_size=1024, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False)
    g = torch.Generator().manual_seed(1)
    W = {"model.embed_tokens.weight": 0.02 * torch.randn(1024, 128, generator=g, dtype=DT),
         "lm_head.weight": 0.02 * torch.randn(1024, 128, generator=g, dtype=DT),
         "model.norm.weight": torch.ones(128, dtype=DT)}
    for l in range(4):
        p = f"model.layers.{l}."
        for n, s in (("self_attn.q_proj", (128, 128)), ("self_attn.k_proj", (128, 128)), ("self_attn.v_proj", (128, 128)),
                     ("self_attn.o_proj", (128, 128)), ("mlp.gate_proj", (384, 128)), ("mlp.up_proj", (384, 128)),
                     ("mlp.down_proj", (128, 384))):
            W[p + n + ".weight"] = 0.02 * torch.randn(s, generator=g, dtype=DT)
        W[p + "input_layernorm.weight"] = torch.ones(128, dtype=DT)
        W[p + "post_attention_layernorm.weight"] = torch.ones(128, dtype=DT)
    params = list(W.values())
    for t in params:
        t.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    best = float("inf")
    for s in range(steps + 3):
        ids = torch.randint(0, 1024, (B, T), generator=g)
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = 0
        for i in range(B):  # the oracle forward takes one sequence
            logits, _, _ = mf.forward(W, cfg, ids[i])
            loss = loss + torch.nn.functional.cross_entropy(logits[:-1], ids[i, 1:]) / B
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if s >= 3:
            best = min(best, time.perf_counter() - t0)
    print(json.dumps({"torch_B": B, "torch_T": T, "torch_step_s": best, "torch_tokens_per_s": B * T / best}))


if __name__ == "__main__":
    main()
