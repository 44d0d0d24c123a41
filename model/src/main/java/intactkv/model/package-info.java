/**
 * The LLaMA model in Hugging Face conventions (config record, RMSNorm, RoPE with
 * {@code rotate_half}, grouped-query attention with a KV cache and prefix, SwiGLU MLP),
 * safetensors and {@code config.json} I/O, the {@code tokenizer.json} BPE tokenizer and text
 * generation. Not yet implemented: this module is filled by the model issue; it currently
 * only depends on {@code autograd}, which its single forward implementation will use.
 */
package intactkv.model;
