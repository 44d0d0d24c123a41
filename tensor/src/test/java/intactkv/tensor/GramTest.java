package intactkv.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link MatMul#gram} computes the blocks on and right of the diagonal and mirrors them; it must equal
 * {@link MatMul#matmulTransA}{@code (X, X)} exactly (tolerance 0): every element is the same FMA chain, with the
 * factors swapped below the diagonal ({@link Gram}).
 */
class GramTest {
    /** Odd sizes: one row, fewer rows than a register block, and one past one and four 128-row blocks. */
    private static final int[] SIZES = {1, 3, 67, 129, 515};

    @Test
    void equalsMatmulTransABitForBitOnOddShapes() {
        Random rng = new Random(41);
        for (int k : SIZES) {
            for (int m : SIZES) {
                Tensor x = Init.normal(rng, 1, k, m);
                // a few large columns, as calibration activations have, so that sums differ widely in magnitude
                for (int p = 0; p < k; p++) {
                    x.data()[p * m + (p % m)] *= 40;
                }
                Tensor want = MatMul.matmulTransA(x, x);
                Tensor got = MatMul.gram(x);
                assertEquals(want.shape(), got.shape(), "K, M = " + k + ", " + m);
                assertArrayEquals(want.data(), got.data(), 0.0, "K, M = " + k + ", " + m);
            }
        }
    }

    /** The same against the scalar reference kernel, and the result is symmetric bit for bit. */
    @Test
    void equalsTheScalarReferenceAndIsSymmetric() {
        Random rng = new Random(42);
        int k = 67;
        int m = 259; // two full blocks and three rows
        Tensor x = Init.normal(rng, 1, k, m);
        double[] ref = new double[m * m];
        Gemm.reference(m, m, k, x.data(), 0, true, x.data(), 0, false, ref, 0);
        double[] g = MatMul.gram(x).data();
        assertArrayEquals(ref, g, 0.0);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < i; j++) {
                assertEquals(Double.doubleToRawLongBits(g[i * m + j]), Double.doubleToRawLongBits(g[j * m + i]),
                        "(" + i + ", " + j + ")");
            }
        }
    }

    @Test
    void emptyInnerDimensionGivesZerosAndTheInputIsNotModified() {
        assertArrayEquals(new double[9], MatMul.gram(Tensor.zeros(0, 3)).data(), 0.0);
        Tensor x = Init.normal(new Random(43), 1, 5, 4);
        double[] before = x.data().clone();
        MatMul.gram(x);
        assertArrayEquals(before, x.data(), 0.0);
    }

    @Test
    void refusesAnythingButAMatrixNamingTheShape() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MatMul.gram(Tensor.zeros(2, 3, 4)));
        assertTrue(e.getMessage().contains("(2, 3, 4)"), e.getMessage());
    }
}
