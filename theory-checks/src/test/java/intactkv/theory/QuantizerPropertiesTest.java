package intactkv.theory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.doubles;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.longs;

import intactkv.autograd.QuantOps;
import intactkv.autograd.Value;
import intactkv.quant.FakeQuant;
import intactkv.tensor.Init;
import intactkv.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** Invariants of the canonical quantizer and of the straight-through estimator, for all generated inputs. */
class QuantizerPropertiesTest {
    /**
     * For asymmetric min/max parameters as AWQ's RTN derives them: the zero point is an integer
     * in {@code [0, 2^b - 1]}; {@code Q(Q(x)) = Q(x)}; inside the representable range
     * {@code [-z s, (2^b - 1 - z) s]} the error is at most {@code s/2}, and outside it Q(x) is the
     * nearer end. (The range need not cover the group: AWQ clamps z to [0, 2^b - 1], so a group
     * of one sign, or narrower than 1e-5, is partly clipped; this implementation matches that.)
     */
    @Test
    void roundingErrorIdempotenceAndZeroPoint() {
        qt().withFixedSeed(401).withExamples(300)
                .forAll(integers().between(2, 8), longs().all(), doubles().between(0.001, 100), integers().between(1, 64))
                .checkAssert((bits, seed, spread, n) -> {
                    double[] x = Init.normal(new java.util.Random(seed), spread, n).data();
                    double max = Double.NEGATIVE_INFINITY;
                    double min = Double.POSITIVE_INFINITY;
                    for (double v : x) {
                        max = Math.max(max, v);
                        min = Math.min(min, v);
                    }
                    double qmax = Math.pow(2, bits) - 1;
                    double s = Math.max(max - min, 1e-5) / qmax;
                    double z = Math.min(Math.max(-Math.rint(min / s), 0), qmax);
                    assertEquals(Math.rint(z), z);
                    assertTrue(z >= 0 && z <= qmax);
                    double lo = -z * s;
                    double hi = (qmax - z) * s;
                    for (double v : x) {
                        double q = FakeQuant.quantize(v, s, z, 0, qmax);
                        if (v >= lo && v <= hi) {
                            assertTrue(Math.abs(v - q) <= s / 2 * (1 + 1e-9),
                                    "bits " + bits + ": |x - Q(x)| = " + Math.abs(v - q) + " > s/2 = " + s / 2);
                        } else {
                            assertEquals(v < lo ? lo : hi, q, s * 1e-9, "outside the range Q(x) is the nearer end");
                        }
                        assertEquals(q, FakeQuant.quantize(q, s, z, 0, qmax), s * 1e-9, "Q(Q(x)) = Q(x)");
                    }
                });
    }

    /** The straight-through gradient: exactly 1 through round_ste, and through the clamp 1 inside the range, 0 outside. */
    @Test
    void straightThroughGradients() {
        qt().withFixedSeed(402).withExamples(200)
                .forAll(longs().all(), doubles().between(0.1, 10))
                .checkAssert((seed, range) -> {
                    Tensor x = Init.normal(new java.util.Random(seed), 2 * range, 32);
                    Value p = Value.param(x.copy());
                    QuantOps.clamp(QuantOps.roundSte(p), -range, range).backward(Tensor.ones(32));
                    double[] g = p.grad().data();
                    for (int i = 0; i < 32; i++) {
                        double r = Math.rint(x.data()[i]);
                        assertEquals(r >= -range && r <= range ? 1.0 : 0.0, g[i], 0.0, "x = " + x.data()[i]);
                    }
                    Value p2 = Value.param(x.copy());
                    QuantOps.roundSte(p2).backward(Tensor.ones(32));
                    assertArrayEquals(Tensor.ones(32).data(), p2.grad().data(), 0.0);
                });
    }
}
