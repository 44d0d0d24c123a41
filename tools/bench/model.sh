#!/usr/bin/env bash
# LLaMA forward throughput (prefill T = 256, decode with the KV cache) for a 1M-parameter and a
# TinyLlama-shaped config with random weights: Java, then PyTorch float64 and float32 (threads 1
# and 2, the faster kept), one after the other on the same machine. Arguments: the configs to run
# (default: 1m tinyllama). With BASELINE_JAR=path/to/benchmarks.jar (a build of an earlier commit)
# that build's Java numbers are printed first. Needs about 12 GB free memory for the TinyLlama shape.
# With LIMITS=path/limits.json (written by tools/bench/limits.sh) every Java line is followed by its
# prefill GFLOP/s as a share of the FMA peak and its decode bandwidth (8 bytes a parameter: these random
# models are held in double) as a share of the read bandwidth.
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -B -q -DskipTests package -pl benchmarks -am
java -version 2>&1 | head -1
configs=("$@")
[[ ${#configs[@]} -eq 0 ]] && configs=(1m tinyllama)
for name in "${configs[@]}"; do
  case "$name" in
    1m) set -- 1m 256 64 5 ;;
    tinyllama) set -- tinyllama 256 16 1 ;;
    *) echo "unknown config $name (1m or tinyllama)" >&2; exit 2 ;;
  esac
  for jar in ${BASELINE_JAR:-} benchmarks/target/benchmarks.jar; do
    [[ "$jar" == benchmarks/target/benchmarks.jar ]] && echo -n "java: " || echo -n "baseline: "
    java --add-modules jdk.incubator.vector -Xmx14g -XX:+UseParallelGC -cp "$jar" \
      intactkv.bench.ModelThroughput "$@" 2> >(grep -v "^WARNING: Using incubator" >&2) \
      | if [[ -n "${LIMITS:-}" ]]; then /usr/bin/python3 tools/bench/share.py "$LIMITS"; else cat; fi
  done
  /usr/bin/python3 tools/bench/model_torch.py "$@"
done
