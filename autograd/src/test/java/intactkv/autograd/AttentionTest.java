package intactkv.autograd;

import static intactkv.autograd.GradCheck.DEFAULT_TOLERANCE;
import static intactkv.autograd.GradCheck.assertGradients;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.tensor.ElementDtype;
import intactkv.tensor.Init;
import intactkv.tensor.NarrowArray;
import intactkv.tensor.Masks;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The fused attention against its composed definition
 * {@code softmax(matmulTransB(q, k) / sqrt(d_h) + mask) v} (values bit for bit, gradients to
 * rounding), against finite differences, and against a hand-worked case.
 */
class AttentionTest {
    private final Random rng = new Random(2024);

    /** The composed form the model used before the fused op, grouped heads as (B, h_kv, g, T, d_h). */
    private static Value composed(Value q, Value k, Value v) {
        int t = q.shape().dim(2);
        return composed(q, k, v, Masks.causal(t, k.shape().dim(2) - t));
    }

    /** The composed form with an additive {@code mask} that broadcasts against the scores (B, h_kv, g, T, p+T). */
    private static Value composed(Value q, Value k, Value v, Tensor mask) {
        int b = q.shape().dim(0);
        int h = q.shape().dim(1);
        int t = q.shape().dim(2);
        int dh = q.shape().dim(3);
        int hkv = k.shape().dim(1);
        int s = k.shape().dim(2);
        Value q5 = Shaping.reshape(q, b, hkv, h / hkv, t, dh);
        Value k5 = Shaping.reshape(k, b, hkv, 1, s, dh);
        Value v5 = Shaping.reshape(v, b, hkv, 1, s, dh);
        Value scores = Arithmetic.div(LinearAlgebra.matmulTransB(q5, k5), Value.constant(Tensor.scalar(Math.sqrt(dh))));
        Value probs = Functional.softmax(Arithmetic.add(scores, Value.constant(mask)), -1);
        return Shaping.reshape(LinearAlgebra.matmul(probs, v5), b, h, t, dh);
    }

    /** One case: q, k, v, and k, v in buffers whose spare rows hold NaN (reading one shows), for {@code keys} keys. */
    private record Case(String name, Tensor q, Tensor k, Tensor v, Tensor kBuf, Tensor vBuf, int keys) {
    }

    /** Random cases, each spec (B, h, h_kv, T, p, d_h, spare rows). */
    private List<Case> cases(int[][] specs) {
        List<Case> out = new ArrayList<>();
        for (int[] c : specs) {
            int keys = c[4] + c[3];
            Tensor k = Init.normal(rng, 2.0, c[0], c[2], keys, c[5]);
            Tensor v = Init.normal(rng, 1.0, c[0], c[2], keys, c[5]);
            out.add(new Case(java.util.Arrays.toString(c), Init.normal(rng, 2.0, c[0], c[1], c[3], c[5]), k, v,
                    withSpareRows(k, keys + c[6]), withSpareRows(v, keys + c[6]), keys));
        }
        return out;
    }

    /** {@code x} (B, h_kv, keys, d_h) in a buffer of {@code cap} rows a head, the spare rows NaN. */
    private static Tensor withSpareRows(Tensor x, int cap) {
        int heads = x.dim(0) * x.dim(1);
        int keys = x.dim(2);
        int dh = x.dim(3);
        Tensor buf = Tensor.wrap(new double[heads * cap * dh], x.dim(0), x.dim(1), cap, dh);
        java.util.Arrays.fill(buf.data(), Double.NaN);
        for (int head = 0; head < heads; head++) {
            System.arraycopy(x.data(), head * keys * dh, buf.data(), head * cap * dh, keys * dh);
        }
        return buf;
    }

    /**
     * Attention over the used rows of buffers with spare rows (decoding with a KV cache of spare
     * capacity) gives the output and probabilities of causalWithProbs on exactly those rows, bit for
     * bit, whatever the spare rows hold (NaN here, so reading one would show).
     */
    @Test
    void attentionOverBufferRowsIgnoresTheSpareRows() {
        // (B, h, h_kv, T, p, d_h, spare rows)
        for (Case x : cases(new int[][] {{1, 4, 2, 1, 9, 8, 7}, {2, 6, 3, 3, 5, 4, 1}, {1, 2, 2, 5, 0, 16, 11}})) {
            Tensor q = x.q();
            Tensor k = x.k();
            Tensor v = x.v();
            Attention.Result exact = Attention.causalWithProbs(Value.constant(q), Value.constant(k), Value.constant(v));
            Attention.Result rows;
            try (GradMode.Scope s = GradMode.noGrad()) {
                rows = Attention.causalOnRows(Value.constant(q), x.kBuf(), x.vBuf(), x.keys());
            }
            assertArrayEquals(exact.output().data().data(), rows.output().data().data(), 0.0, x.name());
            assertArrayEquals(exact.probs().data(), rows.probs().data(), 0.0, x.name());
            assertEquals(exact.probs().shape(), rows.probs().shape());
        }
        Tensor q = Init.normal(rng, 1.0, 1, 2, 3, 4);
        Tensor buf = Init.normal(rng, 1.0, 1, 2, 8, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Attention.causalOnRows(Value.constant(q), buf, buf, 9));
        assertTrue(e.getMessage().contains("9 keys used of 8 rows"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Attention.causalOnRows(Value.constant(q), buf, buf, 2));
        Value trainable = Value.param(q);
        assertThrows(IllegalStateException.class, () -> Attention.causalOnRows(trainable, buf, buf, 5));
    }

    /** {@code x}'s elements rounded to {@code d} and held narrow. */
    private static NarrowArray narrow(Tensor x, ElementDtype d) {
        NarrowArray a = NarrowArray.zeros(d, x.data().length);
        a.write(x.data(), 0, 0, x.data().length);
        return a;
    }

    /**
     * Attention over narrow buffers (a KV cache of F32, F16 or BF16: the rows of each pair widened into a scratch)
     * gives, bit for bit, the output and probabilities of causalWithProbs on the keys and values rounded to that
     * format in double, whatever the spare rows hold; the output alone is the same. F16 changes the output of the
     * unrounded keys and values, so the rounding is really applied. Narrow buffers of the wrong size are refused.
     */
    @Test
    void attentionOverNarrowBuffersIsAttentionOverTheRoundedRows() {
        for (Case x : cases(new int[][] {{1, 4, 2, 1, 9, 8, 7}, {2, 6, 3, 6, 5, 4, 1}, {1, 2, 2, 5, 0, 16, 11}})) {
            for (ElementDtype d : new ElementDtype[] {ElementDtype.F32, ElementDtype.F16, ElementDtype.BF16}) {
                Tensor kr = intactkv.tensor.Elementwise.map(x.k(), d::round);
                Tensor vr = intactkv.tensor.Elementwise.map(x.v(), d::round);
                Attention.Result exact = Attention.causalWithProbs(Value.constant(x.q()), Value.constant(kr),
                        Value.constant(vr));
                Attention.Result rows;
                Tensor out;
                try (GradMode.Scope s = GradMode.noGrad()) {
                    NarrowArray nk = narrow(x.kBuf(), d);
                    NarrowArray nv = narrow(x.vBuf(), d);
                    rows = Attention.causalOnRows(Value.constant(x.q()), nk, nv, x.kBuf().shape(), x.keys());
                    out = Attention.causalOutputOnRows(Value.constant(x.q()), nk, nv, x.kBuf().shape(), x.keys());
                }
                String what = x.name() + " " + d;
                assertArrayEquals(exact.output().data().data(), rows.output().data().data(), 0.0, what);
                assertArrayEquals(exact.probs().data(), rows.probs().data(), 0.0, what);
                assertArrayEquals(exact.output().data().data(), out.data(), 0.0, what);
                if (d == ElementDtype.F16) {
                    Tensor unrounded = Attention.causal(Value.constant(x.q()), Value.constant(x.k()),
                            Value.constant(x.v())).data();
                    assertTrue(!java.util.Arrays.equals(unrounded.data(), out.data()), what);
                }
            }
        }
        Tensor q = Init.normal(rng, 1.0, 1, 2, 3, 4);
        NarrowArray small = NarrowArray.zeros(ElementDtype.F32, 2 * 8 * 4 - 1);
        IllegalArgumentException e;
        try (GradMode.Scope s = GradMode.noGrad()) {
            e = assertThrows(IllegalArgumentException.class, () -> Attention.causalOutputOnRows(Value.constant(q),
                    small, small, intactkv.tensor.Shape.of(1, 2, 8, 4), 5));
        }
        assertEquals("attention: narrow key/value buffers of 63 and 63 elements for a shape (1, 2, 8, 4) of 64",
                e.getMessage());
    }

    /**
     * The output without probabilities (a scratch of four probability rows per thread, reused across heads and
     * blocks of queries) equals causalWithProbs's output bit for bit and the composed form's too: T not a multiple
     * of four (the last, shorter block), GQA (g heads share a scratch), a past, spare rows holding NaN, and a
     * scratch reused by rows of fewer keys than the row before (stale values beyond a row's keys never read).
     */
    @Test
    void outputWithoutProbabilitiesIsBitIdentical() {
        // (B, h, h_kv, T, p, d_h, spare rows)
        for (Case x : cases(new int[][] {{1, 4, 2, 7, 0, 8, 0}, {2, 6, 3, 10, 5, 4, 3}, {1, 2, 1, 1, 9, 6, 2},
            {1, 3, 3, 37, 0, 16, 0}, {2, 8, 2, 66, 1, 8, 5}})) {
            Tensor q = x.q();
            Tensor k = x.k();
            Tensor v = x.v();
            Value withProbs = Attention.causalWithProbs(Value.constant(q), Value.constant(k), Value.constant(v)).output();
            Value ref = composed(Value.constant(q), Value.constant(k), Value.constant(v));
            Tensor exact;
            Tensor rows;
            try (GradMode.Scope s = GradMode.noGrad()) {
                exact = Attention.causalOutputOnRows(Value.constant(q), k, v, x.keys());
                rows = Attention.causalOutputOnRows(Value.constant(q), x.kBuf(), x.vBuf(), x.keys());
            }
            String name = x.name();
            assertEquals(withProbs.shape(), exact.shape(), name);
            assertArrayEquals(withProbs.data().data(), exact.data(), 0.0, name);
            assertArrayEquals(withProbs.data().data(), rows.data(), 0.0, name);
            assertArrayEquals(ref.data().data(), exact.data(), 0.0, name);
        }
        Tensor q = Init.normal(rng, 1.0, 1, 2, 3, 4);
        Tensor buf = Init.normal(rng, 1.0, 1, 2, 8, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Attention.causalOutputOnRows(Value.constant(q), buf, buf, 9));
        assertTrue(e.getMessage().contains("9 keys used of 8 rows"), e.getMessage());
        Value trainable = Value.param(q);
        assertThrows(IllegalStateException.class, () -> Attention.causalOutputOnRows(trainable, buf, buf, 5));
    }

    @Test
    void forwardIsBitIdenticalToTheComposedForm() {
        // (B, h, h_kv, T, p, d_h): MHA, GQA, a past, one query, T and d_h not multiples of the vector width
        int[][] cases = {{2, 4, 4, 7, 0, 8}, {1, 6, 2, 5, 3, 4}, {2, 2, 1, 1, 9, 6}, {1, 3, 3, 37, 0, 16},
            {1, 2, 1, 300, 20, 16}};
        for (int[] c : cases) {
            Tensor q = Init.normal(rng, 2.0, c[0], c[1], c[3], c[5]);
            Tensor k = Init.normal(rng, 2.0, c[0], c[2], c[4] + c[3], c[5]);
            Tensor v = Init.normal(rng, 1.0, c[0], c[2], c[4] + c[3], c[5]);
            Attention.Result fused = Attention.causalWithProbs(Value.constant(q), Value.constant(k), Value.constant(v));
            Value ref = composed(Value.constant(q), Value.constant(k), Value.constant(v));
            assertArrayEquals(ref.data().data(), fused.output().data().data(), 0.0, java.util.Arrays.toString(c));
            // probabilities: rows sum to 1 and masked keys are exactly 0
            Tensor p = fused.probs();
            int s = c[4] + c[3];
            for (int row = 0; row < c[0] * c[1] * c[3]; row++) {
                int t = row % c[3];
                double sum = 0;
                for (int j = 0; j < s; j++) {
                    double pj = p.data()[row * s + j];
                    if (j > c[4] + t) {
                        assertEquals(0.0, pj);
                    }
                    sum += pj;
                }
                assertEquals(1.0, sum, 1e-13);
            }
        }
    }

    @Test
    void gradientMatchesTheComposedForm() {
        int[][] cases = {{2, 4, 2, 9, 0, 8}, {1, 3, 1, 4, 5, 6}, {1, 2, 2, 40, 3, 16}};
        for (int[] c : cases) {
            Tensor q = Init.normal(rng, 1.5, c[0], c[1], c[3], c[5]);
            Tensor k = Init.normal(rng, 1.5, c[0], c[2], c[4] + c[3], c[5]);
            Tensor v = Init.normal(rng, 1.0, c[0], c[2], c[4] + c[3], c[5]);
            Tensor g = Init.normal(rng, 1.0, c[0], c[1], c[3], c[5]);
            Value[] fused = {Value.param(q.copy()), Value.param(k.copy()), Value.param(v.copy())};
            Value[] ref = {Value.param(q.copy()), Value.param(k.copy()), Value.param(v.copy())};
            Attention.causal(fused[0], fused[1], fused[2]).backward(g);
            composed(ref[0], ref[1], ref[2]).backward(g);
            for (int i = 0; i < 3; i++) {
                // sums of up to 43 terms of order 1 in another order: a few ulps of values of order 10
                assertArrayEquals(ref[i].grad().data(), fused[i].grad().data(), 1e-12,
                        java.util.Arrays.toString(c) + " input " + i);
            }
        }
    }

    /**
     * The backward sums in the order its Javadoc states, bit for bit: a scalar loop, one
     * {@code Math.fma} per term, dP_ts = G_t . V_s over d_h, dS = P (dP - sum_s dP P) / sqrt(d_h),
     * dQ_t = sum_s dS_ts K_s over keys in order, dK_s = sum over the group's heads, then queries t in
     * order, of dS_ts Q_t, and dV_s likewise of P_ts G_t. The kernel blocks queries and keys by four
     * (Axpy.combine4); these sizes cover T below, at and past multiples of four, a past and GQA.
     */
    @Test
    void backwardSumsInTheStatedOrder() {
        int[][] cases = {{1, 2, 2, 3, 0, 16}, {2, 4, 2, 9, 0, 8}, {1, 4, 2, 23, 5, 16}, {1, 2, 1, 40, 0, 6},
            {1, 1, 1, 8, 2, 16}};
        for (int[] c : cases) {
            int b = c[0];
            int h = c[1];
            int hkv = c[2];
            int t = c[3];
            int p = c[4];
            int dh = c[5];
            int s = p + t;
            int g = h / hkv;
            Tensor q = Init.normal(rng, 1.5, b, h, t, dh);
            Tensor k = Init.normal(rng, 1.5, b, hkv, s, dh);
            Tensor v = Init.normal(rng, 1.0, b, hkv, s, dh);
            Tensor go = Init.normal(rng, 1.0, b, h, t, dh);
            Value[] in = {Value.param(q.copy()), Value.param(k.copy()), Value.param(v.copy())};
            Attention.Result r = Attention.causalWithProbs(in[0], in[1], in[2]);
            r.output().backward(go);
            double[] pr = r.probs().data();
            double[] gq = new double[q.data().length];
            double[] gk = new double[k.data().length];
            double[] gv = new double[v.data().length];
            double[] qd = q.data();
            double[] kd = k.data();
            double[] vd = v.data();
            double[] gd = go.data();
            for (int bi = 0; bi < b; bi++) {
                for (int kvh = 0; kvh < hkv; kvh++) {
                    int kv = (bi * hkv + kvh) * s * dh;
                    double[][] ds = new double[g][t * s];
                    for (int gi = 0; gi < g; gi++) {
                        int head = bi * h + kvh * g + gi;
                        for (int ti = 0; ti < t; ti++) {
                            int keys = p + ti + 1;
                            int row = (head * t + ti) * s;
                            int qr = (head * t + ti) * dh;
                            double dot = 0;
                            for (int si = 0; si < keys; si++) {
                                double dp = 0;
                                for (int j = 0; j < dh; j++) {
                                    dp = Math.fma(gd[qr + j], vd[kv + si * dh + j], dp);
                                }
                                ds[gi][ti * s + si] = dp;
                                dot += dp * pr[row + si];
                            }
                            for (int si = 0; si < keys; si++) {
                                ds[gi][ti * s + si] = pr[row + si] * (ds[gi][ti * s + si] - dot) / Math.sqrt(dh);
                            }
                            for (int j = 0; j < dh; j++) {
                                double acc = 0;
                                for (int si = 0; si < keys; si++) {
                                    acc = Math.fma(ds[gi][ti * s + si], kd[kv + si * dh + j], acc);
                                }
                                gq[qr + j] = acc;
                            }
                        }
                    }
                    for (int si = 0; si < s; si++) {
                        for (int j = 0; j < dh; j++) {
                            double ak = 0;
                            double av = 0;
                            for (int gi = 0; gi < g; gi++) {
                                int head = bi * h + kvh * g + gi;
                                for (int ti = Math.max(0, si - p); ti < t; ti++) {
                                    int qr = (head * t + ti) * dh;
                                    ak = Math.fma(ds[gi][ti * s + si], qd[qr + j], ak);
                                    av = Math.fma(pr[(head * t + ti) * s + si], gd[qr + j], av);
                                }
                            }
                            gk[kv + si * dh + j] = ak;
                            gv[kv + si * dh + j] = av;
                        }
                    }
                }
            }
            String name = java.util.Arrays.toString(c);
            assertArrayEquals(gq, in[0].grad().data(), 0.0, name + " dQ");
            assertArrayEquals(gk, in[1].grad().data(), 0.0, name + " dK");
            assertArrayEquals(gv, in[2].grad().data(), 0.0, name + " dV");
        }
    }

    @Test
    @ChecksGradientOf("Attention.causal")
    void finiteDifferences() {
        assertGradients("attention MHA", in -> Attention.causal(in[0], in[1], in[2]), 1, DEFAULT_TOLERANCE,
                Init.normal(rng, 1, 1, 2, 4, 4), Init.normal(rng, 1, 1, 2, 4, 4), Init.normal(rng, 1, 1, 2, 4, 4));
        assertGradients("attention GQA with a past", in -> Attention.causal(in[0], in[1], in[2]), 2,
                DEFAULT_TOLERANCE, Init.normal(rng, 1, 2, 4, 3, 2), Init.normal(rng, 1, 2, 2, 5, 2),
                Init.normal(rng, 1, 2, 2, 5, 2));
    }

    /** The composed form with an explicit additive document mask (B, 1, 1, T, p+T): -inf where the fused op masks. */
    private static Value composedDocumentMasked(Value q, Value k, Value v, int[][] from) {
        int b = q.shape().dim(0);
        int t = q.shape().dim(2);
        int s = k.shape().dim(2);
        double[] mask = new double[b * t * s];
        for (int bi = 0; bi < b; bi++) {
            for (int ti = 0; ti < t; ti++) {
                for (int j = 0; j < s; j++) {
                    boolean visible = j <= s - t + ti && (j == 0 || j >= from[bi][ti]);
                    mask[(bi * t + ti) * s + j] = visible ? 0.0 : Double.NEGATIVE_INFINITY;
                }
            }
        }
        return composed(q, k, v, Tensor.wrap(mask, b, 1, 1, t, s));
    }

    /** Each query's document start: documents of random lengths 1..6 after key 0, over the p + T keys. */
    private int[][] randomDocuments(int b, int t, int p) {
        int[][] from = new int[b][t];
        for (int bi = 0; bi < b; bi++) {
            int start = 1;
            int next = 1 + 1 + rng.nextInt(6);
            for (int key = 0; key < p + t; key++) {
                if (key == next) {
                    start = key;
                    next = key + 1 + rng.nextInt(6);
                }
                if (key >= p) {
                    from[bi][key - p] = Math.max(1, start);
                }
            }
        }
        return from;
    }

    @Test
    void documentMaskIsBitIdenticalToAnExplicitMaskAndSoIsItsGradient() {
        int[][] cases = {{2, 4, 2, 19, 0, 8}, {1, 3, 1, 12, 5, 6}, {1, 2, 2, 40, 0, 16}};
        for (int[] c : cases) {
            Tensor q = Init.normal(rng, 1.5, c[0], c[1], c[3], c[5]);
            Tensor k = Init.normal(rng, 1.5, c[0], c[2], c[4] + c[3], c[5]);
            Tensor v = Init.normal(rng, 1.0, c[0], c[2], c[4] + c[3], c[5]);
            Tensor g = Init.normal(rng, 1.0, c[0], c[1], c[3], c[5]);
            int[][] from = randomDocuments(c[0], c[3], c[4]);
            Value[] fused = {Value.param(q.copy()), Value.param(k.copy()), Value.param(v.copy())};
            Value[] ref = {Value.param(q.copy()), Value.param(k.copy()), Value.param(v.copy())};
            Attention.Result r = Attention.causalWithProbs(fused[0], fused[1], fused[2], from);
            Value expected = composedDocumentMasked(ref[0], ref[1], ref[2], from);
            assertArrayEquals(expected.data().data(), r.output().data().data(), 0.0, java.util.Arrays.toString(c));
            int s = c[4] + c[3];
            for (int row = 0; row < c[0] * c[1] * c[3]; row++) {
                int bi = row / (c[1] * c[3]);
                int t = row % c[3];
                for (int j = 1; j < from[bi][t]; j++) {
                    assertEquals(0.0, r.probs().data()[row * s + j], "masked key " + j + " of row " + row);
                }
            }
            r.output().backward(g);
            expected.backward(g);
            for (int i = 0; i < 3; i++) {
                // as gradientMatchesTheComposedForm: sums of up to 45 terms of order 1 in another order
                assertArrayEquals(ref[i].grad().data(), fused[i].grad().data(), 1e-12,
                        java.util.Arrays.toString(c) + " input " + i);
            }
        }
    }

    @Test
    @ChecksGradientOf("Attention.causal")
    void documentMaskFiniteDifferences() {
        int[][] from = {{1, 1, 2, 2, 4}, {1, 1, 1, 3, 3}};
        assertGradients("attention with a document mask",
                in -> Attention.causalWithProbs(in[0], in[1], in[2], from).output(), 3, DEFAULT_TOLERANCE,
                Init.normal(rng, 1, 2, 2, 5, 3), Init.normal(rng, 1, 2, 1, 5, 3), Init.normal(rng, 1, 2, 1, 5, 3));
    }

    @Test
    void documentMaskHandWorkedCaseAndBadRows() {
        // one head, d_h 1, three tokens, query 2 starts a document: it sees keys 0 and 2 only
        Value q = Value.constant(Tensor.of(new double[] {0, 0, 0}, 1, 1, 3, 1));
        Value k = Value.constant(Tensor.of(new double[] {1, 1, 1}, 1, 1, 3, 1));
        Value v = Value.constant(Tensor.of(new double[] {3, 5, 9}, 1, 1, 3, 1));
        Attention.Result r = Attention.causalWithProbs(q, k, v, new int[][] {{1, 1, 2}});
        assertArrayEquals(new double[] {3, 4, 6}, r.output().data().data(), 0.0);
        assertArrayEquals(new double[] {1, 0, 0, 0.5, 0.5, 0, 0.5, 0, 0.5}, r.probs().data(), 0.0);
        // a query must see itself; the mask has one row per sequence and one entry per query
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Attention.causalWithProbs(q, k, v, new int[][] {{1, 1, 3}}));
        assertTrue(e.getMessage().contains("visibleFrom[0][2] = 3"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Attention.causalWithProbs(q, k, v, new int[][] {{0, 1, 1}}));
        assertThrows(IllegalArgumentException.class, () -> Attention.causalWithProbs(q, k, v, new int[][] {{1, 1}}));
        assertThrows(IllegalArgumentException.class,
                () -> Attention.causalWithProbs(q, k, v, new int[][] {{1, 1, 1}, {1, 1, 1}}));
    }

    /** The composed form with an explicit additive mask for {@link Attention.Mask}: -inf where the fused op masks. */
    private static Value composedMasked(Value q, Value k, Value v, int[][] from, boolean[][] self) {
        int b = q.shape().dim(0);
        int t = q.shape().dim(2);
        int s = k.shape().dim(2);
        double[] mask = new double[b * t * s];
        for (int bi = 0; bi < b; bi++) {
            for (int ti = 0; ti < t; ti++) {
                int pos = s - t + ti; // the query's own key
                for (int j = 0; j < s; j++) {
                    boolean visible = j <= pos && (from == null || j == 0 || j >= from[bi][ti])
                            && (self == null || !self[bi][j] || j == pos);
                    mask[(bi * t + ti) * s + j] = visible ? 0.0 : Double.NEGATIVE_INFINITY;
                }
            }
        }
        return composed(q, k, v, Tensor.wrap(mask, b, 1, 1, t, s));
    }

    /** Random self-only keys (about one in four, never key 0) over the p + T keys of each sequence. */
    private boolean[][] randomSelfOnly(int b, int keys) {
        boolean[][] self = new boolean[b][keys];
        for (int bi = 0; bi < b; bi++) {
            for (int j = 1; j < keys; j++) {
                self[bi][j] = rng.nextInt(4) == 0;
            }
        }
        return self;
    }

    /**
     * Self-only keys (the trainer's hidden separators), alone and with a document mask, with and
     * without a past: the output bit for bit equal to the composed form under the explicit mask,
     * probability exactly 0 on every hidden key before its query, and the gradients equal to rounding.
     */
    @Test
    void selfOnlyKeysAreBitIdenticalToAnExplicitMaskAndSoIsTheirGradient() {
        int[][] cases = {{2, 4, 2, 19, 0, 8}, {1, 3, 1, 12, 5, 6}, {1, 2, 2, 40, 0, 16}};
        for (int[] c : cases) {
            for (boolean withDocuments : new boolean[] {false, true}) {
                int keys = c[4] + c[3];
                Tensor q = Init.normal(rng, 1.5, c[0], c[1], c[3], c[5]);
                Tensor k = Init.normal(rng, 1.5, c[0], c[2], keys, c[5]);
                Tensor v = Init.normal(rng, 1.0, c[0], c[2], keys, c[5]);
                Tensor g = Init.normal(rng, 1.0, c[0], c[1], c[3], c[5]);
                int[][] from = withDocuments ? randomDocuments(c[0], c[3], c[4]) : null;
                boolean[][] self = randomSelfOnly(c[0], keys);
                String name = java.util.Arrays.toString(c) + (withDocuments ? " with documents" : "");
                Value[] fused = {Value.param(q.copy()), Value.param(k.copy()), Value.param(v.copy())};
                Value[] ref = {Value.param(q.copy()), Value.param(k.copy()), Value.param(v.copy())};
                Attention.Result r = Attention.causalWithProbs(fused[0], fused[1], fused[2], new Attention.Mask(from, self));
                Value expected = composedMasked(ref[0], ref[1], ref[2], from, self);
                assertArrayEquals(expected.data().data(), r.output().data().data(), 0.0, name);
                for (int row = 0; row < c[0] * c[1] * c[3]; row++) {
                    int bi = row / (c[1] * c[3]);
                    int pos = c[4] + row % c[3];
                    for (int j = 1; j < pos; j++) {
                        if (self[bi][j]) {
                            assertEquals(0.0, r.probs().data()[row * keys + j], name + " hidden key " + j + " of row " + row);
                        }
                    }
                }
                r.output().backward(g);
                expected.backward(g);
                for (int i = 0; i < 3; i++) {
                    // as gradientMatchesTheComposedForm: sums of up to 45 terms of order 1 in another order
                    assertArrayEquals(ref[i].grad().data(), fused[i].grad().data(), 1e-12, name + " input " + i);
                }
            }
        }
    }

    @Test
    @ChecksGradientOf("Attention.causal")
    void selfOnlyKeysFiniteDifferences() {
        boolean[][] self = {{false, true, false, true, false}, {false, false, true, true, false}};
        assertGradients("attention with self-only keys",
                in -> Attention.causalWithProbs(in[0], in[1], in[2], new Attention.Mask(null, self)).output(), 3,
                DEFAULT_TOLERANCE, Init.normal(rng, 1, 2, 2, 5, 3), Init.normal(rng, 1, 2, 1, 5, 3),
                Init.normal(rng, 1, 2, 1, 5, 3));
    }

    @Test
    void selfOnlyHandWorkedCaseAndBadRows() {
        // one head, d_h 1, three tokens with equal scores, key 1 self-only: query 1 sees keys 0 and 1,
        // query 2 sees keys 0 and 2 only
        Value q = Value.constant(Tensor.of(new double[] {0, 0, 0}, 1, 1, 3, 1));
        Value k = Value.constant(Tensor.of(new double[] {1, 1, 1}, 1, 1, 3, 1));
        Value v = Value.constant(Tensor.of(new double[] {3, 5, 9}, 1, 1, 3, 1));
        Attention.Result r = Attention.causalWithProbs(q, k, v, new Attention.Mask(null, new boolean[][] {{false, true, false}}));
        assertArrayEquals(new double[] {3, 4, 6}, r.output().data().data(), 0.0);
        assertArrayEquals(new double[] {1, 0, 0, 0.5, 0.5, 0, 0.5, 0, 0.5}, r.probs().data(), 0.0);
        // all false is plain causal attention, bit for bit
        Attention.Result plain = Attention.causalWithProbs(q, k, v);
        assertArrayEquals(plain.probs().data(), Attention.causalWithProbs(q, k, v,
                new Attention.Mask(null, new boolean[][] {{false, false, false}})).probs().data(), 0.0);
        // key 0 is seen by every query; one row per sequence, one entry per key
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Attention.causalWithProbs(q, k, v,
                new Attention.Mask(null, new boolean[][] {{true, false, false}})));
        assertTrue(e.getMessage().contains("selfOnly[0][0]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Attention.causalWithProbs(q, k, v,
                new Attention.Mask(null, new boolean[][] {{false, false}})));
        assertTrue(e.getMessage().contains("selfOnly row 0 has 2 entries for 3 keys"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Attention.causalWithProbs(q, k, v,
                new Attention.Mask(null, new boolean[][] {{false, false, false}, {false, false, false}})));
    }

    @Test
    void handWorkedCase() {
        // one head, d_h 1, two tokens: q = (0, 2), k = (1, 1), v = (3, 5)
        Value q = Value.constant(Tensor.of(new double[] {0, 2}, 1, 1, 2, 1));
        Value k = Value.constant(Tensor.of(new double[] {1, 1}, 1, 1, 2, 1));
        Value v = Value.constant(Tensor.of(new double[] {3, 5}, 1, 1, 2, 1));
        Attention.Result r = Attention.causalWithProbs(q, k, v);
        // token 0 sees only itself; token 1 has equal scores 2 and 2: weights 1/2, 1/2
        assertArrayEquals(new double[] {3, 4}, r.output().data().data(), 0.0);
        assertArrayEquals(new double[] {1, 0, 0.5, 0.5}, r.probs().data(), 0.0);
    }

    @Test
    void badShapesAreNamed() {
        Value q = Value.constant(Tensor.zeros(1, 3, 2, 4));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Attention.causal(q, Value.constant(Tensor.zeros(1, 2, 2, 4)), Value.constant(Tensor.zeros(1, 2, 2, 4))));
        assertTrue(e.getMessage().contains("[1, 3, 2, 4]") || e.getMessage().contains("(1, 3, 2, 4)"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Attention.causal(q, Value.constant(Tensor.zeros(1, 3, 1, 4)),
                Value.constant(Tensor.zeros(1, 3, 1, 4))));
        assertThrows(IllegalArgumentException.class, () -> Attention.causal(q, Value.constant(Tensor.zeros(1, 3, 2, 4)),
                Value.constant(Tensor.zeros(1, 3, 3, 4))));
    }
}
