#!/usr/bin/env bash
# Scale notes (docs/PERFORMANCE.md): prefill time and peak RSS of one process against T (64 ... 2048)
# for the 1M, 100M-class and TinyLlama shapes, Java then PyTorch float64, each process alone, one
# thread each (THREADS=2 to change it), random weights. TinyLlama needs about 16 GB free memory. Writes docs/perf/scale.csv and the two PNGs.
# Arguments: the configs (default: 1m 100m tinyllama).
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -B -q -DskipTests package -pl benchmarks -am
threads=${THREADS:-1}
configs=("$@")
[[ ${#configs[@]} -eq 0 ]] && configs=(1m 100m tinyllama)
mkdir -p docs/perf
csv=docs/perf/scale.csv
tmp=$(mktemp)
echo "impl,config,params,T,threads,prefill_s,peak_rss_mb" > "$tmp"
java -version 2>&1 | head -1
/usr/bin/python3 -c "import torch; print('torch', torch.__version__)"
for cfg in "${configs[@]}"; do
  for t in 64 128 256 512 1024 2048; do
    reps=3; [[ $cfg == 1m ]] && reps=10; [[ $cfg == tinyllama && $t -ge 512 ]] && reps=1
    out=$( { /usr/bin/time -f "RSS %M" java --add-modules jdk.incubator.vector -XX:ActiveProcessorCount="$threads" \
        -Xmx16g -Xmn1g -XX:+UseParallelGC -cp benchmarks/target/benchmarks.jar intactkv.bench.ModelThroughput "$cfg" "$t" 0 "$reps"; } 2>&1 \
        | grep -v "^WARNING: Using incubator")
    json=$(grep '^{' <<<"$out"); rss=$(grep '^RSS' <<<"$out" | awk '{print $2}')
    params=$(sed 's/.*"params": \([0-9]*\).*/\1/' <<<"$json"); secs=$(sed 's/.*"prefill_s": \([0-9.]*\).*/\1/' <<<"$json")
    echo "java,$cfg,$params,$t,$threads,$secs,$((rss / 1024))" | tee -a "$tmp"
    out=$( { BENCH_DTYPES=float64 BENCH_THREADS="$threads" /usr/bin/time -f "RSS %M" /usr/bin/python3 tools/bench/model_torch.py "$cfg" "$t" 0 "$reps"; } 2>&1 )
    json=$(grep '^{' <<<"$out"); rss=$(grep '^RSS' <<<"$out" | awk '{print $2}')
    secs=$(sed 's/.*"prefill_s": \([0-9.]*\).*/\1/' <<<"$json")
    echo "pytorch-f64,$cfg,$params,$t,$threads,$secs,$((rss / 1024))" | tee -a "$tmp"
  done
done
mv "$tmp" "$csv"
java -cp benchmarks/target/benchmarks.jar intactkv.bench.ScalePlot "$csv" docs/perf/scale_time.png docs/perf/scale_rss.png
echo "wrote $csv, docs/perf/scale_time.png, docs/perf/scale_rss.png"
