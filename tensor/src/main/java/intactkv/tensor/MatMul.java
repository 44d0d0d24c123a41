package intactkv.tensor;

import java.util.Arrays;

/**
 * Matrix products on the last two axes, with broadcasting over the leading (batch) axes,
 * like {@code torch.matmul}. All of them run the {@link Gemm} kernel.
 *
 * <ul>
 *   <li>{@link #matmul}: {@code (..., M, K) x (..., K, N) -> (..., M, N)}</li>
 *   <li>{@link #matmulTransB}: {@code (..., M, K) x (..., N, K) -> (..., M, N)}, i.e. {@code A B^T}
 *       without materialising the transpose (attention scores, {@code x W^T})</li>
 *   <li>{@link #matmulTransA}: {@code (..., K, M) x (..., K, N) -> (..., M, N)}, i.e. {@code A^T B}
 *       (weight gradients)</li>
 *   <li>{@link #linear}: {@code x (..., K), W (N, K) -> x W^T (..., N)}, {@code torch.nn.functional.linear}
 *       without bias</li>
 *   <li>{@link #gram}: {@code X (K, M) -> X^T X (M, M)}, the same bits as {@code matmulTransA(X, X)} with about
 *       half the work (GPTQ's Hessians)</li>
 * </ul>
 */
public final class MatMul {
    private MatMul() {
    }

    /** {@code A B} on the last two axes, batch axes broadcast. */
    public static Tensor matmul(Tensor a, Tensor b) {
        return batched("matmul", a, b, false, false);
    }

    /** {@code A B^T} on the last two axes, batch axes broadcast. */
    public static Tensor matmulTransB(Tensor a, Tensor b) {
        return batched("matmulTransB", a, b, false, true);
    }

    /** {@code A^T B} on the last two axes ({@code (..., K, M) x (..., K, N) -> (..., M, N)}), batch axes broadcast. */
    public static Tensor matmulTransA(Tensor a, Tensor b) {
        return batched("matmulTransA", a, b, true, false);
    }

    /**
     * {@code X^T X} of {@code x (K, M)}: (M, M), equal bit for bit to {@link #matmulTransA}{@code (x, x)} while
     * computing only the blocks on and right of the diagonal ({@link Gram} says why the mirrored half has the same
     * bits). {@code x} is not modified; a rank other than 2 is refused naming the shape.
     */
    public static Tensor gram(Tensor x) {
        return Gram.of(x);
    }

    /** {@code x W^T}: x of shape (..., K) and W of shape (N, K) give (..., N). */
    public static Tensor linear(Tensor x, Tensor w) {
        w.shape().requireRank("linear (weight)", 2);
        int k = w.dim(1);
        if (x.rank() < 1 || x.dim(-1) != k) {
            throw new IllegalArgumentException("linear: input shape " + x.shape() + " does not end in K = " + k
                    + " of weight shape " + w.shape());
        }
        int n = w.dim(0);
        int m = 1;
        for (int i = 0; i < x.rank() - 1; i++) {
            m *= x.dim(i);
        }
        int[] outDims = x.shape().dims();
        outDims[outDims.length - 1] = n;
        double[] c = new double[m * n];
        if (w.storage() != null) { // a compact weight: converted to double in the kernel's packing pass
            Gemm.multiply(m, n, k, x.data(), 0, false, w.storage(), true, c, 0, true);
        } else {
            Gemm.multiply(m, n, k, x.data(), 0, false, w.data(), 0, true, c, 0, true);
        }
        return Tensor.wrap(c, outDims);
    }

    private static Tensor batched(String op, Tensor a, Tensor b, boolean transA, boolean transB) {
        if (a.rank() < 2 || b.rank() < 2) {
            throw new IllegalArgumentException(op + ": needs rank >= 2 operands, got shapes " + a.shape()
                    + " and " + b.shape());
        }
        int m = transA ? a.dim(-1) : a.dim(-2);
        int k = transA ? a.dim(-2) : a.dim(-1);
        int kb = transB ? b.dim(-1) : b.dim(-2);
        int n = transB ? b.dim(-2) : b.dim(-1);
        if (k != kb) {
            throw new IllegalArgumentException(op + ": inner dimensions differ: shapes " + a.shape() + " and "
                    + b.shape() + " (K = " + k + " vs " + kb + ")");
        }
        Shape batchA = Shape.of(Arrays.copyOf(a.shape().dims(), a.rank() - 2));
        Shape batchB = Shape.of(Arrays.copyOf(b.shape().dims(), b.rank() - 2));
        Shape batch = Shape.broadcast(op + " (batch axes)", batchA, batchB);
        int nb = batch.numel();
        int[] sa = Elementwise.broadcastStrides(batchA, batch);
        int[] sb = Elementwise.broadcastStrides(batchB, batch);
        int[] outDims = Arrays.copyOf(batch.dims(), batch.rank() + 2);
        outDims[batch.rank()] = m;
        outDims[batch.rank() + 1] = n;
        double[] c = new double[nb * m * n];
        int aMat = m * k;
        int bMat = k * n;
        if (nb == 1 && b.storage() != null) { // a compact weight (dL/dx = G W of a linear): read where packed
            Gemm.multiply(m, n, k, a.data(), 0, transA, b.storage(), transB, c, 0, true);
        } else if (nb == 1) {
            Gemm.multiply(m, n, k, a.data(), 0, transA, b.data(), 0, transB, c, 0, true);
        } else {
            double[] ad = a.data(); // once: a stored operand's data() is a fresh copy per call
            double[] bd = b.data();
            Parallel.forRange(nb, 1, (lo, hi) -> {
                for (int t = lo; t < hi; t++) {
                    int[] idx = Checks.unravel(t, batch);
                    int offA = 0;
                    int offB = 0;
                    for (int i = 0; i < idx.length; i++) {
                        offA += idx[i] * sa[i];
                        offB += idx[i] * sb[i];
                    }
                    Gemm.multiply(m, n, k, ad, offA * aMat, transA, bd, offB * bMat, transB, c, t * m * n, false);
                }
            });
        }
        return Tensor.wrap(c, outDims);
    }
}
