package intactkv.autograd;

import static intactkv.autograd.GradCheck.DEFAULT_TOLERANCE;
import static intactkv.autograd.GradCheck.assertGradients;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.tensor.Init;
import intactkv.tensor.Masks;
import intactkv.tensor.Tensor;
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
        Value probs = Functional.softmax(Arithmetic.add(scores, Value.constant(Masks.causal(t, s - t))), -1);
        return Shaping.reshape(LinearAlgebra.matmul(probs, v5), b, h, t, dh);
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

    @Test
    @ChecksGradientOf("Attention.causal")
    void finiteDifferences() {
        assertGradients("attention MHA", in -> Attention.causal(in[0], in[1], in[2]), 1, DEFAULT_TOLERANCE,
                Init.normal(rng, 1, 1, 2, 4, 4), Init.normal(rng, 1, 1, 2, 4, 4), Init.normal(rng, 1, 1, 2, 4, 4));
        assertGradients("attention GQA with a past", in -> Attention.causal(in[0], in[1], in[2]), 2,
                DEFAULT_TOLERANCE, Init.normal(rng, 1, 2, 4, 3, 2), Init.normal(rng, 1, 2, 2, 5, 2),
                Init.normal(rng, 1, 2, 2, 5, 2));
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
