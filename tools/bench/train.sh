#!/usr/bin/env bash
# Training-step speed of the built-in model's shape: Java (intactkv.bench.TrainThroughput), then
# the batched PyTorch peer (float64 and float32, threads 1 and 2), one after the other.
# Arguments: B (16), T (128), timed steps (5). With BASELINE_JAR=path/to/benchmarks.jar (a build of
# an earlier commit) the same Java loop of that build runs first, for a same-run comparison.
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -B -q -DskipTests package -pl benchmarks -am
jvm=(java --add-modules jdk.incubator.vector -Xms8g -Xmx8g -Xmn6g -XX:+UseParallelGC)
java -version 2>&1 | head -1
if [[ -n "${BASELINE_JAR:-}" ]]; then
  echo -n "baseline: "
  "${jvm[@]}" -cp "$BASELINE_JAR" intactkv.bench.TrainThroughput "${1:-16}" "${2:-128}" "${3:-5}" \
    2> >(grep -v "^WARNING: Using incubator" >&2)
fi
echo -n "java: "
"${jvm[@]}" -cp benchmarks/target/benchmarks.jar \
  intactkv.bench.TrainThroughput "${1:-16}" "${2:-128}" "${3:-5}" 2> >(grep -v "^WARNING: Using incubator" >&2)
/usr/bin/python3 tools/bench/train_torch.py "${1:-16}" "${2:-128}" "${3:-5}"
