#!/usr/bin/env python3
"""PyTorch side of the calibration benchmark (intactkv.bench.CalibrationThroughput): the 1M LLaMA
shape with random weights (float64), RTN W3 per channel, IntactKV_[B] as the only trainable
parameters, loss = sum over layers of 0.5 * MSE of layer outputs, torch.optim.AdamW (lr 2e-4),
linear warm-up over 3 % of the steps, 16-step accumulation, clip 0.3, 128 random sequences of T
tokens. Prints one JSON line. Usage: calibrate_torch.py T STEPS"""
import json
import math
import os
import random
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "oracle"))
import model_fixtures as mf  # noqa: E402
import quant_fixtures as qf  # noqa: E402
from model_torch import CONFIGS  # noqa: E402


def main():
    T, steps = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(os.cpu_count())
    DT = torch.float64
    cfg = dict(CONFIGS["1m"], rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False)
    d, dff, h, hkv = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    dh, V = d // h, cfg["vocab_size"]
    g = torch.Generator().manual_seed(1)
    W = {"model.embed_tokens.weight": 0.05 * torch.randn(V, d, generator=g, dtype=DT),
         "lm_head.weight": 0.05 * torch.randn(V, d, generator=g, dtype=DT),
         "model.norm.weight": 1 + 0.1 * torch.randn(d, generator=g, dtype=DT)}
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        for n, s in (("self_attn.q_proj", (d, d)), ("self_attn.k_proj", (hkv * dh, d)),
                     ("self_attn.v_proj", (hkv * dh, d)), ("self_attn.o_proj", (d, d)),
                     ("mlp.gate_proj", (dff, d)), ("mlp.up_proj", (dff, d)), ("mlp.down_proj", (d, dff))):
            W[p + n + ".weight"] = 0.05 * torch.randn(s, generator=g, dtype=DT)
        W[p + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(d, generator=g, dtype=DT)
        W[p + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(d, generator=g, dtype=DT)
    Wq = {n: (qf.rtn(t, 3, t.shape[1], True) if ".layers." in n and n.endswith("proj.weight") else t)
          for n, t in W.items()}
    rng = random.Random(3)
    samples = [torch.tensor([1] + [rng.randrange(3, V) for _ in range(T - 1)]) for _ in range(128)]
    with torch.no_grad():
        _, _, bos_cache = mf.forward(W, cfg, torch.tensor([1]))
        targets = [mf.forward(W, cfg, s)[1] for s in samples]
    params = []
    for k, v in bos_cache:
        params += [k.clone().requires_grad_(True), v.clone().requires_grad_(True)]
    opt = torch.optim.AdamW(params, lr=2e-4, weight_decay=0.0)
    warm = math.ceil(0.03 * steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: s / max(1, warm) if s < warm else 1.0)
    order, cursor = [], 0
    t0 = time.perf_counter()
    for step in range(steps):
        opt.zero_grad()
        for _ in range(16):
            if cursor == len(order):
                order = list(range(128))
                rng.shuffle(order)
                cursor = 0
            i = order[cursor]
            cursor += 1
            past = [(params[2 * l], params[2 * l + 1]) for l in range(cfg["num_hidden_layers"])]
            _, hid, _ = mf.forward(Wq, cfg, samples[i][1:], past=past)
            loss = sum(0.5 * torch.mean((a - b[1:]) ** 2) for a, b in zip(hid, targets[i]))
            (loss / 16).backward()
        torch.nn.utils.clip_grad_norm_(params, 0.3)
        opt.step()
        sched.step()
    total = time.perf_counter() - t0
    print(json.dumps({"torch_T": T, "torch_steps": steps, "torch_total_s": total, "torch_step_s": total / steps}))


if __name__ == "__main__":
    main()
