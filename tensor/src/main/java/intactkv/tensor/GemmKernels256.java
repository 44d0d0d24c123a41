package intactkv.tensor;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The micro-kernels of {@link VectorGemm} for 256-bit vectors (AVX2: 4 doubles, 16 vector registers):
 * a block of C of 6 rows by two vectors ({@code NR = 8} columns) lives in 12 registers; each step p
 * loads the panel's two vectors, broadcasts six elements of A and issues 12 lane-wise FMAs, leaving
 * 3 of the 16 registers for the two panel vectors and the broadcast. The 8 x 24 block of the AVX-512
 * kernels needs 24 accumulators and the 4 x 12 block it used with AVX2 before ran slower here
 * (measured on the 2-vCPU AVX2 EPYC of 2026-12-06, one thread, panels in cache: 4 x 12 at 16.2
 * GFLOP/s, 4 x 8 at 18.8, 6 x 8 at 19.0, against a C loop of FMAs at 19.6).
 *
 * <p>Every kernel computes {@code c = fma(a_ip, b_pj, c)} for p = 0..kc-1 in order, starting from the block
 * {@code from} (C's partial sums, or zeros in the first k-block, see {@link VectorGemm}) and writing C: the
 * columns are vectorised, never the sum over p, so the block shape does not change any result (the contract of
 * {@link Gemm}).
 */
final class GemmKernels256 {
    private static final VectorSpecies<Double> S = DoubleVector.SPECIES_256;
    private static final int L = 4;
    /** Columns of a panel: two vectors. */
    static final int NR = 2 * L;
    /** Rows of the main register block. */
    static final int MR = 6;

    private GemmKernels256() {
    }

    /** C[6 rows, NR] = from + A[6 rows, kc] * panel (packed, 6 values a step); rows of from at ldf, of C at ldc. */
    static void kernel6(int kc, double[] a, int a0, double[] panel,
                        double[] from, int f0, int ldf, double[] c, int c0, int ldc) {
        int r0 = c0;
        DoubleVector c00 = DoubleVector.fromArray(S, from, f0);
        DoubleVector c01 = DoubleVector.fromArray(S, from, f0 + L);
        int r1 = c0 + 1 * ldc;
        DoubleVector c10 = DoubleVector.fromArray(S, from, f0 + 1 * ldf);
        DoubleVector c11 = DoubleVector.fromArray(S, from, f0 + 1 * ldf + L);
        int r2 = c0 + 2 * ldc;
        DoubleVector c20 = DoubleVector.fromArray(S, from, f0 + 2 * ldf);
        DoubleVector c21 = DoubleVector.fromArray(S, from, f0 + 2 * ldf + L);
        int r3 = c0 + 3 * ldc;
        DoubleVector c30 = DoubleVector.fromArray(S, from, f0 + 3 * ldf);
        DoubleVector c31 = DoubleVector.fromArray(S, from, f0 + 3 * ldf + L);
        int r4 = c0 + 4 * ldc;
        DoubleVector c40 = DoubleVector.fromArray(S, from, f0 + 4 * ldf);
        DoubleVector c41 = DoubleVector.fromArray(S, from, f0 + 4 * ldf + L);
        int r5 = c0 + 5 * ldc;
        DoubleVector c50 = DoubleVector.fromArray(S, from, f0 + 5 * ldf);
        DoubleVector c51 = DoubleVector.fromArray(S, from, f0 + 5 * ldf + L);
        for (int p = 0; p < kc; p++) {
            int bp = p * NR;
            int ap = a0 + p * 6;
            DoubleVector b0 = DoubleVector.fromArray(S, panel, bp);
            DoubleVector b1 = DoubleVector.fromArray(S, panel, bp + L);
            DoubleVector x = DoubleVector.broadcast(S, a[ap]);
            c00 = b0.fma(x, c00);
            c01 = b1.fma(x, c01);
            x = DoubleVector.broadcast(S, a[ap + 1]);
            c10 = b0.fma(x, c10);
            c11 = b1.fma(x, c11);
            x = DoubleVector.broadcast(S, a[ap + 2]);
            c20 = b0.fma(x, c20);
            c21 = b1.fma(x, c21);
            x = DoubleVector.broadcast(S, a[ap + 3]);
            c30 = b0.fma(x, c30);
            c31 = b1.fma(x, c31);
            x = DoubleVector.broadcast(S, a[ap + 4]);
            c40 = b0.fma(x, c40);
            c41 = b1.fma(x, c41);
            x = DoubleVector.broadcast(S, a[ap + 5]);
            c50 = b0.fma(x, c50);
            c51 = b1.fma(x, c51);
        }
        c00.intoArray(c, r0);
        c01.intoArray(c, r0 + L);
        c10.intoArray(c, r1);
        c11.intoArray(c, r1 + L);
        c20.intoArray(c, r2);
        c21.intoArray(c, r2 + L);
        c30.intoArray(c, r3);
        c31.intoArray(c, r3 + L);
        c40.intoArray(c, r4);
        c41.intoArray(c, r4 + L);
        c50.intoArray(c, r5);
        c51.intoArray(c, r5 + L);
    }

    /** C[4 rows, NR] = from + A[4 rows, kc] * panel (packed, 4 values a step); rows of from at ldf, of C at ldc. */
    static void kernel4(int kc, double[] a, int a0, double[] panel,
                        double[] from, int f0, int ldf, double[] c, int c0, int ldc) {
        int r0 = c0;
        DoubleVector c00 = DoubleVector.fromArray(S, from, f0);
        DoubleVector c01 = DoubleVector.fromArray(S, from, f0 + L);
        int r1 = c0 + 1 * ldc;
        DoubleVector c10 = DoubleVector.fromArray(S, from, f0 + 1 * ldf);
        DoubleVector c11 = DoubleVector.fromArray(S, from, f0 + 1 * ldf + L);
        int r2 = c0 + 2 * ldc;
        DoubleVector c20 = DoubleVector.fromArray(S, from, f0 + 2 * ldf);
        DoubleVector c21 = DoubleVector.fromArray(S, from, f0 + 2 * ldf + L);
        int r3 = c0 + 3 * ldc;
        DoubleVector c30 = DoubleVector.fromArray(S, from, f0 + 3 * ldf);
        DoubleVector c31 = DoubleVector.fromArray(S, from, f0 + 3 * ldf + L);
        for (int p = 0; p < kc; p++) {
            int bp = p * NR;
            int ap = a0 + p * 4;
            DoubleVector b0 = DoubleVector.fromArray(S, panel, bp);
            DoubleVector b1 = DoubleVector.fromArray(S, panel, bp + L);
            DoubleVector x = DoubleVector.broadcast(S, a[ap]);
            c00 = b0.fma(x, c00);
            c01 = b1.fma(x, c01);
            x = DoubleVector.broadcast(S, a[ap + 1]);
            c10 = b0.fma(x, c10);
            c11 = b1.fma(x, c11);
            x = DoubleVector.broadcast(S, a[ap + 2]);
            c20 = b0.fma(x, c20);
            c21 = b1.fma(x, c21);
            x = DoubleVector.broadcast(S, a[ap + 3]);
            c30 = b0.fma(x, c30);
            c31 = b1.fma(x, c31);
        }
        c00.intoArray(c, r0);
        c01.intoArray(c, r0 + L);
        c10.intoArray(c, r1);
        c11.intoArray(c, r1 + L);
        c20.intoArray(c, r2);
        c21.intoArray(c, r2 + L);
        c30.intoArray(c, r3);
        c31.intoArray(c, r3 + L);
    }

    /** One row: C[1, NR] = from[1, NR] + A[1, kc] * panel. */
    static void kernel1(int kc, double[] a, int a0, double[] panel, double[] from, int f0, double[] c, int c0) {
        int r0 = c0;
        DoubleVector c00 = DoubleVector.fromArray(S, from, f0);
        DoubleVector c01 = DoubleVector.fromArray(S, from, f0 + L);
        for (int p = 0; p < kc; p++) {
            int bp = p * NR;
            int ap = a0 + p;
            DoubleVector b0 = DoubleVector.fromArray(S, panel, bp);
            DoubleVector b1 = DoubleVector.fromArray(S, panel, bp + L);
            DoubleVector x = DoubleVector.broadcast(S, a[ap]);
            c00 = b0.fma(x, c00);
            c01 = b1.fma(x, c01);
        }
        c00.intoArray(c, r0);
        c01.intoArray(c, r0 + L);
    }

    /** {@code kernel6} with A read in place, row-major: element (r, p) at {@code a[a0 + r*lda + p]}. */
    static void kernel6InPlace(int kc, double[] a, int a0, int lda, double[] panel,
                               double[] from, int f0, int ldf, double[] c, int c0, int ldc) {
        int r0 = c0;
        DoubleVector c00 = DoubleVector.fromArray(S, from, f0);
        DoubleVector c01 = DoubleVector.fromArray(S, from, f0 + L);
        int r1 = c0 + 1 * ldc;
        DoubleVector c10 = DoubleVector.fromArray(S, from, f0 + 1 * ldf);
        DoubleVector c11 = DoubleVector.fromArray(S, from, f0 + 1 * ldf + L);
        int r2 = c0 + 2 * ldc;
        DoubleVector c20 = DoubleVector.fromArray(S, from, f0 + 2 * ldf);
        DoubleVector c21 = DoubleVector.fromArray(S, from, f0 + 2 * ldf + L);
        int r3 = c0 + 3 * ldc;
        DoubleVector c30 = DoubleVector.fromArray(S, from, f0 + 3 * ldf);
        DoubleVector c31 = DoubleVector.fromArray(S, from, f0 + 3 * ldf + L);
        int r4 = c0 + 4 * ldc;
        DoubleVector c40 = DoubleVector.fromArray(S, from, f0 + 4 * ldf);
        DoubleVector c41 = DoubleVector.fromArray(S, from, f0 + 4 * ldf + L);
        int r5 = c0 + 5 * ldc;
        DoubleVector c50 = DoubleVector.fromArray(S, from, f0 + 5 * ldf);
        DoubleVector c51 = DoubleVector.fromArray(S, from, f0 + 5 * ldf + L);
        int r1a = 1 * lda;
        int r2a = 2 * lda;
        int r3a = 3 * lda;
        int r4a = 4 * lda;
        int r5a = 5 * lda;
        for (int p = 0; p < kc; p++) {
            int bp = p * NR;
            int ap = a0 + p;
            DoubleVector b0 = DoubleVector.fromArray(S, panel, bp);
            DoubleVector b1 = DoubleVector.fromArray(S, panel, bp + L);
            DoubleVector x = DoubleVector.broadcast(S, a[ap]);
            c00 = b0.fma(x, c00);
            c01 = b1.fma(x, c01);
            x = DoubleVector.broadcast(S, a[ap + r1a]);
            c10 = b0.fma(x, c10);
            c11 = b1.fma(x, c11);
            x = DoubleVector.broadcast(S, a[ap + r2a]);
            c20 = b0.fma(x, c20);
            c21 = b1.fma(x, c21);
            x = DoubleVector.broadcast(S, a[ap + r3a]);
            c30 = b0.fma(x, c30);
            c31 = b1.fma(x, c31);
            x = DoubleVector.broadcast(S, a[ap + r4a]);
            c40 = b0.fma(x, c40);
            c41 = b1.fma(x, c41);
            x = DoubleVector.broadcast(S, a[ap + r5a]);
            c50 = b0.fma(x, c50);
            c51 = b1.fma(x, c51);
        }
        c00.intoArray(c, r0);
        c01.intoArray(c, r0 + L);
        c10.intoArray(c, r1);
        c11.intoArray(c, r1 + L);
        c20.intoArray(c, r2);
        c21.intoArray(c, r2 + L);
        c30.intoArray(c, r3);
        c31.intoArray(c, r3 + L);
        c40.intoArray(c, r4);
        c41.intoArray(c, r4 + L);
        c50.intoArray(c, r5);
        c51.intoArray(c, r5 + L);
    }

    /** {@code kernel4} with A read in place, row-major: element (r, p) at {@code a[a0 + r*lda + p]}. */
    static void kernel4InPlace(int kc, double[] a, int a0, int lda, double[] panel,
                               double[] from, int f0, int ldf, double[] c, int c0, int ldc) {
        int r0 = c0;
        DoubleVector c00 = DoubleVector.fromArray(S, from, f0);
        DoubleVector c01 = DoubleVector.fromArray(S, from, f0 + L);
        int r1 = c0 + 1 * ldc;
        DoubleVector c10 = DoubleVector.fromArray(S, from, f0 + 1 * ldf);
        DoubleVector c11 = DoubleVector.fromArray(S, from, f0 + 1 * ldf + L);
        int r2 = c0 + 2 * ldc;
        DoubleVector c20 = DoubleVector.fromArray(S, from, f0 + 2 * ldf);
        DoubleVector c21 = DoubleVector.fromArray(S, from, f0 + 2 * ldf + L);
        int r3 = c0 + 3 * ldc;
        DoubleVector c30 = DoubleVector.fromArray(S, from, f0 + 3 * ldf);
        DoubleVector c31 = DoubleVector.fromArray(S, from, f0 + 3 * ldf + L);
        int r1a = 1 * lda;
        int r2a = 2 * lda;
        int r3a = 3 * lda;
        for (int p = 0; p < kc; p++) {
            int bp = p * NR;
            int ap = a0 + p;
            DoubleVector b0 = DoubleVector.fromArray(S, panel, bp);
            DoubleVector b1 = DoubleVector.fromArray(S, panel, bp + L);
            DoubleVector x = DoubleVector.broadcast(S, a[ap]);
            c00 = b0.fma(x, c00);
            c01 = b1.fma(x, c01);
            x = DoubleVector.broadcast(S, a[ap + r1a]);
            c10 = b0.fma(x, c10);
            c11 = b1.fma(x, c11);
            x = DoubleVector.broadcast(S, a[ap + r2a]);
            c20 = b0.fma(x, c20);
            c21 = b1.fma(x, c21);
            x = DoubleVector.broadcast(S, a[ap + r3a]);
            c30 = b0.fma(x, c30);
            c31 = b1.fma(x, c31);
        }
        c00.intoArray(c, r0);
        c01.intoArray(c, r0 + L);
        c10.intoArray(c, r1);
        c11.intoArray(c, r1 + L);
        c20.intoArray(c, r2);
        c21.intoArray(c, r2 + L);
        c30.intoArray(c, r3);
        c31.intoArray(c, r3 + L);
    }
}
