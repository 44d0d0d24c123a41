package intactkv.quant;

import intactkv.tensor.Init;
import intactkv.tensor.Tensor;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;

/**
 * Orthogonal (n, n) matrices for QuaRot, as {@code quarot/hadamard_utils.py} builds them.
 *
 * <ul>
 *   <li>{@link #exact}: the normalised Hadamard transform {@code M_n} that QuaRot applies to a
 *       vector x as {@code M_n x} ({@code matmul_hadU}, {@code matmul_hadU_cuda},
 *       {@code fast_hadamard_transform}): for n a power of two {@code M_n = H_n / sqrt(n)} with
 *       Sylvester's {@code H_n}; for {@code n = K 2^m} with K one of {@link HadamardBases}'s orders,
 *       {@code M_n = (H_K ⊗ H_{2^m}) / sqrt(n)} (the input viewed as (K, n/K), the Walsh-Hadamard
 *       transform on its last axis, then {@code H_K} on its first). K is chosen as
 *       {@code get_hadK} does ({@link #factor}).</li>
 *   <li>{@link #random}: the random Hadamard matrix of the residual stream,
 *       {@code random_hadamard_matrix(n) = matmul_hadU(diag(s)) = diag(s) M_n^T} with random
 *       signs s (seeded {@link Random}; upstream draws them with {@code torch.randint}, so the
 *       signs themselves differ). Sizes with no exact transform (QuaRot asserts) get a random
 *       orthogonal matrix from the QR decomposition of a Gaussian matrix instead: any orthogonal
 *       matrix keeps the full-precision function; only how well it spreads outliers differs.</li>
 * </ul>
 */
public final class Hadamard {
    private Hadamard() {
    }

    /** Whether n is a power of two. */
    public static boolean isPowerOfTwo(int n) {
        return n > 0 && (n & (n - 1)) == 0;
    }

    /**
     * The order K of the non-Sylvester factor of {@link #exact}{@code (n)}: 1 for a power of two;
     * for others the first order of {@code get_hadK}'s list (172, 156, 140, 108, 60, 52, 36, 28,
     * 40, 20, 12) that divides n, provided n / K is a power of two and {@code H_K} is built here;
     * 0 when there is no exact transform of size n.
     */
    public static int factor(int n) {
        if (isPowerOfTwo(n)) {
            return 1;
        }
        for (int k : HadamardBases.TRIED) {
            if (n % k == 0) {
                return isPowerOfTwo(n / k) && HadamardBases.built(k) ? k : 0;
            }
        }
        return 0;
    }

    /** Whether {@link #exact}{@code (n)} exists. */
    public static boolean hasExact(int n) {
        return n > 0 && factor(n) > 0;
    }

    /**
     * QuaRot's normalised Hadamard transform {@code M_n} (see the class comment); the transform
     * of a row vector x is {@code x M_n^T}.
     *
     * @throws IllegalArgumentException when n has no exact transform ({@link #factor} is 0)
     */
    public static Tensor exact(int n) {
        int k = n > 0 ? factor(n) : 0;
        if (k == 0) {
            throw new IllegalArgumentException("no exact Hadamard transform of size " + n + ": QuaRot's sizes are 2^m and"
                    + " K * 2^m for K in 12, 20, 28, 36, 40, 60, 108, 140 (52, 156, 172 are not built here)");
        }
        int m = n / k;
        double[] base = k == 1 ? new double[] {1} : HadamardBases.matrix(k);
        double norm = 1 / Math.sqrt(n);
        double[] out = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double syl = Integer.bitCount((i % m) & (j % m)) % 2 == 0 ? 1 : -1;
                out[i * n + j] = base[(i / m) * k + j / m] * syl * norm;
            }
        }
        return Tensor.wrap(out, n, n);
    }

    /** {@link #exact}{@code (n)} where it exists, else {@link #random}{@code (n, seed)} (random orthogonal). */
    public static Tensor exactOrRandom(int n, long seed) {
        return hasExact(n) ? exact(n) : random(n, seed);
    }

    /** A seeded random orthogonal (n, n) matrix as described in the class comment. */
    public static Tensor random(int n, long seed) {
        Random rng = new Random(seed);
        if (hasExact(n)) {
            double[] m = exact(n).data();
            double[] d = new double[n * n];
            for (int i = 0; i < n; i++) {
                double sign = rng.nextBoolean() ? 1 : -1;
                for (int j = 0; j < n; j++) {
                    d[i * n + j] = sign * m[j * n + i];
                }
            }
            return Tensor.wrap(d, n, n);
        }
        DMatrixRMaj g = DMatrixRMaj.wrap(n, n, Init.normal(rng, 1, n, n).data());
        QRDecomposition<DMatrixRMaj> qr = DecompositionFactory_DDRM.qr(n, n);
        if (!qr.decompose(g)) {
            throw new IllegalStateException("QR decomposition failed for a random " + n + "x" + n + " matrix");
        }
        DMatrixRMaj q = qr.getQ(null, false);
        return Tensor.wrap(q.getData(), n, n);
    }

    /** Sylvester's Hadamard matrix of order n (entries +-1), n a power of two. */
    public static Tensor sylvester(int n) {
        if (!isPowerOfTwo(n)) {
            throw new IllegalArgumentException("Sylvester Hadamard needs a power of two, got " + n);
        }
        double[] h = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                h[i * n + j] = Integer.bitCount(i & j) % 2 == 0 ? 1 : -1;
            }
        }
        return Tensor.wrap(h, n, n);
    }
}
