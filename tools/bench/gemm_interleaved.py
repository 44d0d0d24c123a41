#!/usr/bin/env python3
"""GEMM C = A B (square n, float64) of this build against OpenBLAS and against the FMA peak, product by product.

A round of the separate benchmarks (GemmPeak, gemm_torch.py, fma_peak) measures each library in its own window of a
few seconds, so a burst of another tenant's load on the shared host lowers one library's figure in one round. Here
the three run in turn, one measurement each, many times over: the FMA peak (fma_peak --serve: best of 30 short
loops, by CPU time, as in tools/bench/fma_peak.c), then a burst of BURST (3) products of this build (GemmPeak
--serve, a warm JVM) and one of OpenBLAS (torch in this process), in an order that alternates from pair to pair;
the best product of a burst counts, as the best repetition does in GemmPeak (the first of a burst finds the other
library's operands in L3 and its threads asleep). The figures are the
median and quartiles of the per-pair ratios Java / OpenBLAS and of each library's share of the peak measured just
before it, so a burst moves a pair, not the comparison.

Between two measurements the script sleeps SETTLE seconds (environment SETTLE, default 0.2; BURST, default 3, sets
the burst), so that OpenBLAS's idle threads, which spin for a while after a product before they sleep (their
OPENBLAS_THREAD_TIMEOUT, by default 2^28 clock ticks, about 0.1 s here), and this build's workers, which spin
0.2 ms, are asleep before the other library's burst starts. Every burst therefore starts with its threads asleep, on
both sides.

    /usr/bin/python3 tools/bench/gemm_interleaved.py N PAIRS one|all FMA_PEAK_BINARY [JAR]

one: one thread each, timed by the thread's CPU time (OPENBLAS_NUM_THREADS=1, set before torch loads), against the
one-core peak; all: every core, timed by the wall clock, against the all-core peak. JAR defaults to
benchmarks/target/benchmarks.jar. Prints one JSON line. A warm-up of a fifth of PAIRS (at least 3) pairs comes first
and is not counted.
"""
import json
import os
import statistics
import subprocess
import sys
import time

SETTLE = float(os.environ.get("SETTLE", "0.2"))
BURST = int(os.environ.get("BURST", "3"))


def quartiles(xs):
    q = statistics.quantiles(xs, n=4)
    return round(q[0], 3), round(statistics.median(xs), 3), round(q[2], 3)


def main():
    if len(sys.argv) < 5 or sys.argv[3] not in ("one", "all"):
        sys.exit("usage: gemm_interleaved.py N PAIRS one|all FMA_PEAK_BINARY [JAR]")
    n, pairs, mode, fma = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    jar = sys.argv[5] if len(sys.argv) > 5 else "benchmarks/target/benchmarks.jar"
    if mode == "one":
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
    import torch  # after OPENBLAS_NUM_THREADS, which OpenBLAS reads when it loads

    torch.set_num_threads(1 if mode == "one" else os.cpu_count())
    clock = time.thread_time if mode == "one" else time.perf_counter
    java = subprocess.Popen(["java", "--add-modules", "jdk.incubator.vector", "-cp", jar, "intactkv.bench.GemmPeak",
                             "--serve", str(n), mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, bufsize=1)
    peak = subprocess.Popen([fma, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    if java.stdout.readline().strip() != "ready":
        sys.exit(f"GemmPeak --serve {n} {mode} did not start (is {jar} built?)")
    torch.manual_seed(0)
    a = torch.randn(n, n, dtype=torch.float64)
    b = torch.randn(n, n, dtype=torch.float64)
    w0 = time.perf_counter()
    while time.perf_counter() - w0 < 1.0:  # OpenBLAS's warm-up, as GemmPeak's
        a @ b
    key = "gflops_1_cpu" if mode == "one" else "gflops_all_cpu"
    flop = 2.0 * n ** 3

    def java_gflops():
        best = float("inf")
        for _ in range(BURST):
            java.stdin.write("go\n")
            best = min(best, float(java.stdout.readline()))
        return flop / best / 1e9

    def blas_gflops():
        best = float("inf")
        for _ in range(BURST):
            c0 = clock()
            a @ b
            best = min(best, clock() - c0)
        return flop / best / 1e9

    def peak_gflops():
        peak.stdin.write("go\n")
        return json.loads(peak.stdout.readline())[key]

    warm = max(3, pairs // 5)
    rows = []
    for i in range(warm + pairs):
        p = peak_gflops()
        time.sleep(SETTLE)
        first, second = (java_gflops, blas_gflops) if i % 2 == 0 else (blas_gflops, java_gflops)
        x = first()
        time.sleep(SETTLE)
        y = second()
        time.sleep(SETTLE)
        j, o = (x, y) if i % 2 == 0 else (y, x)
        if i >= warm:
            rows.append((p, j, o))
    java.stdin.close()
    peak.stdin.close()
    java.wait()
    peak.wait()
    ratio = [j / o for p, j, o in rows]
    share_j = [j / p for p, j, o in rows]
    share_o = [o / p for p, j, o in rows]
    print(json.dumps({
        "bench": "gemm_interleaved", "n": n, "mode": mode, "pairs": pairs, "cores": os.cpu_count(),
        "ratio_q1_median_q3": quartiles(ratio), "ratio_min": round(min(ratio), 3),
        "pairs_ratio_ge_0_95": sum(r >= 0.95 for r in ratio),
        "share_java_q1_median_q3": quartiles(share_j), "share_blas_q1_median_q3": quartiles(share_o),
        "pairs_java_share_ge_0_85": sum(s >= 0.85 for s in share_j),
        "pairs_blas_share_ge_0_85": sum(s >= 0.85 for s in share_o),
        "java_gflops_median": round(statistics.median(j for p, j, o in rows), 1),
        "blas_gflops_median": round(statistics.median(o for p, j, o in rows), 1),
        "peak_gflops_median": round(statistics.median(p for p, j, o in rows), 1),
        "torch": torch.__version__}))


if __name__ == "__main__":
    main()
