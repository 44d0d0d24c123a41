#!/usr/bin/env bash
# Runs the foundation benchmarks (JMH: MatMulBench, MlpBench) and the same shapes in PyTorch,
# back to back on the same machine, and prints the table for docs/PERFORMANCE.md.
# Needs Debian's python3-torch and libopenblas0-pthread for the PyTorch side. The machine's limits are measured
# first (tools/bench/limits.sh, which also sets the GEMM beside OpenBLAS on one thread by CPU time), and the
# matmul rows give each figure as a share of the FMA peak.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-target/bench}
mkdir -p "$out"
mvn -B -q -DskipTests package -pl benchmarks -am
tools/bench/limits.sh "$out/limits"
java --add-modules jdk.incubator.vector -jar benchmarks/target/benchmarks.jar \
  'intactkv.bench.(MatMulBench|MlpBench)' -rf json -rff "$out/jmh.json" > "$out/jmh.txt"
/usr/bin/python3 tools/bench/foundation_torch.py > "$out/torch.json"
/usr/bin/python3 tools/bench/table.py "$out/jmh.json" "$out/torch.json" "$out/limits/limits.json"
