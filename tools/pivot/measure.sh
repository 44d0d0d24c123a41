#!/usr/bin/env bash
# The pivot-token measures of a training run (docs/DEFAULT_MODEL.md, the built-in model issue's
# acceptance): the finished model of RUN if train wrote one, else a snapshot of its latest
# checkpoint, as a model directory, then
#   analyze on the first 256 tokens of the test glosses (queries >= 32): heads with >= 30 % of
#           their attention on [BOS] per layer, the largest [BOS] activation / median token's;
#   ppl     on the whole validation split, windows of 128 (the shipped model: 33.72);
#   demo    (with --demo) the paper's table on that model.
# Usage: tools/pivot/measure.sh RUN_DIR OUT_DIR [--demo]
# JAVA_OPTS (default "-XX:ActiveProcessorCount=1 -Xmx3g") is passed to each java command.
set -euo pipefail
run="$1"
out="$2"
here="$(cd "$(dirname "$0")/../.." && pwd)"
jar="$here/examples/target/intactkv.jar"
[[ ! -e "$out" ]] || { echo "measure: $out exists" >&2; exit 1; }
if [[ -f "$run/model.safetensors" ]]; then
  src="$run"
  step="$(tail -1 "$run/train_log.csv" | cut -d, -f1) (finished)"
elif [[ -f "$run/checkpoint/model.safetensors" ]]; then
  src="$run/checkpoint"
  step=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['step'])" "$run/checkpoint/state.json")
else
  echo "measure: neither a finished model nor a checkpoint in $run" >&2; exit 1
fi
mkdir -p "$out/model"
cp "$src/config.json" "$src/model.safetensors" "$run/tokenizer.json" "$out/model/"
cp -r "$run/data" "$out/model/data"
head -40 "$out/model/data/test.txt" > "$out/acc.txt"
ikv() { java --add-modules jdk.incubator.vector ${JAVA_OPTS:--XX:ActiveProcessorCount=1 -Xmx3g} -XX:+UseParallelGC \
  -Dintactkv.home="$here" -jar "$jar" "$@" 2> >(grep -v "^WARNING: Using incubator" >&2); }
ikv analyze --model "$out/model" --text-file "$out/acc.txt" --max-tokens 256 --out "$out/analysis" > "$out/analyze.txt"
ikv ppl --model "$out/model" --data "$out/model/data/valid.txt" --seqlen 128 > "$out/ppl.txt"
echo "step $step"
python3 "$here/tools/pivot/summary.py" "$out/analysis/analysis.json"
cat "$out/ppl.txt"
if [[ "${3:-}" == "--demo" ]]; then
  ikv demo --model "$out/model" --out "$out/demo" > "$out/demo.txt"
  cat "$out/demo.txt"
fi
