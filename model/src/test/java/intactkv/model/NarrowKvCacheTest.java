package intactkv.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.GradMode;
import intactkv.autograd.Value;
import intactkv.tensor.ElementDtype;
import intactkv.tensor.Elementwise;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A KV cache held in F32, F16 or BF16 ({@link KvCache#empty(LlamaConfig, int, int, ElementDtype)},
 * {@link KvCache#reserve(int, int, ElementDtype)}) against its definition, a double cache of the same model whose
 * new keys and values are rounded to the format by {@link ModelHooks} before they are cached: the same logits and
 * caches bit for bit, for a prompt run into a reserved cache and each decoding step after it, for a cache that grows
 * (its rows copied into a larger narrow buffer), and for a shared past (IntactKV's prefix) rounded as it is reserved.
 */
class NarrowKvCacheTest {
    private static final LlamaConfig GQA = KvCacheRowsTest.GQA;
    private static final ElementDtype[] NARROW = {ElementDtype.F32, ElementDtype.F16, ElementDtype.BF16};
    private final LlamaModel model = new LlamaModel(LlamaWeights.random(GQA, 7, 0.5, true, false));

    /** The model with its new keys and values rounded to {@code d} before they are cached. */
    private LlamaModel rounding(ElementDtype d) {
        return model.withHooks(new ModelHooks() {
            @Override
            public Value newKeys(int layer, Value k) {
                return Value.constant(Elementwise.map(k.data(), d::round));
            }

            @Override
            public Value newValues(int layer, Value v) {
                return Value.constant(Elementwise.map(v.data(), d::round));
            }
        });
    }

    private static LlamaModel.Output run(LlamaModel m, int[] ids, KvCache past) {
        try (GradMode.Scope s = GradMode.noGrad()) {
            return m.forward(new int[][] {ids}, past, LlamaModel.Options.LOGITS);
        }
    }

    private static void assertSameCache(KvCache expected, KvCache actual, String what) {
        assertEquals(expected.length(), actual.length(), what);
        for (int l = 0; l < expected.layers(); l++) {
            assertArrayEquals(expected.keys().get(l).data().data(), actual.keys().get(l).data().data(), 0.0, what);
            assertArrayEquals(expected.values().get(l).data().data(), actual.values().get(l).data().data(), 0.0, what);
        }
    }

    /**
     * Prompt and decoding steps from {@code narrow} (the plain model) and {@code exact} (the rounding model, double
     * cache), logits compared at tolerance 0 after each; returns the narrow cache after the last step.
     */
    private KvCache sideBySide(ElementDtype d, int[] prompt, KvCache narrow, KvCache exact, int steps) {
        LlamaModel hooked = rounding(d);
        LlamaModel.Output n = run(model, prompt, narrow);
        LlamaModel.Output e = run(hooked, prompt, exact);
        assertArrayEquals(e.logits().data().data(), n.logits().data().data(), 0.0, d + " prompt");
        int next = 3;
        for (int i = 0; i < steps; i++) {
            n = run(model, new int[] {next}, n.present());
            e = run(hooked, new int[] {next}, e.present());
            assertArrayEquals(e.logits().data().data(), n.logits().data().data(), 0.0, d + " step " + i);
            next = (next * 5 + 2) % GQA.vocabSize();
        }
        assertSameCache(e.present(), n.present(), d.id());
        assertEquals(d, n.present().dtype());
        return n.present();
    }

    @Test
    void aReservedNarrowCacheIsADoubleCacheOfRoundedRows() {
        int[] prompt = {1, 5, 7, 3, 2, 9};
        for (ElementDtype d : NARROW) {
            KvCache room = KvCache.empty(GQA, 6 + 20, 1, d);
            Object held = room.rows(1, false, 1).held();
            KvCache after = sideBySide(d, prompt, room, KvCache.empty(GQA, 6 + 20, 1), 20);
            assertSame(held, after.rows(1, false, 1).held(), d + ": written in place, never copied");
        }
        // the rounding is not the identity: a double cache gives other logits than an F16 one
        double[] f64 = run(model, prompt, KvCache.empty(GQA, 6, 1)).logits().data().data();
        double[] f16 = run(model, prompt, KvCache.empty(GQA, 6, 1, ElementDtype.F16)).logits().data().data();
        assertTrue(!java.util.Arrays.equals(f64, f16));
    }

    /** A cache reserved for fewer rows grows into new narrow buffers (16, 32, then 64 rows) with the same numbers. */
    @Test
    void aGrowingNarrowCacheKeepsItsRoundedRows() {
        int[] prompt = {4, 4, 8};
        for (ElementDtype d : NARROW) {
            KvCache grown = sideBySide(d, prompt, KvCache.empty(GQA, 3, 1, d), KvCache.empty(GQA, 3, 1), 40);
            assertEquals(43, grown.length());
        }
    }

    /**
     * A shared (h_kv, p, d_h) past of doubles, as IntactKV's prefix, reserved in a narrow format: its rows are rounded
     * as they are copied, so what follows equals the rounding model after the rounded past; the past is unchanged.
     */
    @Test
    void aSharedPastIsRoundedWhenReserved() {
        KvCache one = run(model, new int[] {1, 4}, null).present();
        KvCache shared = new KvCache(squeezed(one.keys()), squeezed(one.values()));
        double[] before = shared.keys().get(1).data().data().clone();
        for (ElementDtype d : NARROW) {
            KvCache rounded = new KvCache(roundedAll(shared.keys(), d), roundedAll(shared.values(), d));
            sideBySide(d, new int[] {3, 7}, shared.reserve(2 + 12, 1, d), rounded.reserve(2 + 12, 1), 12);
        }
        assertArrayEquals(before, shared.keys().get(1).data().data(), 0.0);
    }

    /** Keys beyond F16's range are refused naming the layer, the tensor, the format and the value. */
    @Test
    void keysBeyondF16AreRefusedByLayer() {
        LlamaModel huge = model.withHooks(new ModelHooks() {
            @Override
            public Value newKeys(int layer, Value k) {
                return Value.constant(Elementwise.map(k.data(), x -> layer == 1 ? x * 1e6 : x));
            }
        });
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> run(huge, new int[] {1, 5, 7}, KvCache.empty(GQA, 8, 1, ElementDtype.F16)));
        assertTrue(e.getMessage().startsWith("layer 1's keys in a f16 KV cache: the value "), e.getMessage());
        assertTrue(e.getMessage().endsWith(" is beyond the largest finite f16 (65504.0); hold it in a wider format"),
                e.getMessage());
        // F32 holds them
        run(huge, new int[] {1, 5, 7}, KvCache.empty(GQA, 8, 1, ElementDtype.F32));
    }

    private static List<Value> squeezed(List<Value> xs) {
        return xs.stream().map(v -> Value.constant(v.data().reshape(v.data().dim(1), v.data().dim(2),
                v.data().dim(3)))).toList();
    }

    private static List<Value> roundedAll(List<Value> xs, ElementDtype d) {
        return xs.stream().map(v -> Value.constant(Elementwise.map(v.data(), d::round))).toList();
    }
}
