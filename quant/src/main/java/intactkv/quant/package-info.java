/**
 * Fake quantization with straight-through estimators and the quantizers the paper combines
 * IntactKV with: RTN, GPTQ, AWQ, OmniQuant-style clipping, KV-cache and activation
 * quantization, QuaRot rotation. Not yet implemented: filled by the quantization issue.
 */
package intactkv.quant;
