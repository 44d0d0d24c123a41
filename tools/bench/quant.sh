#!/usr/bin/env bash
# Quantization method timings (intactkv.bench.QuantThroughput) and PyTorch's GPTQ on the same
# 1024 x 1024 layer, one after the other on the same machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -B -q -DskipTests package -pl benchmarks -am
java --add-modules jdk.incubator.vector -Xmx4g -cp benchmarks/target/benchmarks.jar intactkv.bench.QuantThroughput 2> >(grep -v "^WARNING: Using incubator" >&2)
/usr/bin/python3 tools/bench/quant_torch.py
