#!/usr/bin/env bash
# The machine's limits, then the kernels against them, in one run: the double-precision FMA peak (the C loop
# of fma_peak.c: the hardware's; intactkv.bench.FmaPeak: what the Vector API reaches), the memory bandwidth
# (intactkv.bench.MemoryBandwidth), then GEMM n = 512 and 1024 beside PyTorch/OpenBLAS float64 (one thread
# by CPU time, and all cores by the wall clock) and the one-row BF16 product (intactkv.bench.GemvStored),
# each also as a share of the limit that binds it (tools/bench/share.py). Writes OUT/limits.json, which
# model.sh and foundation.sh read when LIMITS=OUT/limits.json is set.
#
#   tools/bench/limits.sh [OUT]          (default target/bench-limits; needs gcc, python3-torch)
#
# One-thread figures are timed by the thread's CPU time, which other processes of a shared machine cannot
# inflate; all-core figures by the wall clock, which they can: compare all-core figures only within a run.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-target/bench-limits}
mkdir -p "$out"
mvn -B -q -o -DskipTests package -pl benchmarks -am
java -version 2>&1 | head -1
lscpu | grep -E "Model name|^CPU\(s\)|Flags" | sed 's/Flags:.*\(avx512f\).*/Flags: ... avx512f .../; s/Flags:.*/Flags: (no avx512f)/' | head -3
jv() { java --add-modules jdk.incubator.vector "$@" 2> >(grep -v "^WARNING: Using incubator" >&2); }
gcc -O2 -mavx2 -mfma tools/bench/fma_peak.c -o "$out/fma_peak"
"$out/fma_peak" | tee "$out/fma_c.json"
jv -cp benchmarks/target/benchmarks.jar intactkv.bench.FmaPeak | tee "$out/fma_java.json"
jv -Xmx3g -cp benchmarks/target/benchmarks.jar intactkv.bench.MemoryBandwidth 1024 | tee "$out/bandwidth.json"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
o = sys.argv[1]
lim = {k: json.load(open(f"{o}/{k}.json")) for k in ("fma_c", "fma_java", "bandwidth")}
json.dump(lim, open(f"{o}/limits.json", "w"), indent=1)
PY
echo "== GEMM and the one-row BF16 product against the limits (Java, then PyTorch/OpenBLAS)"
{
  jv -cp benchmarks/target/benchmarks.jar intactkv.bench.GemmPeak 512 1024
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/bench/gemm_torch.py 512 1024
  /usr/bin/python3 tools/bench/gemm_torch.py 512 1024
  jv -Xmx2g -cp benchmarks/target/benchmarks.jar intactkv.bench.GemvStored 32000 2048
} | /usr/bin/python3 tools/bench/share.py "$out/limits.json"
