package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.GradMode;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.Perplexity;
import intactkv.prefix.PrefixSpec;
import intactkv.prefix.PrefixedModel;
import intactkv.quant.DynamicQuantizer;
import intactkv.quant.Method;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import intactkv.quant.WeightQuantizer;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * IntactKV combined with each quantizer as the official code combines them, on the built-in
 * model (which has pivot tokens: most heads of layers 1-5 rest on [BOS]).
 */
class IntactKvFidelityTest {
    static LlamaWeights fp;
    static Tokenizer tok;
    static int[] text;

    /** The committed built-in model (tests run in the module directory). */
    static final java.nio.file.Path MODEL = java.nio.file.Path.of("..", "examples", "default-model");

    @BeforeAll
    static void load() throws Exception {
        fp = LlamaWeights.load(MODEL, false);
        tok = intactkv.model.text.Tokenizer.load(MODEL.resolve("tokenizer.json"));
        List<String> docs = intactkv.train.WordNetCorpus.splits().test().subList(0, 60);
        text = Perplexity.tokenize(tok, docs);
    }

    /** Calibration windows from the test text (which window does not matter for these properties). */
    static List<int[]> calibration() {
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            out.add(Arrays.copyOfRange(text, 200 + 64 * i, 264 + 64 * i));
        }
        return out;
    }

    static QuantConfig eightBit(Method m) {
        return switch (m) {
            case NONE -> QuantConfig.fullPrecision().withRuntime(null, 8);
            case GGUF -> QuantConfig.gguf(intactkv.quant.GgufMix.Q8_0); // llama.cpp's 8-bit type
            // no clipping: with QuaRot's clip ratios (0.9, 0.95) the clipping of every token's range, not the
            // rounding, dominates an 8-bit error, and "nearly lossless" is what this test needs
            case QUAROT -> new QuantConfig(m, new WeightQuantizer.Spec(8, -1, true), new DynamicQuantizer(8, true, 1.0, 0),
                    new DynamicQuantizer(8, false, 1.0, 0), 42);
            default -> new QuantConfig(m, WeightQuantizer.Spec.asym(8, 128), QuantConfig.OFF, QuantConfig.OFF, 42);
        };
    }

    static double distance(Tensor a, Tensor b) {
        double s = 0;
        for (int i = 0; i < a.numel(); i++) {
            double d = a.data()[i] - b.data()[i];
            s += d * d;
        }
        return Math.sqrt(s);
    }

    static Tensor logits(LlamaModel m, IntactKvPrefix p, int[] x) {
        try (GradMode.Scope s = GradMode.noGrad()) {
            return new PrefixedModel(m, p).forward(x, LlamaModel.Options.LOGITS).logits();
        }
    }

    /**
     * Issue 25, deliverable 1: at 8 bits the quantized model is close to full precision, and the
     * lossless [BOS] entry from the twin can only bring it closer. A prefix in the wrong basis (AWQ's
     * unscaled V, QuaRot's unrotated keys) makes a nearly lossless model worse, which this catches
     * (measured before the fix: AWQ 13.8 with [B] against 3.2 without on window 0).
     *
     * <p>OmniQuant-style learnable clipping is left out, and the exception is measured, not hidden:
     * its basis is the original one (its twin is the model itself, {@link #omniQuantKeepsTheOriginalBasis}),
     * but at 8 bits with this test's 4 x 64 calibration tokens its 20 AdamW steps leave the clipping
     * near its initial sigmoid(4) = 98.2 % of every group's range, a larger error than rounding
     * (distances 5.2-7.4 against RTN's 3.3-4.1), and the exact [BOS] entry then moves the distance by
     * about 3 % either way (5.18 -> 5.31, 6.29 -> 6.13, 7.37 -> 7.51 on windows 0-2).
     */
    @ParameterizedTest
    @EnumSource(value = Method.class, names = {"OMNIQUANT", "GGUF"}, mode = EnumSource.Mode.EXCLUDE)
    void atEightBitsIntactKvFromTheTwinNeverMovesLogitsAwayFromFullPrecision(Method m) {
        QuantizedModel q = QuantizedModel.quantize(fp, eightBit(m), calibration(), (a, b) -> { });
        IntactKvPrefix bos = IntactKvPrefix.bos(q.twin());
        LlamaModel full = new LlamaModel(fp);
        for (int w = 0; w < 3; w++) {
            int[] x = Arrays.copyOfRange(text, 128 * w, 128 * w + 128);
            x[0] = fp.config().bosTokenId();
            Tensor ref = logits(full, null, x);
            double without = distance(logits(q.model(), null, x), ref);
            double with = distance(logits(q.model(), bos, x), ref);
            assertTrue(with <= without, m + " window " + w + ": |logits - fp| with [B] " + with + " > without " + without);
        }
    }

    /**
     * llama.cpp's Q8_0 ({@code --method gguf --type Q8_0}, issue 29) is the second measured exception, and it is
     * measured, not hidden: its twin is the original model (exact logits), yet the exact [BOS] entry moves the
     * logits slightly away from full precision on windows 0-2: distance 5.938 -> 6.056, 5.545 -> 5.781,
     * 5.200 -> 5.333 (+2.0, +4.3, +2.6 %). It is not the quantized embedding and head that llama.cpp adds: with
     * only the seven linears in Q8_0 (symmetric, one FP16 scale per 32 weights) the entry still costs 0.3-4.8 %
     * (3.795 -> 3.805, 3.608 -> 3.782, 3.270 -> 3.342), where RTN's asymmetric 8-bit groups of 128 gain. What is
     * checked: the basis, and that the entry moves the distance by less than 6 % (the measured worst is 4.3 %; a
     * prefix in the wrong basis made AWQ's four times worse).
     */
    @Test
    void ggufQ8ZeroIsAMeasuredExceptionWithinSixPercent() {
        QuantizedModel q = QuantizedModel.quantize(fp, eightBit(Method.GGUF), List.of(), (a, b) -> { });
        assertEquals(new intactkv.quant.Basis.Original(), q.basis());
        IntactKvPrefix bos = IntactKvPrefix.bos(q.twin());
        LlamaModel full = new LlamaModel(fp);
        for (int w = 0; w < 3; w++) {
            int[] x = Arrays.copyOfRange(text, 128 * w, 128 * w + 128);
            x[0] = fp.config().bosTokenId();
            Tensor ref = logits(full, null, x);
            assertEquals(0.0, distance(logits(q.twin(), null, x), ref));
            double without = distance(logits(q.model(), null, x), ref);
            double with = distance(logits(q.model(), bos, x), ref);
            assertTrue(with < 1.06 * without, "window " + w + ": |logits - fp| with [B] " + with + ", without " + without);
        }
    }

    @Test
    void omniQuantKeepsTheOriginalBasis() {
        QuantizedModel q = QuantizedModel.quantize(fp, eightBit(Method.OMNIQUANT), calibration(), (a, b) -> { });
        assertEquals(new intactkv.quant.Basis.Original(), q.basis());
        int[] x = Arrays.copyOf(text, 32);
        assertEquals(0.0, distance(logits(q.twin(), null, x), logits(new LlamaModel(fp), null, x)));
    }

    /**
     * {@code --context prompt}: the quantized model computes the whole prompt itself (no IntactKV),
     * exactly as running it on [BOS] + prompt; with IntactKV_[B] only the tokens after [BOS].
     */
    @Test
    void contextPromptIsComputedByTheQuantizedModelItself() {
        QuantizedModel q = QuantizedModel.quantize(fp, QuantConfig.rtn(3, 128), null, (a, b) -> { });
        int[] ctx = IntactKvPrefix.vicunaPromptIds(tok);
        IntactKvPrefix own = PrefixSpec.withContext(null, "prompt", q.model(), tok);
        IntactKvPrefix direct = IntactKvPrefix.generate(q.model(), ctx);
        assertEquals(Arrays.toString(ctx), Arrays.toString(own.ids()));
        for (int l = 0; l < fp.config().numHiddenLayers(); l++) {
            assertEquals(0.0, distance(own.keys().get(l), direct.keys().get(l)), "layer " + l + " K");
            assertEquals(0.0, distance(own.values().get(l), direct.values().get(l)), "layer " + l + " V");
        }
        IntactKvPrefix bos = IntactKvPrefix.bos(q.twin());
        IntactKvPrefix bosThenOwn = PrefixSpec.withContext(bos, "prompt", q.model(), tok);
        assertEquals(ctx.length, bosThenOwn.length());
        for (int l = 0; l < fp.config().numHiddenLayers(); l++) {
            Tensor k = bosThenOwn.keys().get(l);
            // position 0 is the full-precision [BOS] entry, bit for bit
            Tensor k0 = intactkv.tensor.Layout.slice(k, 1, 0, 1);
            assertEquals(0.0, distance(k0, bos.keys().get(l)), "layer " + l + " [BOS] key");
            // the rest is what the quantized model computes after the lossless [BOS]: the same as one
            // forward pass over the whole prompt with [BOS] as past, up to the order of the sums
            Tensor rest = intactkv.tensor.Layout.slice(k, 1, 1, ctx.length);
            Tensor oneShot;
            try (GradMode.Scope s = GradMode.noGrad()) {
                oneShot = q.model().forward(Arrays.copyOfRange(ctx, 1, ctx.length), bos.asCache(false),
                        LlamaModel.Options.LOGITS).present().keys().get(l).data();
            }
            Tensor oneShotRest = intactkv.tensor.Layout.slice(oneShot.reshape(oneShot.dim(1), oneShot.dim(2),
                    oneShot.dim(3)), 1, 1, ctx.length);
            assertEquals(0.0, distance(rest, oneShotRest), "layer " + l + " prompt keys");
        }
    }

    /** KL to the model itself is 0 exactly, and KL of a quantized model is positive and matches a naive softmax. */
    @Test
    void klToFullPrecisionIsZeroForItselfAndMatchesANaiveComputation() {
        LlamaModel full = new LlamaModel(fp);
        int[] tokens = Arrays.copyOf(text, 4 * 64);
        int bos = fp.config().bosTokenId();
        PrefixedModel fpRun = new PrefixedModel(full, null);
        Perplexity.Result self = Perplexity.evaluate(fpRun, i -> Perplexity.windowLogits(fpRun, tokens, i, 64, bos), tokens,
                64, bos, d -> { });
        assertEquals(0.0, self.kl(), 0.0);
        QuantizedModel q = QuantizedModel.quantize(fp, QuantConfig.rtn(3, 128), null, (a, b) -> { });
        PrefixedModel qRun = new PrefixedModel(q.model(), null);
        Perplexity.Result r = Perplexity.evaluate(qRun, i -> Perplexity.windowLogits(fpRun, tokens, i, 64, bos), tokens,
                64, bos, d -> { });
        assertEquals(Perplexity.evaluate(qRun, tokens, 64, bos, d -> { }).ppl(), r.ppl(), 0.0, "KL leaves PPL unchanged");
        double[] naive = new double[4];
        for (int w = 0; w < 4; w++) {
            Tensor a = Perplexity.windowLogits(fpRun, tokens, w, 64, bos);
            Tensor b = Perplexity.windowLogits(qRun, tokens, w, 64, bos);
            int v = a.dim(1);
            double sum = 0;
            for (int t = 1; t < 63; t++) {
                double[] p = softmax(a.data(), t * v, v);
                double[] qq = softmax(b.data(), t * v, v);
                for (int j = 0; j < v; j++) {
                    sum += p[j] * Math.log(p[j] / qq[j]);
                }
            }
            naive[w] = sum / 62;
            // log of a ratio of probabilities as small as 1e-12 against log-softmax differences: 1e-9 relative
            assertEquals(naive[w], r.windowKl()[w], 1e-9 * naive[w], "window " + w);
        }
        assertTrue(r.kl() > 0);
        assertEquals(Perplexity.mean(naive), r.kl(), 1e-9 * r.kl());
        double m = Perplexity.mean(naive);
        double ss = 0;
        for (double x : naive) {
            ss += (x - m) * (x - m);
        }
        assertEquals(Math.sqrt(ss / 3 / 4), r.klStderr(), 1e-9 * r.klStderr());
    }

    private static double[] softmax(double[] d, int off, int v) {
        double z = 0;
        double[] p = new double[v];
        for (int j = 0; j < v; j++) {
            p[j] = Math.exp(d[off + j]);
            z += p[j];
        }
        for (int j = 0; j < v; j++) {
            p[j] /= z;
        }
        return p;
    }
}
