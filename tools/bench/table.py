#!/usr/bin/env python3
"""Turns JMH JSON and the PyTorch JSON of foundation_torch.py into the Markdown table of
docs/PERFORMANCE.md (GFLOP/s for matmul, milliseconds for the MLP, and ratios to PyTorch)."""
import json
import sys

jmh = json.load(open(sys.argv[1]))
torch = json.load(open(sys.argv[2]))
mm = {}
mlp = None
for b in jmh:
    name = b["benchmark"].rsplit(".", 1)[1]
    us = b["primaryMetric"]["score"]
    if "MatMulBench" in b["benchmark"]:
        mm.setdefault(int(b["params"]["n"]), {})[name] = us
    else:
        mlp = us
print(f"PyTorch {torch['torch']} (OpenBLAS), float64, {torch['cores']} cores; torch intra-op threads: "
      f"the faster of 1 and {torch['cores']} (matmul: {torch['matmul_threads']}, MLP: {torch['mlp_threads']}).\n")
print("| n | intactkv GFLOP/s | EJML mult | EJML mult (MT) | PyTorch | intactkv / PyTorch |")
print("|---|---|---|---|---|---|")
for n in sorted(mm):
    flop = 2.0 * n ** 3
    g = {k: flop / (v * 1e3) for k, v in mm[n].items()}
    gt = flop / (torch["matmul_us"][str(n)] * 1e3)
    print(f"| {n} | {g['intactkv']:.1f} | {g['ejmlMult']:.1f} | {g['ejmlMultMT']:.1f} | {gt:.1f} | "
          f"{g['intactkv'] / gt:.2f} |")
print()
print("| 2-layer MLP forward+backward | intactkv ms | PyTorch ms | PyTorch / intactkv (speed ratio) |")
print("|---|---|---|---|")
print(f"| x (256, 256), W1 (1024, 256), W2 (256, 1024) | {mlp / 1e3:.2f} | {torch['mlp_us'] / 1e3:.2f} | "
      f"{torch['mlp_us'] / mlp:.2f} |")
