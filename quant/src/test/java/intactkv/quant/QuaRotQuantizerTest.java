package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.Value;
import intactkv.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** QuaRot's weight quantizer (with the --w_clip search) and its activation quantizer. */
class QuaRotQuantizerTest {
    /** The error of row w quantized symmetrically to b bits with scale s (levels -2^(b-1)..2^(b-1)-1). */
    static double symError(double[] w, double s, int bits) {
        double lo = -Math.pow(2, bits - 1);
        double hi = Math.pow(2, bits - 1) - 1;
        double err = 0;
        for (double v : w) {
            double q = Math.min(Math.max(Math.rint(v / s), lo), hi) * s;
            err += Math.pow(Math.abs(q - v), 2.4);
        }
        return err;
    }

    /**
     * Brute force: every shrink 1, 0.99, ..., 0.21 of max|w| tried, the first with the least
     * |error|^2.4 kept; the search must pick the same scale, and its error is never above the
     * plain min/max scale's.
     */
    @Test
    void clipSearchFindsTheBruteForceMinimum() {
        Random rng = new Random(5);
        QuaRotWeightQuantizer q = new QuaRotWeightQuantizer(4, true, true);
        QuaRotWeightQuantizer plain = new QuaRotWeightQuantizer(4, true, false);
        int shrunk = 0;
        for (int row = 0; row < 40; row++) {
            double[] w = new double[64];
            for (int i = 0; i < w.length; i++) {
                w[i] = rng.nextGaussian() * (i == row ? 6 : 1); // an outlier in most rows
            }
            double absMax = 0;
            for (double v : w) {
                absMax = Math.max(absMax, Math.abs(v));
            }
            double bestS = Double.NaN;
            double best = Double.POSITIVE_INFINITY;
            for (int i = 0; i < 80; i++) {
                double s = (1 - i / 100.0) * absMax / 7;
                double e = symError(w, s, 4);
                if (e < best) {
                    best = e;
                    bestS = s;
                }
            }
            double[] sz = new double[2];
            q.row(w, sz);
            assertEquals(bestS, sz[0], 0.0, "row " + row);
            assertEquals(8, sz[1], 0.0); // symmetric levels written with the GPTQ zero 2^(b-1)
            double[] pz = new double[2];
            plain.row(w, pz);
            assertEquals(absMax / 7, pz[0], 0.0);
            assertTrue(symError(w, sz[0], 4) <= symError(w, pz[0], 4));
            if (sz[0] < pz[0]) {
                shrunk++;
            }
        }
        assertTrue(shrunk > 20, "the search shrinks the range of most rows: " + shrunk);
    }

    /** Symmetric levels are -8..7 times max/7, not AutoGPTQ's 2 max / 15 grid. */
    @Test
    void symmetricGridIsQuaRots() {
        double[] w = {-1.0, 0.5, 0.3, -0.05};
        double[] sz = new double[2];
        new QuaRotWeightQuantizer(4, true, false).row(w, sz);
        assertEquals(1.0 / 7, sz[0], 0.0);
        assertEquals(-1.0, FakeQuant.quantize(-1.0, sz[0], sz[1], 0, 15), 1e-15);
        assertEquals(4.0 / 7, FakeQuant.quantize(0.5, sz[0], sz[1], 0, 15), 1e-15); // 3.5 rounds to even 4
        // all-zero rows: the 1e-5 floor
        new QuaRotWeightQuantizer(4, true, true).row(new double[] {0, 0}, sz);
        assertEquals(1e-5 / 7, sz[0], 0.0);
    }

    /**
     * Hand-worked per-token quantization: with zero in the range a row of positive values keeps
     * xmin = 0; without it the range is [min, max].
     */
    @Test
    void activationRangeWithAndWithoutZero() {
        Tensor x = Tensor.of(new double[] {1, 2, 3, 4}, 1, 4);
        // asymmetric 2 bits, clip 1: with zero the range is [0, 4], s = 4/3, z = 0
        Tensor with = new QuaRotActQuantizer(2, false, 1.0, true).apply(x);
        double s = 4.0 / 3;
        assertArrayEquals(new double[] {s, 2 * s, 2 * s, 3 * s}, with.data(), 1e-15); // 0.75, 1.5, 2.25, 3 -> 1, 2, 2, 3
        Tensor without = new QuaRotActQuantizer(2, false, 1.0, false).apply(x);
        // s = (4 - 1) / 3 = 1, z = rint(-1) = -1: x -> rint(x) - 1 clamped to 0..3, then + 1
        assertArrayEquals(new double[] {1, 2, 3, 4}, without.data(), 0.0);
        // symmetric, clip 0.5: s = 0.5 * 4 / 1 (2 bits: levels -2..1); x / s = 0.5, 1, 1.5, 2 round (half to
        // even) to 0, 1, 2, 2 and clamp to 0, 1, 1, 1
        Tensor sym = new QuaRotActQuantizer(2, true, 0.5, true).apply(x);
        assertArrayEquals(new double[] {0, 2, 2, 2}, sym.data(), 0.0);
        // a zero row: symmetric s = 1, asymmetric range [-1, 1]
        Tensor zero = Tensor.zeros(1, 3);
        assertArrayEquals(new double[3], new QuaRotActQuantizer(4, true, 0.9, true).apply(zero).data(), 0.0);
        assertArrayEquals(new double[3], new QuaRotActQuantizer(4, false, 0.9, false).apply(zero).data(), 0.0);
        assertTrue(!new QuaRotActQuantizer(16, true, 1, true).enabled());
    }

    @Test
    void activationStraightThroughGradient() {
        Value x = Value.param(Tensor.of(new double[] {0.1, 0.5, -0.3, 2.0}, 1, 4));
        Value q = new QuaRotActQuantizer(4, true, 0.5, true).apply(x); // clip 0.5: 2.0 is outside the range
        q.backward(Tensor.ones(1, 4));
        assertArrayEquals(new double[] {1, 1, 1, 0}, x.grad().data());
    }
}
