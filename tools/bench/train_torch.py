#!/usr/bin/env python3
"""PyTorch side of the training benchmark (intactkv.bench.TrainThroughput): the built-in model's
shape (d 128, 4 layers, 8 heads, d_ff 384, V 1024), random tokens, one step = forward +
cross-entropy + backward + gradient clipping + AdamW, batched as a user would write it:
F.linear, RoPE with rotate_half, torch.softmax over (B, h, T, T) scores with an additive causal
mask, F.cross_entropy. Run in float64 and float32, each with torch threads 1 and 2; prints the
best step time of each after 3 warm-up steps, and the versions.
Usage: train_torch.py B T STEPS"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

D, FF, H, L, V = 128, 384, 8, 4, 1024
DH = D // H


def make_weights(dtype, gen):
    w = {"embed": 0.02 * torch.randn(V, D, generator=gen, dtype=torch.float64),
         "lm_head": 0.02 * torch.randn(V, D, generator=gen, dtype=torch.float64),
         "norm": torch.ones(D, dtype=torch.float64)}
    for l in range(L):
        for n, s in (("q", (D, D)), ("k", (D, D)), ("v", (D, D)), ("o", (D, D)), ("gate", (FF, D)),
                     ("up", (FF, D)), ("down", (D, FF))):
            w[f"{l}.{n}"] = 0.02 * torch.randn(s, generator=gen, dtype=torch.float64)
        w[f"{l}.in_norm"] = torch.ones(D, dtype=torch.float64)
        w[f"{l}.post_norm"] = torch.ones(D, dtype=torch.float64)
    return {k: v.to(dtype).requires_grad_(True) for k, v in w.items()}


def rms_norm(x, w, eps=1e-5):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    return torch.cat((-x[..., DH // 2:], x[..., :DH // 2]), dim=-1)


def forward(w, ids, cos, sin, mask):
    b, t = ids.shape
    x = F.embedding(ids, w["embed"])
    for l in range(L):
        n = rms_norm(x, w[f"{l}.in_norm"])
        q = F.linear(n, w[f"{l}.q"]).view(b, t, H, DH).transpose(1, 2)
        k = F.linear(n, w[f"{l}.k"]).view(b, t, H, DH).transpose(1, 2)
        v = F.linear(n, w[f"{l}.v"]).view(b, t, H, DH).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(DH) + mask, dim=-1)
        ctx = (p @ v).transpose(1, 2).reshape(b, t, D)
        x = x + F.linear(ctx, w[f"{l}.o"])
        m = rms_norm(x, w[f"{l}.post_norm"])
        x = x + F.linear(F.silu(F.linear(m, w[f"{l}.gate"])) * F.linear(m, w[f"{l}.up"]), w[f"{l}.down"])
    return F.linear(rms_norm(x, w["norm"]), w["lm_head"])


def bench(b, t, steps, dtype, threads):
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(1)
    w = make_weights(dtype, gen)
    params = list(w.values())
    opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    inv = 1.0 / (10000.0 ** (torch.arange(0, DH, 2, dtype=torch.float64) / DH))
    emb = torch.cat([torch.outer(torch.arange(t, dtype=torch.float64), inv)] * 2, dim=-1)
    cos, sin = emb.cos().to(dtype), emb.sin().to(dtype)
    mask = torch.full((t, t), float("-inf"), dtype=dtype).triu(1)
    best = float("inf")
    for s in range(steps + 3):
        ids = torch.randint(0, V, (b, t), generator=gen)
        t0 = time.perf_counter()
        opt.zero_grad()
        logits = forward(w, ids, cos, sin, mask)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if s >= 3:
            best = min(best, time.perf_counter() - t0)
    return best


def main():
    b, t, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    out = {"torch_version": torch.__version__, "torch_B": b, "torch_T": t}
    for name, dtype in (("f64", torch.float64), ("f32", torch.float32)):
        times = {th: bench(b, t, steps, dtype, th) for th in (1, 2)}
        th = min(times, key=times.get)
        out[f"torch_{name}_threads"] = th
        out[f"torch_{name}_step_s"] = round(times[th], 4)
        out[f"torch_{name}_tokens_per_s"] = round(b * t / times[th])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
