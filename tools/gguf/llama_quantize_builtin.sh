#!/usr/bin/env bash
# Models through llama.cpp's own llama-quantize, recorded for LlamaQuantizeBuiltinTest and
# LlamaQuantizeKShapedTest. Usage: tools/gguf/llama_quantize_builtin.sh LLAMA_CPP_CHECKOUT BUILD_DIR
# BUILD_DIR: made by tools/gguf/build_llama_quantize.sh. Quantizes, without an imatrix, to each type
# below and records every output tensor (name, chosen ggml type, ggml shape, sha256 of its bytes):
#   - the built-in model as an F32 GGUF (tools/oracle/gguf_fixtures.py --default-model:
#     convert_hf_to_gguf's names and Q/K permutation) -> model/src/test/resources/gguf/llama_quantize_builtin.json
#   - the k-shaped formula model (tools/gguf/kshaped_model.py: rows of 256 and 768, so the k-quants
#     are chosen) -> model/src/test/resources/gguf/llama_quantize_kshaped.json
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
src="${1:?usage: llama_quantize_builtin.sh LLAMA_CPP_CHECKOUT BUILD_DIR}"
build="${2:?usage: llama_quantize_builtin.sh LLAMA_CPP_CHECKOUT BUILD_DIR}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export PYTHONPATH="$src/gguf-py"
flags="$(grep -E '^CMAKE_C_FLAGS:|^CMAKE_BUILD_TYPE:|^GGML_NATIVE:|^GGML_FMA:|^GGML_F16C:|^GGML_AVX:|^GGML_AVX2:' \
  "$build/CMakeCache.txt" | sed 's/:[A-Z]*=/=/' | tr '\n' ' ' | sed 's/ $//')"
commit="$(git -C "$src" rev-parse HEAD)"

# quantize IN.gguf OUT.json INPUT-SENTENCE
quantize_all() {
  local in="$1" out="$2" what="$3" args=() t
  for t in Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_S Q4_K_S Q5_K_S Q6_K Q4_K_M Q3_K_M; do
    "$build/bin/llama-quantize" "$in" "$tmp/$t.gguf" "$t" 2 >"$tmp/$t.log" 2>&1 \
      || { cat "$tmp/$t.log" >&2; exit 1; }
    args+=("$t=$tmp/$t.gguf")
  done
  local version
  version="$(grep -m 1 '^version:' "$tmp/Q8_0.log" || echo unknown)"
  /usr/bin/python3 "$here/tools/gguf/llama_quantize_builtin.py" "$out" "$commit" "$flags" "$version" "$what" "${args[@]}"
  echo "wrote $out"
}

/usr/bin/python3 "$here/tools/oracle/gguf_fixtures.py" "$tmp/fixtures" --default-model "$tmp/in.gguf" >/dev/null
quantize_all "$tmp/in.gguf" "$here/model/src/test/resources/gguf/llama_quantize_builtin.json" \
  "examples/default-model as an F32 GGUF by tools/oracle/gguf_fixtures.py --default-model"
/usr/bin/python3 "$here/tools/gguf/kshaped_model.py" "$tmp/kshaped.gguf"
quantize_all "$tmp/kshaped.gguf" "$here/model/src/test/resources/gguf/llama_quantize_kshaped.json" \
  "the formula model of tools/gguf/kshaped_model.py (d 256, d_ff 768, 4 heads, 2 KV heads, 2 layers, V 512), F32"
