/**
 * llama.cpp's GGUF files (v2 and v3) read as the project's LLaMA models: the header, metadata and
 * tensor infos ({@link intactkv.model.gguf.GgufFile}), the ggml tensor types dequantized exactly as
 * ggml's reference {@code dequantize_row_*} do ({@link intactkv.model.gguf.GgmlType}), the
 * {@code llama.*} metadata as a {@link intactkv.model.LlamaConfig} ({@link intactkv.model.gguf.GgufConfig})
 * and the tensors under their Hugging Face names ({@link intactkv.model.gguf.GgufWeights}).
 */
package intactkv.model.gguf;
