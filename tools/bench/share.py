#!/usr/bin/env python3
"""Reads the benchmark JSON lines on stdin and prints each with the share of the machine's limit that binds
it (tools/bench/limits.sh writes the limits), so a figure is judged against the hardware and not only
against PyTorch. A share above 1.0 is a measurement bug: check it.

    ... | /usr/bin/python3 tools/bench/share.py LIMITS.json

Limits used: the FMA peak on all cores (the C loop of fma_peak.c, the hardware's) for GEMM GFLOP/s and
prefill (2 FLOP per parameter per token, attention left out, so the share is a lower bound); on one core for
one-thread figures (keys ending in _1_cpu); the read bandwidth of shorts (BF16) or doubles for decode
(weight bytes per token x tokens/s) and for one-row products (GB/s). Lines that are not JSON pass through.
"""
import json
import sys

lim = json.load(open(sys.argv[1]))
peak_all, peak_1 = lim["fma_c"]["gflops_all_cpu"], lim["fma_c"]["gflops_1_cpu"]
bw = lim["bandwidth"]


def shares(r):
    out = []
    for key, v in r.items():
        if not isinstance(v, (int, float)) or v != v:
            continue
        if key.startswith("gflops"):
            p = peak_1 if key.endswith("_1_cpu") or key.endswith("_1") else peak_all
            out.append(f"{key} {v:.1f} = {v / p:.2f} of the FMA peak {p:.1f}")
        elif "gb_s" in key:
            b = bw.get("read_i16_1_cpu", bw["read_i16_1"]) if key.endswith("_1_cpu") else bw["read_i16_all"]
            out.append(f"{key} {v:.1f} = {v / b:.2f} of the BF16 read bandwidth {b:.1f} GB/s")
    params = r.get("params")
    if "prefill_tok_s" in r and params:
        g = 2.0 * params * r["prefill_tok_s"] / 1e9
        out.append(f"prefill {g:.1f} GFLOP/s = {g / peak_all:.2f} of the FMA peak {peak_all:.1f}")
    per_token = r.get("weight_bytes_per_token") or (8 * params if params else None)
    if r.get("decode_tok_s") and per_token:
        gbs = per_token * r["decode_tok_s"] / 1e9
        b = bw["read_i16_all"] if r.get("weight_bytes_per_token") else bw["read_f64_all"]
        out.append(f"decode reads {gbs:.1f} GB/s = {gbs / b:.2f} of the read bandwidth {b:.1f} GB/s"
                   f" (bound: {b * 1e9 / per_token:.2f} tokens/s)")
    return out


for line in sys.stdin:
    line = line.rstrip("\n")
    print(line)
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if isinstance(r, dict):
        for s in shares(r):
            print("    share: " + s)
