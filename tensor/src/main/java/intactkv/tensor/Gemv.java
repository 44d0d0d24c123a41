package intactkv.tensor;

/**
 * The one-row product {@code c (1, N) = a (1, K) B^T} with B stored as (N, K): what every linear
 * layer computes per generated token during decoding ({@code x W^T} with one row x).
 *
 * <p>It sums in exactly the order of {@link Gemm} ({@code c_j = fma(a_p, B[j, p], c_j)} for
 * p = 0..K-1 from {@code c_j = 0}), so it gives the same bits as the GEMM kernel and its scalar
 * reference; it differs only in how it reads memory. The GEMM kernel packs B into panels on
 * every call, which for one row means copying the whole weight to use each element once;
 * here B is read in place, once, eight rows at a time: eight independent accumulation chains
 * keep the FMA units busy while each row is streamed in order, so the product runs at the
 * speed memory delivers the weight. Rows are split over threads for large products.
 */
final class Gemv {
    /** Rows of B (outputs) accumulated together; eight chains hide the FMA latency. */
    private static final int ROWS = 8;

    private Gemv() {
    }

    /** {@code c[cOff + j] = sum_p a[aOff + p] * b[bOff + j*k + p]} for j < n, in the order of the class comment. */
    static void multiplyTransB(int n, int k, double[] a, int aOff, double[] b, int bOff, double[] c, int cOff,
                               boolean parallel) {
        int groups = (n + ROWS - 1) / ROWS;
        // split only products of >= 4M multiply-adds, as the GEMM kernel does
        int minChunk = parallel ? (int) Math.max(1, (4L << 20) / Math.max(1L, (long) ROWS * k)) : groups;
        Parallel.forRange(groups, minChunk, (lo, hi) -> {
            for (int g = lo; g < hi; g++) {
                int j0 = g * ROWS;
                int rows = Math.min(ROWS, n - j0);
                java.util.Arrays.fill(c, cOff + j0, cOff + j0 + rows, 0.0);
                accumulate(rows, k, a, aOff, b, bOff + j0 * k, k, c, cOff + j0);
            }
        });
    }

    /** Columns of the stored rows converted to doubles at a time (8 rows x 512 = 32 KB, in L1/L2). */
    private static final int CHUNK = 512;

    /**
     * {@link #multiplyTransB(int, int, double[], int, double[], int, double[], int, boolean)} with B held in
     * a {@link WeightStorage}: eight rows of B are converted to doubles {@link #CHUNK} columns at a time
     * into a small buffer and summed with the same eight chains, continued from chunk to chunk, so every
     * output sees {@code fma(a_p, B[j, p], c_j)} for p = 0..K-1 in order, as with B as doubles: the
     * same bits. The weight is read once, at its stored size (2 bytes an element for BF16).
     */
    static void multiplyTransB(int n, int k, double[] a, int aOff, WeightStorage b, double[] c, int cOff,
                               boolean parallel) {
        int groups = (n + ROWS - 1) / ROWS;
        int minChunk = parallel ? (int) Math.max(1, (4L << 20) / Math.max(1L, (long) ROWS * k)) : groups;
        Parallel.forRange(groups, minChunk, (lo, hi) -> {
            double[] buf = new double[ROWS * CHUNK];
            for (int g = lo; g < hi; g++) {
                int j0 = g * ROWS;
                int rows = Math.min(ROWS, n - j0);
                java.util.Arrays.fill(c, cOff + j0, cOff + j0 + rows, 0.0);
                for (int q0 = 0; q0 < k; q0 += CHUNK) {
                    int len = Math.min(CHUNK, k - q0);
                    for (int r = 0; r < rows; r++) {
                        b.toDouble((j0 + r) * k + q0, len, buf, r * CHUNK);
                    }
                    accumulate(rows, len, a, aOff + q0, buf, 0, CHUNK, c, cOff + j0);
                }
            }
        });
    }

    /**
     * {@code c[c0 + r] = fma(a_p, B[r, p], c[c0 + r])} for p = 0..len-1 in order, r < rows, row r of B
     * starting at {@code b[b0 + r * stride]}: the chains continue from what c holds (0 at the start of a
     * product, the sum so far between chunks of a stored B). Eight rows run as eight independent
     * chains; fewer (the last group) one after the other.
     */
    private static void accumulate(int rows, int len, double[] a, int aOff, double[] b, int b0, int stride,
                                   double[] c, int c0) {
        if (rows == ROWS) {
            eightRows(len, a, aOff, b, b0, stride, c, c0);
            return;
        }
        for (int r = 0; r < rows; r++) {
            double acc = c[c0 + r];
            int row = b0 + r * stride;
            for (int p = 0; p < len; p++) {
                acc = Math.fma(a[aOff + p], b[row + p], acc);
            }
            c[c0 + r] = acc;
        }
    }

    private static void eightRows(int len, double[] a, int aOff, double[] b, int b0, int stride, double[] c, int c0) {
        double s0 = c[c0];
        double s1 = c[c0 + 1];
        double s2 = c[c0 + 2];
        double s3 = c[c0 + 3];
        double s4 = c[c0 + 4];
        double s5 = c[c0 + 5];
        double s6 = c[c0 + 6];
        double s7 = c[c0 + 7];
        for (int p = 0; p < len; p++) {
            double x = a[aOff + p];
            int r = b0 + p;
            s0 = Math.fma(x, b[r], s0);
            s1 = Math.fma(x, b[r + stride], s1);
            s2 = Math.fma(x, b[r + 2 * stride], s2);
            s3 = Math.fma(x, b[r + 3 * stride], s3);
            s4 = Math.fma(x, b[r + 4 * stride], s4);
            s5 = Math.fma(x, b[r + 5 * stride], s5);
            s6 = Math.fma(x, b[r + 6 * stride], s6);
            s7 = Math.fma(x, b[r + 7 * stride], s7);
        }
        c[c0] = s0;
        c[c0 + 1] = s1;
        c[c0 + 2] = s2;
        c[c0 + 3] = s3;
        c[c0 + 4] = s4;
        c[c0 + 5] = s5;
        c[c0 + 6] = s6;
        c[c0 + 7] = s7;
    }
}
