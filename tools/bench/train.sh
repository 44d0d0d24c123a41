#!/usr/bin/env bash
# Training-step speed of the built-in model's shape: Java (intactkv.bench.TrainThroughput), then
# PyTorch, one after the other. Arguments: B (16), T (128), timed steps (5).
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -B -q -DskipTests package -pl benchmarks -am
java --add-modules jdk.incubator.vector -Xms4g -Xmx4g -XX:+UseParallelGC -cp benchmarks/target/benchmarks.jar \
  intactkv.bench.TrainThroughput "${1:-16}" "${2:-128}" "${3:-5}" 2> >(grep -v "^WARNING: Using incubator" >&2)
/usr/bin/python3 tools/bench/train_torch.py "${1:-16}" "${2:-128}" "${3:-5}"
