#!/usr/bin/env bash
# LLaMA forward throughput (prefill T = 256, decode with the KV cache) for a 1M-parameter and a
# TinyLlama-shaped config with random weights: Java, then PyTorch float64 and float32, one
# after the other on the same machine. Needs about 12 GB free memory for the TinyLlama shape.
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -B -q -DskipTests package -pl benchmarks -am
for cfg in "1m 256 64 5" "tinyllama 256 16 1"; do
  set -- $cfg
  java --add-modules jdk.incubator.vector -Xmx14g -cp benchmarks/target/benchmarks.jar \
    intactkv.bench.ModelThroughput "$@" 2> >(grep -v "^WARNING: Using incubator" >&2)
  /usr/bin/python3 tools/bench/model_torch.py "$@"
done
