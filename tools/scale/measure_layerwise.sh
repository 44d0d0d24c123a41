#!/usr/bin/env bash
# ppl on the whole model and with --layer-by-layer (one decoder layer of the checkpoint held at a time), each
# through ./intactkv with the heap the launcher plans, under /usr/bin/time -v, one after the other; then checks
# that the two print the same numbers to the last digit and prints peak RSS and wall time of each.
#
#   tools/scale/measure_layerwise.sh CHECKPOINT DATA SEQLEN [ppl flags...]
#   tools/scale/measure_layerwise.sh /tmp/llama2-7b /tmp/t45.txt 512 --method rtn --wbits 3 --group 128 --intactkv bos
#
# Environment: OUT (logs, default /tmp/measure-layerwise), LAYERED_FLAGS (more flags for the layer-by-layer run,
# e.g. "--windows-per-pass 1"), WHOLE=0 to skip the whole-model run (a model whose plan exceeds the heap: the
# script then only shows that run's refusal). Exits 1 if the numbers differ. Never run two at once: each run
# may take most of the machine's memory.
set -uo pipefail
cd "$(dirname "$0")/../.."
[[ $# -lt 3 ]] && { sed -n 2,12p "$0"; exit 2; }
ckpt=$1; data=$2; seqlen=$3; shift 3
out=${OUT:-/tmp/measure-layerwise}
mkdir -p "$out"
tag=$(basename "$ckpt")-$seqlen$(printf '%s' "$*" | tr -c 'A-Za-z0-9' '_')

run() { # name, then the ppl flags
  local name=$1; shift
  echo "== $name: ./intactkv --print-heap ppl $*: $(./intactkv --print-heap ppl "$@")" | tee -a "$out/summary.txt"
  /usr/bin/time -v ./intactkv ppl "$@" --json > "$out/$tag.$name.json" 2> "$out/$tag.$name.time"
  local rc=$?
  local rss wall
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.2f GiB", $2 / 1048576}' "$out/$tag.$name.time")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$out/$tag.$name.time")
  echo "$name: exit $rc, peak RSS $rss, wall $wall" | tee -a "$out/summary.txt"
  grep -E '"(ppl|mean_nll|kl_to_fp|kl_to_fp_stderr)"' "$out/$tag.$name.json" | tee -a "$out/summary.txt"
  [[ $rc -eq 0 ]] || grep -m3 -E 'error|refus' "$out/$tag.$name.time" | tee -a "$out/summary.txt"
}

if [[ ${WHOLE:-1} != 0 ]]; then
  run whole --model "$ckpt" --data "$data" --seqlen "$seqlen" "$@"
fi
# shellcheck disable=SC2086
run layered --model "$ckpt" --data "$data" --seqlen "$seqlen" "$@" --layer-by-layer ${LAYERED_FLAGS:-}
if [[ ${WHOLE:-1} != 0 ]] && ! grep -q '"ppl"' "$out/$tag.whole.json"; then
  echo "no comparison: the whole-model run printed no result (refused or failed, above)" | tee -a "$out/summary.txt"
elif [[ ${WHOLE:-1} != 0 ]]; then
  if diff <(grep -E '"(ppl|mean_nll|kl_to_fp|kl_to_fp_stderr|windows)"' "$out/$tag.whole.json") \
          <(grep -E '"(ppl|mean_nll|kl_to_fp|kl_to_fp_stderr|windows)"' "$out/$tag.layered.json"); then
    echo "same numbers: yes" | tee -a "$out/summary.txt"
  else
    echo "same numbers: NO" | tee -a "$out/summary.txt"
    exit 1
  fi
fi
