package intactkv.cli;

import intactkv.model.LlamaConfig;
import intactkv.quant.Method;

/**
 * Lower bounds of the memory a command needs, from the model's config.json and the flags that
 * size its buffers: activations in doubles (8 bytes each); weights for inference at the least
 * their smallest form (2 bytes a parameter, the BF16/F16 a checkpoint may hold, since weights stay
 * in their file's dtype; a quarter byte a parameter for a quantized copy, whose codes are held at their
 * bit width, 2 bits at the narrowest: {@code QuantCodes}),
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

    /**
     * Refuses a weight quantizer's calibration set of n sequences of T tokens that cannot fit beside one copy of the
     * weights ({@link #inferenceWeights}, 2 bytes a parameter at the least); {@link #quantization}. One copy, not two:
     * {@code quantize}, {@code ppl --no-kl}, {@code eval} and {@code dump} release the full-precision layers as they
     * are quantized, so a second copy here refused a LLaMA-2-7B-shaped GPTQ that fits (3 bytes a parameter, 20.2 GB,
     * against its 16.9 GB plan); the command's own plan, checked next, counts what each run holds.
     */
    static void requireQuantization(LlamaConfig c, Method m, long n, long t, String flags) {
        requireQuantization(c, m, n, t, flags, inferenceWeights(c, 1));
    }

    /**
     * {@link #requireQuantization(LlamaConfig, Method, long, long, String)} beside {@code weightBytes} of weights
     * instead of one whole copy: {@link #layerByLayerWeights} for {@code quantize}, which reads the checkpoint one
     * decoder layer at a time.
     */
    static void requireQuantization(LlamaConfig c, Method m, long n, long t, String flags, long weightBytes) {
        long bytes = plus(weightBytes, quantization(c, m, n, t));
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
     * files take 4 and 8), and each further (quantized) copy a quarter byte a parameter or more (codes are
     * held at their bit width, {@code QuantCodes}, and the narrowest are 2 bits; scales, zeros and the
     * unquantized embeddings come on top). A bound: a copy counted at more than its narrowest would refuse a
     * 2-bit run that fits; the command's own plan ({@link #codes}) counts the bits it was given.
     */
    static long inferenceWeights(LlamaConfig c, int copies) {
        return plus(times(2, c.parameterCount()), times(c.parameterCount(), Math.max(0, copies - 1)) / 4);
    }

    /**
     * The weights a quantizer that reads the checkpoint one decoder layer at a time holds at the least, at its last
     * layer: every layer's linears as codes of {@code bits} bits ({@code bits / 8} bytes a parameter, held at their
     * bit width; scales and zeros on top) and the rest (embedding, head, norms) at 2 bytes a parameter. The layer
     * being read is not counted: its codes replace it.
     */
    static long layerByLayerWeights(LlamaConfig c, int bits) {
        return plus(times(2, c.parameterCount() - linearParams(c)), plus(times(bits, linearParams(c)), 7) / 8);
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
        return quantization(c, m, n, t, DOUBLE);
    }

    /**
     * {@link #quantization(LlamaConfig, Method, long, long)} with the layer inputs and outputs held at
     * {@code inputBytes} a value ({@code --calib-activations}: 8 for f64, 4 for f32) where the quantizer
     * holds them in a {@code LayerInputs} (GPTQ, QuaRot's GPTQ, AWQ); AWQ's recorded linear inputs and
     * OmniQuant's layer inputs stay in double.
     */
    static long quantization(LlamaConfig c, Method m, long n, long t, long inputBytes) {
        long per = m == Method.GPTQ || m == Method.QUAROT || m == Method.AWQ ? inputBytes : DOUBLE;
        long layerIo = times(per, n, t, 2L * c.hiddenSize());
        long awqFeatures = m == Method.AWQ ? times(DOUBLE, n, t, 3L * c.hiddenSize() + c.intermediateSize()) : 0;
        return plus(layerIo, awqFeatures);
    }

    // ---- the named terms of a MemoryPlan (issue 27: know before loading); each is tested against a hand computation

    /** The parameters of the seven linears of every decoder layer: L (2 d^2 + 2 d h_kv d_h + 3 d d_ff). */
    static long linearParams(LlamaConfig c) {
        long d = c.hiddenSize();
        long kv = (long) c.numKeyValueHeads() * c.headDim();
        return times(c.numHiddenLayers(), plus(plus(times(2, d, d), times(2, d, kv)), times(3, d, c.intermediateSize())));
    }

    /**
     * Term "weights": every tensor of config {@code c} as inference holds one of dtype {@code t}
     * ({@link WeightBytes}): the matrices (embedding V x d, head V x d unless tied, the linears) at
     * {@code WeightBytes.heldBytes(t)} bytes an element, the 2L + 1 norm vectors of d in double. For a
     * checkpoint on disk, {@link WeightBytes#of(java.nio.file.Path)} gives the same from its header.
     */
    static long weightsAsHeld(LlamaConfig c, intactkv.model.io.DType t) {
        long d = c.hiddenSize();
        long matrices = plus(times(c.vocabSize(), d, c.tieWordEmbeddings() ? 1 : 2), linearParams(c));
        return plus(times(WeightBytes.heldBytes(t), matrices), times(DOUBLE, 2L * c.numHiddenLayers() + 1, d));
    }

    /**
     * Term "quantized codes": the seven linears of every layer as {@code QuantCodes} of {@code bits}-bit codes,
     * each of (rows, cols) with G = cols / g groups a row (g = -1: one): the codes held at their bit width, in
     * 8-byte words of 64 bits (8 ceil(rows cols bits / 64): bits / 8 bytes a code), a double scale and zero a
     * group (16 rows G) and an int group index a column (4 cols).
     */
    static long codes(LlamaConfig c, int group, int bits) {
        long d = c.hiddenSize();
        long kv = (long) c.numKeyValueHeads() * c.headDim();
        long f = c.intermediateSize();
        long[][] shapes = {{d, d}, {kv, d}, {kv, d}, {d, d}, {f, d}, {f, d}, {d, f}};
        long layer = 0;
        for (long[] rc : shapes) {
            long groups = group <= 0 ? 1 : (rc[1] + group - 1) / group;
            long words = plus(times(rc[0], rc[1], bits), 63) / 64;
            layer = plus(layer, plus(plus(times(8, words), times(16, rc[0], groups)), times(4, rc[1])));
        }
        return times(c.numHiddenLayers(), layer);
    }

    /**
     * Term "linears in double": 8 bytes a linear parameter, what AWQ's twin (the scaled full-precision
     * linears), QuaRot's rotated model and OmniQuant's trained weights take.
     */
    static long linearsInDouble(LlamaConfig c) {
        return times(DOUBLE, linearParams(c));
    }

    /**
     * QuaRot's online transforms as one set of its run-time hooks holds them ({@code QuaRotHooks}): M_ff^T
     * (d_ff x d_ff), M_h (h x h) and M_dh^T (d_h x d_h), dense doubles. The quantized model has one set, its twin
     * another. (For LLaMA-2-7B 0.97 GB, almost all M_ff; for LLaMA-2-70B 6.6 GB.)
     */
    static long quaRotTransforms(LlamaConfig c) {
        long ff = c.intermediateSize();
        long h = c.numAttentionHeads();
        long dh = c.headDim();
        return times(DOUBLE, ff * ff + h * h + dh * dh);
    }

    /**
     * The matrices QuaRot's rotation holds while it rotates a model ({@code QuaRot.Rotation}): Q and Q^T (d x d),
     * M_ff^T (d_ff x d_ff), the values' block-diagonal M_dh (d_kv x d_kv, d_kv = h_kv d_h) and the attention
     * output's transform (d x d), dense doubles. (LLaMA-2-7B 1.5 GB; LLaMA-2-70B 8.2 GB.)
     */
    static long quaRotRotation(LlamaConfig c) {
        long d = c.hiddenSize();
        long ff = c.intermediateSize();
        long kv = (long) c.numKeyValueHeads() * c.headDim();
        return times(DOUBLE, 3 * d * d + ff * ff + kv * kv);
    }

    /**
     * Term "one linear's quantization buffers": quantizing a linear on the fly holds it in double and its
     * quantized values in double before they become codes (2 x 8 bytes an element of the largest linear,
     * d_ff x d); GPTQ and QuaRot's GPTQ also hold, while factoring, the group's Hessian H, the damped
     * copy that {@code HessianFactor} factors in place, and the factor of H^-1 (3 x 8 in^2 for the
     * largest input dimension, d_ff: {@code Gptq.quantizeLayer}). Full precision quantizes nothing.
     */
    static long quantizationBuffers(LlamaConfig c, Method m) {
        if (m == Method.NONE) {
            return 0;
        }
        if (m == Method.GGUF) { // a matrix in double, as float32, its ggml blocks and the dequantized floats; the embedding too
            return times(3 * DOUBLE, Math.max(times(c.intermediateSize(), c.hiddenSize()), times(c.vocabSize(), c.hiddenSize())));
        }
        long largest = times(c.intermediateSize(), c.hiddenSize());
        long in = Math.max(c.intermediateSize(), c.hiddenSize());
        long hessian = m == Method.GPTQ || m == Method.QUAROT ? times(3 * DOUBLE, in, in) : 0;
        return plus(times(2 * DOUBLE, largest), hessian);
    }

    /** Term "attention probabilities": one layer's, h x T x (p + T) doubles (written whole before the next layer). */
    static long attention(LlamaConfig c, long t, long p) {
        return times(DOUBLE, c.numAttentionHeads(), t, p + t);
    }

    /**
     * Term "layer activations": one layer's hidden buffers over T tokens in double, the normalised input,
     * q, k, v, the attention output and the residual stream (6 T d) and the MLP's gate, up and their
     * product (3 T d_ff).
     */
    static long layerActivations(LlamaConfig c, long t) {
        return times(DOUBLE, t, plus(times(6, c.hiddenSize()), times(3, c.intermediateSize())));
    }

    /** Term "logits": T x V doubles, per copy (a KL reference keeps the full-precision ones too). */
    static long logits(LlamaConfig c, long t) {
        return times(DOUBLE, t, c.vocabSize());
    }

    /**
     * Term "KV cache": the keys and values of every layer for n = p + T positions, kept until the forward
     * pass ends ({@code LlamaModel.forward}'s present cache): 2 L n h_kv d_h doubles.
     */
    static long kvCache(LlamaConfig c, long n) {
        return kvCache(c, n, intactkv.tensor.ElementDtype.F64);
    }

    /** {@link #kvCache(LlamaConfig, long)} held in {@code dtype} ({@code --kv-cache-dtype}): 2 L n h_kv d_h of them. */
    static long kvCache(LlamaConfig c, long n, intactkv.tensor.ElementDtype dtype) {
        return times(dtype.bytes(), 2, c.numHiddenLayers(), n, c.numKeyValueHeads(), c.headDim());
    }

    /**
     * Term "one layer's keys and values": what a scoring pass ({@code LlamaModel.Options.LOGITS_ONLY}: perplexity,
     * multiple choice) holds of the cache, the current layer's keys and values for n = p + T positions (2 n h_kv d_h
     * doubles), which are garbage once the layer is done; {@link #kvCache} / L.
     */
    static long layerKv(LlamaConfig c, long n) {
        return times(DOUBLE, 2, n, c.numKeyValueHeads(), c.headDim());
    }

    /**
     * The window terms of a scoring pass over {@code t} tokens after {@code p} cached ones ({@code ppl}, {@code
     * eval}: {@code LlamaModel.Options.LOGITS_ONLY}), with {@code logitCopies} copies of {@code logitRows} rows of
     * logits, added to {@code plan}: the layer activations, one layer's keys and values ({@link #layerKv}) and the
     * logits. {@code ppl} makes its logits a block of {@code Perplexity.ROW_BLOCK} rows at a time (with KL the
     * full-precision model's block beside the model's), {@code eval} a whole item's. No attention probabilities:
     * without gradients and without {@code output_attentions} each thread writes them into four rows of p + T
     * doubles ({@code Attention.causalOutputOnRows}), a few hundred KiB in all, not counted.
     */
    static MemoryPlan scoringTerms(MemoryPlan plan, LlamaConfig c, long t, long p, long logitRows, int logitCopies) {
        long rows = Math.min(t, logitRows);
        String name = rows < t ? "logits of " + rows + " rows" : "logits";
        return plan.plus("layer activations", layerActivations(c, t))
                .plus("one layer's keys and values", layerKv(c, p + t))
                .plus(logitCopies > 1 ? name + " (" + logitCopies + " copies)" : name,
                        times(logits(c, rows), Math.max(1, logitCopies)));
    }

    /** {@link #scoringTerms(MemoryPlan, LlamaConfig, long, long, long, int)} as {@code ppl} holds it: a block of rows. */
    static MemoryPlan pplTerms(MemoryPlan plan, LlamaConfig c, long t, int logitCopies) {
        return scoringTerms(plan, c, t, 0, intactkv.prefix.Perplexity.ROW_BLOCK, logitCopies);
    }

    /**
     * The window terms of an inference pass over {@code t} tokens after {@code p} cached ones that keeps its
     * present cache ({@code dump}, {@code generate}'s prompt, {@code analyze}), with {@code logitCopies} windows of
     * logits, added to {@code plan}.
     */
    static MemoryPlan windowTerms(MemoryPlan plan, LlamaConfig c, long t, long p, int logitCopies) {
        return plan.plus("attention probabilities", attention(c, t, p))
                .plus("layer activations", layerActivations(c, t))
                .plus("KV cache", kvCache(c, p + t))
                .plus(logitCopies > 1 ? "logits (" + logitCopies + " copies)" : "logits",
                        times(logits(c, t), Math.max(1, logitCopies)));
    }

    /**
     * The terms of a generation ({@code generate}, {@code mtbench}, {@code gen-fidelity}) of a prompt of {@code p}
     * tokens whose cache holds at most {@code n} positions ({@link intactkv.model.text.Generator#reservedRows}),
     * added to {@code plan}: the cache reserved for n positions before the prompt runs (the prompt writes its keys and
     * values into it, {@code KvCache.empty}) and the prompt's layer activations. No logits but the last position's
     * (the generator applies the LM head to that row alone), and no attention probabilities: without gradients each
     * thread writes four rows of them ({@code Attention.causalOutputOnRows}). A decoding step's buffers are one row's.
     * The cache holds {@code dtype} ({@code --kv-cache-dtype}); a narrow cache's attention also widens one key/value
     * head's rows per thread into doubles (2 n d_h: 4.5 MB a thread for 2217 positions of d_h 128), not counted.
     */
    static MemoryPlan generationTerms(MemoryPlan plan, LlamaConfig c, long p, long n,
                                      intactkv.tensor.ElementDtype dtype) {
        return plan.plus("KV cache of " + n + " positions" + (dtype == intactkv.tensor.ElementDtype.F64 ? ""
                        : " in " + dtype.id()), kvCache(c, n, dtype))
                .plus("the prompt's layer activations", layerActivations(c, p));
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
