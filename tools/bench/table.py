#!/usr/bin/env python3
"""Turns JMH JSON and the PyTorch JSON of foundation_torch.py into the Markdown table of
docs/PERFORMANCE.md (GFLOP/s for matmul, milliseconds for the MLP, and ratios to PyTorch). With a third
argument, the limits.json of tools/bench/limits.sh, the matmul rows also give each GFLOP/s as a share of
the FMA peak on all cores (the hardware's, fma_peak.c); a share above 1 is a measurement bug."""
import json
import sys

jmh = json.load(open(sys.argv[1]))
torch = json.load(open(sys.argv[2]))
peak = json.load(open(sys.argv[3]))["fma_c"]["gflops_all_cpu"] if len(sys.argv) > 3 else None
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
of_peak = f" | intactkv, PyTorch: share of the FMA peak {peak:.1f}" if peak else ""
print("| n | intactkv GFLOP/s | EJML mult | EJML mult (MT) | PyTorch | intactkv / PyTorch" + of_peak + " |")
print("|---|---|---|---|---|---|" + ("---|" if peak else ""))
for n in sorted(mm):
    flop = 2.0 * n ** 3
    g = {k: flop / (v * 1e3) for k, v in mm[n].items()}
    gt = flop / (torch["matmul_us"][str(n)] * 1e3)
    print(f"| {n} | {g['intactkv']:.1f} | {g['ejmlMult']:.1f} | {g['ejmlMultMT']:.1f} | {gt:.1f} | "
          f"{g['intactkv'] / gt:.2f} |" + (f" {g['intactkv'] / peak:.2f}, {gt / peak:.2f} |" if peak else ""))
print()
print("| 2-layer MLP forward+backward | intactkv ms | PyTorch ms | PyTorch / intactkv (speed ratio) |")
print("|---|---|---|---|")
print(f"| x (256, 256), W1 (1024, 256), W2 (256, 1024) | {mlp / 1e3:.2f} | {torch['mlp_us'] / 1e3:.2f} | "
      f"{torch['mlp_us'] / mlp:.2f} |")
