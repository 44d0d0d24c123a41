#!/usr/bin/env python3
"""PyTorch side of the model benchmark (intactkv.bench.ModelThroughput): the same LLaMA shapes
with random weights, prefill of T tokens and single-token decode steps with a KV cache, written
as a user would write it: F.linear, RoPE with rotate_half, repeat_kv for grouped-query heads,
torch.softmax over (1, h, T, p+T) scores with an additive causal mask. Float64 and float32, each
with torch threads 1 and 2 (the faster kept, separately for prefill and decode). Prints one JSON
line per dtype, with the versions.

Usage: model_torch.py CONFIG T STEPS REPEATS   (CONFIG: 1m or tinyllama)"""
import json
import os
import math
import sys
import time

import torch
import torch.nn.functional as F

CONFIGS = {
    "1m": dict(d=128, dff=344, h=4, hkv=4, L=4, V=1024),
    "100m": dict(d=768, dff=2048, h=12, hkv=12, L=12, V=32000),
    "tinyllama": dict(d=2048, dff=5632, h=32, hkv=4, L=22, V=32000),
}


def weights(c, dtype, gen):
    d, dff, hkv, dh = c["d"], c["dff"], c["hkv"], c["d"] // c["h"]

    def r(*s):
        return (0.02 * torch.randn(*s, generator=gen, dtype=torch.float32)).to(dtype)

    w = {"embed": r(c["V"], d), "lm_head": r(c["V"], d), "norm": torch.ones(d, dtype=dtype), "layers": []}
    for _ in range(c["L"]):
        w["layers"].append(dict(q=r(d, d), k=r(hkv * dh, d), v=r(hkv * dh, d), o=r(d, d), gate=r(dff, d),
                                up=r(dff, d), down=r(d, dff), n1=torch.ones(d, dtype=dtype),
                                n2=torch.ones(d, dtype=dtype)))
    return w


def rms_norm(x, w, eps=1e-5):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def forward(w, c, ids, past, dtype):
    """ids (1, T) after a past of p tokens; returns logits and the new cache [(k, v)] per layer."""
    d, h, hkv = c["d"], c["h"], c["hkv"]
    dh, t = d // h, ids.shape[1]
    p = 0 if past is None else past[0][0].shape[2]
    inv = 1.0 / (10000.0 ** (torch.arange(0, dh, 2, dtype=torch.float64) / dh))
    emb = torch.cat([torch.outer(torch.arange(p, p + t, dtype=torch.float64), inv)] * 2, dim=-1)
    cos, sin = emb.cos().to(dtype), emb.sin().to(dtype)
    mask = torch.full((t, p + t), float("-inf"), dtype=dtype).triu(p + 1)
    x = F.embedding(ids, w["embed"])
    cache = []
    for i, lw in enumerate(w["layers"]):
        n = rms_norm(x, lw["n1"])
        q = F.linear(n, lw["q"]).view(1, t, h, dh).transpose(1, 2)
        k = F.linear(n, lw["k"]).view(1, t, hkv, dh).transpose(1, 2)
        v = F.linear(n, lw["v"]).view(1, t, hkv, dh).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past is not None:
            k = torch.cat((past[i][0], k), dim=2)
            v = torch.cat((past[i][1], v), dim=2)
        cache.append((k, v))
        kr = k.repeat_interleave(h // hkv, dim=1)
        vr = v.repeat_interleave(h // hkv, dim=1)
        probs = torch.softmax(q @ kr.transpose(-1, -2) / math.sqrt(dh) + mask, dim=-1)
        x = x + F.linear((probs @ vr).transpose(1, 2).reshape(1, t, d), lw["o"])
        m = rms_norm(x, lw["n2"])
        x = x + F.linear(F.silu(F.linear(m, lw["gate"])) * F.linear(m, lw["up"]), lw["down"])
    return F.linear(rms_norm(x, w["norm"]), w["lm_head"]), cache


def run(w, c, ids, steps, repeats, dtype):
    best_p, best_d = float("inf"), float("inf")
    with torch.no_grad():
        for r in range(repeats + 1):
            t0 = time.perf_counter()
            _, cache = forward(w, c, ids if r > 0 else ids[:, :64], None, dtype)  # a short warm-up round
            t1 = time.perf_counter()
            nxt = ids[:, -1:]
            for _ in range(steps):
                _, cache = forward(w, c, nxt, cache, dtype)
                nxt = (nxt + 7) % c["V"]
            t2 = time.perf_counter()
            if r > 0:
                best_p = min(best_p, t1 - t0)
                best_d = min(best_d, (t2 - t1) / steps) if steps > 0 else float("nan")
    return best_p, best_d


def main():
    name, t, steps, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    c = CONFIGS[name]
    # BENCH_DTYPES / BENCH_THREADS (comma lists) narrow the runs, e.g. for the scale sweep
    dtypes = [getattr(torch, n) for n in os.environ.get("BENCH_DTYPES", "float64,float32").split(",")]
    thread_counts = [int(n) for n in os.environ.get("BENCH_THREADS", "1,2").split(",")]
    for dtype in dtypes:
        gen = torch.Generator().manual_seed(1)
        w = weights(c, dtype, gen)
        ids = torch.randint(0, c["V"], (1, t), generator=gen)
        res = {}
        for threads in thread_counts:
            torch.set_num_threads(threads)
            res[threads] = run(w, c, ids, steps, repeats, dtype)
        tp = min(res, key=lambda th: res[th][0])
        td = min(res, key=lambda th: res[th][1])
        print(json.dumps({"torch_version": torch.__version__, "config": name,
                          "dtype": str(dtype).replace("torch.", ""), "T": t,
                          "prefill_s": round(res[tp][0], 4),
                          "prefill_tok_s": round(t / res[tp][0], 2), "prefill_threads": tp,
                          "decode_tok_s": round(1 / res[td][1], 3) if steps > 0 else None, "decode_threads": td}))
        del w


if __name__ == "__main__":
    main()
