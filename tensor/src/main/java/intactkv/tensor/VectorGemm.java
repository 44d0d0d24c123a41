package intactkv.tensor;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector-API implementation of {@link Gemm}: a register-blocked micro-kernel in the style of
 * GotoBLAS/BLIS, kept small enough to read.
 *
 * <ol>
 *   <li>Columns are processed in panels of {@code NR = 3 * lanes} (24 doubles with AVX-512).
 *       The panel {@code B[0..K, j0..j0+NR)} is packed into a contiguous (K, NR) buffer,
 *       zero-padded past N; packing also absorbs the {@code B^T} layout.</li>
 *   <li>For each block of {@code MR = 4} rows of A, twelve vector accumulators hold the
 *       (4, NR) block of C; each step k loads three vectors of the panel, broadcasts four
 *       elements of A and issues twelve lane-wise FMAs.</li>
 *   <li>Leftover rows use a one-row kernel; leftover columns are computed on the zero
 *       padding and only the valid ones are stored.</li>
 * </ol>
 * Panels are independent, so they are spread over threads with {@link Parallel}. Each C
 * element still sees {@code c = fma(a_ik, b_kj, c)} for k = 0, 1, ..., as stated in {@link Gemm}.
 */
final class VectorGemm {
    private static final VectorSpecies<Double> S = DoubleVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final int NR = 3 * L;
    private static final int MR = 4;

    private VectorGemm() {
    }

    static void multiply(int m, int n, int k, double[] a, int aOff, double[] b, int bOff, boolean transB,
                         double[] c, int cOff, boolean parallel) {
        int panels = (n + NR - 1) / NR;
        // Work per panel is about m*k*NR FMAs; ask for chunks worth at least ~64k FMAs.
        long perPanel = (long) m * k * NR;
        int minChunk = parallel ? (int) Math.max(1, Math.min(panels, 65536 / Math.max(1, perPanel))) : panels;
        Parallel.forRange(panels, minChunk, (lo, hi) -> {
            double[] panel = new double[k * NR];
            double[] tail = new double[MR * NR];
            for (int pj = lo; pj < hi; pj++) {
                int j0 = pj * NR;
                int nc = Math.min(NR, n - j0);
                pack(k, n, b, bOff, transB, j0, nc, panel);
                int i = 0;
                for (; i + MR <= m; i += MR) {
                    kernel4(k, a, aOff + i * k, panel, c, cOff + i * n + j0, n, nc, tail);
                }
                for (; i < m; i++) {
                    kernel1(k, a, aOff + i * k, panel, c, cOff + i * n + j0, nc, tail);
                }
            }
        });
    }

    /** {@code panel[p*NR + j] = op(B)[p, j0 + j]} for j < nc, 0 beyond. */
    private static void pack(int k, int n, double[] b, int bOff, boolean transB, int j0, int nc, double[] panel) {
        for (int p = 0; p < k; p++) {
            int dst = p * NR;
            if (transB) {
                for (int j = 0; j < nc; j++) {
                    panel[dst + j] = b[bOff + (j0 + j) * k + p];
                }
            } else {
                System.arraycopy(b, bOff + p * n + j0, panel, dst, nc);
            }
            for (int j = nc; j < NR; j++) {
                panel[dst + j] = 0.0;
            }
        }
    }

    /** C[4 rows, nc cols] = A[4 rows, 0..k) * panel; rows of A at stride k, of C at stride ldc. */
    private static void kernel4(int k, double[] a, int a0, double[] panel, double[] c, int c0, int ldc, int nc,
                                double[] tail) {
        DoubleVector c00 = DoubleVector.zero(S), c01 = DoubleVector.zero(S), c02 = DoubleVector.zero(S);
        DoubleVector c10 = DoubleVector.zero(S), c11 = DoubleVector.zero(S), c12 = DoubleVector.zero(S);
        DoubleVector c20 = DoubleVector.zero(S), c21 = DoubleVector.zero(S), c22 = DoubleVector.zero(S);
        DoubleVector c30 = DoubleVector.zero(S), c31 = DoubleVector.zero(S), c32 = DoubleVector.zero(S);
        int a1 = a0 + k;
        int a2 = a1 + k;
        int a3 = a2 + k;
        for (int p = 0; p < k; p++) {
            int bp = p * NR;
            DoubleVector b0 = DoubleVector.fromArray(S, panel, bp);
            DoubleVector b1 = DoubleVector.fromArray(S, panel, bp + L);
            DoubleVector b2 = DoubleVector.fromArray(S, panel, bp + 2 * L);
            DoubleVector x = DoubleVector.broadcast(S, a[a0 + p]);
            c00 = b0.fma(x, c00);
            c01 = b1.fma(x, c01);
            c02 = b2.fma(x, c02);
            x = DoubleVector.broadcast(S, a[a1 + p]);
            c10 = b0.fma(x, c10);
            c11 = b1.fma(x, c11);
            c12 = b2.fma(x, c12);
            x = DoubleVector.broadcast(S, a[a2 + p]);
            c20 = b0.fma(x, c20);
            c21 = b1.fma(x, c21);
            c22 = b2.fma(x, c22);
            x = DoubleVector.broadcast(S, a[a3 + p]);
            c30 = b0.fma(x, c30);
            c31 = b1.fma(x, c31);
            c32 = b2.fma(x, c32);
        }
        if (nc == NR) {
            store(c00, c01, c02, c, c0);
            store(c10, c11, c12, c, c0 + ldc);
            store(c20, c21, c22, c, c0 + 2 * ldc);
            store(c30, c31, c32, c, c0 + 3 * ldc);
        } else {
            store(c00, c01, c02, tail, 0);
            store(c10, c11, c12, tail, NR);
            store(c20, c21, c22, tail, 2 * NR);
            store(c30, c31, c32, tail, 3 * NR);
            for (int r = 0; r < MR; r++) {
                System.arraycopy(tail, r * NR, c, c0 + r * ldc, nc);
            }
        }
    }

    /** One row: C[1, nc] = A[1, 0..k) * panel. */
    private static void kernel1(int k, double[] a, int a0, double[] panel, double[] c, int c0, int nc,
                                double[] tail) {
        DoubleVector c0v = DoubleVector.zero(S), c1v = DoubleVector.zero(S), c2v = DoubleVector.zero(S);
        for (int p = 0; p < k; p++) {
            int bp = p * NR;
            DoubleVector x = DoubleVector.broadcast(S, a[a0 + p]);
            c0v = DoubleVector.fromArray(S, panel, bp).fma(x, c0v);
            c1v = DoubleVector.fromArray(S, panel, bp + L).fma(x, c1v);
            c2v = DoubleVector.fromArray(S, panel, bp + 2 * L).fma(x, c2v);
        }
        if (nc == NR) {
            store(c0v, c1v, c2v, c, c0);
        } else {
            store(c0v, c1v, c2v, tail, 0);
            System.arraycopy(tail, 0, c, c0, nc);
        }
    }

    private static void store(DoubleVector v0, DoubleVector v1, DoubleVector v2, double[] dst, int off) {
        v0.intoArray(dst, off);
        v1.intoArray(dst, off + L);
        v2.intoArray(dst, off + 2 * L);
    }
}
