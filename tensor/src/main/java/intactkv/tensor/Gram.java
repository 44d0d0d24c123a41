package intactkv.tensor;

/**
 * The Gram matrix {@code G = X^T X} of {@code X (K, M)}, computing only the row blocks' parts on and right of the
 * diagonal and mirroring them: about half the multiply-adds of {@link MatMul#matmulTransA}{@code (X, X)}, with the
 * same bits.
 *
 * <p>Why the bits are the same: {@link Gemm} accumulates every output element as one FMA chain over the inner index
 * in order from 0, on every path (vector kernel, scalar reference, one-row product). {@code matmulTransA(X, X)}
 * computes {@code G[i][j]} as {@code c = fma(X[p][i], X[p][j], c)} for p = 0..K-1. Here a block of rows
 * {@code [i0, i0 + rows)} is {@code Xt[i0.., :] Xt[i0.., :]^T} with {@code Xt = X^T (M, K)}, whose element
 * {@code (i, j)} is {@code c = fma(Xt[i0+i][p], Xt[i0+j][p], c) = fma(X[p][i0+i], X[p][i0+j], c)}: the same chain
 * with the same factors. The element below the diagonal, {@code G[j][i]}, is the chain
 * {@code fma(X[p][j], X[p][i], c)}, with the two factors swapped; an FMA rounds the exact {@code a*b + c} once
 * and {@code a*b == b*a} exactly, so every step gives the same value and the mirrored copy is that element's value.
 *
 * <p>Work: block row {@code b} of {@value #BLOCK} rows multiplies against the {@code M - b*BLOCK} columns from its
 * diagonal on, so the multiply-adds are {@code K * BLOCK^2 * n(n+1)/2} for {@code n = M / BLOCK} blocks, a share
 * {@code (1 + BLOCK/M) / 2} of {@code K * M^2}: 0.53 at M = 2048, 0.51 at M = 5632. Copies: X^T once
 * ({@code K*M}) and the result once ({@code M^2}), small beside the {@code K*M^2/2} multiply-adds for K in the
 * hundreds.
 */
final class Gram {
    /**
     * Rows of G per block: one row chunk of {@link VectorGemm} (128 rows of packed A), so each packed panel of
     * B is used by 128 rows; a smaller block would repeat more of the diagonal blocks' lower halves.
     */
    static final int BLOCK = 128;

    private Gram() {
    }

    /** {@code X^T X} for {@code x (K, M)}: (M, M). {@code x} is not modified. */
    static Tensor of(Tensor x) {
        if (x.rank() != 2) {
            throw new IllegalArgumentException("gram: needs a (K, M) matrix, got shape " + x.shape());
        }
        int k = x.dim(0);
        int m = x.dim(1);
        double[] g = new double[m * m];
        if (m == 0) {
            return Tensor.wrap(g, m, m);
        }
        double[] xt = Layout.transpose(x, 0, 1).data(); // (M, K): row i is column i of X
        double[] part = new double[Math.min(BLOCK, m) * m];
        for (int i0 = 0; i0 < m; i0 += BLOCK) {
            int rows = Math.min(BLOCK, m - i0);
            int cols = m - i0;
            // part (rows, cols) = Xt[i0 .. i0+rows) Xt[i0 .. m)^T: G's rows i0.. from column i0 on
            Gemm.multiply(rows, cols, k, xt, i0 * k, false, xt, i0 * k, true, part, 0, true);
            for (int r = 0; r < rows; r++) {
                System.arraycopy(part, r * cols, g, (i0 + r) * m + i0, cols);
            }
            // mirror the columns right of the block into G's rows below it, one contiguous row segment at a time
            for (int j = rows; j < cols; j++) {
                int dst = (i0 + j) * m + i0;
                for (int r = 0; r < rows; r++) {
                    g[dst + r] = part[r * cols + j];
                }
            }
        }
        return Tensor.wrap(g, m, m);
    }
}
