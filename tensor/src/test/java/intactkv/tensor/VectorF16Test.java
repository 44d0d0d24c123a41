package intactkv.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The vectorised FP16 widening ({@link VectorF16}) against {@link HalfFloat#fromFp16Bits}, the reader's scalar
 * decoding, over all 65536 patterns (raw bits: signed zeros, subnormals, infinities, NaN; runs of any offset and
 * length in StoredWeightTest); the scaled load of the one-row product over every finite pattern; and the one-row
 * product of an FP16 weight where the scaled path must not be taken (an infinite weight, an input too large to
 * scale, a NaN input), bit for bit the scalar reference.
 */
class VectorF16Test {
    private static short[] allPatterns() {
        short[] all = new short[1 << 16];
        for (int b = 0; b < all.length; b++) {
            all[b] = (short) b;
        }
        return all;
    }

    @Test
    void everyPatternWidensToTheReadersDouble() {
        short[] all = allPatterns();
        double[] got = new double[all.length];
        VectorF16.toDouble(all, 0, all.length, got, 0);
        for (int b = 0; b < all.length; b++) {
            assertEquals(Double.doubleToRawLongBits(HalfFloat.fromFp16Bits((short) b)),
                    Double.doubleToRawLongBits(got[b]), "pattern " + Integer.toHexString(b));
        }
    }

    /** Patterns of exponent 31 are excluded by the caller; every other one, times 2^112, is the reader's double. */
    @Test
    void theScaledLoadIsTheValueTimes2ToTheMinus112() {
        short[] all = allPatterns();
        int lanes = VectorF16.lanes();
        for (int b = 0; b + lanes <= all.length; b += lanes) {
            double[] v = VectorF16.loadScaled(all, b).toArray();
            for (int q = 0; q < lanes; q++) {
                short h = all[b + q];
                if ((h & 0x7c00) == 0x7c00) {
                    continue;
                }
                assertEquals(Double.doubleToRawLongBits(HalfFloat.fromFp16Bits(h)),
                        Double.doubleToRawLongBits(v[q] * VectorF16.SCALE), "pattern " + (h & 0xffff));
            }
        }
    }

    /**
     * The one-row product of an interleaved FP16 weight equals the scalar reference bit for bit where the scaled
     * path is not taken: a weight with an infinity (finite() false), an input element of 2^912 (its product with
     * 2^112 would overflow), a NaN input; and, for contrast, with finite weights and inputs of magnitude up to 2^900.
     */
    @Test
    void theProductFallsBackWhereScalingWouldNotBeExact() {
        Random rng = new Random(5);
        int n = 131;
        int k = 70;
        short[] h = new short[n * k];
        for (int i = 0; i < h.length; i++) {
            h[i] = HalfFloat.toFp16Bits(rng.nextGaussian() * (i % 7 == 0 ? 1e-6 : 2.0)); // subnormals too
        }
        short[] withInf = h.clone();
        withInf[5 * k + 3] = (short) 0xfc00; // -inf
        double[][] inputs = new double[4][k];
        for (double[] a : inputs) {
            for (int p = 0; p < k; p++) {
                a[p] = rng.nextGaussian();
            }
        }
        inputs[1][9] = 0x1p912;
        inputs[2][17] = Double.NaN;
        inputs[3][4] = 0x1p900;
        inputs[3][5] = -0x1p-1070;
        for (short[] w : new short[][] {h, withInf}) {
            RowBlocks blocks = RowBlocks.preferred(n, k, ElementDtype.F16);
            F16Storage stored = F16Storage.interleaved(w.clone(), blocks);
            assertEquals(w != withInf, stored.finite());
            double[] dense = new double[w.length];
            for (int i = 0; i < w.length; i++) {
                dense[i] = HalfFloat.fromFp16Bits(w[i]);
            }
            for (double[] a : inputs) {
                double[] want = new double[n];
                double[] got = new double[n];
                Gemm.reference(1, n, k, a, 0, false, dense, 0, true, want, 0);
                Gemm.multiply(1, n, k, a, 0, false, stored, true, got, 0, true);
                for (int j = 0; j < n; j++) {
                    assertEquals(Double.doubleToRawLongBits(want[j]), Double.doubleToRawLongBits(got[j]), "row " + j);
                }
            }
        }
        assertFalse(new F16Storage(new short[] {0x7c00}).finite());
        assertTrue(new F16Storage(new short[] {0x7bff, (short) 0x8001}).finite());
    }
}
