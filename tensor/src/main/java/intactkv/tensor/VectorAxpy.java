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
}
