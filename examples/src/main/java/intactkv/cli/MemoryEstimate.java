package intactkv.cli;

import intactkv.model.LlamaConfig;
import intactkv.quant.Method;

/**
 * Lower bounds of the memory a command needs, from the model's config.json and the flags that
 * size its buffers: activations in doubles (8 bytes each); weights for inference at the least
 * their smallest form (2 bytes a parameter, the BF16/F16 a checkpoint may hold, since weights stay
 * in their file's dtype; 1 byte a parameter for a quantized copy, whose codes are one byte each),
 * weights for training in doubles. Only buffers that provably coexist are counted, so a bound
 * above the heap means the run cannot succeed ({@link Memory#require}).
 * Symbols as in DESIGN.md: T tokens, p prefix, d model dim, h heads, d_ff, V vocabulary, L layers,
 * n calibration sequences.
 */
final class MemoryEstimate {
    private static final long DOUBLE = 8;

    private MemoryEstimate() {
    }

    /** The config.json of the model {@code --model} names, read without the weights. */
    static LlamaConfig config(java.nio.file.Path model) throws java.io.IOException {
        return LlamaConfig.read(ModelDir.check(model).resolve("config.json"));
    }

    /**
     * Refuses windows of {@code t} tokens (after {@code p} cached ones) that cannot fit, before
     * the model is loaded: {@code weightCopies} copies of the weights (the full-precision model,
     * the quantized one) and one forward pass, {@code logitCopies} windows of logits (a KL
     * reference keeps the full-precision ones too).
     */
    static void requireWindows(LlamaConfig c, String flag, long t, long p, int weightCopies, int logitCopies) {
        long bytes = plus(plus(inferenceWeights(c, weightCopies), forward(c, t, p)),
                times(DOUBLE, t, c.vocabSize(), Math.max(0, logitCopies - 1)));
        Memory.require(String.format(java.util.Locale.ROOT, "%s (attention probabilities of %d heads x %d x %d and logits"
                        + " %d x %d in doubles, %d cop%s of %d parameters)", flag, c.numAttentionHeads(), t, p + t, t,
                c.vocabSize(), weightCopies, weightCopies == 1 ? "y" : "ies", c.parameterCount()), bytes);
    }

    /** Refuses a weight quantizer's calibration set of n sequences of T tokens that cannot fit; {@link #quantization}. */
    static void requireQuantization(LlamaConfig c, Method m, long n, long t, String flags) {
        long bytes = plus(inferenceWeights(c, 2), quantization(c, m, n, t));
        Memory.require(String.format(java.util.Locale.ROOT, "%s: %s calibration on %d sequences of %d tokens (%s,"
                + " in doubles)", flags, m.id(), n, t, m == Method.AWQ
                ? "each layer's inputs, outputs and the inputs of its linears" : "each layer's inputs and outputs"), bytes);
    }

    /**
     * Refuses a training or calibration step with a backward pass over {@code batch} sequences of
     * {@code t} tokens after {@code p} prefix positions that cannot fit ({@link #forwardForBackward}),
     * besides {@code weightBytes} of weights ({@link #weights} for training, {@link #inferenceWeights}
     * for prefix calibration, whose models are constant).
     */
    static void requireBackward(LlamaConfig c, String flag, long batch, long t, long p, long weightBytes) {
        long bytes = plus(weightBytes, times(forwardForBackward(c, t, p), batch));
        Memory.require(String.format(java.util.Locale.ROOT, "%s (attention probabilities kept for the backward pass:"
                        + " %d x %d layers x %d heads x %d x %d, in doubles)", flag, batch, c.numHiddenLayers(),
                c.numAttentionHeads(), t, p + t), bytes);
    }

    /**
     * Refuses an analysis of {@code t} tokens whose attention probabilities, kept for every layer
     * ({@code AttentionMass.attentions}: L x h x T x T), cannot fit.
     */
    static void requireAttentions(LlamaConfig c, String flag, long t) {
        long bytes = plus(inferenceWeights(c, 2), forwardForBackward(c, t, 0));
        Memory.require(String.format(java.util.Locale.ROOT, "%s (the attention probabilities of every layer: %d layers x"
                + " %d heads x %d x %d, in doubles)", flag, c.numHiddenLayers(), c.numAttentionHeads(), t, t), bytes);
    }

    /** The weights held in double, as training holds them: 8 bytes per parameter. */
    static long weights(LlamaConfig c) {
        return times(DOUBLE, c.parameterCount());
    }

    /**
     * {@code copies} copies of the weights as inference holds them, at the least: the
     * full-precision model in its file's dtype, 2 bytes a parameter or more (BF16/F16; F32 and F64
     * files take 4 and 8), and each further (quantized) copy 1 byte a parameter or more (one byte
     * per code; scales, zeros and the unquantized embeddings come on top).
     */
    static long inferenceWeights(LlamaConfig c, int copies) {
        return plus(times(2, c.parameterCount()), times(1, c.parameterCount(), Math.max(0, copies - 1)));
    }

    /**
     * One forward pass over {@code t} tokens after {@code p} cached ones, without gradients:
     * the attention probabilities of one layer, h x T x (p + T) (written whole before the
     * next layer starts), and the logits, T x V.
     */
    static long forward(LlamaConfig c, long t, long p) {
        return plus(times(DOUBLE, c.numAttentionHeads(), t, p + t), times(DOUBLE, t, c.vocabSize()));
    }

    /**
     * A forward pass that keeps what its backward needs: every layer's attention probabilities,
     * L x h x T x (p + T), and the logits.
     */
    static long forwardForBackward(LlamaConfig c, long t, long p) {
        return plus(times(DOUBLE, c.numHiddenLayers(), c.numAttentionHeads(), t, p + t), times(DOUBLE, t, c.vocabSize()));
    }

    /**
     * The layer-by-layer calibration of a weight quantizer on n sequences of T tokens: every
     * sequence's input and output of the current layer, 2 x n x T x d; AWQ also records the
     * inputs of the layer's linears (q/k/v, o, gate/up, down: n x T x (3d + d_ff)).
     */
    static long quantization(LlamaConfig c, Method m, long n, long t) {
        long perToken = 2L * c.hiddenSize() + (m == Method.AWQ ? 3L * c.hiddenSize() + c.intermediateSize() : 0);
        return times(DOUBLE, n, t, perToken);
    }

    /** The product, saturating at {@link Long#MAX_VALUE}. */
    static long times(long... factors) {
        long r = 1;
        for (long f : factors) {
            try {
                r = Math.multiplyExact(r, f);
            } catch (ArithmeticException e) {
                return Long.MAX_VALUE;
            }
        }
        return r;
    }

    /** {@code a + b}, saturating at {@link Long#MAX_VALUE} (the estimates of absurd flags overflow). */
    static long plus(long a, long b) {
        long s = a + b;
        return s < 0 ? Long.MAX_VALUE : s;
    }
}
