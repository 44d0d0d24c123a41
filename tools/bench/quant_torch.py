#!/usr/bin/env python3
"""PyTorch side of the quantization benchmark: GPTQ (the oracle's AutoGPTQ-0.6 fasterquant of
tools/oracle/quant_fixtures.py, float64) on one 1024 x 1024 layer with a Hessian from 128 x 512
calibration tokens, torch threads = cores. Prints one JSON line."""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "oracle"))
import quant_fixtures as ref  # noqa: E402


def main():
    torch.set_num_threads(os.cpu_count())
    g = torch.Generator().manual_seed(1)
    w = torch.randn(1024, 1024, generator=g, dtype=torch.float64)
    x = torch.randn(128 * 512, 1024, generator=g, dtype=torch.float64)
    for warm in range(2):
        t0 = time.perf_counter()
        h = 2 / 128 * x.T @ x
        t1 = time.perf_counter()
        ref.gptq(w, h, 4, 128, False)
        t2 = time.perf_counter()
    print(json.dumps({"torch_gptq_layer_hessian_s": t1 - t0, "torch_gptq_layer_quant_s": t2 - t1}))


if __name__ == "__main__":
    main()
