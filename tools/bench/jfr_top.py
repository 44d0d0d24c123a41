#!/usr/bin/env python3
"""Top entries of a JFR CPU profile, for docs/PERFORMANCE.md: each execution sample is charged to
its innermost frame in the project (intactkv.*) or in the Vector API / JDK when no project frame
is on top, and to the kernel class when the GEMM or attention kernels are on the stack.
Usage: jfr_top.py FILE.jfr [N]   (needs the JDK's `jfr` tool on PATH)"""
import collections
import re
import subprocess
import sys


def main():
    path, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 12
    text = subprocess.run(["jfr", "print", "--events", "jdk.ExecutionSample", path], capture_output=True,
                          text=True, check=True).stdout
    counts, total = collections.Counter(), 0
    for ev in text.split("jdk.ExecutionSample")[1:]:
        frames = [f.split("(")[0] for f in re.findall(r"^\s+([\w.$]+\([^)]*\))\s+line:", ev, re.M)]
        if not frames:
            continue
        total += 1
        key = None
        for f in frames:
            if "VectorGemm" in f or "Gemm.reference" in f:
                key = "GEMM kernel (VectorGemm: packing + micro-kernel)"
                break
            if ".autograd.Attention" in f:
                key = "fused attention (autograd.Attention + Axpy)"
                break
        if key is None:
            for f in frames:
                if f.startswith("intactkv."):
                    key = re.sub(r"\$\$?Lambda.*|lambda\$(\w+)\$\d+", r"\1 (backward)", f)
                    break
        counts[key or frames[0]] += 1
    print(f"| share of samples | where ({total} samples) |")
    print("|---|---|")
    for k, v in counts.most_common(n):
        print(f"| {100 * v / total:.1f} % | `{k}` |")


if __name__ == "__main__":
    main()
