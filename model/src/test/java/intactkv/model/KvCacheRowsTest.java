package intactkv.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import intactkv.autograd.GradMode;
import intactkv.autograd.Value;
import intactkv.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Decoding with the KV cache of spare rows ({@link CacheRows}, taken by a forward pass without
 * gradients after a past) against the path that concatenates the past with the new rows (taken
 * with gradients on): the same logits and caches bit for bit, over enough steps for the buffers
 * to grow several times, for continuations of one cache taken twice, and for a shared
 * (h_kv, p, d_h) past before a batch.
 */
class KvCacheRowsTest {
    /** Grouped-query heads (4 query, 2 key/value heads of d_h 4), 2 layers, V 11, 64 positions. */
    static final LlamaConfig GQA = new LlamaConfig(16, 24, 4, 2, 2, 1e-5, 10000, 11, 64, false, 1, 2);
    private final LlamaModel model = new LlamaModel(LlamaWeights.random(GQA, 7, 0.5, true, false));

    private LlamaModel.Output step(int[][] ids, KvCache past, boolean rows) {
        if (!rows) { // gradient mode on: the concatenating path
            return model.forward(ids, past, LlamaModel.Options.LOGITS);
        }
        try (GradMode.Scope s = GradMode.noGrad()) {
            return model.forward(ids, past, LlamaModel.Options.LOGITS);
        }
    }

    private static void assertSameCache(KvCache expected, KvCache actual) {
        assertEquals(expected.length(), actual.length());
        for (int l = 0; l < expected.layers(); l++) {
            assertEquals(expected.keys().get(l).shape(), actual.keys().get(l).shape());
            assertArrayEquals(expected.keys().get(l).data().data(), actual.keys().get(l).data().data(), 0.0);
            assertArrayEquals(expected.values().get(l).data().data(), actual.values().get(l).data().data(), 0.0);
        }
    }

    /**
     * {@code steps} decoding steps of one token from both caches, the concatenating path from {@code exact} and
     * the spare-row path from {@code rows}, the logits compared at tolerance 0 after each; returns the two caches
     * after the last step. Token i + 1 is {@code (a * token_i + c) mod V} from {@code first}.
     */
    private KvCache[] decodeSideBySide(KvCache exact, KvCache rows, int steps, int first, int a, int c) {
        int next = first;
        for (int i = 0; i < steps; i++) {
            int[][] ids = {{next}};
            LlamaModel.Output e = step(ids, exact, false);
            LlamaModel.Output r = step(ids, rows, true);
            assertArrayEquals(e.logits().data().data(), r.logits().data().data(), 0.0, "step " + i);
            exact = e.present();
            rows = r.present();
            next = (next * a + c) % GQA.vocabSize();
        }
        assertSameCache(exact, rows);
        return new KvCache[] {exact, rows};
    }

    @Test
    void decodingIntoSpareRowsIsBitIdenticalToConcatenating() {
        int[][] prompt = {{1, 5, 7, 3, 2}};
        // capacities 16, 32, then 64 (max_position_embeddings)
        KvCache rows = decodeSideBySide(step(prompt, null, false).present(), step(prompt, null, true).present(), 45, 4,
                3, 1)[1];
        assertEquals(50, rows.length());
    }

    /**
     * A cache reserved for its final length ({@link KvCache#reserve}) decodes in place: the same logits and cache
     * as the concatenating path bit for bit, every step writing into the one reserved buffer (the same array
     * throughout), and the cache it was made from unchanged; a shared (h_kv, p, d_h) past reserves as well. Too
     * few rows are refused.
     */
    @Test
    void aReservedCacheDecodesInPlaceWithTheSameBits() {
        int[][] prompt = {{1, 5, 7, 3, 2}};
        KvCache before = step(prompt, null, true).present();
        double[] firstKeys = before.keys().get(0).data().data().clone();
        KvCache reserved = before.reserve(5 + 40, 1);
        Object buffer = reserved.rows(1, false, 1).held();
        KvCache rows = decodeSideBySide(step(prompt, null, false).present(), reserved, 40, 4, 5, 2)[1];
        org.junit.jupiter.api.Assertions.assertSame(buffer, rows.rows(1, false, 1).held(), "never copied");
        assertEquals(5, before.length());
        assertArrayEquals(firstKeys, before.keys().get(0).data().data(), 0.0);

        KvCache one = step(new int[][] {{1, 4}}, null, true).present();
        KvCache shared = new KvCache(one.keys().stream().map(v -> Value.constant(squeeze(v.data()))).toList(),
                one.values().stream().map(x -> Value.constant(squeeze(x.data()))).toList());
        LlamaModel.Output e = step(new int[][] {{3, 7}}, shared, false);
        LlamaModel.Output r = step(new int[][] {{3, 7}}, shared.reserve(6, 1), true);
        assertArrayEquals(e.logits().data().data(), r.logits().data().data(), 0.0);
        assertSameCache(e.present(), r.present());
        IllegalArgumentException tooFew = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> before.reserve(4, 1));
        assertEquals("KV cache of 5 positions: cannot reserve 4", tooFew.getMessage());
    }

    /**
     * A prompt run after an empty cache reserved for the whole generation ({@link KvCache#empty}) gives the logits and
     * cache of a run without a past bit for bit (positions from 0; the decoding path's attention over the rows
     * written), and decoding then continues in the same buffer.
     */
    @Test
    void aPromptRunIntoAnEmptyReservedCacheIsBitIdentical() {
        int[][] prompt = {{1, 5, 7, 3, 2, 9, 0}};
        LlamaModel.Output exact = step(prompt, null, false);
        KvCache room = KvCache.empty(GQA, 7 + 12, 1);
        Object buffer = room.rows(0, true, 1).held();
        LlamaModel.Output r = step(prompt, room, true);
        assertArrayEquals(exact.logits().data().data(), r.logits().data().data(), 0.0);
        assertSameCache(exact.present(), r.present());
        KvCache c = decodeSideBySide(exact.present(), r.present(), 12, 3, 7, 3)[1];
        org.junit.jupiter.api.Assertions.assertSame(buffer, c.rows(0, true, 1).held(), "never copied");
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> KvCache.empty(GQA, 0, 1));
    }

    /**
     * The LM head on the last position's final hidden state alone ({@link LlamaModel#head}, what generation computes
     * instead of every row's logits) gives the last row of the whole pass's logits bit for bit, for a prompt and for
     * a decoding step after it.
     */
    @Test
    void theLastRowsLogitsAloneAreTheWholePasssLastRow() {
        int[][] prompt = {{1, 5, 7, 3, 2, 9, 0, 4, 6}};
        LlamaModel.Output o = step(prompt, KvCache.empty(GQA, 10, 1), true);
        double[] all = o.logits().data().data();
        int v = GQA.vocabSize();
        int d = GQA.hiddenSize();
        try (GradMode.Scope s = GradMode.noGrad()) {
            Tensor lastRow = intactkv.tensor.Layout.slice(o.last().data().reshape(9, d), 0, 8, 9);
            assertArrayEquals(java.util.Arrays.copyOfRange(all, 8 * v, 9 * v),
                    model.head(Value.constant(lastRow)).data().data(), 0.0);
            LlamaModel.Output next = model.forward(new int[] {8}, o.present(), LlamaModel.Options.LOGITS);
            LlamaModel.Output noLogits = model.forward(new int[] {8}, o.present(), new LlamaModel.Options(false, false,
                    false, true));
            assertEquals(null, noLogits.logits());
            assertArrayEquals(next.logits().data().data(), model.head(noLogits.last()).data().data(), 0.0);
        }
    }

    @Test
    void twoContinuationsOfOneCacheDoNotSeeEachOther() {
        int[][] prompt = {{1, 8, 2}};
        KvCache base = step(new int[][] {{6}}, step(prompt, null, true).present(), true).present();
        KvCache exactBase = step(new int[][] {{6}}, step(prompt, null, false).present(), false).present();
        // continue base with 3 then 9 (in place), then base again with 5 (base is now an older view)
        KvCache a = step(new int[][] {{9}}, step(new int[][] {{3}}, base, true).present(), true).present();
        LlamaModel.Output b = step(new int[][] {{5}}, base, true);
        LlamaModel.Output a2 = step(new int[][] {{4}}, a, true);
        KvCache exactA = step(new int[][] {{9}}, step(new int[][] {{3}}, exactBase, false).present(), false).present();
        LlamaModel.Output exactB = step(new int[][] {{5}}, exactBase, false);
        LlamaModel.Output exactA2 = step(new int[][] {{4}}, exactA, false);
        assertArrayEquals(exactB.logits().data().data(), b.logits().data().data(), 0.0);
        assertArrayEquals(exactA2.logits().data().data(), a2.logits().data().data(), 0.0);
        assertSameCache(exactA2.present(), a2.present());
        assertSameCache(exactB.present(), b.present());
        assertSameCache(exactBase, base);
    }

    @Test
    void aSharedPastBeforeABatchIsRepeatedPerSequence() {
        KvCache one = step(new int[][] {{1, 4}}, null, true).present();
        List<Value> k = one.keys().stream().map(v -> Value.constant(squeeze(v.data()))).toList();
        List<Value> v = one.values().stream().map(x -> Value.constant(squeeze(x.data()))).toList();
        KvCache shared = new KvCache(k, v); // (h_kv, p, d_h), as the IntactKV prefix
        int[][] batch = {{3, 7, 2}, {9, 9, 1}};
        LlamaModel.Output e = step(batch, shared, false);
        LlamaModel.Output r = step(batch, shared, true);
        assertArrayEquals(e.logits().data().data(), r.logits().data().data(), 0.0);
        assertSameCache(e.present(), r.present());
        LlamaModel.Output e2 = step(new int[][] {{5}, {6}}, e.present(), false);
        LlamaModel.Output r2 = step(new int[][] {{5}, {6}}, r.present(), true);
        assertArrayEquals(e2.logits().data().data(), r2.logits().data().data(), 0.0);
    }

    /**
     * Scoring without a present cache ({@link LlamaModel.Options#LOGITS_ONLY}: no layer's keys and values kept, an
     * exact buffer after a past, no attention probabilities) gives the logits of the path with gradients on bit for
     * bit: without a past, after a shared (h_kv, p, d_h) past before a batch, and after a decoding cache with spare
     * rows, which then still continues as the concatenating path does (the scoring pass claimed its spare rows).
     */
    @Test
    void scoringWithoutAPresentCacheIsBitIdentical() {
        int[][] prompt = {{1, 5, 7, 3, 2, 8, 6}};
        LlamaModel.Output plain;
        try (GradMode.Scope s = GradMode.noGrad()) {
            plain = model.forward(prompt, null, LlamaModel.Options.LOGITS_ONLY);
        }
        assertArrayEquals(step(prompt, null, false).logits().data().data(), plain.logits().data().data(), 0.0);
        assertEquals(null, plain.present());

        KvCache one = step(new int[][] {{1, 4}}, null, true).present();
        KvCache shared = new KvCache(one.keys().stream().map(v -> Value.constant(squeeze(v.data()))).toList(),
                one.values().stream().map(x -> Value.constant(squeeze(x.data()))).toList());
        int[][] batch = {{3, 7, 2, 5, 1}, {9, 9, 1, 0, 4}};
        LlamaModel.Output scored;
        try (GradMode.Scope s = GradMode.noGrad()) {
            scored = model.forward(batch, shared, LlamaModel.Options.LOGITS_ONLY);
        }
        assertArrayEquals(step(batch, shared, false).logits().data().data(), scored.logits().data().data(), 0.0);
        assertEquals(null, scored.present());

        KvCache exact = step(prompt, null, false).present();
        KvCache rows = step(prompt, null, true).present();
        rows = step(new int[][] {{4}}, rows, true).present(); // 8 of 16 rows used: spare rows to claim
        exact = step(new int[][] {{4}}, exact, false).present();
        int[][] more = {{2, 6, 3}};
        try (GradMode.Scope s = GradMode.noGrad()) {
            scored = model.forward(more, rows, LlamaModel.Options.LOGITS_ONLY);
        }
        assertArrayEquals(step(more, exact, false).logits().data().data(), scored.logits().data().data(), 0.0);
        LlamaModel.Output e = step(new int[][] {{5}}, exact, false);
        LlamaModel.Output r = step(new int[][] {{5}}, rows, true);
        assertArrayEquals(e.logits().data().data(), r.logits().data().data(), 0.0);
        assertSameCache(e.present(), r.present());
    }

    private static Tensor squeeze(Tensor t) {
        return t.reshape(t.dim(1), t.dim(2), t.dim(3));
    }
}
