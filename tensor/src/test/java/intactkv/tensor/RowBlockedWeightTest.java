package intactkv.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A weight held row-interleaved ({@link RowBlocks}) gives, bit for bit, the products of the same weight
 * held row-major: the one-row product of decoding ({@link BlockedGemv}, vectorised across rows) against
 * today's {@link Gemv} and the scalar {@link Gemm#reference}, and the GEMM (whose packing pass reads whole
 * row blocks) against the GEMM on the dense doubles, for every storage dtype, row counts that are odd,
 * below one block, or not a multiple of the lanes, and any K. Every comparison is exact (tolerance 0):
 * the layout only moves elements and the kernels keep each output's order of summation.
 */
class RowBlockedWeightTest {
    /** N: below one block, around multiples of 4 and 8 lanes and of a group of 8 blocks (32 / 64 rows), and large. */
    private static final int[] ROWS = {1, 2, 3, 4, 5, 7, 8, 9, 13, 31, 32, 33, 63, 64, 65, 100, 257, 515};
    /** K: 1, odd, around the kernel's 64-step conversion chunk, past the GEMM's 256-step k-block. */
    private static final int[] COLS = {1, 2, 3, 17, 63, 64, 65, 129, 300};

    /** The same random (N, K) weight row-major and row-interleaved, in one dtype, with the doubles it stands for. */
    private record Pair(String name, WeightStorage rowMajor, WeightStorage blocked, double[] dense) {
    }

    /**
     * The layouts a (N, K) weight is tried in, each with every dtype: the preferred ones (blocks of the vector's
     * lanes in groups of {@link BlockedGemv#GROUP}, each group's steps side by side, and FP16's groups of
     * {@link BlockedGemv#GROUP_F16}), blocks of their own (group 1, the layout before groups), and groups of 2 (which
     * the one-row product leaves to {@link Gemv}).
     */
    private static List<RowBlocks> layouts(int n, int k) {
        RowBlocks bf16 = RowBlocks.preferred(n, k, ElementDtype.BF16);
        RowBlocks f16 = RowBlocks.preferred(n, k, ElementDtype.F16);
        int lanes = bf16.lanes();
        return java.util.stream.Stream.of(bf16, f16, new RowBlocks(n, k, lanes), new RowBlocks(n, k, lanes, 2))
                .distinct().toList();
    }

    private static List<Pair> pairs(Random rng, RowBlocks blocks) {
        int n = blocks.rows();
        int k = blocks.cols();
        int size = n * k;
        float[] f = new float[size];
        short[] bf = new short[size];
        short[] h = new short[size];
        double[] df = new double[size];
        double[] dbf = new double[size];
        double[] dh = new double[size];
        for (int i = 0; i < size; i++) {
            double v = rng.nextGaussian() * (i % 17 == 0 ? 300 : 1);
            f[i] = (float) v;
            df[i] = f[i];
            bf[i] = HalfFloat.toBf16Bits(v);
            dbf[i] = HalfFloat.fromBf16Bits(bf[i]);
            h[i] = HalfFloat.toFp16Bits(v * 1e-3); // FP16 subnormals included
            dh[i] = HalfFloat.fromFp16Bits(h[i]);
        }
        return List.of(
                new Pair("F32", new F32Storage(f.clone()), F32Storage.interleaved(f, blocks), df),
                new Pair("BF16", new Bf16Storage(bf.clone()), Bf16Storage.interleaved(bf, blocks), dbf),
                new Pair("F16", new F16Storage(h.clone()), F16Storage.interleaved(h, blocks), dh));
    }

    private static double[] rowVector(Random rng, int k) {
        double[] a = new double[k + 3];
        for (int i = 0; i < a.length; i++) {
            a[i] = rng.nextGaussian();
        }
        return a;
    }

    /**
     * The decode product: interleaved (vectors across rows) equals today's row-major one-row product and the scalar
     * reference, in every layout.
     */
    @Test
    void oneRowProductIsBitIdenticalForEveryDtypeAndSize() {
        Random rng = new Random(2701);
        for (int n : ROWS) {
            for (int k : COLS) {
                for (Pair p : layouts(n, k).stream().flatMap(b -> pairs(rng, b).stream()).toList()) {
                    double[] a = rowVector(rng, k);
                    double[] want = new double[n + 2];
                    double[] ref = new double[n + 2];
                    double[] got = new double[n + 2];
                    double[] gotParallel = new double[n + 2];
                    Gemv.multiplyTransB(n, k, a, 3, p.rowMajor(), want, 1, false);
                    Gemm.reference(1, n, k, a, 3, false, p.dense(), 0, true, ref, 1);
                    got[0] = 5.0; // the elements around c are left alone
                    got[n + 1] = 6.0;
                    Gemm.multiply(1, n, k, a, 3, false, p.blocked(), true, got, 1, false);
                    Gemm.multiply(1, n, k, a, 3, false, p.blocked(), true, gotParallel, 1, true);
                    String at = p.name() + " n " + n + " k " + k + " " + p.blocked().rowBlocks();
                    assertArrayEquals(ref, want, 0.0, "row-major against the reference, " + at);
                    assertEquals(5.0, got[0], at);
                    assertEquals(6.0, got[n + 1], at);
                    got[0] = 0.0;
                    got[n + 1] = 0.0;
                    assertBits(want, got, "interleaved, " + at);
                    assertBits(want, gotParallel, "interleaved on threads, " + at);
                }
            }
        }
    }

    /** A product large enough to be split over threads (>= 1M multiply-adds a chunk), with a partial last group and block. */
    @Test
    void largeOneRowProductSplitOverThreadsIsBitIdentical() {
        Random rng = new Random(11);
        int n = 2051;
        int k = 2048;
        for (RowBlocks blocks : layouts(n, k)) {
            for (Pair p : pairs(rng, blocks)) {
                double[] a = rowVector(rng, k);
                double[] want = new double[n];
                double[] got = new double[n];
                Gemv.multiplyTransB(n, k, a, 0, p.rowMajor(), want, 0, true);
                Gemm.multiply(1, n, k, a, 0, false, p.blocked(), true, got, 0, true);
                assertBits(want, got, p.name() + " " + blocks);
            }
        }
    }

    /** Prefill: the GEMM with an interleaved B^T (packed from whole row blocks) and B equals the GEMM on the doubles. */
    @Test
    void gemmOnAnInterleavedWeightIsBitIdentical() {
        Random rng = new Random(99);
        int[][] sizes = {{2, 7, 3}, {5, 25, 9}, {13, 49, 513}, {64, 1001, 40}, {129, 300, 600}, {7, 33, 257}};
        for (int[] s : sizes) {
            int m = s[0];
            int n = s[1];
            int k = s[2];
            for (Pair p : layouts(n, k).stream().flatMap(b -> pairs(rng, b).stream()).toList()) {
                Tensor x = Init.normal(rng, 1, m, k);
                Tensor w = Tensor.stored(p.blocked(), Shape.of(n, k));
                Tensor dense = Tensor.wrap(p.dense(), n, k);
                String at = p.name() + " " + m + "," + n + "," + k + " " + p.blocked().rowBlocks();
                assertBits(MatMul.linear(x, dense).data(), MatMul.linear(x, w).data(), "x W^T " + at);
                Tensor g = Init.normal(rng, 1, m, n);
                assertBits(MatMul.matmul(g, dense).data(), MatMul.matmul(g, w).data(), "G W " + at);
            }
        }
    }

    /** Row-major reads of an interleaved weight (embedding rows, data(), runs across rows) give the dense values. */
    @Test
    void rowMajorReadsOfAnInterleavedWeightAreTheDenseValues() {
        Random rng = new Random(5);
        for (int lanes : new int[] {2, 4, 8}) {
            int n = 19;
            int k = 6;
            for (Pair p : java.util.stream.IntStream.of(1, 2, 8).boxed()
                    .flatMap(g -> pairs(rng, new RowBlocks(n, k, lanes, g)).stream()).toList()) {
                String at = p.name() + " " + p.blocked().rowBlocks();
                double[] all = new double[n * k];
                p.blocked().toDouble(0, all.length, all, 0);
                assertBits(p.dense(), all, at);
                for (int from = 0; from < n * k; from += 5) {
                    for (int count : new int[] {0, 1, 4, 7, 13}) {
                        int c = Math.min(count, n * k - from);
                        double[] part = new double[c + 2];
                        p.blocked().toDouble(from, c, part, 1);
                        assertEquals(0.0, part[0], at);
                        assertEquals(0.0, part[c + 1], at);
                        for (int i = 0; i < c; i++) {
                            assertEquals(Double.doubleToRawLongBits(p.dense()[from + i]),
                                    Double.doubleToRawLongBits(part[1 + i]), at + " from " + from + " element " + i);
                        }
                    }
                }
                Tensor w = Tensor.stored(p.blocked(), Shape.of(n, k));
                int[] ids = {3, 0, 18, 16, 3};
                assertBits(Indexing.indexSelect(Tensor.wrap(p.dense(), n, k), ids).data(),
                        Indexing.indexSelect(w, ids).data(), at);
                assertSame(p.blocked().rowBlocks(), p.blocked().rowBlocks());
                assertNull(p.rowMajor().rowBlocks(), at);
            }
        }
    }

    /** The layout itself: element (j, p) is held where the class comment of RowBlocks says, full and partial blocks. */
    @Test
    void layoutPlacesEveryElementWhereTheFormulaSays() {
        RowBlocks b = new RowBlocks(6, 3, 4); // one full block of 4 rows, a partial one of 2
        short[] w = new short[18];
        for (int i = 0; i < w.length; i++) {
            w[i] = (short) i; // value = row-major index
        }
        b.interleave(w);
        assertArrayEquals(new short[] {0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11, 12, 15, 13, 16, 14, 17}, w);
        for (int j = 0; j < 6; j++) {
            for (int p = 0; p < 3; p++) {
                assertEquals(j * 3 + p, w[b.physical(j, p)], "(" + j + ", " + p + ")");
            }
        }
        assertEquals(1, b.fullBlocks());
        assertEquals(2, b.tailRows());

        // 11 rows in blocks of 2, groups of 2 blocks: two groups of 4 rows (rows 0-3, 4-7), one block left over (8-9),
        // a partial block (row 10); each unit k-major
        RowBlocks g = new RowBlocks(11, 2, 2, 2);
        short[] v = new short[22];
        for (int i = 0; i < v.length; i++) {
            v[i] = (short) i;
        }
        g.interleave(v);
        assertArrayEquals(new short[] {0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15, 16, 18, 17, 19, 20, 21}, v);
        for (int j = 0; j < 11; j++) {
            for (int p = 0; p < 2; p++) {
                assertEquals(j * 2 + p, v[g.physical(j, p)], "(" + j + ", " + p + ")");
            }
        }
        assertEquals(2, g.fullGroups());
        assertEquals(10, g.blockStart(3)); // the second group's second block: 8 + 2
        assertEquals(4, g.stepStride(3));
        assertEquals(16, g.blockStart(4));
        assertEquals(2, g.stepStride(4));
        assertEquals(20, g.blockStart(5));
        assertEquals(1, g.stepStride(5));
    }

    @Test
    void invalidLayoutsAreRefusedWithTheSizes() {
        assertEquals("row blocks need rows >= 1, cols >= 1, lanes >= 2, group >= 1; got (0, 3, 4, 1)",
                assertThrows(IllegalArgumentException.class, () -> new RowBlocks(0, 3, 4)).getMessage());
        assertEquals("row blocks need rows >= 1, cols >= 1, lanes >= 2, group >= 1; got (2, 3, 4, 0)",
                assertThrows(IllegalArgumentException.class, () -> new RowBlocks(2, 3, 4, 0)).getMessage());
        assertEquals("row blocks of (65536, 65536) exceed 2^31 - 1 elements",
                assertThrows(IllegalArgumentException.class, () -> new RowBlocks(65536, 65536, 4)).getMessage());
        assertEquals("a (2, 3) weight has 6 elements, got 5",
                assertThrows(IllegalArgumentException.class, () -> new RowBlocks(2, 3, 4).interleave(new float[5]))
                        .getMessage());
    }

    private static void assertBits(double[] want, double[] got, String what) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) {
            if (Double.doubleToRawLongBits(want[i]) != Double.doubleToRawLongBits(got[i])) {
                assertEquals(want[i], got[i], 0.0, what + ", element " + i);
                assertEquals(Double.doubleToRawLongBits(want[i]), Double.doubleToRawLongBits(got[i]),
                        what + ", element " + i + " (sign of zero)");
            }
        }
    }
}
