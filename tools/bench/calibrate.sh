#!/usr/bin/env bash
# IntactKV calibration speed: Java (intactkv.bench.CalibrationThroughput) then the same loop in
# PyTorch, one after the other. Arguments: T (default 256), optimizer steps (default 160).
set -euo pipefail
cd "$(dirname "$0")/../.."
t=${1:-256}
steps=${2:-160}
mvn -B -q -DskipTests package -pl benchmarks -am
java --add-modules jdk.incubator.vector -Xmx4g -cp benchmarks/target/benchmarks.jar \
  intactkv.bench.CalibrationThroughput "$t" "$steps" 2> >(grep -v "^WARNING: Using incubator" >&2)
/usr/bin/python3 tools/bench/calibrate_torch.py "$t" "$steps"
