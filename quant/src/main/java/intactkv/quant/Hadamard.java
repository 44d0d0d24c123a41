package intactkv.quant;

import intactkv.tensor.Init;
import intactkv.tensor.Tensor;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;

/**
 * Orthogonal rotation matrices for QuaRot. For n a power of two: a random Hadamard matrix,
 * {@code diag(s) H_n / sqrt(n)} with Sylvester's {@code H_n} and random signs s (QuaRot's
 * {@code random_hadamard_matrix}). For other n, QuaRot stores special Hadamard matrices of
 * sizes like 12, 20, 28 times powers of two; this implementation uses a random orthogonal
 * matrix from the QR decomposition of a Gaussian matrix instead (any orthogonal matrix keeps
 * the full-precision function; only the outlier-spreading quality differs).
 */
public final class Hadamard {
    private Hadamard() {
    }

    /** Whether n is a power of two. */
    public static boolean isPowerOfTwo(int n) {
        return n > 0 && (n & (n - 1)) == 0;
    }

    /** A seeded random orthogonal (n, n) matrix as described in the class comment. */
    public static Tensor random(int n, long seed) {
        Random rng = new Random(seed);
        if (isPowerOfTwo(n)) {
            Tensor h = sylvester(n);
            double[] d = h.data();
            double norm = 1 / Math.sqrt(n);
            for (int i = 0; i < n; i++) {
                double sign = rng.nextBoolean() ? 1 : -1;
                for (int j = 0; j < n; j++) {
                    d[i * n + j] *= sign * norm;
                }
            }
            return h;
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
