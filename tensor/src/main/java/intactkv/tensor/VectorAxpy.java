package intactkv.tensor;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorSpecies;

/** Vector-API path of {@link Axpy#fma}: whole vectors of lanes, then the scalar tail. */
final class VectorAxpy {
    private static final VectorSpecies<Double> S = DoubleVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    private VectorAxpy() {
    }

    static void fma(double alpha, double[] x, int xOff, double[] y, int yOff, int n) {
        DoubleVector a = DoubleVector.broadcast(S, alpha);
        int i = 0;
        for (; i + L <= n; i += L) {
            DoubleVector xv = DoubleVector.fromArray(S, x, xOff + i);
            DoubleVector yv = DoubleVector.fromArray(S, y, yOff + i);
            a.fma(xv, yv).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] = Math.fma(alpha, x[xOff + i], y[yOff + i]);
        }
    }

    /** {@link Axpy#combine}: columns in chunks of up to 4 vectors held in registers over all rows. */
    static void combine(double[] c, int cOff, int cStride, int count, double[] r, int rOff, int rStride,
                        double[] out, int oOff, int width) {
        int j = 0;
        for (; j + 4 * L <= width; j += 4 * L) {
            DoubleVector o0 = DoubleVector.fromArray(S, out, oOff + j);
            DoubleVector o1 = DoubleVector.fromArray(S, out, oOff + j + L);
            DoubleVector o2 = DoubleVector.fromArray(S, out, oOff + j + 2 * L);
            DoubleVector o3 = DoubleVector.fromArray(S, out, oOff + j + 3 * L);
            for (int i = 0; i < count; i++) {
                DoubleVector a = DoubleVector.broadcast(S, c[cOff + i * cStride]);
                int row = rOff + i * rStride + j;
                o0 = a.fma(DoubleVector.fromArray(S, r, row), o0);
                o1 = a.fma(DoubleVector.fromArray(S, r, row + L), o1);
                o2 = a.fma(DoubleVector.fromArray(S, r, row + 2 * L), o2);
                o3 = a.fma(DoubleVector.fromArray(S, r, row + 3 * L), o3);
            }
            o0.intoArray(out, oOff + j);
            o1.intoArray(out, oOff + j + L);
            o2.intoArray(out, oOff + j + 2 * L);
            o3.intoArray(out, oOff + j + 3 * L);
        }
        if (j + 2 * L <= width) {
            DoubleVector o0 = DoubleVector.fromArray(S, out, oOff + j);
            DoubleVector o1 = DoubleVector.fromArray(S, out, oOff + j + L);
            for (int i = 0; i < count; i++) {
                DoubleVector a = DoubleVector.broadcast(S, c[cOff + i * cStride]);
                int row = rOff + i * rStride + j;
                o0 = a.fma(DoubleVector.fromArray(S, r, row), o0);
                o1 = a.fma(DoubleVector.fromArray(S, r, row + L), o1);
            }
            o0.intoArray(out, oOff + j);
            o1.intoArray(out, oOff + j + L);
            j += 2 * L;
        }
        for (; j + L <= width; j += L) {
            DoubleVector o0 = DoubleVector.fromArray(S, out, oOff + j);
            for (int i = 0; i < count; i++) {
                DoubleVector a = DoubleVector.broadcast(S, c[cOff + i * cStride]);
                o0 = a.fma(DoubleVector.fromArray(S, r, rOff + i * rStride + j), o0);
            }
            o0.intoArray(out, oOff + j);
        }
        for (; j < width; j++) {
            double o = out[oOff + j];
            for (int i = 0; i < count; i++) {
                o = Math.fma(c[cOff + i * cStride], r[rOff + i * rStride + j], o);
            }
            out[oOff + j] = o;
        }
    }

    /**
     * Four {@link #combine}s over the same rows: lanes across j, two vectors per output when the
     * width allows (eight independent chains), each output's sum over i in order.
     */
    static void combine4(double[] c, int c0, int c1, int c2, int c3, int cStride, int count, double[] r, int rOff,
                         int rStride, double[] out, int o0, int o1, int o2, int o3, int width) {
        int j = 0;
        for (; j + 2 * L <= width; j += 2 * L) {
            DoubleVector a0 = DoubleVector.fromArray(S, out, o0 + j);
            DoubleVector a1 = DoubleVector.fromArray(S, out, o0 + j + L);
            DoubleVector b0 = DoubleVector.fromArray(S, out, o1 + j);
            DoubleVector b1 = DoubleVector.fromArray(S, out, o1 + j + L);
            DoubleVector d0 = DoubleVector.fromArray(S, out, o2 + j);
            DoubleVector d1 = DoubleVector.fromArray(S, out, o2 + j + L);
            DoubleVector e0 = DoubleVector.fromArray(S, out, o3 + j);
            DoubleVector e1 = DoubleVector.fromArray(S, out, o3 + j + L);
            for (int i = 0; i < count; i++) {
                int row = rOff + i * rStride + j;
                DoubleVector x0 = DoubleVector.fromArray(S, r, row);
                DoubleVector x1 = DoubleVector.fromArray(S, r, row + L);
                int ci = i * cStride;
                DoubleVector w = DoubleVector.broadcast(S, c[c0 + ci]);
                a0 = w.fma(x0, a0);
                a1 = w.fma(x1, a1);
                w = DoubleVector.broadcast(S, c[c1 + ci]);
                b0 = w.fma(x0, b0);
                b1 = w.fma(x1, b1);
                w = DoubleVector.broadcast(S, c[c2 + ci]);
                d0 = w.fma(x0, d0);
                d1 = w.fma(x1, d1);
                w = DoubleVector.broadcast(S, c[c3 + ci]);
                e0 = w.fma(x0, e0);
                e1 = w.fma(x1, e1);
            }
            a0.intoArray(out, o0 + j);
            a1.intoArray(out, o0 + j + L);
            b0.intoArray(out, o1 + j);
            b1.intoArray(out, o1 + j + L);
            d0.intoArray(out, o2 + j);
            d1.intoArray(out, o2 + j + L);
            e0.intoArray(out, o3 + j);
            e1.intoArray(out, o3 + j + L);
        }
        if (j < width) { // the rest of the width (less than two vectors), one output at a time
            combine(c, c0, cStride, count, r, rOff + j, rStride, out, o0 + j, width - j);
            combine(c, c1, cStride, count, r, rOff + j, rStride, out, o1 + j, width - j);
            combine(c, c2, cStride, count, r, rOff + j, rStride, out, o2 + j, width - j);
            combine(c, c3, cStride, count, r, rOff + j, rStride, out, o3 + j, width - j);
        }
    }
}
