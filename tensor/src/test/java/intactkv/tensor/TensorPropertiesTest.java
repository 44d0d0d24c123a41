package intactkv.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.booleans;
import static org.quicktheories.generators.SourceDSL.doubles;
import static org.quicktheories.generators.SourceDSL.integers;

import intactkv.tensor.HalfFloat.Format;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Property-based tests (QuickTheories, fixed seeds, shrinking on failure) of invariants that
 * must hold for every input, not just the hand-picked ones.
 */
class TensorPropertiesTest {
    /** For all M, N, K and all four operand layouts: the fast kernel equals the scalar reference bit for bit. */
    @Test
    void gemmKernelEqualsReferenceForAllSizes() {
        qt().withFixedSeed(101).withExamples(150)
                .forAll(integers().between(1, 40), integers().between(1, 80), integers().between(1, 600),
                        integers().between(0, 3))
                .checkAssert((m, n, k, layout) -> {
                    boolean transA = (layout & 1) != 0;
                    boolean transB = (layout & 2) != 0;
                    Random rng = new Random(31L * m + 7L * n + k);
                    double[] a = Init.normal(rng, 1, m * k).data();
                    double[] b = Init.normal(rng, 1, k * n).data();
                    double[] c = new double[m * n];
                    double[] r = new double[m * n];
                    Gemm.multiply(m, n, k, a, 0, transA, b, 0, transB, c, 0, true);
                    Gemm.reference(m, n, k, a, 0, transA, b, 0, transB, r, 0);
                    assertArrayEquals(r, c, 0.0);
                });
    }

    /**
     * For all finite x: round(x) is a fixed point of round, and |x - round(x)| is at most half
     * the format's spacing at x (or x overflowed past the largest finite value).
     */
    @Test
    void halfRoundingIsNearestAndIdempotent() {
        qt().withFixedSeed(102).withExamples(2000)
                .forAll(doubles().between(-1.0, 1.0), integers().between(-30, 20), booleans().all())
                .checkAssert((mantissa, exponent, bf16) -> {
                    Format f = bf16 ? Format.BF16 : Format.FP16;
                    double x = Math.scalb(mantissa, exponent);
                    double r = HalfFloat.round(x, f);
                    assertEquals(r, HalfFloat.round(r, f), 0.0);
                    if (Double.isFinite(r)) {
                        int e = Math.max(Math.getExponent(x), bf16 ? -126 : -14);
                        double halfSpacing = Math.scalb(1.0, e - (bf16 ? 7 : 10) - 1);
                        assertTrue(Math.abs(x - r) <= halfSpacing, x + " -> " + r);
                    } else {
                        assertTrue(Math.abs(x) >= f.maxFinite(), x + " overflowed");
                    }
                });
    }

    /** For all broadcastable pairs: {@code <broadcast(s), t> = <s, sumTo(t)>} (sumTo is the adjoint). */
    @Test
    void sumToIsAdjointOfBroadcastForAllShapes() {
        qt().withFixedSeed(103).withExamples(200)
                .forAll(integers().between(1, 4), integers().between(1, 4), integers().between(1, 4),
                        integers().between(0, 7))
                .checkAssert((d0, d1, d2, mask) -> {
                    int[] big = {d0, d1, d2};
                    int[] small = {(mask & 1) != 0 ? 1 : d0, (mask & 2) != 0 ? 1 : d1, (mask & 4) != 0 ? 1 : d2};
                    Random rng = new Random(mask * 100L + d0 * 10L + d1 + d2);
                    Tensor s = Init.normal(rng, 1, small);
                    Tensor t = Init.normal(rng, 1, big);
                    double lhs = Reduce.sum(Elementwise.broadcastTo(s, t.shape()).mul(t), false).item();
                    double rhs = Reduce.sum(s.mul(Reduce.sumTo(t, s.shape())), false).item();
                    assertEquals(lhs, rhs, 1e-12 * (1 + Math.abs(lhs)));
                });
    }
}
