package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.GradMode;
import intactkv.autograd.Value;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link Awq#run}: the twin, the apply path, what is searched and what is refused. */
class AwqTest {
    /** d = 32, d_ff = 64, 4 heads of 8, h_kv KV heads, 2 layers, V = 50. */
    static LlamaConfig config(int hkv) {
        return new LlamaConfig(32, 64, 4, hkv, 2, 1e-5, 10000, 50, 64, false, 1, 2);
    }

    /**
     * Random weights with outlier channels (a few input-norm, post-attention-norm entries and
     * v_proj rows scaled up), so that the searched scales are far from 1, as on real LLMs.
     */
    static LlamaWeights outlierModel(LlamaConfig c, long seed) {
        LlamaWeights w = LlamaWeights.random(c, seed, 0.3, true, false);
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            LlamaWeights.Block b = w.block(l);
            double[] in = b.inputNorm().data().data().clone();
            in[3] *= 6;
            in[17] *= 6;
            double[] post = b.postNorm().data().data().clone();
            post[7] *= 5;
            double[] v = b.v().data().data().clone();
            for (int j = 0; j < c.hiddenSize(); j++) {
                v[c.hiddenSize() + j] *= 5; // row 1
            }
            w = w.withBlock(l, new LlamaWeights.Block(Value.constant(Tensor.wrap(in, c.hiddenSize())), b.q(), b.k(),
                    Value.constant(Tensor.wrap(v, b.v().data().shape())), b.o(),
                    Value.constant(Tensor.wrap(post, c.hiddenSize())), b.gate(), b.up(), b.down()));
        }
        return w;
    }

    static List<int[]> calib(LlamaConfig c, int n, int t, long seed) {
        Random rng = new Random(seed);
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] s = new int[t];
            for (int j = 0; j < t; j++) {
                s[j] = 3 + rng.nextInt(c.vocabSize() - 3);
            }
            out.add(s);
        }
        return out;
    }

    static QuantConfig awq(int bits, int group) {
        return new QuantConfig(Method.AWQ, WeightQuantizer.Spec.asym(bits, group), QuantConfig.OFF, QuantConfig.OFF, 0);
    }

    static Tensor logits(LlamaWeights w, int[] ids) {
        try (GradMode.Scope s = GradMode.noGrad()) {
            return new LlamaModel(w).forward(ids, null, LlamaModel.Options.LOGITS).logits().data();
        }
    }

    static double maxAbsDiff(Tensor a, Tensor b) {
        double m = 0;
        for (int i = 0; i < a.numel(); i++) {
            m = Math.max(m, Math.abs(a.data()[i] - b.data()[i]));
        }
        return m;
    }

    @ParameterizedTest
    @ValueSource(ints = {4, 2})
    void twinGivesTheOriginalLogits(int hkv) {
        LlamaConfig c = config(hkv);
        LlamaWeights fp = outlierModel(c, 11);
        Awq.Result r = Awq.run(fp, awq(3, 16), calib(c, 3, 24, 5), ModelQuantizer.Progress.NONE);
        int[] ids = {1, 7, 33, 12, 9, 41, 20, 3, 48, 15};
        Tensor ref = logits(fp, ids);
        LlamaWeights twin = r.scales().applyTo(fp);
        // multiplying by s and dividing by s again rounds once per weight (1e-16 relative); after
        // two layers and the head the logits (entries of order 1-10) move by about 1e-14
        assertTrue(maxAbsDiff(ref, logits(twin, ids)) <= 1e-10, "twin logits differ by " + maxAbsDiff(ref, logits(twin, ids)));
        // ... and the twin is not the original model: the scales are far from 1 (AWQ's basis)
        double spread = 0;
        for (double[] s : r.scales().qkv()) {
            for (double v : s) {
                spread = Math.max(spread, Math.abs(Math.log(v)));
            }
        }
        assertTrue(spread > Math.log(1.5), "largest |log s| of the qkv scales only " + spread);
        assertEquals(hkv == 4, r.scales().o().get(0) != null, "the v_proj -> o_proj group exists exactly without GQA");
    }

    @Test
    void theApplyPathReproducesTheQuantizedModelBitForBit() {
        LlamaConfig c = config(4);
        LlamaWeights fp = outlierModel(c, 12);
        List<double[]> before = new ArrayList<>();
        fp.forEachNamed((n, v) -> before.add(v.data().data().clone()));
        QuantConfig q = awq(4, 16);
        Awq.Result r = Awq.run(fp, q, calib(c, 4, 20, 6), ModelQuantizer.Progress.NONE);
        LlamaWeights viaApply = Awq.quantize(fp, r.scales(), r.clips(), q.weight());
        List<double[]> a = new ArrayList<>();
        List<double[]> b = new ArrayList<>();
        r.quantized().forEachNamed((n, v) -> a.add(v.data().data()));
        viaApply.forEachNamed((n, v) -> b.add(v.data().data()));
        for (int i = 0; i < a.size(); i++) {
            assertArrayEquals(a.get(i), b.get(i), 0.0, "tensor " + i);
        }
        // run does not modify its input
        List<double[]> after = new ArrayList<>();
        fp.forEachNamed((n, v) -> after.add(v.data().data()));
        for (int i = 0; i < before.size(); i++) {
            assertArrayEquals(before.get(i), after.get(i), 0.0);
        }
        // ModelQuantizer's AWQ is run's quantized model
        LlamaWeights viaQuantizer = ModelQuantizer.quantize(fp, q, calib(c, 4, 20, 6), ModelQuantizer.Progress.NONE);
        List<double[]> m = new ArrayList<>();
        viaQuantizer.forEachNamed((n, v) -> m.add(v.data().data()));
        for (int i = 0; i < a.size(); i++) {
            assertArrayEquals(a.get(i), m.get(i), 0.0);
        }
    }

    @Test
    void clipValuesAreSearchedForEveryLinearButQueryAndKey() {
        LlamaConfig c = config(2);
        LlamaWeights fp = outlierModel(c, 13);
        Awq.Result r = Awq.run(fp, awq(3, 16), calib(c, 2, 16, 7), ModelQuantizer.Progress.NONE);
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            assertEquals(List.of("self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"),
                    List.copyOf(r.clips().get(l).keySet()));
            Tensor down = r.clips().get(l).get("mlp.down_proj");
            assertEquals(List.of(c.hiddenSize(), c.intermediateSize() / 16), List.of(down.dim(0), down.dim(1)));
            // each clip value is max|w| (1 - k/20) for a k in 0..9 of the scaled weights' group
            Tensor w = r.scales().applyTo(fp).block(l).down().data();
            for (int row = 0; row < down.dim(0); row++) {
                for (int g = 0; g < down.dim(1); g++) {
                    double m = 0;
                    for (int i = 0; i < 16; i++) {
                        m = Math.max(m, Math.abs(w.data()[row * w.dim(1) + g * 16 + i]));
                    }
                    double ratio = down.data()[row * down.dim(1) + g] / m;
                    double k = (1 - ratio) * 20;
                    assertTrue(Math.abs(k - Math.rint(k)) < 1e-9 && k > -1e-9 && k < 9 + 1e-9, "ratio " + ratio);
                }
            }
        }
        assertNull(r.scales().o().get(0));
        assertNotNull(r.scales().down().get(1));
    }

    @Test
    void badCalibrationIsRefusedByIndex() {
        LlamaConfig c = config(4);
        LlamaWeights fp = LlamaWeights.random(c, 1, 0.3, false, false);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Awq.run(fp, awq(4, 16), List.of(), ModelQuantizer.Progress.NONE));
        assertTrue(e.getMessage().contains("at least one calibration sequence"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Awq.run(fp, awq(4, 16), List.of(new int[] {1, 2}, new int[] {1, 50}), ModelQuantizer.Progress.NONE));
        assertTrue(e.getMessage().contains("sequence 1 position 1: token id 50"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Awq.run(fp, awq(4, 16), List.of(new int[0]), ModelQuantizer.Progress.NONE));
        assertTrue(e.getMessage().contains("sequence 0 is empty"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Awq.run(fp, awq(4, 16), List.of(new int[65]), ModelQuantizer.Progress.NONE));
        assertTrue(e.getMessage().contains("65 tokens, more than max_position_embeddings 64"), e.getMessage());
    }

    @Test
    void quantizeRefusesClipValuesThatDoNotFit() {
        LlamaConfig c = config(4);
        LlamaWeights fp = LlamaWeights.random(c, 2, 0.3, false, false);
        AwqScales ones = AwqScalesTest.ones(c);
        List<java.util.Map<String, Tensor>> clips = new ArrayList<>();
        clips.add(java.util.Map.of("mlp.down_proj", Tensor.ones(32, 3)));
        clips.add(java.util.Map.of());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Awq.quantize(fp, ones, clips, WeightQuantizer.Spec.asym(4, 16)));
        assertTrue(e.getMessage().contains("model.layers.0.mlp.down_proj.weight: clip values of shape (32, 3)"),
                e.getMessage());
        List<java.util.Map<String, Tensor>> wrongName = List.of(java.util.Map.of("mlp.fc1", Tensor.ones(32, 4)),
                java.util.Map.of());
        e = assertThrows(IllegalArgumentException.class,
                () -> Awq.quantize(fp, ones, wrongName, WeightQuantizer.Spec.asym(4, 16)));
        assertTrue(e.getMessage().contains("'mlp.fc1'"), e.getMessage());
    }
}
