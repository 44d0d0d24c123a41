package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import intactkv.autograd.GradMode;
import intactkv.autograd.Value;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.ModelHooks;
import intactkv.tensor.MatMul;
import intactkv.tensor.Tensor;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link Gptq#hessians} (a group's pass ended once the group's inputs are captured, one {@code X^T X} per
 * distinct input tensor, the symmetric {@link MatMul#gram}) against the straightforward computation it replaced:
 * the whole decoder layer run over every sequence and one {@link MatMul#matmulTransA} per linear name. Every
 * comparison is exact (tolerance 0): the change must not move a single bit of any Hessian or quantized weight.
 */
class GptqHessiansTest {
    // d = 32, d_ff = 64, 4 heads of 8; MHA (4 KV heads) and GQA (2 KV heads); 2 layers
    static final LlamaConfig MHA = new LlamaConfig(32, 64, 4, 4, 2, 1e-5, 10000, 50, 64, false, 1, 2);
    static final LlamaConfig GQA = new LlamaConfig(32, 64, 4, 2, 2, 1e-5, 10000, 50, 64, false, 1, 2);
    // wider than one 128-row block of MatMul.gram: d = 136 (128 + 8), d_ff = 264 (2 x 128 + 8), 4 heads of 34, GQA
    static final LlamaConfig WIDE = new LlamaConfig(136, 264, 4, 2, 1, 1e-5, 10000, 50, 64, false, 1, 2);

    /** Today's {@code hessians} before this change, written out: the whole layer, one product per name. */
    static Map<String, Tensor> reference(LlamaModel m, int l, List<Value> inputs, int[] group) {
        List<String> names = new ArrayList<>();
        for (int j : group) {
            names.add(LlamaWeights.LINEAR_NAMES.get(j));
        }
        Map<String, Tensor> h = new HashMap<>();
        ModelHooks capture = new Delegating(m.hooks()) {
            @Override
            public Value linearInput(int layer, String name, Value x) {
                Value q = m.hooks().linearInput(layer, name, x);
                if (layer == l && names.contains(name)) {
                    Tensor x2 = q.data().reshape(-1, q.shape().dim(-1));
                    h.merge(name, MatMul.matmulTransA(x2, x2), Tensor::add);
                }
                return q;
            }
        };
        LlamaModel probe = m.withHooks(capture);
        for (Value x : inputs) {
            probe.layer(l, x);
        }
        double factor = 2.0 / inputs.size();
        h.replaceAll((k, v) -> v.scale(factor));
        return h;
    }

    /** Hooks that pass everything to {@code inner}. */
    private static class Delegating implements ModelHooks {
        final ModelHooks inner;

        Delegating(ModelHooks inner) {
            this.inner = inner;
        }

        @Override
        public Value linearInput(int layer, String name, Value x) {
            return inner.linearInput(layer, name, x);
        }

        @Override
        public Value newQueries(int layer, Value q) {
            return inner.newQueries(layer, q);
        }

        @Override
        public Value newKeys(int layer, Value k) {
            return inner.newKeys(layer, k);
        }

        @Override
        public Value newValues(int layer, Value v) {
            return inner.newValues(layer, v);
        }
    }

    /** Three embedded sequences of 5, 7 and 6 tokens (lengths differ, as the layer allows). */
    private static List<Value> inputs(LlamaWeights w) {
        Random rng = new Random(5);
        List<Value> out = new ArrayList<>();
        for (int t : new int[] {5, 7, 6}) {
            int[] s = new int[t];
            s[0] = 1;
            for (int j = 1; j < t; j++) {
                s[j] = 3 + rng.nextInt(w.config().vocabSize() - 3);
            }
            out.add(new LlamaModel(w).embed(new int[][] {s}));
        }
        return out;
    }

    /** No hooks; QuaRot's online transforms (what QuaRot calibrates with); and those with activation quantizers. */
    private static List<ModelHooks> hooksFor(LlamaConfig c) {
        return List.of(ModelHooks.NONE, QuaRotHooks.fullPrecision(c, 7),
                QuaRotHooks.quantized(c, QuantConfig.w4a4kv4()));
    }

    /**
     * Every group's Hessians equal the whole-layer reference exactly, from the layer's inputs ({@link Gptq#hessians})
     * and, for the MLP groups, from the residual streams after the attention block ({@link Gptq#afterAttention},
     * {@link Gptq#hessiansAfterAttention}: what {@code Gptq.sequential} runs with activations in double); and
     * {@code afterMlp(afterAttention(x))} is {@code layer(x)} bit for bit. For every hook set: QuaRot's online
     * transforms and activation quantizers act inside both halves.
     */
    @Test
    void everyGroupsHessiansEqualTheWholeLayerReferenceExactly() {
        for (LlamaConfig c : List.of(MHA, GQA, WIDE)) {
            LlamaWeights w = LlamaWeights.random(c, 11, 0.3, true, false);
            List<Value> inputs = inputs(w);
            for (ModelHooks hooks : hooksFor(c)) {
                LlamaModel m = new LlamaModel(w).withHooks(hooks);
                try (GradMode.Scope s = GradMode.noGrad()) {
                    for (int l = 0; l < c.numHiddenLayers(); l++) {
                        String at = "kv heads " + c.numKeyValueHeads() + ", hooks " + hooks.getClass().getSimpleName()
                                + ", layer " + l;
                        List<Value> mid = Gptq.afterAttention(m, l, inputs);
                        for (int i = 0; i < inputs.size(); i++) {
                            assertArrayEquals(m.layer(l, inputs.get(i)).data().data(),
                                    m.afterMlp(l, mid.get(i)).data().data(), 0.0, at + ", sequence " + i);
                        }
                        for (int g = 0; g < Gptq.GROUPS.size(); g++) {
                            int[] group = Gptq.GROUPS.get(g);
                            Map<String, Tensor> want = reference(m, l, inputs, group);
                            assertSameHessians(want, Gptq.hessians(m, l, inputs, group), at + ", group " + want.keySet());
                            if (g >= Gptq.ATTENTION_GROUPS) {
                                assertSameHessians(want, Gptq.hessiansAfterAttention(m, l, mid, group),
                                        at + ", group " + want.keySet() + " after attention");
                            }
                        }
                    }
                }
            }
        }
    }

    private static void assertSameHessians(Map<String, Tensor> want, Map<String, Tensor> got, String where) {
        assertEquals(want.keySet(), got.keySet(), where);
        for (String name : want.keySet()) {
            assertEquals(want.get(name).shape(), got.get(name).shape(), where + " " + name);
            assertArrayEquals(want.get(name).data(), got.get(name).data(), 0.0, where + " " + name);
        }
    }

    /**
     * Each group's pass ends at the last of its linears' inputs: the hooks see the linears of the layer in forward
     * order up to that one and nothing after it (for (k, v, q) not even the attention's queries).
     */
    @Test
    void eachGroupsPassEndsAtItsLastLinearsInput() {
        LlamaWeights w = LlamaWeights.random(GQA, 11, 0.3, true, false);
        List<Value> inputs = inputs(w);
        List<String> all = LlamaWeights.LINEAR_NAMES;
        // forward order: q, k, v, (queries, keys, values), o, gate, up, down
        Map<Integer, List<String>> expected = Map.of(
                0, List.of(all.get(0), all.get(1), all.get(2)),
                1, List.of(all.get(0), all.get(1), all.get(2), "queries", "keys", "values", all.get(3)),
                2, List.of(all.get(0), all.get(1), all.get(2), "queries", "keys", "values", all.get(3), all.get(4),
                        all.get(5)),
                3, List.of(all.get(0), all.get(1), all.get(2), "queries", "keys", "values", all.get(3), all.get(4),
                        all.get(5), all.get(6)));
        for (int g = 0; g < Gptq.GROUPS.size(); g++) {
            List<String> seen = new ArrayList<>();
            ModelHooks recorder = new Delegating(ModelHooks.NONE) {
                @Override
                public Value linearInput(int layer, String name, Value x) {
                    seen.add(name);
                    return x;
                }

                @Override
                public Value newQueries(int layer, Value q) {
                    seen.add("queries");
                    return q;
                }

                @Override
                public Value newKeys(int layer, Value k) {
                    seen.add("keys");
                    return k;
                }

                @Override
                public Value newValues(int layer, Value v) {
                    seen.add("values");
                    return v;
                }
            };
            try (GradMode.Scope s = GradMode.noGrad()) {
                Gptq.hessians(new LlamaModel(w).withHooks(recorder), 1, inputs, Gptq.GROUPS.get(g));
            }
            List<String> want = new ArrayList<>();
            for (int i = 0; i < inputs.size(); i++) {
                want.addAll(expected.get(g));
            }
            assertEquals(want, seen, "group " + g);
            if (g >= Gptq.ATTENTION_GROUPS) { // from the residual after attention: only the MLP's linears
                List<Value> mid;
                try (GradMode.Scope s = GradMode.noGrad()) {
                    mid = Gptq.afterAttention(new LlamaModel(w), 1, inputs);
                    seen.clear();
                    Gptq.hessiansAfterAttention(new LlamaModel(w).withHooks(recorder), 1, mid, Gptq.GROUPS.get(g));
                }
                List<String> mlp = expected.get(g).subList(expected.get(g).indexOf(all.get(4)), expected.get(g).size());
                List<String> wantMlp = new ArrayList<>();
                for (int i = 0; i < inputs.size(); i++) {
                    wantMlp.addAll(mlp);
                }
                assertEquals(wantMlp, seen, "group " + g + " after attention");
            }
        }
    }

    /** SHA-256 over the bits of every decoder linear of {@code w}, layer by layer, in LINEAR_NAMES order. */
    static String linearsHash(LlamaWeights w) throws NoSuchAlgorithmException {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        ByteBuffer buf = ByteBuffer.allocate(8);
        for (int l = 0; l < w.config().numHiddenLayers(); l++) {
            for (Value lin : w.block(l).linears()) {
                for (double v : lin.data().data()) {
                    buf.clear();
                    buf.putLong(Double.doubleToRawLongBits(v));
                    md.update(buf.array());
                }
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static List<int[]> calib(LlamaConfig c) {
        Random rng = new Random(3);
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            int[] s = new int[12];
            s[0] = 1;
            for (int j = 1; j < s.length; j++) {
                s[j] = 3 + rng.nextInt(c.vocabSize() - 3);
            }
            out.add(s);
        }
        return out;
    }

    /**
     * GPTQ (W3 g16, act-order) and QuaRot (W4 per channel with its clip search, A4 KV4 configuration) quantize the
     * random MHA and GQA models, and GPTQ (W3 g8) the model wider than one block of {@link MatMul#gram}, to exactly
     * the weights they gave before this change: the hashes were recorded with the whole-layer,
     * one-product-per-name {@code hessians} of commit a29df25.
     */
    @Test
    void quantizedModelsAreBitForBitThoseOfTheWholeLayerPasses() throws NoSuchAlgorithmException {
        Map<String, String> recorded = Map.of(
                "gptq MHA", "e81ad0292ec1a117c10018ce7908684c7c23f488fb6648fc13265096337c6e4a",
                "gptq GQA", "4c3c169ead436c418d2797e3b6b9df09126e02a7e9205c3728ed771ae227e0f0",
                "gptq WIDE", "102964e78f05aac73db3529d3510c246f311b41c2f98dc37cb7e94928d666251",
                "quarot MHA", "2cf92824d5de18a754d51192bba7c49df5c337ed8835ecd391e81748737ddab9",
                "quarot GQA", "506b9cad2170fa7289a68ba0868ee3d6ae9a46f460cbf2d4715a6605ae8903a5");
        QuantConfig gptq = new QuantConfig(Method.GPTQ, WeightQuantizer.Spec.asym(3, 16), QuantConfig.OFF,
                QuantConfig.OFF, 0);
        Map<String, String> now = new HashMap<>();
        for (LlamaConfig c : List.of(MHA, GQA)) {
            String shape = c.numKeyValueHeads() == c.numAttentionHeads() ? "MHA" : "GQA";
            LlamaWeights fp = LlamaWeights.random(c, 9, 0.3, true, false);
            now.put("gptq " + shape, linearsHash(Gptq.quantizeModel(fp, gptq, calib(c), ModelQuantizer.Progress.NONE)));
            now.put("quarot " + shape, linearsHash(QuaRot.quantizeModel(fp, QuantConfig.w4a4kv4(), calib(c),
                    ModelQuantizer.Progress.NONE)));
        }
        QuantConfig g8 = new QuantConfig(Method.GPTQ, WeightQuantizer.Spec.asym(3, 8), QuantConfig.OFF, QuantConfig.OFF,
                0);
        LlamaWeights wide = LlamaWeights.random(WIDE, 9, 0.3, true, false);
        now.put("gptq WIDE", linearsHash(Gptq.quantizeModel(wide, g8, calib(WIDE), ModelQuantizer.Progress.NONE)));
        assertEquals(recorded, now);
    }
}
