#!/usr/bin/env bash
# Builds llama.cpp's llama-quantize and libggml-base (the oracle for intactkv.model.gguf.GgmlQuantize)
# from a llama.cpp checkout into a build folder. Usage:
#   tools/gguf/build_llama_quantize.sh LLAMA_CPP_CHECKOUT BUILD_DIR
# (about 15-25 minutes on two shared cores; writes only into BUILD_DIR).
#
# Flags, and why:
#   -DCMAKE_BUILD_TYPE=Release          the optimised build llama-quantize is normally used as.
#   -DGGML_NATIVE=OFF and no AVX/AVX2/AVX512/FMA/F16C/BMI2/SSE4.2
#                                       the CPU backend's SIMD paths are not used by
#                                       ggml_quantize_chunk's reference functions anyway; turning
#                                       them off keeps the compiler from emitting FMA instructions
#                                       and keeps GGML_FP32_TO_FP16 on its portable C bit-trick.
#   CFLAGS/CXXFLAGS=-ffp-contract=off   no contraction of a*b+c into one fused multiply-add: every
#                                       float expression then rounds after each operation, exactly
#                                       as Java's float arithmetic does (x86-64 SSE evaluates float
#                                       in float, FLT_EVAL_METHOD 0), so the scale searches choose
#                                       the same scales in C and in Java.
#   curl, server, tests off             not needed; fewer things to build.
set -euo pipefail
src="${1:?usage: build_llama_quantize.sh LLAMA_CPP_CHECKOUT BUILD_DIR}"
out="${2:?usage: build_llama_quantize.sh LLAMA_CPP_CHECKOUT BUILD_DIR}"
mkdir -p "$out"
CFLAGS=-ffp-contract=off CXXFLAGS=-ffp-contract=off cmake -S "$src" -B "$out" \
  -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF \
  -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_AVX512=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF \
  -DGGML_BMI2=OFF -DGGML_SSE42=OFF \
  -DLLAMA_CURL=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TESTS=OFF
cmake --build "$out" --target llama-quantize -j "${JOBS:-2}"
echo "built: $out/bin/llama-quantize and $out/bin/libggml-base.so"
echo "llama.cpp commit: $(git -C "$src" rev-parse HEAD 2>/dev/null || echo unknown)"
