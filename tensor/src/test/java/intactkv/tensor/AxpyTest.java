package intactkv.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link Axpy#fma}: the dispatching path against the scalar reference, bit for bit, and by hand. */
class AxpyTest {
    @Test
    void matchesTheScalarReferenceBitForBit() {
        assertTrue(Axpy.class.getModule() != null);
        Random rng = new Random(5);
        // lengths below, at and around multiples of every vector width (2, 4, 8 lanes), odd offsets
        for (int n : new int[] {0, 1, 3, 7, 8, 9, 15, 16, 17, 33, 255, 256}) {
            for (int off : new int[] {0, 3}) {
                double[] x = new double[n + off + 5];
                double[] y = new double[n + off + 2];
                for (int i = 0; i < x.length; i++) {
                    x[i] = rng.nextGaussian() * 1e3;
                }
                for (int i = 0; i < y.length; i++) {
                    y[i] = rng.nextGaussian();
                }
                double alpha = rng.nextGaussian();
                double[] fast = y.clone();
                double[] ref = y.clone();
                Axpy.fma(alpha, x, off + 1, fast, off, n);
                Axpy.reference(alpha, x, off + 1, ref, off, n);
                assertArrayEquals(ref, fast, 0.0, "n " + n + ", offset " + off);
                // elements outside the range are untouched
                for (int i = 0; i < off; i++) {
                    assertEquals(y[i], fast[i]);
                }
                for (int i = off + n; i < y.length; i++) {
                    assertEquals(y[i], fast[i]);
                }
            }
        }
    }

    @Test
    void combineIsRowByRowAxpy() {
        Random rng = new Random(6);
        // widths around 1, 2 and 4 vectors of every lane count and several times 4, strided coefficients
        for (int width : new int[] {1, 5, 8, 16, 24, 32, 40, 64, 67, 100, 130}) {
            for (int count : new int[] {0, 1, 9}) {
                int rStride = width + 3;
                double[] r = new double[2 + count * rStride];
                double[] c = new double[1 + count * 4];
                for (int i = 0; i < r.length; i++) {
                    r[i] = rng.nextGaussian();
                }
                for (int i = 0; i < c.length; i++) {
                    c[i] = rng.nextGaussian();
                }
                double[] out = new double[width + 2];
                for (int i = 0; i < out.length; i++) {
                    out[i] = rng.nextGaussian();
                }
                double[] ref = out.clone();
                Axpy.combine(c, 1, 4, count, r, 2, rStride, out, 1, width);
                for (int i = 0; i < count; i++) {
                    Axpy.reference(c[1 + 4 * i], r, 2 + i * rStride, ref, 1, width);
                }
                assertArrayEquals(ref, out, 0.0, "width " + width + ", rows " + count);
            }
        }
    }

    /**
     * combine4 gives each of its four outputs the bits of a row-by-row axpy over the same rows,
     * with the coefficients of each output at their own offsets, and leaves the gaps between the
     * outputs alone.
     */
    @Test
    void combine4IsFourRowByRowAxpys() {
        Random rng = new Random(7);
        for (int width : new int[] {1, 5, 8, 16, 17, 24, 32, 40, 67}) {
            for (int count : new int[] {0, 1, 2, 9, 30}) {
                int rStride = width + 3;
                int cStride = 3;
                double[] r = new double[2 + count * rStride];
                double[] c = new double[40 + count * cStride];
                for (int i = 0; i < r.length; i++) {
                    r[i] = rng.nextGaussian();
                }
                for (int i = 0; i < c.length; i++) {
                    c[i] = rng.nextGaussian();
                }
                int[] cs = {0, 7, 21, 2}; // coefficient offsets, interleaved in any order
                int[] os = {1, 1 + width + 2, 1 + 3 * (width + 2), 1 + 2 * (width + 2)}; // gaps of 2 between outputs
                double[] out = new double[4 * (width + 2) + 1];
                for (int i = 0; i < out.length; i++) {
                    out[i] = rng.nextGaussian();
                }
                double[] ref = out.clone();
                Axpy.combine4(c, cs[0], cs[1], cs[2], cs[3], cStride, count, r, 2, rStride, out, os[0], os[1], os[2],
                        os[3], width);
                for (int q = 0; q < 4; q++) {
                    for (int i = 0; i < count; i++) {
                        Axpy.reference(c[cs[q] + cStride * i], r, 2 + i * rStride, ref, os[q], width);
                    }
                }
                assertArrayEquals(ref, out, 0.0, "width " + width + ", rows " + count);
            }
        }
    }

    @Test
    void isOneRoundingPerElement() {
        // 1 + 2^-30 squared: a separate multiply would round away the 2^-60 term that fma keeps
        double e = 1.0 + 0x1p-30;
        double[] y = {-1.0 - 0x1p-29};
        Axpy.fma(e, new double[] {e}, 0, y, 0, 1);
        assertEquals(0x1p-60, y[0]);
    }
}
