package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.GradMode;
import intactkv.autograd.Value;
import intactkv.model.KvCache;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ModelQuantizationTest {
    // d = 32, d_ff = 64 (powers of two for exact Hadamards), 4 heads of 8, 2 KV heads, 2 layers
    static final LlamaConfig C = new LlamaConfig(32, 64, 4, 2, 2, 1e-5, 10000, 50, 64, false, 1, 2);

    static LlamaWeights fp() {
        return LlamaWeights.random(C, 9, 0.3, true, false);
    }

    static List<int[]> calib(int n, int t) {
        return calib(n, t, 3);
    }

    /** {@code n} sequences of {@code t} tokens, [BOS] first, the rest drawn from the vocabulary with {@code seed}. */
    static List<int[]> calib(int n, int t, int seed) {
        Random rng = new Random(seed);
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] s = new int[t];
            s[0] = 1;
            for (int j = 1; j < t; j++) {
                s[j] = 3 + rng.nextInt(C.vocabSize() - 3);
            }
            out.add(s);
        }
        return out;
    }

    static Tensor logits(LlamaModel m, int[] ids) {
        try (GradMode.Scope s = GradMode.noGrad()) {
            return m.forward(ids, null, LlamaModel.Options.LOGITS).logits().data();
        }
    }

    static double mse(Tensor a, Tensor b) {
        double s = 0;
        for (int i = 0; i < a.numel(); i++) {
            s += (a.data()[i] - b.data()[i]) * (a.data()[i] - b.data()[i]);
        }
        return s / a.numel();
    }

    @Test
    void rtnQuantizesOnlyDecoderLinears() {
        LlamaWeights w = fp();
        LlamaWeights q = ModelQuantizer.quantize(w, QuantConfig.rtn(3, 16), null, ModelQuantizer.Progress.NONE);
        assertSame(w.embed(), q.embed());
        assertSame(w.lmHead(), q.lmHead());
        assertSame(w.norm(), q.norm());
        assertSame(w.block(1).inputNorm(), q.block(1).inputNorm());
        Tensor wq = q.block(0).q().data();
        // 3 bits: at most 8 distinct values per group of 16
        for (int r = 0; r < wq.dim(0); r++) {
            java.util.Set<Double> values = new java.util.HashSet<>();
            for (int c = 0; c < 16; c++) {
                values.add(wq.get(r, c));
            }
            assertTrue(values.size() <= 8, "row " + r + ": " + values.size() + " levels");
        }
        assertNotEquals(w.block(0).q().data().get(0, 0), wq.get(0, 0));
    }

    /** The rotated full-precision model computes the same function (issue: within 1e-9 relative). */
    @Test
    void quarotRotationPreservesLogits() {
        int[] ids = {1, 7, 22, 5, 41, 9};
        LlamaWeights w = fp();
        Tensor a = logits(new LlamaModel(w), ids);
        QuaRot.Rotated r = QuaRot.rotate(w, 5);
        Tensor b = logits(new LlamaModel(r.weights(), r.hooks()), ids);
        double worst = 0;
        for (int i = 0; i < a.numel(); i++) {
            worst = Math.max(worst, Math.abs(a.data()[i] - b.data()[i]));
        }
        assertTrue(worst <= 1e-9 * a.maxAbs(), "max difference " + worst + " vs scale " + a.maxAbs());
        // a non-power-of-two MLP width (48 = 12 * 4: Paley's H_12 times Sylvester's H_4) preserves the function too
        LlamaConfig odd = new LlamaConfig(32, 48, 4, 2, 1, 1e-5, 10000, 50, 64, true, 1, 2);
        LlamaWeights wo = LlamaWeights.random(odd, 2, 0.3, true, false);
        QuaRot.Rotated ro = QuaRot.rotate(wo, 6);
        Tensor c = logits(new LlamaModel(wo), ids);
        Tensor d = logits(new LlamaModel(ro.weights(), ro.hooks()), ids);
        for (int i = 0; i < c.numel(); i++) {
            assertEquals(c.data()[i], d.data()[i], 1e-9 * c.maxAbs());
        }
    }

    @Test
    void kvQuantizationTouchesOnlyNewKeysAndValues() {
        LlamaModel m = new LlamaModel(fp(), QuantHooks.of(QuantConfig.kv4()));
        LlamaModel fpModel = new LlamaModel(fp());
        try (GradMode.Scope s = GradMode.noGrad()) {
            KvCache past = fpModel.forward(new int[] {1, 4}, null, LlamaModel.Options.LOGITS).present();
            KvCache present = m.forward(new int[] {8, 9, 10}, past, LlamaModel.Options.LOGITS).present();
            for (int l = 0; l < C.numHiddenLayers(); l++) {
                Tensor k = present.keys().get(l).data();
                Tensor prefix = intactkv.tensor.Layout.slice(k, 2, 0, 2);
                assertArrayEquals(past.keys().get(l).data().data(), prefix.data(), 0.0, "past keys unchanged");
                Tensor fresh = intactkv.tensor.Layout.slice(k, 2, 2, 5);
                // 4-bit asymmetric per (token, head): at most 16 distinct values in each head's d_h vector
                for (int h = 0; h < C.numKeyValueHeads(); h++) {
                    java.util.Set<Double> values = new java.util.HashSet<>();
                    for (int j = 0; j < C.headDim(); j++) {
                        values.add(fresh.get(0, h, 0, j));
                    }
                    assertTrue(values.size() <= 16);
                }
            }
        }
    }

    @Test
    void gptqAwqAndLwcBeatRtnOnOutputError() {
        LlamaWeights w = fp();
        List<int[]> cal = calib(8, 24);
        int[] probe = calib(1, 24).get(0);
        Tensor ref = logits(new LlamaModel(w), probe);
        QuantConfig rtn = QuantConfig.rtn(3, 16);
        double eRtn = mse(ref, logits(new LlamaModel(ModelQuantizer.quantize(w, rtn, cal, ModelQuantizer.Progress.NONE)), probe));
        QuantConfig gptq = new QuantConfig(Method.GPTQ, rtn.weight(), QuantConfig.OFF, QuantConfig.OFF, 0);
        double eGptq = mse(ref, logits(new LlamaModel(ModelQuantizer.quantize(w, gptq, cal, ModelQuantizer.Progress.NONE)), probe));
        QuantConfig awq = new QuantConfig(Method.AWQ, rtn.weight(), QuantConfig.OFF, QuantConfig.OFF, 0);
        double eAwq = mse(ref, logits(new LlamaModel(ModelQuantizer.quantize(w, awq, cal, ModelQuantizer.Progress.NONE)), probe));
        assertTrue(eGptq < eRtn, "GPTQ " + eGptq + " vs RTN " + eRtn);
        assertTrue(eAwq < eRtn, "AWQ " + eAwq + " vs RTN " + eRtn);
    }

    /** Learnable clipping lowers what it optimises: the first block's output error on the calibration data. */
    @Test
    void learnableClippingLowersTheBlockError() {
        LlamaWeights w = fp();
        List<int[]> cal = calib(8, 24);
        QuantConfig rtn = QuantConfig.rtn(3, 16);
        QuantConfig lwc = new QuantConfig(Method.OMNIQUANT, rtn.weight(), QuantConfig.OFF, QuantConfig.OFF, 0);
        LlamaModel fpm = new LlamaModel(w);
        LlamaModel rtnm = new LlamaModel(ModelQuantizer.quantize(w, rtn, cal, ModelQuantizer.Progress.NONE));
        LlamaModel lwcm = new LlamaModel(ModelQuantizer.quantize(w, lwc, cal, ModelQuantizer.Progress.NONE));
        double eRtn = 0;
        double eLwc = 0;
        try (GradMode.Scope s = GradMode.noGrad()) {
            for (int[] seq : cal) {
                Value x = fpm.embed(new int[][] {seq});
                Tensor ref = fpm.layer(0, x).data();
                eRtn += mse(ref, rtnm.layer(0, x).data());
                eLwc += mse(ref, lwcm.layer(0, x).data());
            }
        }
        assertTrue(eLwc < eRtn, "LWC " + eLwc + " vs RTN " + eRtn);
    }

    @Test
    void badSettingsAreRejectedWithTheValue() {
        IllegalArgumentException b = assertThrows(IllegalArgumentException.class, () -> WeightQuantizer.Spec.asym(1, 128));
        assertTrue(b.getMessage().contains("bit width 1"), b.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new DynamicQuantizer(17, false, 1, 0));
        IllegalArgumentException g = assertThrows(IllegalArgumentException.class, () -> ModelQuantizer.quantize(fp(),
                QuantConfig.rtn(4, 24), null, ModelQuantizer.Progress.NONE));
        assertTrue(g.getMessage().contains("group size 24") && g.getMessage().contains("model.layers.0"), g.getMessage());
        Tensor nan = Tensor.ones(2, 4);
        nan.set(Double.NaN, 1, 2);
        IllegalArgumentException n = assertThrows(IllegalArgumentException.class,
                () -> WeightQuantizer.quantize(nan, WeightQuantizer.Spec.asym(4, 4), "layer.x"));
        assertTrue(n.getMessage().contains("layer.x") && n.getMessage().contains("NaN"), n.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ModelQuantizer.quantize(fp(),
                new QuantConfig(Method.GPTQ, WeightQuantizer.Spec.asym(4, 16), QuantConfig.OFF, QuantConfig.OFF, 0),
                List.of(), ModelQuantizer.Progress.NONE));
    }

    @Test
    void dynamicQuantizerStraightThroughGradient() {
        Value x = Value.param(Tensor.of(new double[] {0.1, 0.5, -0.3, 2.0}, 1, 4));
        Value q = new DynamicQuantizer(4, true, 0.5, 0).apply(x); // clip 0.5: 2.0 is outside the range
        q.backward(Tensor.ones(1, 4));
        assertArrayEquals(new double[] {1, 1, 1, 0}, x.grad().data());
    }
}
