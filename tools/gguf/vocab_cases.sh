#!/usr/bin/env bash
# llama.cpp's tokenizer test cases for its LLaMA vocab files, through the project's GGUF vocabulary
# reader (intactkv.model.text.GgufVocab). Usage, from the project folder, with a llama.cpp checkout:
#   tools/gguf/vocab_cases.sh LLAMA_CPP        (builds the jar first when ./intactkv would)
# Reads LLAMA_CPP/models/ggml-vocab-llama-spm.gguf and ggml-vocab-llama-bpe.gguf with their .inp/.out
# (written by llama.cpp's tests/test-tokenizer-0.py). Exit 0 when every case is equal.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
llama="${1:?usage: tools/gguf/vocab_cases.sh LLAMA_CPP_CHECKOUT}"
"$here/intactkv" --version >/dev/null 2>&1 || true   # builds examples/target/intactkv.jar when stale
exec java -Xmx2g -cp "$here/examples/target/intactkv.jar" "$here/tools/gguf/VocabCases.java" \
  "$llama/models/ggml-vocab-llama-spm.gguf" "$llama/models/ggml-vocab-llama-bpe.gguf"
