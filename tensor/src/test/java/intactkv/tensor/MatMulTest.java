package intactkv.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.Test;

class MatMulTest {
    private static final int[][] SIZES = {
        {1, 1, 1}, {1, 7, 3}, {3, 1, 5}, {4, 24, 8}, {5, 25, 9}, {7, 33, 1}, {13, 50, 17}, {64, 64, 64},
        {33, 97, 130}, {2, 200, 3}, {0, 4, 3}, {3, 0, 4}, {3, 4, 0}, {19, 30, 300}, {13, 49, 513},
        {100, 72, 260}, {200, 150, 300},
        // one row (the decode GEMV path): rows not a multiple of 8, and one large enough to use threads
        {1, 8, 40}, {1, 13, 129}, {1, 2051, 2048},
        // enough rows for A to be packed on several threads, with 4 + 1 leftover rows; and, with the rows split
        // over threads and the panels shared, a partial last panel and two k-blocks
        {1101, 30, 300}, {300, 1024, 520},
        // more panels than one group of packed B (40 panels of 24 columns), a partial last panel, with one
        // row chunk (panels packed one at a time) and with several
        {64, 1001, 40}, {260, 1001, 40}, {129, 2000, 20},
    };

    @Test
    void handWorked() {
        Tensor a = Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor b = Tensor.of(new double[] {7, 8, 9, 10, 11, 12}, 3, 2);
        assertArrayEquals(new double[] {58, 64, 139, 154}, a.matmul(b).data());
        assertArrayEquals(new double[] {58, 64, 139, 154},
                MatMul.matmulTransB(a, b.transpose(0, 1)).data());
        assertArrayEquals(new double[] {58, 64, 139, 154}, MatMul.linear(a, b.transpose(0, 1)).data());
    }

    /** The production kernel equals the scalar fma reference bit for bit (same accumulation order). */
    @Test
    void kernelIsBitIdenticalToReference() {
        Random rng = new Random(12);
        for (int[] s : SIZES) {
            int m = s[0];
            int n = s[1];
            int k = s[2];
            double[] a = Init.normal(rng, 1, m * k).data();
            double[] b = Init.normal(rng, 1, k * n).data();
            for (int layout = 0; layout < 4; layout++) {
                boolean transA = (layout & 1) != 0;
                boolean transB = (layout & 2) != 0;
                for (boolean parallel : new boolean[] {false, true}) {
                    double[] c = new double[m * n];
                    double[] r = new double[m * n];
                    java.util.Arrays.fill(c, Double.NaN); // output must be fully overwritten
                    Gemm.multiply(m, n, k, a, 0, transA, b, 0, transB, c, 0, parallel);
                    Gemm.reference(m, n, k, a, 0, transA, b, 0, transB, r, 0);
                    assertArrayEquals(r, c, 0.0, "M,N,K = " + m + "," + n + "," + k + " transA " + transA
                            + " transB " + transB);
                }
            }
        }
    }

    /**
     * Each thread reuses its packing buffers from one product to the next: a large product (every
     * buffer filled), then smaller ones with a shorter k-block, fewer rows and fewer panels, then the large
     * one again, each equal to the reference bit for bit, so nothing left in a buffer reaches a result.
     */
    @Test
    void reusedPackingBuffersDoNotLeakBetweenProducts() {
        Random rng = new Random(13);
        int[][] sequence = {{300, 1001, 600}, {9, 30, 7}, {260, 50, 100}, {129, 1001, 3}, {300, 1001, 600}};
        for (int[] s : sequence) {
            int m = s[0];
            int n = s[1];
            int k = s[2];
            double[] a = Init.normal(rng, 1, m * k).data();
            double[] b = Init.normal(rng, 1, k * n).data();
            for (boolean transB : new boolean[] {false, true}) {
                double[] c = new double[m * n];
                double[] r = new double[m * n];
                Gemm.multiply(m, n, k, a, 0, false, b, 0, transB, c, 0, true);
                Gemm.reference(m, n, k, a, 0, false, b, 0, transB, r, 0);
                assertArrayEquals(r, c, 0.0, "M,N,K = " + m + "," + n + "," + k + " transB " + transB);
            }
        }
    }

    /** Independent oracles: EJML's multiply and a plain non-fused triple loop, to 1e-12 relative. */
    @Test
    void agreesWithEjmlAndNaive() {
        Random rng = new Random(13);
        for (int[] s : SIZES) {
            Tensor a = Init.normal(rng, 1, s[0], s[2]);
            Tensor b = Init.normal(rng, 1, s[2], s[1]);
            Tensor c = a.matmul(b);
            DMatrixRMaj ea = DMatrixRMaj.wrap(s[0], s[2], a.data());
            DMatrixRMaj eb = DMatrixRMaj.wrap(s[2], s[1], b.data());
            DMatrixRMaj ec = new DMatrixRMaj(s[0], s[1]);
            if (s[0] > 0 && s[1] > 0) {
                CommonOps_DDRM.mult(ea, eb, ec);
            }
            for (int i = 0; i < s[0]; i++) {
                for (int j = 0; j < s[1]; j++) {
                    double naive = 0;
                    double scale = 0;
                    for (int p = 0; p < s[2]; p++) {
                        naive += a.get(i, p) * b.get(p, j);
                        scale += Math.abs(a.get(i, p) * b.get(p, j));
                    }
                    double tol = 1e-12 * Math.max(1, scale);
                    assertEquals(naive, c.get(i, j), tol);
                    assertEquals(ec.get(i, j), c.get(i, j), tol);
                }
            }
        }
    }

    @Test
    void batchedBroadcastEqualsPerMatrixProducts() {
        Random rng = new Random(14);
        Tensor a = Init.normal(rng, 1, 2, 1, 3, 4);
        Tensor b = Init.normal(rng, 1, 3, 4, 5);
        Tensor c = a.matmul(b);
        assertEquals(Shape.of(2, 3, 3, 5), c.shape());
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 3; j++) {
                Tensor ai = Layout.slice(a, 0, i, i + 1).reshape(3, 4);
                Tensor bj = Layout.slice(b, 0, j, j + 1).reshape(4, 5);
                Tensor cij = Layout.slice(Layout.slice(c, 0, i, i + 1), 1, j, j + 1).reshape(3, 5);
                assertArrayEquals(ai.matmul(bj).data(), cij.data(), 0.0);
            }
        }
        Tensor bt = Layout.transpose(b, -1, -2);
        assertArrayEquals(c.data(), MatMul.matmulTransB(a, bt).data(), 0.0);
        Tensor at = Layout.transpose(a, -1, -2);
        assertArrayEquals(c.data(), MatMul.matmulTransA(at, b).data(), 0.0);
    }

    @Test
    void linearFlattensLeadingAxes() {
        Random rng = new Random(15);
        Tensor x = Init.normal(rng, 1, 2, 3, 4);
        Tensor w = Init.normal(rng, 1, 5, 4);
        Tensor y = MatMul.linear(x, w);
        assertEquals(Shape.of(2, 3, 5), y.shape());
        assertArrayEquals(x.reshape(6, 4).matmul(w.transpose(0, 1)).data(), y.data(), 0.0);
    }

    @Test
    void errorsNameBothShapes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.zeros(2, 3).matmul(Tensor.zeros(4, 5)));
        assertTrue(e.getMessage().contains("matmul") && e.getMessage().contains("(2, 3)")
                && e.getMessage().contains("(4, 5)"), e.getMessage());
        IllegalArgumentException l = assertThrows(IllegalArgumentException.class,
                () -> MatMul.linear(Tensor.zeros(2, 3), Tensor.zeros(4, 5)));
        assertTrue(l.getMessage().contains("(2, 3)") && l.getMessage().contains("(4, 5)"), l.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(3).matmul(Tensor.zeros(3, 1)));
    }

    @Test
    void vectorKernelIsActiveUnderTheTestFlags() {
        // Surefire passes --add-modules jdk.incubator.vector; without it the fast path is off.
        assertTrue(Gemm.vectorized());
    }
}
