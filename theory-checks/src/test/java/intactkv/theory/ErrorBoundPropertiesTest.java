package intactkv.theory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.booleans;
import static org.quicktheories.generators.SourceDSL.doubles;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.longs;

import org.junit.jupiter.api.Test;

/**
 * Property tests of {@link AttentionErrorBound} (QuickTheories, fixed seeds, shrinking). Each
 * states the theorem it checks; a failure message carries the case and the values found.
 * Floating-point slack: a bound is compared with {@code (1 + 1e-9)} headroom, far below any
 * real violation and above the rounding of norms computed by SVD.
 */
class ErrorBoundPropertiesTest {
    static final double SLACK = 1 + 1e-9;

    /**
     * Theorem B and bounds A and T hold: for random heads of n = 1..512 tokens and d = 1..128,
     * K/V errors from the project's quantizers at 2..8 bits (per token or group-wise), query
     * errors on or off, sink or diffuse heads: {@code actual <= T <= B} and {@code actual <= A}.
     */
    @Test
    void boundsHoldForQuantizedHeads() {
        qt().withFixedSeed(301).withExamples(120)
                .forAll(integers().between(1, 512), integers().between(1, 128), integers().between(2, 8),
                        integers().between(0, 7))
                .checkAssert((n, d, bits, flags) -> {
                    AttentionErrorBound.Head h = RandomHeads.generate(n, d, bits, (flags & 1) != 0, (flags & 2) != 0,
                            (flags & 4) != 0, 1000L * n + d);
                    AttentionErrorBound.Evaluation e = AttentionErrorBound.evaluate(h);
                    String c = "n=" + n + " d=" + d + " bits=" + bits + " flags=" + flags + ": actual " + e.actual()
                            + ", T " + e.boundT() + ", B " + e.boundB() + ", A " + e.boundA();
                    assertTrue(e.actual() <= e.boundT() * SLACK + 1e-15, c);
                    assertTrue(e.boundT() <= e.boundB() * SLACK + 1e-15, c);
                    assertTrue(e.actual() <= e.boundA() * SLACK + 1e-15, c);
                });
    }

    /**
     * Corollary: the IntactKV bound never exceeds the plain bound, for every prefix length p,
     * and it falls by exactly {@code sum_{i<p} a_i ||dv_i||} in its first term or more.
     */
    @Test
    void intactKvBoundIsNeverLarger() {
        qt().withFixedSeed(302).withExamples(100)
                .forAll(integers().between(1, 256), integers().between(1, 64), integers().between(2, 8),
                        integers().between(0, 7))
                .checkAssert((n, d, bits, flags) -> {
                    AttentionErrorBound.Head h = RandomHeads.generate(n, d, bits, (flags & 1) != 0, (flags & 2) != 0,
                            (flags & 4) != 0, 7L * n + d);
                    double plain = AttentionErrorBound.evaluate(h).boundB();
                    double previous = plain;
                    for (int p : new int[] {1, Math.max(1, n / 4), n / 2, n}) {
                        if (p == 0) {
                            continue;
                        }
                        AttentionErrorBound.Evaluation e = AttentionErrorBound.evaluate(h.intact(p));
                        assertTrue(e.boundB() <= plain * SLACK + 1e-15,
                                "n=" + n + " d=" + d + " p=" + p + ": IntactKV bound " + e.boundB() + " > plain " + plain);
                        assertTrue(e.actual() <= e.boundB() * SLACK + 1e-15);
                        previous = Math.min(previous, e.boundB());
                    }
                    // keeping everything exact leaves only the query error's term
                    AttentionErrorBound.Evaluation all = AttentionErrorBound.evaluate(h.intact(n));
                    if ((flags & 4) == 0) {
                        assertEquals(0.0, all.actual(), 1e-12);
                        assertEquals(0.0, all.boundB(), 1e-12);
                    }
                });
    }

    /**
     * The README's remark that bound A (weighted by the perturbed attention) is not monotone in
     * the prefix, shown by a hand-made head: d = 1, q = 1, K = V = 0, a key error of +1 on
     * token 0 and a value error of 1 on token 1. The key error pulls attention onto the exact
     * token 0 (a~ = (0.73, 0.27)); making token 0 exact restores a = (0.5, 0.5), so bound A and
     * even the actual error rise from 0.27 to 0.5, while bound B falls from 1 to 0.5.
     */
    @Test
    void boundAAndTheActualErrorAreNotMonotoneButBIs() {
        intactkv.tensor.Tensor zero = intactkv.tensor.Tensor.zeros(2, 1);
        AttentionErrorBound.Head h = new AttentionErrorBound.Head(new double[] {1}, zero, zero, new double[] {0},
                intactkv.tensor.Tensor.of(new double[] {1, 0}, 2, 1), intactkv.tensor.Tensor.of(new double[] {0, 1}, 2, 1));
        AttentionErrorBound.Evaluation plain = AttentionErrorBound.evaluate(h);
        AttentionErrorBound.Evaluation intact = AttentionErrorBound.evaluate(h.intact(1));
        double a1 = 1 / (1 + Math.E);
        assertEquals(a1, plain.actual(), 1e-15);
        assertEquals(0.5, intact.actual(), 1e-15);
        assertEquals(a1, plain.boundA(), 1e-15);
        assertEquals(0.5, intact.boundA(), 1e-15);
        assertEquals(1.0, plain.boundB(), 1e-15);
        assertEquals(0.5, intact.boundB(), 1e-15);
    }

    /** The softmax Jacobian {@code diag(s) - s s^T} has spectral norm at most 1/2 (EJML SVD), for any logits. */
    @Test
    void softmaxJacobianNormIsAtMostOneHalf() {
        qt().withFixedSeed(303).withExamples(200)
                .forAll(integers().between(1, 64), longs().all(), doubles().between(0.01, 30))
                .checkAssert((n, seed, spread) -> {
                    java.util.Random rng = new java.util.Random(seed);
                    double[] z = new double[n];
                    for (int i = 0; i < n; i++) {
                        z[i] = spread * rng.nextGaussian();
                    }
                    double norm = AttentionErrorBound.softmaxJacobianNorm(z);
                    assertTrue(norm <= 0.5 + 1e-12, "n=" + n + " spread=" + spread + ": ||J||_2 = " + norm);
                });
        // the maximum 1/2 is reached with two equal logits
        assertEquals(0.5, AttentionErrorBound.softmaxJacobianNorm(new double[] {0.3, 0.3}), 1e-12);
    }

    /** Lipschitz inequality: {@code ||softmax(y) - softmax(x)|| <= (1/2) ||y - x||} for random pairs. */
    @Test
    void softmaxIsHalfLipschitz() {
        qt().withFixedSeed(304).withExamples(300)
                .forAll(integers().between(1, 64), longs().all(), doubles().between(0.01, 20), booleans().all())
                .checkAssert((n, seed, spread, near) -> {
                    java.util.Random rng = new java.util.Random(seed);
                    double[] x = new double[n];
                    double[] y = new double[n];
                    for (int i = 0; i < n; i++) {
                        x[i] = spread * rng.nextGaussian();
                        y[i] = near ? x[i] + 1e-3 * rng.nextGaussian() : spread * rng.nextGaussian();
                    }
                    double[] sx = intactkv.tensor.Softmax.softmax(intactkv.tensor.Tensor.vector(x), 0).data();
                    double[] sy = intactkv.tensor.Softmax.softmax(intactkv.tensor.Tensor.vector(y), 0).data();
                    double ds = 0;
                    double dz = 0;
                    for (int i = 0; i < n; i++) {
                        ds += (sx[i] - sy[i]) * (sx[i] - sy[i]);
                        dz += (x[i] - y[i]) * (x[i] - y[i]);
                    }
                    assertTrue(Math.sqrt(ds) <= 0.5 * Math.sqrt(dz) * SLACK + 1e-15,
                            "n=" + n + ": " + Math.sqrt(ds) + " > " + 0.5 * Math.sqrt(dz));
                });
    }
}
