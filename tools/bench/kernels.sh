#!/usr/bin/env bash
# Kernel-level A/B of two builds, for the changes listed in docs/PERFORMANCE.md: single GEMM
# products (intactkv.bench.GemmShapes, with a hash of each result so the bits can be compared),
# the fused attention forward/backward (intactkv.bench.AttentionThroughput) and the gradient hash
# of a training step (intactkv.bench.GradientHash), first for BASELINE_JAR (a benchmarks.jar built
# from an earlier commit) if given, then for this tree; the mains come from this tree's classes, so a
# baseline that predates them runs them on its own kernels. THREADS (default 1) sets the JVM's cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -B -q -DskipTests package -pl benchmarks -am
java -version 2>&1 | head -1
for jar in ${BASELINE_JAR:-} benchmarks/target/benchmarks.jar; do
  [[ "$jar" == benchmarks/target/benchmarks.jar ]] && echo "== this tree" || echo "== baseline $jar"
  for main in GemmShapes AttentionThroughput GradientHash; do
    # this tree's benchmark mains before the jar, so they run on the jar's kernels even when the jar has its own copies
    java --add-modules jdk.incubator.vector -XX:ActiveProcessorCount="${THREADS:-1}" -Xmx4g \
      -cp "benchmarks/target/classes:$jar" "intactkv.bench.$main" 2> >(grep -v "^WARNING: Using incubator" >&2)
  done
done
