#!/usr/bin/env bash
# The built-in model through llama.cpp's own llama-quantize, recorded for LlamaQuantizeBuiltinTest.
# Usage: tools/gguf/llama_quantize_builtin.sh LLAMA_CPP_CHECKOUT BUILD_DIR
# BUILD_DIR: made by tools/gguf/build_llama_quantize.sh. Writes the built-in model as an F32 GGUF
# (tools/oracle/gguf_fixtures.py --default-model: convert_hf_to_gguf's names and Q/K permutation),
# quantizes it to each type below without an imatrix, and writes
# model/src/test/resources/gguf/llama_quantize_builtin.json (tensor name, chosen type, shape, sha256).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
src="${1:?usage: llama_quantize_builtin.sh LLAMA_CPP_CHECKOUT BUILD_DIR}"
build="${2:?usage: llama_quantize_builtin.sh LLAMA_CPP_CHECKOUT BUILD_DIR}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export PYTHONPATH="$src/gguf-py"
/usr/bin/python3 "$here/tools/oracle/gguf_fixtures.py" "$tmp/fixtures" --default-model "$tmp/in.gguf" >/dev/null
args=()
for t in Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_S Q4_K_S Q5_K_S Q6_K Q4_K_M Q3_K_M; do
  "$build/bin/llama-quantize" "$tmp/in.gguf" "$tmp/$t.gguf" "$t" 2 >"$tmp/$t.log" 2>&1 \
    || { cat "$tmp/$t.log" >&2; exit 1; }
  args+=("$t=$tmp/$t.gguf")
done
version="$(grep -m 1 '^version:' "$tmp/Q8_0.log" || echo unknown)"
flags="$(grep -E '^CMAKE_C_FLAGS:|^CMAKE_BUILD_TYPE:|^GGML_NATIVE:|^GGML_FMA:|^GGML_F16C:|^GGML_AVX:|^GGML_AVX2:' \
  "$build/CMakeCache.txt" | sed 's/:[A-Z]*=/=/' | tr '\n' ' ' | sed 's/ $//')"
/usr/bin/python3 "$here/tools/gguf/llama_quantize_builtin.py" \
  "$here/model/src/test/resources/gguf/llama_quantize_builtin.json" \
  "$(git -C "$src" rev-parse HEAD)" "$flags" "$version" "${args[@]}"
echo "wrote model/src/test/resources/gguf/llama_quantize_builtin.json"
