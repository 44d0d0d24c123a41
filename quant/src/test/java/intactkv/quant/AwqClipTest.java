package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link AwqClip}: the search on hand-built cases, apply_clip, and the rounding tie it inherits. */
class AwqClipTest {
    @Test
    void anOutlierThatCostsMoreThanItsClampIsClipped() {
        // one row, one group of 8: seven small weights and an outlier on an input that is always 0,
        // so clamping the outlier costs nothing while it stretches the grid of the others
        double[] w = {0.11, -0.23, 0.31, -0.07, 0.19, -0.29, 0.05, 3.0};
        Random rng = new Random(1);
        int n = 40;
        double[] x = new double[n * 8];
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < 7; i++) {
                x[t * 8 + i] = rng.nextGaussian();
            }
        }
        Tensor maxVal = AwqClip.search(Tensor.wrap(w, 1, 8), Tensor.wrap(x, n, 8), WeightQuantizer.Spec.asym(3, 8), "l");
        // the largest shrink, 3.0 * (1 - 9/20), gives the finest grid for the seven that matter
        assertEquals(3.0 * (1 - 9 / 20.0), maxVal.data()[0], 0.0);
        // with the outlier's input as large as the rest it is kept
        for (int t = 0; t < n; t++) {
            x[t * 8 + 7] = rng.nextGaussian();
        }
        maxVal = AwqClip.search(Tensor.wrap(w, 1, 8), Tensor.wrap(x, n, 8), WeightQuantizer.Spec.asym(3, 8), "l");
        assertEquals(3.0, maxVal.data()[0], 0.0);
    }

    @Test
    void applyClampsEachGroupToItsValue() {
        Tensor w = Tensor.wrap(new double[] {1, -2, 3, -4, 5, -6, 7, -8}, 2, 4);
        Tensor clipped = AwqClip.apply(w, Tensor.wrap(new double[] {1.5, 3.5, 5.5, 100}, 2, 2));
        assertArrayEquals(new double[] {1, -1.5, 3, -3.5, 5, -5.5, 7, -8}, clipped.data(), 0.0);
    }

    @Test
    void tokensAreSampledWithUpstreamsStep() {
        // 1100 tokens: step 1100 div 512 = 2, tokens 0, 2, .., 1098 (550 of them). A weight whose
        // group sees non-zero inputs only on odd tokens has no error to minimise: no shrink beats k = 0
        int n = 1100;
        double[] x = new double[n * 4];
        Random rng = new Random(2);
        for (int t = 1; t < n; t += 2) {
            for (int i = 0; i < 4; i++) {
                x[t * 4 + i] = rng.nextGaussian();
            }
        }
        Tensor w = Tensor.wrap(new double[] {0.1, -0.2, 0.3, 2.0}, 1, 4);
        assertEquals(2.0, AwqClip.search(w, Tensor.wrap(x, n, 4), WeightQuantizer.Spec.asym(3, 4), "l").data()[0], 0.0);
    }

    /**
     * The rounding tie documented in {@link AwqClip}'s callers and the fidelity notes: a group
     * clamped to exactly [-m, m] has {@code m / s = (2^b - 1) / 2}, a half-integer, so the zero
     * point (and the value -m quantizes to: -8m/7 or -6m/7 at 3 bits) depends on the last bits of m.
     */
    @Test
    void aGroupSpanningMinusMToMHitsARoundingTie() {
        Random rng = new Random(3);
        int low = 0;
        int high = 0;
        for (int i = 0; i < 400; i++) {
            double m = 0.5 + rng.nextDouble();
            double[] g = {m, -m, 0.3 * m, -0.1 * m};
            double[] q = WeightQuantizer.quantize(Tensor.wrap(g, 1, 4), WeightQuantizer.Spec.asym(3, 4), "g").data();
            double r = q[1] / m;
            if (Math.abs(r + 8 / 7.0) < 1e-12) {
                high++;
            } else if (Math.abs(r + 6 / 7.0) < 1e-12) {
                low++;
            } else {
                throw new AssertionError("-m quantized to " + r + " m");
            }
        }
        assertTrue(low > 0 && high > 0, "zero point 3 for " + low + " and 4 for " + high + " of 400 values of m");
    }
}
