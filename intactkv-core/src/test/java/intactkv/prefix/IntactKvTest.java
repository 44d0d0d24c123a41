package intactkv.prefix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.GradCheck;
import intactkv.autograd.GradMode;
import intactkv.autograd.Value;
import intactkv.model.KvCache;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import intactkv.tensor.Layout;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IntactKvTest {
    static final LlamaConfig C = new LlamaConfig(16, 32, 4, 2, 2, 1e-5, 10000, 40, 128, false, 1, 2);

    @TempDir
    Path tmp;

    static LlamaModel fp() {
        return new LlamaModel(LlamaWeights.random(C, 21, 0.4, true, false));
    }

    static int[] tokens(int n, long seed) {
        Random r = new Random(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = 3 + r.nextInt(C.vocabSize() - 3);
        }
        t[0] = 1;
        return t;
    }

    @Test
    void withTheFullPrecisionModelIntactKvChangesNothing() {
        LlamaModel fp = fp();
        int[] x = tokens(12, 1);
        try (GradMode.Scope s = GradMode.noGrad()) {
            Tensor plain = new PrefixedModel(fp, null).forward(x, LlamaModel.Options.LOGITS).logits();
            Tensor withB = new PrefixedModel(fp, IntactKvPrefix.bos(fp)).forward(x, LlamaModel.Options.LOGITS).logits();
            assertEquals(plain.shape(), withB.shape());
            for (int i = 0; i < plain.numel(); i++) {
                assertEquals(plain.data()[i], withB.data()[i], 1e-12 * plain.maxAbs());
            }
        }
    }

    @Test
    void prefixStaysFullPrecisionUnderKvQuantizationAndGivesItsLogits() {
        LlamaModel fp = fp();
        IntactKvPrefix p = IntactKvPrefix.firstTokens(fp, tokens(12, 2), 3);
        LlamaModel q = QuantizedModel.quantize(fp.weights(), QuantConfig.rtn(3, 8).withRuntime(null, 4), null,
                (a, b) -> { }).model();
        int[] x = tokens(12, 2);
        try (GradMode.Scope s = GradMode.noGrad()) {
            PrefixedModel.Result r = new PrefixedModel(q, p).forward(x, LlamaModel.Options.LOGITS);
            assertEquals(3, r.stripped());
            assertArrayEquals(p.logits().data(), Layout.slice(r.logits(), 0, 0, 3).data(), 0.0);
            for (int l = 0; l < C.numHiddenLayers(); l++) {
                Tensor k = r.output().present().keys().get(l).data();
                assertArrayEquals(p.keys().get(l).data(), Layout.slice(k, 2, 0, 3).data(), 0.0);
            }
            // an input that does not start with the prefix: the prefix is context, output covers the input
            int[] other = tokens(5, 9);
            other[0] = 7;
            assertEquals(5, new PrefixedModel(q, p).forward(other, LlamaModel.Options.LOGITS).logits().dim(0));
        }
    }

    @Test
    void saveLoadAndWrongModelErrors() throws IOException {
        LlamaModel fp = fp();
        IntactKvPrefix p = IntactKvPrefix.firstTokens(fp, tokens(8, 3), 4);
        Path f = tmp.resolve("prefix.safetensors");
        p.save(f);
        IntactKvPrefix back = IntactKvPrefix.load(f, C);
        assertArrayEquals(p.ids(), back.ids());
        assertArrayEquals(p.keys().get(1).data(), back.keys().get(1).data(), 0.0);
        LlamaConfig other = new LlamaConfig(16, 32, 4, 2, 3, 1e-5, 10000, 40, 128, false, 1, 2);
        IOException e = assertThrows(IOException.class, () -> IntactKvPrefix.load(f, other));
        assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("2 layers"), e.getMessage());
        Path notPrefix = tmp.resolve("x.safetensors");
        fp.weights().save(tmp.resolve("m"), intactkv.model.io.DType.F32);
        e = assertThrows(IOException.class, () -> IntactKvPrefix.load(tmp.resolve("m").resolve("model.safetensors"), C));
        assertTrue(e.getMessage().contains("not an IntactKV prefix"), e.getMessage());
        assertFalse(Files.exists(notPrefix));
    }

    @Test
    void perplexityProtocolMatchesANaiveComputation() {
        LlamaModel fp = fp();
        int[] stream = tokens(70, 4);
        Perplexity.Result r = Perplexity.evaluate(new PrefixedModel(fp, null), stream, 16, 1, d -> { });
        assertEquals(4, r.windows());
        assertEquals(4 * 14, r.scoredTokens());
        double sum = 0;
        try (GradMode.Scope s = GradMode.noGrad()) {
            for (int i = 0; i < 4; i++) {
                int[] w = java.util.Arrays.copyOfRange(stream, i * 16, i * 16 + 16);
                w[0] = 1;
                Value logits = fp.forward(w, null, LlamaModel.Options.LOGITS).logits();
                Value rows = intactkv.autograd.Shaping.slice(intactkv.autograd.Shaping.reshape(logits, 16, C.vocabSize()), 0, 1, 15);
                sum += intactkv.autograd.Functional.crossEntropy(rows, java.util.Arrays.copyOfRange(w, 2, 16)).item();
            }
        }
        assertEquals(Math.exp(sum / 4), r.ppl(), 1e-12 * r.ppl());
        IntactKvPrefix big = IntactKvPrefix.firstTokens(fp, stream, 16);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Perplexity.evaluate(new PrefixedModel(fp, big), stream, 16, 1, d -> { }));
        assertTrue(e.getMessage().contains("--seqlen 16"), e.getMessage());
    }

    /**
     * With a prefix, perplexity scores the rows the model computed after the prefix in place: every window's NLL and
     * KL equal, to the last bit, what the protocol gives on the joined logits of {@link PrefixedModel#forward} (the
     * prefix's rows in front, then rows p - 1 .. p + T - 2 sliced: the rows the evaluation read before), and
     * windowLogits returns exactly those rows. A 3-token prefix, RTN W3 with a 4-bit KV cache, the full-precision
     * model as the KL reference.
     */
    @Test
    void perplexityWithAPrefixScoresTheComputedRowsInPlace() {
        LlamaModel fp = fp();
        int[] stream = tokens(70, 5);
        IntactKvPrefix p = IntactKvPrefix.firstTokens(fp, tokens(12, 6), 3);
        LlamaModel q = QuantizedModel.quantize(fp.weights(), QuantConfig.rtn(3, 8).withRuntime(null, 4), null,
                (a, b) -> { }).model();
        PrefixedModel run = new PrefixedModel(q, p);
        PrefixedModel ref = new PrefixedModel(fp, null);
        int t = 16;
        Perplexity.Result r = Perplexity.evaluate(run, i -> Perplexity.windowLogits(ref, stream, i, t, 1), stream, t, 1,
                d -> { });
        int v = C.vocabSize();
        try (GradMode.Scope s = GradMode.noGrad()) {
            for (int i = 0; i < r.windows(); i++) {
                int[] w = java.util.Arrays.copyOfRange(stream, i * t, i * t + t);
                w[0] = 1;
                int[] input = new int[3 + t - 1];
                System.arraycopy(p.ids(), 0, input, 0, 3);
                System.arraycopy(w, 1, input, 3, t - 1);
                Tensor joined = run.forward(input, LlamaModel.Options.LOGITS).logits();
                Tensor rows = Layout.slice(joined, 0, 2, 2 + t);
                assertArrayEquals(rows.data(), Perplexity.windowLogits(run, stream, i, t, 1).data(), 0.0, "window " + i);
                Tensor fpRows = ref.forward(w, LlamaModel.Options.LOGITS).logits();
                double nll = 0;
                double kl = 0;
                for (int row = 1; row < t - 1; row++) {
                    nll += Perplexity.nll(rows.data(), row * v, v, w[row + 1]);
                    kl += Perplexity.kl(fpRows.data(), rows.data(), row * v, v);
                }
                assertEquals(nll / (t - 2), r.windowNll()[i], 0.0, "window " + i);
                assertEquals(kl / (t - 2), r.windowKl()[i], 0.0, "window " + i);
                assertTrue(r.windowKl()[i] > 0, "the quantized model differs from the reference");
            }
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> ref.afterPrefix(new int[] {3}, null));
        assertTrue(e.getMessage().contains("no prefix"), e.getMessage());
    }

    /**
     * Windows scored a block of ROW_BLOCK rows at a time (windows of 300: two blocks, the second short) give, to the
     * last bit, the NLL and KL of the whole window's logits (windowLogits: one GEMM over every row), with the KL
     * reference given as whole logits or as the full-precision model made a block at a time beside the model; with
     * and without a prefix.
     */
    @Test
    void blocksOfRowsGiveTheWholeWindowsNumbers() {
        LlamaConfig c = new LlamaConfig(16, 32, 4, 2, 2, 1e-5, 10000, 40, 640, false, 1, 2);
        LlamaModel fp = new LlamaModel(LlamaWeights.random(c, 23, 0.4, true, false));
        LlamaModel q = QuantizedModel.quantize(fp.weights(), QuantConfig.rtn(3, 8).withRuntime(null, 4), null,
                (a, b) -> { }).model();
        int t = 300;
        assertTrue(t - 2 > Perplexity.ROW_BLOCK, "more than one block a window");
        int[] stream = tokens(2 * t + 7, 8);
        PrefixedModel ref = new PrefixedModel(fp, null);
        IntactKvPrefix p = IntactKvPrefix.firstTokens(fp, tokens(12, 9), 3);
        for (PrefixedModel run : new PrefixedModel[] {new PrefixedModel(q, null), new PrefixedModel(q, p)}) {
            Perplexity.Result given = Perplexity.evaluate(run, i -> Perplexity.windowLogits(ref, stream, i, t, 1), stream,
                    t, 1, d -> { });
            Perplexity.Result made = Perplexity.evaluateAgainst(run, ref, stream, t, 1, d -> { });
            assertEquals(2, made.windows());
            int v = c.vocabSize();
            for (int i = 0; i < 2; i++) {
                Tensor whole = Perplexity.windowLogits(run, stream, i, t, 1);
                Tensor fpWhole = Perplexity.windowLogits(ref, stream, i, t, 1);
                int[] w = java.util.Arrays.copyOfRange(stream, i * t, i * t + t);
                double nll = 0;
                double kl = 0;
                for (int row = 1; row < t - 1; row++) {
                    nll += Perplexity.nll(whole.data(), row * v, v, w[row + 1]);
                    kl += Perplexity.kl(fpWhole.data(), whole.data(), row * v, v);
                }
                String name = (run.prefix() == null ? "no prefix" : "[P]") + ", window " + i;
                assertEquals(nll / (t - 2), given.windowNll()[i], 0.0, name);
                assertEquals(nll / (t - 2), made.windowNll()[i], 0.0, name);
                assertEquals(kl / (t - 2), given.windowKl()[i], 0.0, name);
                assertEquals(kl / (t - 2), made.windowKl()[i], 0.0, name);
            }
            assertEquals(given.ppl(), made.ppl(), 0.0);
        }
    }

    /** A NaN in the weights: the window's loss is refused, naming the window and the first row that is not finite. */
    @Test
    void aNonFiniteLossNamesTheWindowAndTheFirstRow() {
        LlamaWeights weights = LlamaWeights.random(C, 21, 0.4, true, false);
        int[] stream = tokens(40, 11);
        int bad = 7; // a token id that appears first at position 5 of window 0
        for (int i = 0; i < stream.length; i++) {
            if (stream[i] == bad) {
                stream[i] = bad + 1;
            }
        }
        stream[5] = bad;
        weights.embed().data().data()[bad * C.hiddenSize()] = Double.NaN;
        PrefixedModel run = new PrefixedModel(new LlamaModel(weights), null);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Perplexity.evaluate(run, stream, 16, 1, d -> { }));
        assertTrue(e.getMessage().contains("the loss of window 0 (tokens 0..15) is NaN; first non-finite logit at window"
                + " position 5"), e.getMessage());
    }

    /** The calibration loss's gradient with respect to the prefix K and V, against finite differences. */
    @Test
    void calibrationGradientMatchesFiniteDifferences() {
        LlamaModel fp = fp();
        LlamaModel q = QuantizedModel.quantize(fp.weights(), QuantConfig.rtn(3, 8), null, (a, b) -> { }).model();
        IntactKvPrefix p = IntactKvPrefix.firstTokens(fp, tokens(10, 5), 2);
        CalibrationSample s = new CalibrationSample(tokens(10, 5), new int[] {2, 4, 5, 9});
        PrefixCalibrator cal = new PrefixCalibrator(fp, q);
        List<Tensor> targets = cal.targets(s);
        GradCheck.assertGradients("calibration loss w.r.t. prefix K0, V1", in -> {
            KvCache cache = new KvCache(List.of(in[0], Value.constant(p.keys().get(1))),
                    List.of(Value.constant(p.values().get(0)), in[1]));
            return cal.loss(s, targets, p, cache);
        }, 3, GradCheck.DEFAULT_TOLERANCE, p.keys().get(0).copy(), p.values().get(1).copy());
    }

    @Test
    void calibrationLowersTheLoss() {
        LlamaModel fp = fp();
        LlamaModel q = QuantizedModel.quantize(fp.weights(), QuantConfig.rtn(3, 8), null, (a, b) -> { }).model();
        IntactKvPrefix p = IntactKvPrefix.bos(fp);
        List<CalibrationSample> samples = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            int[] ids = tokens(12, 10 + i);
            int[] counted = new int[11];
            for (int j = 0; j < 11; j++) {
                counted[j] = j + 1;
            }
            samples.add(new CalibrationSample(ids, counted));
        }
        PrefixCalibrator.Settings st = new PrefixCalibrator.Settings(2e-2, 0.03, 2, 20, 0.3, 42, 0);
        List<Double> seen = new ArrayList<>();
        PrefixCalibrator.Result r = new PrefixCalibrator(fp, q).calibrate(p, samples, st, (step, total, loss) -> seen.add(loss));
        assertEquals(20, seen.size());
        assertTrue(r.lossAfter() < r.lossBefore(), r.lossAfter() + " vs " + r.lossBefore());
        assertEquals(1, st.warmupSteps());
        assertEquals(0, PrefixCalibrator.Settings.official().warmupSteps(), "the official constant schedule has no warm-up");
        assertThrows(IllegalArgumentException.class, () -> new CalibrationSample(new int[] {1, 2}, new int[0]));
    }
}
