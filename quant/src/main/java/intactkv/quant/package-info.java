/**
 * Fake quantization (quantize then dequantize, in double) and the quantizers the paper
 * combines IntactKV with.
 *
 * <p>Every quantizer ends in the one canonical function {@link intactkv.quant.FakeQuant#quantize}:
 * {@code x^ = (clamp(rint(x / s) + z, qmin, qmax) - z) * s} with round-half-to-even; they differ
 * only in how the scale {@code s}, zero point {@code z} and integer range are found:
 * <ul>
 *   <li>{@link intactkv.quant.WeightQuantizer}: RTN per group of g inputs, AWQ's
 *       {@code pseudo_quantize_tensor};</li>
 *   <li>{@link intactkv.quant.DynamicQuantizer}: per token / per (token, head), OmniQuant's
 *       {@code UniformAffineQuantizer} (activations, KV cache);</li>
 *   <li>{@link intactkv.quant.Gptq}: GPTQ with the range including 0, as AutoGPTQ's {@code Quantizer};</li>
 *   <li>{@link intactkv.quant.QuaRotWeightQuantizer}: the weight quantizer of QuaRot's GPTQ, with its
 *       MSE clip search ({@code --w_clip});</li>
 *   <li>{@link intactkv.quant.QuaRotActQuantizer}: QuaRot's {@code ActQuantizer} (activations, KV cache
 *       of a rotated model; see {@link intactkv.quant.QuaRotHooks}).</li>
 * </ul>
 * Quantized weights (RTN, AWQ, GPTQ, QuaRot) are kept as the integer codes with their scales and
 * zeros ({@link intactkv.quant.QuantCodes}), whose values are those doubles bit for bit, and written
 * packed ({@link intactkv.quant.PackedCheckpoint}).
 */
package intactkv.quant;
