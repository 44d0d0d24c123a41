package intactkv.quant;

import intactkv.tensor.Gemm;
import intactkv.tensor.Parallel;

/**
 * The factor GPTQ works with: the upper-triangular U with positive diagonal and
 * {@code U^T U = H^-1}, for a symmetric positive definite (damped) Hessian H (n, n), computed
 * with blocked algorithms whose bulk work is matrix products through {@link Gemm} (on every core).
 *
 * <p><b>The identity used.</b> Let J be the exchange matrix ({@code J[i][j] = 1} when
 * {@code i + j = n - 1}; {@code J = J^T = J^-1}). Factor the reversed matrix with an ordinary
 * lower Cholesky factorization, {@code J H J = L L^T}. Then
 * <pre>
 *   H = J L L^T J = (J L J)(J L J)^T = M M^T,     M = J L J upper-triangular (J reverses rows and columns)
 *   H^-1 = M^-T M^-1 = U^T U,                    U = M^-1 = J L^-1 J
 * </pre>
 * U is upper-triangular (the inverse of an upper-triangular matrix) with diagonal
 * {@code 1 / diag(M) > 0}, so by uniqueness of the Cholesky factorization it is exactly the upper
 * factor of H^-1 that {@code torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)}
 * returns in gptq.py {@code fasterquant} (AutoGPTQ the same), obtained with one Cholesky
 * factorization (n^3/3 multiply-adds) and one triangular inverse instead of a Cholesky, a full
 * inverse and a second Cholesky. On a row-major array, {@code J A J} is the array read backwards
 * ({@code (i, j) -> (n-1-i, n-1-j)} is flat index {@code k -> n^2-1-k}), so both exchanges are reversals.
 *
 * <p><b>Algorithms.</b> {@link #choleskyLower}: right-looking blocked Cholesky (blocks of
 * {@link #NB}): the diagonal block unblocked, the panel below it by substitution (rows in
 * parallel), the trailing lower triangle updated by {@code A22 -= L21 L21^T} as GEMMs, strip by
 * strip. {@link #invertLower}: recursive, {@code [[L11, 0], [L21, L22]]^-1 = [[X11, 0], [X21, X22]]}
 * with {@code X21 = -X22 (L21 X11)}: two GEMMs per level (2n^3/3 multiply-adds counting the zero
 * triangles the GEMM does not skip, all in large products), unblocked below {@link #NB}.
 *
 * <p><b>Bits.</b> Until commit 305b4f7 GPTQ ran EJML's Cholesky solver, its inverse and a second Cholesky
 * (single-threaded, about 11 minutes a TinyLlama-shaped layer). This factorization rounds differently, so the
 * factor differs in its last bits (within the condition-number bound that {@code HessianFactorTest} checks
 * against EJML): on the built-in model the perplexities and KL divergences of GPTQ W3/W4 g128 (with and
 * without IntactKV_[B]) agree with the EJML path to about 1e-15 relative, the same at every printed digit of
 * the demo, but the doubles are not bit-identical (docs/SCALE.md, "GPTQ on real shapes").
 *
 * <p>Reference: gptq.py / AutoGPTQ {@code GPTQ.fasterquant} ({@code H = torch.linalg.cholesky(H);
 * H = torch.cholesky_inverse(H); H = torch.linalg.cholesky(H, upper=True); Hinv = H}).
 */
final class HessianFactor {
    /** Block size of both blocked algorithms (the GEMM's inner dimension in the Cholesky update). */
    static final int NB = 128;

    private HessianFactor() {
    }

    /**
     * U with {@code U^T U = H^-1}, U upper-triangular with positive diagonal, row-major (n, n).
     * {@code h} (row-major, symmetric; its upper triangle is read, the lower one of the reversed copy) is not
     * modified.
     *
     * @throws IllegalArgumentException naming {@code layer} when H is not positive definite (a pivot
     *                                  not > 0 or NaN): GPTQ cannot proceed and the damping did not help
     */
    static double[] upperCholeskyOfInverse(double[] h, int n, String layer) {
        return upperCholeskyOfInverseOverwriting(h.clone(), n, layer);
    }

    /**
     * {@link #upperCholeskyOfInverse} computed in {@code h}'s own storage: {@code h} is reversed and
     * factored in place (it holds the reversed L afterwards), and only the inverse is a new n x n
     * array, itself reversed in place. Same values bit for bit (the reversal moves elements, it
     * computes nothing); at most two n x n arrays alive instead of four, which is the peak of GPTQ
     * on a 7B down_proj (n = 11008: 0.97 GB an array).
     */
    static double[] upperCholeskyOfInverseOverwriting(double[] h, int n, String layer) {
        reverseInPlace(h);
        if (!choleskyLower(h, n)) {
            throw new IllegalArgumentException(layer + ": the damped Hessian is not positive definite");
        }
        double[] x = invertLower(h, n);
        reverseInPlace(x);
        return x;
    }

    /** {@code x[k] <-> x[m - k]}: the row-major reversal J A J of a square matrix, in place. */
    private static void reverseInPlace(double[] x) {
        for (int k = 0, m = x.length - 1; k < m - k; k++) {
            double t = x[k];
            x[k] = x[m - k];
            x[m - k] = t;
        }
    }

    /**
     * In place: {@code a} (n, n, row-major, symmetric; its lower triangle is read) becomes L, lower
     * triangular with {@code L L^T = A}, zeros above the diagonal. Returns false (a is then
     * partly overwritten) when a pivot is not > 0 (A not positive definite, or NaN in it).
     */
    static boolean choleskyLower(double[] a, int n) {
        double[] strip = new double[NB * n];
        for (int k0 = 0; k0 < n; k0 += NB) {
            int k1 = Math.min(k0 + NB, n);
            int kb = k1 - k0;
            // the diagonal block, unblocked (its earlier columns were applied by the trailing updates)
            for (int j = k0; j < k1; j++) {
                double d = a[j * n + j] - dot(a, j * n + k0, j * n + k0, j - k0);
                if (!(d > 0)) {
                    return false;
                }
                double ljj = Math.sqrt(d);
                a[j * n + j] = ljj;
                for (int i = j + 1; i < k1; i++) {
                    a[i * n + j] = (a[i * n + j] - dot(a, i * n + k0, j * n + k0, j - k0)) / ljj;
                }
            }
            if (k1 == n) {
                break;
            }
            // the panel L21 = A21 L11^-T by substitution, rows independent
            int k0f = k0;
            Parallel.forRange(n - k1, 16, (lo, hi) -> {
                for (int i = k1 + lo; i < k1 + hi; i++) {
                    for (int j = k0f; j < k1; j++) {
                        a[i * n + j] = (a[i * n + j] - dot(a, i * n + k0f, j * n + k0f, j - k0f)) / a[j * n + j];
                    }
                }
            });
            // L21 packed (n - k1, kb), then A22 -= L21 L21^T on the lower triangle, NB rows at a time
            int m = n - k1;
            double[] p = new double[m * kb];
            for (int i = 0; i < m; i++) {
                System.arraycopy(a, (k1 + i) * n + k0, p, i * kb, kb);
            }
            for (int r0 = 0; r0 < m; r0 += NB) {
                int r1 = Math.min(r0 + NB, m);
                // C (r1 - r0, r1) = P[r0:r1] P[0:r1]^T: the strip's columns up to its diagonal
                Gemm.multiply(r1 - r0, r1, kb, p, r0 * kb, false, p, 0, true, strip, 0, true);
                for (int r = r0; r < r1; r++) {
                    int row = (k1 + r) * n + k1;
                    int c = (r - r0) * r1;
                    for (int col = 0; col <= r; col++) {
                        a[row + col] -= strip[c + col];
                    }
                }
            }
        }
        for (int i = 0; i < n; i++) {
            java.util.Arrays.fill(a, i * n + i + 1, (i + 1) * n, 0.0);
        }
        return true;
    }

    /** {@code sum_{p < len} x[i + p] x[j + p]}, in order. */
    private static double dot(double[] x, int i, int j, int len) {
        double s = 0;
        for (int p = 0; p < len; p++) {
            s += x[i + p] * x[j + p];
        }
        return s;
    }

    /**
     * The inverse of the lower-triangular {@code l} (n, n, row-major, nonzero diagonal; not modified),
     * lower triangular, as a new array.
     */
    static double[] invertLower(double[] l, int n) {
        double[] x = new double[n * n];
        invertBlock(l, x, n, 0, n);
        return x;
    }

    /** Rows and columns {@code [r0, r0 + m)} of X = L^-1 (a diagonal block of X depends only on L's). */
    private static void invertBlock(double[] l, double[] x, int n, int r0, int m) {
        if (m <= NB) {
            // row by row: X[i, :i] = -(1 / L_ii) sum_{p < i} L[i, p] X[p, :i];  X_ii = 1 / L_ii
            for (int i = r0; i < r0 + m; i++) {
                double lii = l[i * n + i];
                int xi = i * n;
                for (int p = r0; p < i; p++) {
                    double lip = l[i * n + p];
                    int xp = p * n;
                    for (int j = r0; j <= p; j++) {
                        x[xi + j] -= lip * x[xp + j];
                    }
                }
                for (int j = r0; j < i; j++) {
                    x[xi + j] /= lii;
                }
                x[xi + i] = 1 / lii;
            }
            return;
        }
        int m1 = (m / 2 + NB - 1) / NB * NB; // a multiple of NB: the base blocks stay full
        int m2 = m - m1;
        invertBlock(l, x, n, r0, m1);
        invertBlock(l, x, n, r0 + m1, m2);
        double[] l21 = block(l, n, r0 + m1, r0, m2, m1);
        double[] x11 = block(x, n, r0, r0, m1, m1);
        double[] x22 = block(x, n, r0 + m1, r0 + m1, m2, m2);
        double[] t = new double[m2 * m1];
        Gemm.multiply(m2, m1, m1, l21, 0, false, x11, 0, false, t, 0, true);
        double[] x21 = new double[m2 * m1];
        Gemm.multiply(m2, m1, m2, x22, 0, false, t, 0, false, x21, 0, true);
        for (int i = 0; i < m2; i++) {
            int row = (r0 + m1 + i) * n + r0;
            for (int j = 0; j < m1; j++) {
                x[row + j] = -x21[i * m1 + j];
            }
        }
    }

    /** The block of {@code a} (n columns) at rows {@code [r, r + rows)}, columns {@code [c, c + cols)}, copied. */
    private static double[] block(double[] a, int n, int r, int c, int rows, int cols) {
        double[] out = new double[rows * cols];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(a, (r + i) * n + c, out, i * cols, cols);
        }
        return out;
    }
}
