#!/usr/bin/env python3
"""PyTorch CPU side of the foundation benchmarks (MatMulBench, MlpBench): the same shapes,
float64. Each measurement is taken with torch's intra-op threads set to 1 and to the core
count (OpenBLAS runs its own threads either way) and the faster is kept, so the comparison
is against PyTorch's best setting here. Prints one JSON object; run through
tools/bench/foundation.sh."""
import json
import os
import sys
import time

import torch


def best_time(fn, min_seconds=1.0, repeats=5):
    """Mean seconds per call, the best of `repeats` timing rounds of at least min_seconds/repeats each."""
    for _ in range(3):
        fn()
    best = float("inf")
    for _ in range(repeats):
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            el = time.perf_counter() - t0
            if el >= min_seconds / repeats:
                break
        best = min(best, el / n)
    return best


def fastest(fn):
    """(seconds, threads) of the faster of torch threads = 1 and = cpu_count."""
    results = []
    for threads in sorted({1, os.cpu_count()}):
        torch.set_num_threads(threads)
        results.append((best_time(fn), threads))
    return min(results)


def main():
    torch.manual_seed(0)
    res = {"torch": torch.__version__, "cores": os.cpu_count(), "matmul_us": {}, "matmul_threads": {}}
    for n in (128, 512, 1024):
        a = torch.randn(n, n, dtype=torch.float64)
        b = torch.randn(n, n, dtype=torch.float64)
        sec, threads = fastest(lambda: a @ b)
        res["matmul_us"][str(n)] = sec * 1e6
        res["matmul_threads"][str(n)] = threads
    x = torch.randn(256, 256, dtype=torch.float64)
    y = torch.randn(256, 256, dtype=torch.float64)
    w1 = (torch.randn(1024, 256, dtype=torch.float64) / 16).requires_grad_()
    b1 = torch.zeros(1024, dtype=torch.float64).requires_grad_()
    w2 = (torch.randn(256, 1024, dtype=torch.float64) / 32).requires_grad_()

    def mlp():
        for p in (w1, b1, w2):
            p.grad = None
        h = torch.nn.functional.silu(torch.nn.functional.linear(x, w1, b1))
        loss = torch.nn.functional.mse_loss(torch.nn.functional.linear(h, w2), y)
        loss.backward()

    sec, threads = fastest(mlp)
    res["mlp_us"] = sec * 1e6
    res["mlp_threads"] = threads
    json.dump(res, sys.stdout)
    print()


if __name__ == "__main__":
    main()
