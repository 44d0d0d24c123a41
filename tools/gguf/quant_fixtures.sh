#!/usr/bin/env bash
# ggml's quantization of seeded hard-case rows, for GgmlQuantizeOracleTest. Usage, from anywhere:
#   tools/gguf/quant_fixtures.sh LLAMA_CPP_CHECKOUT BUILD_DIR
# BUILD_DIR is a build made by tools/gguf/build_llama_quantize.sh (it needs bin/libggml-base.so).
# Compiles tools/gguf/quant_rows.c against it (same -ffp-contract=off) and writes
# model/src/test/resources/gguf/quant/ (input.f32, TYPE.bin per type, fixtures.json).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
src="${1:?usage: quant_fixtures.sh LLAMA_CPP_CHECKOUT BUILD_DIR}"
build="${2:?usage: quant_fixtures.sh LLAMA_CPP_CHECKOUT BUILD_DIR}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cc -O2 -ffp-contract=off -I"$src/ggml/include" "$here/tools/gguf/quant_rows.c" \
  -L"$build/bin" -lggml-base -Wl,-rpath,"$build/bin" -o "$tmp/quant_rows"
/usr/bin/python3 "$here/tools/gguf/quant_fixtures.py" "$tmp/quant_rows" \
  "$here/model/src/test/resources/gguf/quant" "$(git -C "$src" rev-parse HEAD)"
