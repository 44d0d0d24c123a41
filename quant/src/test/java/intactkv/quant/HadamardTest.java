package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.tensor.MatMul;
import intactkv.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

class HadamardTest {
    static double offIdentity(Tensor m) {
        Tensor p = MatMul.matmulTransB(m, m);
        int n = m.dim(0);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                worst = Math.max(worst, Math.abs(p.get(i, j) - (i == j ? 1 : 0)));
            }
        }
        return worst;
    }

    /** H_K H_K^T = K I with +-1 entries: each built base is a Hadamard matrix. */
    @Test
    void basesAreHadamardMatrices() {
        for (int k : new int[] {12, 20, 28, 36, 40, 60, 108, 140}) {
            double[] h = HadamardBases.matrix(k);
            for (int i = 0; i < k; i++) {
                for (int j = 0; j < k; j++) {
                    double dot = 0;
                    for (int c = 0; c < k; c++) {
                        dot += h[i * k + c] * h[j * k + c];
                    }
                    assertEquals(i == j ? k : 0, dot, 0.0, "H_" + k + " rows " + i + ", " + j);
                    assertEquals(1.0, Math.abs(h[i * k + j]), 0.0);
                }
            }
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HadamardBases.matrix(172));
        assertTrue(e.getMessage().contains("172"), e.getMessage());
    }

    /** get_hadK's choice of K: the first of its list that divides n, if n / K is a power of two. */
    @Test
    void factorFollowsGetHadK() {
        assertEquals(1, Hadamard.factor(4096));
        assertEquals(12, Hadamard.factor(384)); // the built-in model's d_ff
        assertEquals(40, Hadamard.factor(5120)); // LLaMA-13B hidden size
        assertEquals(108, Hadamard.factor(13824)); // LLaMA-13B d_ff
        assertEquals(60, Hadamard.factor(120)); // 60 is tried before 40, 20 and 12
        assertEquals(0, Hadamard.factor(11008)); // LLaMA-2-7B d_ff = 172 * 64: Williamson, not built
        assertEquals(0, Hadamard.factor(360)); // 60 divides, 6 is not a power of two: upstream asserts
        assertEquals(0, Hadamard.factor(44));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Hadamard.exact(44));
        assertTrue(e.getMessage().contains("size 44"), e.getMessage());
    }

    /** M_n is orthogonal and is H_K (x) Sylvester over sqrt(n); random(n) is diag(s) M_n^T. */
    @Test
    void exactAndRandomAreOrthogonal() {
        for (int n : new int[] {1, 8, 24, 48, 80, 120, 384}) {
            Tensor m = Hadamard.exact(n);
            assertTrue(offIdentity(m) < 1e-13, "M_" + n);
            assertTrue(offIdentity(Hadamard.random(n, 3)) < 1e-13, "random " + n);
            assertTrue(offIdentity(Hadamard.exactOrRandom(n, 3)) < 1e-13);
        }
        assertTrue(offIdentity(Hadamard.random(44, 3)) < 1e-13); // QR fallback
        Tensor m = Hadamard.exact(24);
        double[] h12 = HadamardBases.matrix(12);
        for (int i = 0; i < 24; i++) {
            for (int j = 0; j < 24; j++) {
                double syl = Integer.bitCount((i % 2) & (j % 2)) % 2 == 0 ? 1 : -1;
                assertEquals(h12[(i / 2) * 12 + j / 2] * syl / Math.sqrt(24), m.get(i, j), 1e-16);
            }
        }
        Tensor r = Hadamard.random(24, 11);
        Random rng = new Random(11);
        for (int i = 0; i < 24; i++) {
            double s = rng.nextBoolean() ? 1 : -1;
            for (int j = 0; j < 24; j++) {
                assertEquals(s * m.get(j, i), r.get(i, j), 0.0);
            }
        }
    }

    /** For powers of two random(n) is still diag(s) H_n / sqrt(n), entry for entry as before. */
    @Test
    void powerOfTwoRandomIsUnchanged() {
        int n = 64;
        Tensor r = Hadamard.random(n, 42);
        Tensor h = Hadamard.sylvester(n);
        Random rng = new Random(42);
        double norm = 1 / Math.sqrt(n);
        for (int i = 0; i < n; i++) {
            double sign = rng.nextBoolean() ? 1 : -1;
            for (int j = 0; j < n; j++) {
                assertEquals(h.get(i, j) * (sign * norm), r.get(i, j), 0.0);
            }
        }
    }
}
