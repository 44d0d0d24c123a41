#!/usr/bin/env bash
# The real-shape measurements of issue 27 on random checkpoints, one command after the other, each under
# /usr/bin/time -v (peak RSS, wall time), then a summary table. For a quiet machine with >= 24 GB: it runs
# LLaMA-2-7B- and LLaMA-3-8B-shaped models (13.5 and 16.1 GB of BF16 on disk; run nothing else meanwhile).
#
#   tools/scale/measure7b.sh                 # llama2-7b and llama3-8b, written to /tmp/<shape> if missing
#   CHECKPOINT=/tmp/my-tinyllama tools/scale/measure7b.sh tinyllama   # the same steps on the TinyLlama shape
#
# A checkpoint directory needs a tokenizer.json that fits its vocabulary for ppl: random_checkpoint.py writes
# one (and `random_checkpoint.py tokenizer DIR` adds one where it is missing); a directory whose tokenizer
# does not fit can be used through a directory of symbolic links to its config.json and model.safetensors.
#
# Per shape: ppl --seqlen 512 in full precision; for llama2-7b and tinyllama also RTN W3 g128 + IntactKV_[B];
# the last-position logits of `./intactkv dump` against tools/scale/layerwise_oracle.py (PyTorch float64,
# layer by layer; tolerance 1e-9), full precision and RTN W3 g128 + [B]; prefill and decode tokens/s of
# intactkv.bench.DecodeThroughput (Java) and layerwise_oracle.py --bench (PyTorch float64, weights kept in
# BF16 as the Java side keeps them). ppl and dump run through ./intactkv with the heap the launcher picks.
# Environment: CHECKPOINT (the directory, for one shape), LINES (lines of the WordNet test split scored,
# default 400), PREFILL_T (default 256), STEPS (decode steps, default 8), BENCH_HEAP (the -Xmx of the Java
# bench, default 20g; its young generation is capped at 1 GiB, as the launcher caps it, because the weights live in
# the old generation: without the cap -Xmx16g dies loading the 7B shape), OUT (logs, default /tmp/measure7b).
# Exits 1 if an oracle comparison disagrees.
set -uo pipefail
cd "$(dirname "$0")/../.."
shapes=("$@")
[[ ${#shapes[@]} -eq 0 ]] && shapes=(llama2-7b llama3-8b)
out=${OUT:-/tmp/measure7b}
mkdir -p "$out"
lines=${LINES:-400}
t=${PREFILL_T:-256}
steps=${STEPS:-8}
py=/usr/bin/python3
fail=0
summary=()

# WordNet text: the test split that `train` writes, cut to LINES lines
if [[ ! -f "$out/data/test.txt" ]]; then
  ./intactkv train --out "$out" --steps 1 --warmup 0 > "$out/train.log" 2>&1 || { echo "could not write the WordNet splits (see $out/train.log)" >&2; exit 2; }
fi
head -n "$lines" "$out/data/test.txt" > "$out/test-$lines.txt"

# runs "$@" under /usr/bin/time -v; prints the command's stdout; records "label | peak RSS GB | wall s | result"
timed() {
  local label=$1; shift
  local log="$out/$(echo "$label" | tr ' /+' '___').log"
  /usr/bin/time -v "$@" > "$log.out" 2> "$log.err"
  local rc=$?
  local rss wall
  rss=$(awk -F: '/Maximum resident set size/ {printf "%.2f", $2 / 1048576}' "$log.err")
  wall=$(awk '/Elapsed \(wall clock\)/ {print $NF}' "$log.err")
  local result
  # a JSON result line keeps only the figures of the table; a failure shows its first error line
  result=$(grep -v '^WARNING' "$log.out" | $py -c "$brief")
  [[ $rc -ne 0 ]] && result="exit $rc: $(grep -v -E '^WARNING|^Command exited|^\s' "$log.err" | head -1)"
  summary+=("$label | $rss | $wall | ${result:0:200}")
  echo "$label: rc $rc, peak RSS $rss GB, wall $wall"
  return $rc
}

brief='import json, sys
text = sys.stdin.read().strip()
line = text.splitlines()[-1] if text else ""
try:
    try:
        r = json.loads(text)  # ppl --json prints one object over several lines
    except ValueError:
        r = json.loads(line)
    keep = ("ppl", "perplexity", "max_abs_diff", "agree", "prefill_tok_s", "decode_tok_s", "weight_bytes_per_token")
    print(", ".join(f"{k} {r[k]}" for k in keep if k in r) or line)
except ValueError:
    print(line)'
mvn -B -q -o -DskipTests package -pl benchmarks -am || exit 2
for shape in "${shapes[@]}"; do
  dir=${CHECKPOINT:-/tmp/$shape}
  if [[ ! -f "$dir/model.safetensors" ]]; then
    $py tools/scale/random_checkpoint.py "$shape" "$dir" bf16 || exit 2
  fi
  # the built-in model's BPE padded to the vocabulary (ppl refuses a tokenizer that does not fit the model)
  [[ -f "$dir/tokenizer.json" ]] || $py tools/scale/random_checkpoint.py tokenizer "$dir" || exit 2
  # [BOS] and seven ids spread over the vocabulary
  ids=$($py -c "import json,sys; c=json.load(open(sys.argv[1])); v=c['vocab_size']
print(','.join(str(x) for x in [c.get('bos_token_id', 1)] + [(i * 7919 + 13) % v for i in range(1, 8)]))" "$dir/config.json")
  timed "$shape ppl FP" ./intactkv ppl --model "$dir" --data "$out/test-$lines.txt" --seqlen 512 --json
  if [[ "$shape" != llama3-8b ]]; then
    timed "$shape ppl RTN W3 g128 + [B]" ./intactkv ppl --model "$dir" --data "$out/test-$lines.txt" --seqlen 512 \
      --method rtn --wbits 3 --group 128 --intactkv bos --json
  fi
  timed "$shape dump FP" ./intactkv dump --model "$dir" --tokens "$ids" --out "$out/$shape-fp.safetensors"
  timed "$shape oracle FP" $py tools/scale/layerwise_oracle.py "$dir" --tokens "$ids" \
    --compare "$out/$shape-fp.safetensors" || fail=1
  timed "$shape dump RTN W3 + [B]" ./intactkv dump --model "$dir" --tokens "$ids" --method rtn --wbits 3 --group 128 \
    --intactkv bos --out "$out/$shape-rtn3b.safetensors"
  timed "$shape oracle RTN W3 + [B]" $py tools/scale/layerwise_oracle.py "$dir" --tokens "$ids" --rtn-wbits 3 \
    --group 128 --intactkv bos --compare "$out/$shape-rtn3b.safetensors" || fail=1
  timed "$shape Java prefill $t / decode $steps" java --add-modules jdk.incubator.vector -Xmx"${BENCH_HEAP:-20g}" -XX:MaxNewSize=1g \
    -cp benchmarks/target/benchmarks.jar intactkv.bench.DecodeThroughput "$dir" "$t" "$steps"
  timed "$shape PyTorch f64 prefill $t / decode $steps" $py tools/scale/layerwise_oracle.py "$dir" --bench "$t,$steps"
done

echo
echo "| run | peak RSS, GB | wall | result (last line) |"
echo "|---|---|---|---|"
for row in "${summary[@]}"; do
  echo "| $row |"
done
exit $fail
