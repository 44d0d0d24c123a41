package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.GradMode;
import intactkv.autograd.Value;
import intactkv.model.KvCache;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.ModelHooks;
import intactkv.model.RopeScaling;
import intactkv.tensor.Init;
import intactkv.tensor.Layout;
import intactkv.tensor.MatMul;
import intactkv.tensor.Tensor;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The rotated full-precision twin, the online transforms and the quantizers' wiring. */
class QuaRotTest {
    // GQA: 4 heads of 8 sharing 2 KV heads; d_ff 48 = 12 * 4 (Paley H_12 times Sylvester H_4)
    static final LlamaConfig GQA = new LlamaConfig(32, 48, 4, 2, 2, 1e-5, 10000, 50, 64, false, 1, 2);
    static final int[] IDS = {1, 7, 22, 5, 41, 9, 13, 30};

    static Tensor logits(LlamaModel m, int[] ids, KvCache past) {
        try (GradMode.Scope s = GradMode.noGrad()) {
            return m.forward(ids, past, LlamaModel.Options.LOGITS).logits().data();
        }
    }

    static KvCache present(LlamaModel m, int[] ids) {
        try (GradMode.Scope s = GradMode.noGrad()) {
            return m.forward(ids, null, LlamaModel.Options.LOGITS).present();
        }
    }

    static double maxDiff(Tensor a, Tensor b) {
        double worst = 0;
        for (int i = 0; i < a.numel(); i++) {
            worst = Math.max(worst, Math.abs(a.data()[i] - b.data()[i]));
        }
        return worst;
    }

    /**
     * The twin computes the original function. 1e-10 of the largest logit: the rotations are
     * orthogonal to the last bit only, and each product of d terms rounds (~1e-15 relative per
     * layer); 1e-10 still catches any transform left unpaired, which moves logits by O(1).
     */
    @Test
    void twinGivesTheOriginalLogitsWithGqa() {
        LlamaConfig unsupported = new LlamaConfig(32, 44, 4, 2, 1, 1e-5, 10000, 50, 64, true, 1, 2); // 44: random orthogonal
        LlamaConfig llama3 = new LlamaConfig(32, 64, 4, 1, 1, 1e-5, 500000, 50, 64, false, 1, 2,
                new RopeScaling(8, 1, 4, 16));
        for (LlamaConfig c : List.of(GQA, unsupported, llama3)) {
            LlamaWeights w = LlamaWeights.random(c, 9, 0.3, true, false);
            QuaRot.Rotated r = QuaRot.rotate(w, 5);
            assertEquals(c.ropeScaling(), r.weights().config().ropeScaling());
            LlamaModel original = new LlamaModel(w);
            LlamaModel twin = new LlamaModel(r.weights(), r.hooks());
            Tensor a = logits(original, IDS, null);
            assertTrue(maxDiff(a, logits(twin, IDS, null)) <= 1e-10 * a.maxAbs(), c.toString());
            // and when decoding after a past that the twin computed itself
            int[] head = Arrays.copyOf(IDS, 3);
            int[] tail = Arrays.copyOfRange(IDS, 3, IDS.length);
            Tensor b = logits(original, tail, present(original, head));
            assertTrue(maxDiff(b, logits(twin, tail, present(twin, head))) <= 1e-10 * b.maxAbs(), c.toString());
        }
    }

    /** The rotation does change every linear and the cached keys and values (it is not the identity). */
    @Test
    void twinKeysAndValuesAreInTheRotatedBasis() {
        LlamaWeights w = LlamaWeights.random(GQA, 9, 0.3, true, false);
        QuaRot.Rotated r = QuaRot.rotate(w, 5);
        KvCache a = present(new LlamaModel(w), IDS);
        KvCache b = present(new LlamaModel(r.weights(), r.hooks()), IDS);
        Tensor mt = Layout.transpose(Hadamard.exact(GQA.headDim()), 0, 1);
        for (int l = 0; l < GQA.numHiddenLayers(); l++) {
            // keys: per head k M_dh^T (the online transform after RoPE); values: per head v M_dh^T (folded into v_proj)
            Tensor k = MatMul.matmul(a.keys().get(l).data(), mt);
            Tensor v = MatMul.matmul(a.values().get(l).data(), mt);
            assertTrue(maxDiff(k, b.keys().get(l).data()) <= 1e-12 * k.maxAbs());
            assertTrue(maxDiff(v, b.values().get(l).data()) <= 1e-12 * v.maxAbs());
            assertTrue(maxDiff(a.keys().get(l).data(), b.keys().get(l).data()) > 1e-3);
        }
    }

    /** A Hadamard on queries and keys after RoPE, and nothing else, leaves full-precision attention unchanged. */
    @Test
    void onlineQueryKeyHadamardLeavesAttentionUnchanged() {
        LlamaWeights w = LlamaWeights.random(GQA, 4, 0.3, true, false);
        Value mt = Value.constant(Layout.transpose(Hadamard.exact(GQA.headDim()), 0, 1));
        ModelHooks qk = new ModelHooks() {
            @Override
            public Value newQueries(int layer, Value q) {
                return intactkv.autograd.LinearAlgebra.matmul(q, mt);
            }

            @Override
            public Value newKeys(int layer, Value k) {
                return intactkv.autograd.LinearAlgebra.matmul(k, mt);
            }
        };
        Tensor a = logits(new LlamaModel(w), IDS, null);
        Tensor b = logits(new LlamaModel(w, qk), IDS, null);
        // scores q M^T (k M^T)^T = q k^T up to rounding of the d_h-term products
        assertTrue(maxDiff(a, b) <= 1e-12 * a.maxAbs(), "max difference " + maxDiff(a, b));
        // without the query half the scores do change: the hook is really applied
        ModelHooks keysOnly = new ModelHooks() {
            @Override
            public Value newKeys(int layer, Value k) {
                return intactkv.autograd.LinearAlgebra.matmul(k, mt);
            }
        };
        assertTrue(maxDiff(a, logits(new LlamaModel(w, keysOnly), IDS, null)) > 1e-3);
    }

    /**
     * The wiring of intactkv_quarot.py: every decoder linear's input is quantized per token
     * (symmetric, clip 0.9, zero in the range) after its online transform; keys per head after the
     * Q/K Hadamard (asymmetric, clip 0.95, zero in the range); values per head without zero.
     */
    @Test
    void quantizersSitAfterTheOnlineTransforms() {
        QuantConfig config = QuantConfig.w4a4kv4();
        QuaRotHooks fpHooks = QuaRotHooks.fullPrecision(GQA, config.seed());
        ModelHooks hooks = QuaRot.runtimeHooks(GQA, config);
        QuaRotActQuantizer act = new QuaRotActQuantizer(4, true, 0.9, true);
        Random rng = new Random(1);
        for (String name : LlamaWeights.LINEAR_NAMES) {
            int in = name.equals("mlp.down_proj") ? GQA.intermediateSize() : GQA.hiddenSize();
            Value x = Value.constant(Init.normal(rng, 1, 1, 3, in));
            Tensor expected = act.apply(fpHooks.transform(name, x).data());
            Tensor got = hooks.linearInput(0, name, x).data();
            assertArrayEquals(expected.data(), got.data(), 0.0, name);
            for (int t = 0; t < 3; t++) { // at most 16 levels per token
                Set<Double> levels = new HashSet<>();
                for (int i = 0; i < in; i++) {
                    levels.add(got.data()[t * in + i]);
                }
                assertTrue(levels.size() <= 16, name + ": " + levels.size() + " levels");
            }
        }
        // the transforms themselves: down_proj x M_ff^T, o_proj across heads, the rest unchanged
        Value xf = Value.constant(Init.normal(rng, 1, 1, 2, GQA.intermediateSize()));
        Tensor mff = Hadamard.exact(GQA.intermediateSize());
        assertTrue(maxDiff(MatMul.matmulTransB(xf.data(), mff), fpHooks.transform("mlp.down_proj", xf).data()) < 1e-14);
        Value xo = Value.constant(Init.normal(rng, 1, 1, 2, GQA.hiddenSize()));
        Tensor across = QuaRot.kron(Hadamard.exact(GQA.numAttentionHeads()), eye(GQA.headDim()));
        assertTrue(maxDiff(MatMul.matmulTransB(xo.data(), across), fpHooks.transform("self_attn.o_proj", xo).data())
                < 1e-14);
        assertArrayEquals(xo.data().data(), fpHooks.transform("self_attn.q_proj", xo).data().data(), 0.0);
        // keys: Hadamard then per-head asymmetric 4-bit with zero; values: 4-bit without zero, no Hadamard
        Value k = Value.constant(Init.normal(rng, 1, 1, GQA.numKeyValueHeads(), 5, GQA.headDim()));
        Tensor kr = MatMul.matmul(k.data(), Layout.transpose(Hadamard.exact(GQA.headDim()), 0, 1));
        assertArrayEquals(new QuaRotActQuantizer(4, false, 0.95, true).apply(kr).data(), hooks.newKeys(0, k).data().data(),
                0.0);
        assertArrayEquals(new QuaRotActQuantizer(4, false, 0.95, false).apply(k.data()).data(),
                hooks.newValues(0, k).data().data(), 0.0);
        assertArrayEquals(kr.data(), fpHooks.newKeys(0, k).data().data(), 0.0);
        assertArrayEquals(k.data().data(), fpHooks.newValues(0, k).data().data(), 0.0);
    }

    /**
     * IntactKV_[B] with the quantized model at 8 bits (W8A8KV8): the [BOS] keys and values from
     * the twin bring the logits of the later tokens no further from full precision than the
     * quantized model computing its own [BOS] KV.
     */
    @Test
    void intactKvFromTheTwinHelpsAtEightBits() {
        LlamaWeights w = LlamaWeights.random(GQA, 9, 0.3, true, false);
        QuantConfig w8 = new QuantConfig(Method.QUAROT, new WeightQuantizer.Spec(8, -1, true),
                new DynamicQuantizer(8, true, 0.9, 0), new DynamicQuantizer(8, false, 0.95, 0), 3);
        List<int[]> calib = ModelQuantizationTest.calib(8, 24);
        QuantizedModel q = QuantizedModel.quantize(w, w8, calib, ModelQuantizer.Progress.NONE);
        int[] tail = Arrays.copyOfRange(IDS, 1, IDS.length);
        Tensor fp = logits(new LlamaModel(w), IDS, null);
        Tensor fpTail = Layout.slice(fp, 1, 1, IDS.length);
        Tensor alone = Layout.slice(logits(q.model(), IDS, null), 1, 1, IDS.length);
        QuaRot.Rotated twin = QuaRot.rotate(w, w8.seed());
        KvCache bos = present(new LlamaModel(twin.weights(), twin.hooks()), new int[] {IDS[0]});
        Tensor intact = logits(q.model(), tail, bos);
        double eAlone = ModelQuantizationTest.mse(fpTail, alone);
        double eIntact = ModelQuantizationTest.mse(fpTail, intact);
        assertTrue(eIntact < eAlone, "IntactKV " + eIntact + " vs alone " + eAlone); // strictly, on this seed
        // a prefix from the unrotated model is in the wrong basis (keys and values not rotated per head)
        KvCache wrong = present(new LlamaModel(w), new int[] {IDS[0]});
        assertNotEquals(0.0, maxDiff(intact, logits(q.model(), tail, wrong)));
        assertTrue(ModelQuantizationTest.mse(fpTail, logits(q.model(), tail, wrong)) > eAlone);
    }

    private static Tensor eye(int n) {
        Tensor t = Tensor.zeros(n, n);
        for (int i = 0; i < n; i++) {
            t.set(1.0, i, i);
        }
        return t;
    }
}
