package intactkv.prefix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.Value;
import intactkv.model.KvCache;
import intactkv.model.LlamaModel;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import intactkv.tensor.HalfFloat;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The official schedule (no warm-up) and the fp16 prefix of {@link PrefixCalibrator}. */
class PrefixCalibratorTest {
    static final double LR = 2e-4;

    static LlamaModel quantized(LlamaModel fp) {
        return QuantizedModel.quantize(fp.weights(), QuantConfig.rtn(3, 8), null, (a, b) -> { }).model();
    }

    static CalibrationSample sample(int n, long seed) {
        int[] counted = new int[n - 1];
        for (int j = 0; j < n - 1; j++) {
            counted[j] = j + 1;
        }
        return new CalibrationSample(IntactKvTest.tokens(n, seed), counted);
    }

    @Test
    void officialSettingsAreTheTrainScriptsWithoutWarmup() {
        PrefixCalibrator.Settings o = PrefixCalibrator.Settings.official();
        assertEquals(new PrefixCalibrator.Settings(2e-4, 0.0, 16, 160, 0.3, 42, 0.0, PrefixDtype.F16), o);
        assertEquals(0, o.warmupSteps());
        for (int step = 0; step < o.steps(); step++) {
            assertEquals(o.lr(), o.schedule().lr(step), "step " + (step + 1) + ": the constant schedule has no warm-up");
        }
        // --warmup 0.03 keeps HF's constant_with_warmup: ceil(160 * 0.03) = 5 steps from 0
        PrefixCalibrator.Settings w = o.withWarmup(0.03);
        assertEquals(5, w.warmupSteps());
        assertEquals(0.0, w.schedule().lr(0));
        assertEquals(0.8 * o.lr(), w.schedule().lr(4), 1e-20);
        assertEquals(o.lr(), w.schedule().lr(5));
        // the seven-argument constructor keeps a double prefix (the behaviour before the official dtype)
        assertEquals(PrefixDtype.F64, new PrefixCalibrator.Settings(1e-2, 0.03, 4, 10, 0.3, 42, 0).prefixDtype());
    }

    @Test
    void theFirstUpdateUsesThePeakRate() {
        LlamaModel fp = IntactKvTest.fp();
        List<CalibrationSample> samples = List.of(sample(10, 3), sample(10, 4));
        PrefixCalibrator.Settings st = PrefixCalibrator.Settings.official().withSteps(3).withAccumulation(2);
        PrefixCalibrator.Result r = new PrefixCalibrator(fp, quantized(fp)).calibrate(IntactKvPrefix.bos(fp), samples, st,
                (a, b, c) -> { });
        assertArrayEquals(new double[] {LR, LR, LR}, r.stepLrs());
        PrefixCalibrator.Result warm = new PrefixCalibrator(fp, quantized(fp)).calibrate(IntactKvPrefix.bos(fp),
                samples, st.withSteps(4).withWarmup(0.5), (a, b, c) -> { });
        assertArrayEquals(new double[] {0, LR / 2, LR, LR}, warm.stepLrs(), 1e-20);
    }

    /**
     * One optimizer step with the fp16 prefix, worked by hand. Two entries of V (layer 0) are set
     * first: 4.0, whose fp16 neighbours are 2^-8 = 0.0039 apart, so an AdamW first step (size lr
     * = 2e-4 times g / (|g| + eps)) is rounded away and the entry stays 4.0; and 0.1, stored as
     * fp16 1638 * 2^-14 = 0.0999755859375, which moves by about 2e-4 = 3.28 steps of 2^-14 to the
     * fp16 value 1635 * 2^-14 (gradient > 0) or 1641 * 2^-14 (gradient < 0). Every other entry is
     * the AdamW first step from its fp16 value, rounded to fp16, with the gradient computed here
     * independently. With f64 the 4.0 entry moves.
     */
    @Test
    void oneStepWithTheFp16PrefixWorkedByHand() {
        LlamaModel fp = IntactKvTest.fp();
        LlamaModel q = quantized(fp);
        IntactKvPrefix bos = IntactKvPrefix.bos(fp);
        List<Tensor> v = new ArrayList<>();
        for (Tensor t : bos.values()) {
            v.add(t.copy());
        }
        v.get(0).data()[0] = 4.0;
        v.get(0).data()[1] = 0.1;
        IntactKvPrefix start = new IntactKvPrefix(bos.ids(), bos.keys(), v, bos.logits());
        CalibrationSample s = sample(12, 10);
        PrefixCalibrator cal = new PrefixCalibrator(fp, q);
        PrefixCalibrator.Settings st = PrefixCalibrator.Settings.official().withSteps(1).withAccumulation(1)
                .withClip(1e9); // no clipping: the update is AdamW's first step alone

        // the gradient at the fp16 prefix, computed here
        KvCache c = start.asCache(true);
        List<Value> leaves = new ArrayList<>();
        for (int l = 0; l < c.layers(); l++) {
            leaves.add(c.keys().get(l));
            leaves.add(c.values().get(l));
        }
        for (Value leaf : leaves) {
            PrefixDtype.F16.roundInPlace(leaf.data());
        }
        cal.loss(s, cal.targets(s), start, c).backward();

        PrefixCalibrator.Result r = cal.calibrate(start, List.of(s), st, (a, b, x) -> { });
        double g0 = c.values().get(0).grad().data()[0];
        double g1 = c.values().get(0).grad().data()[1];
        assertTrue(Math.abs(g0) > 1e-4 && Math.abs(g1) > 1e-4, "gradients large against eps: " + g0 + ", " + g1);
        assertEquals(4.0, r.prefix().values().get(0).data()[0], 0.0, "the update rounds away");
        assertEquals(g1 > 0 ? 1635 * 0x1.0p-14 : 1641 * 0x1.0p-14, r.prefix().values().get(0).data()[1], 0.0);
        for (int l = 0; l < c.layers(); l++) {
            expectFirstStep(c.keys().get(l), r.prefix().keys().get(l), "k." + l);
            expectFirstStep(c.values().get(l), r.prefix().values().get(l), "v." + l);
        }
        PrefixCalibrator.Result f64 = cal.calibrate(start, List.of(s), st.withPrefixDtype(PrefixDtype.F64), (a, b, x) -> { });
        // in double the entry moves by lr * |g| / (|g| + eps): within 0.1 % of lr for |g| > 1e-5
        double moved = Math.abs(f64.prefix().values().get(0).data()[0] - 4.0);
        assertNotEquals(0.0, moved);
        assertEquals(LR, moved, 1e-3 * LR);
    }

    /** {@code trained} = fp16(p - (lr / (1 - b1)) m / (sqrt(v) / sqrt(1 - b2) + eps)), m = (1 - b1) g, v = (1 - b2) g^2. */
    static void expectFirstStep(Value start, Tensor trained, String name) {
        double b1 = 0.9;
        double b2 = 0.999;
        double[] p = start.data().data();
        double[] g = start.grad().data();
        for (int i = 0; i < p.length; i++) {
            double m = (1 - b1) * g[i];
            double v = (1 - b2) * g[i] * g[i];
            double denom = Math.sqrt(v) / Math.sqrt(1 - b2) + 1e-8;
            double expected = HalfFloat.round(p[i] + -(LR / (1 - b1)) * m / denom, HalfFloat.Format.FP16);
            assertEquals(expected, trained.data()[i], 0.0, name + "[" + i + "]");
        }
    }

    @Test
    void everyStoredEntryIsOfThePrefixDtype() {
        LlamaModel fp = IntactKvTest.fp();
        LlamaModel q = quantized(fp);
        List<CalibrationSample> samples = List.of(sample(10, 5), sample(10, 6), sample(10, 7));
        PrefixCalibrator.Settings st = PrefixCalibrator.Settings.official().withSteps(4).withAccumulation(2).withLr(1e-2);
        for (PrefixDtype d : PrefixDtype.values()) {
            PrefixCalibrator.Result r = new PrefixCalibrator(fp, q).calibrate(IntactKvPrefix.bos(fp), samples,
                    st.withPrefixDtype(d), (a, b, x) -> { });
            int notF16 = 0;
            int notF32 = 0;
            for (Tensor t : r.prefix().keys()) {
                for (double x : t.data()) {
                    notF16 += HalfFloat.round(x, HalfFloat.Format.FP16) == x ? 0 : 1;
                    notF32 += (float) x == x ? 0 : 1;
                }
            }
            assertEquals(d == PrefixDtype.F16, notF16 == 0, d + ": entries not fp16: " + notF16);
            assertEquals(d != PrefixDtype.F64, notF32 == 0, d + ": entries not float: " + notF32);
            assertTrue(r.lossAfter() < r.lossBefore(), d + ": " + r.lossAfter() + " vs " + r.lossBefore());
        }
    }

    @Test
    void prefixDtypeFlagIsParsedOrRefusedByName() {
        assertEquals(PrefixDtype.F16, PrefixDtype.parse("f16"));
        assertEquals(PrefixDtype.F32, PrefixDtype.parse("F32"));
        assertEquals(PrefixDtype.F64, PrefixDtype.parse("f64"));
        for (String bad : new String[] {"bf16", "fp16", "", "f8"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PrefixDtype.parse(bad));
            assertTrue(e.getMessage().contains("--prefix-dtype") && e.getMessage().contains(": " + bad), e.getMessage());
        }
        assertEquals(0x1.998p-4, PrefixDtype.F16.round(0.1), 0.0); // 1638 * 2^-14
        assertEquals((double) 0.1f, PrefixDtype.F32.round(0.1), 0.0);
        assertEquals(0.1, PrefixDtype.F64.round(0.1), 0.0);
    }
}
