package intactkv.tensor;

/**
 * The 2-D matrix-multiply kernel: {@code C = A B} or {@code C = A B^T} on flat row-major arrays.
 *
 * <p>Every output element is accumulated in the same order by every path:
 * <pre>
 *   c = 0;  for k = 0..K-1:  c = fma(A[i,k], B[k,j], c)      (one rounding per step)
 * </pre>
 * so the Vector-API kernel ({@link VectorGemm}, vectorised across columns {@code j}, never
 * across {@code k}) and the scalar {@link #reference} kernel give bit-identical results, on
 * any vector width and any number of threads. The fast path is used when the
 * {@code jdk.incubator.vector} module is present at run time (the launcher, Surefire and JMH
 * add it); otherwise the scalar kernel runs and the numbers are the same.
 */
public final class Gemm {
    private Gemm() {
    }

    private static final boolean VECTOR = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    /** Whether the Vector-API kernel is in use. */
    public static boolean vectorized() {
        return VECTOR;
    }

    /**
     * {@code C (M, N) = op(A) * op(B)}: {@code op(A) = A} stored as (M, K) or, when
     * {@code transA}, {@code A^T} with A stored as (K, M); {@code op(B) = B} stored as (K, N)
     * or, when {@code transB}, {@code B^T} with B stored as (N, K). {@code c} is <em>modified</em>
     * (overwritten) from {@code cOff}; the other arrays are not modified. May run on several
     * threads when {@code parallel}.
     */
    public static void multiply(int m, int n, int k, double[] a, int aOff, boolean transA, double[] b, int bOff,
                                boolean transB, double[] c, int cOff, boolean parallel) {
        if (m == 0 || n == 0) {
            return;
        }
        if (m == 1 && transB && k > 0) { // one row times a weight: read the weight in place (same sums)
            Gemv.multiplyTransB(n, k, a, aOff, b, bOff, c, cOff, parallel);
            return;
        }
        if (VECTOR) {
            VectorGemm.multiply(m, n, k, a, aOff, transA, b, bOff, null, transB, c, cOff, parallel);
        } else {
            reference(m, n, k, a, aOff, transA, b, bOff, transB, c, cOff);
        }
    }

    /**
     * {@link #multiply(int, int, int, double[], int, boolean, double[], int, boolean, double[], int, boolean)}
     * with B held in a compact {@link WeightStorage} (a weight in its checkpoint's dtype, or
     * quantization codes): B's elements become doubles where the kernel reads them, in the packing
     * pass of the GEMM and in the one-row product, so no double copy of B is made and the sums are
     * the same as with B as doubles, bit for bit ({@link WeightStorage#toDouble} is exact).
     */
    public static void multiply(int m, int n, int k, double[] a, int aOff, boolean transA, WeightStorage b,
                                boolean transB, double[] c, int cOff, boolean parallel) {
        if (m == 0 || n == 0) {
            return;
        }
        if (m == 1 && transB && k > 0) {
            RowBlocks blocks = b.rowBlocks();
            if (VECTOR && blocks != null && blocks.rows() == n && blocks.cols() == k
                    && BlockedGemv.reads(blocks)) { // row-interleaved: vectors across rows, same sums
                BlockedGemv.multiply(a, aOff, b, blocks, c, cOff, parallel);
            } else {
                Gemv.multiplyTransB(n, k, a, aOff, b, c, cOff, parallel);
            }
            return;
        }
        if (VECTOR) {
            VectorGemm.multiply(m, n, k, a, aOff, transA, null, 0, b, transB, c, cOff, parallel);
        } else { // the fallback without the Vector API reads B as doubles (a transient copy)
            double[] dense = new double[b.size()];
            b.toDouble(0, dense.length, dense, 0);
            reference(m, n, k, a, aOff, transA, dense, 0, transB, c, cOff);
        }
    }

    /**
     * The scalar kernel with the accumulation order stated in the class comment; the oracle
     * for {@link VectorGemm} and the fallback without the Vector API.
     */
    public static void reference(int m, int n, int k, double[] a, int aOff, boolean transA, double[] b, int bOff,
                                 boolean transB, double[] c, int cOff) {
        for (int i = 0; i < m; i++) {
            int ci = cOff + i * n;
            java.util.Arrays.fill(c, ci, ci + n, 0.0);
            for (int p = 0; p < k; p++) {
                double aip = transA ? a[aOff + p * m + i] : a[aOff + i * k + p];
                if (transB) {
                    for (int j = 0; j < n; j++) {
                        c[ci + j] = Math.fma(aip, b[bOff + j * k + p], c[ci + j]);
                    }
                } else {
                    int bp = bOff + p * n;
                    for (int j = 0; j < n; j++) {
                        c[ci + j] = Math.fma(aip, b[bp + j], c[ci + j]);
                    }
                }
            }
        }
    }
}
