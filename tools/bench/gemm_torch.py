#!/usr/bin/env python3
"""PyTorch (OpenBLAS) float64 side of GemmPeak: C = A B for square n, timed the same two ways.
With OPENBLAS_NUM_THREADS=1 in the environment (set by the calling script) every product runs on
the calling thread, which is timed by its own CPU time (time.thread_time, which other processes of a
shared machine cannot inflate); otherwise by the wall clock, with torch threads = cpu_count (OpenBLAS
runs its own threads either way). Prints one JSON line per n.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/bench/gemm_torch.py 512 1024
"""
import json
import os
import sys
import time

import torch


def main():
    one = os.environ.get("OPENBLAS_NUM_THREADS") == "1"
    torch.set_num_threads(1 if one else os.cpu_count())
    clock = time.thread_time if one else time.perf_counter
    torch.manual_seed(0)
    for n in [int(x) for x in sys.argv[1:]] or [512, 1024]:
        a = torch.randn(n, n, dtype=torch.float64)
        b = torch.randn(n, n, dtype=torch.float64)
        # as GemmPeak: at least 1 s of warm-up, then the best of at least 2 s (and 12 repetitions)
        w0 = time.perf_counter()
        while time.perf_counter() - w0 < 1.0:
            a @ b
        best = float("inf")
        t0 = time.perf_counter()
        i = 0
        while i < 12 or time.perf_counter() - t0 < 2.0:
            c0 = clock()
            a @ b
            best = min(best, clock() - c0)
            i += 1
        key = "gflops_1_cpu" if one else "gflops_all"
        print(json.dumps({"bench": "gemm_torch", "n": n, key: round(2.0 * n ** 3 / best / 1e9, 1),
                          "torch": torch.__version__, "cores": os.cpu_count()}))


if __name__ == "__main__":
    main()
