package intactkv.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Weights held in their file's dtype ({@link WeightStorage}) give the same products, bit for bit, as
 * the same weights as doubles: every comparison here is exact (tolerance 0), since the storages'
 * conversions to double are exact and the kernels keep the accumulation order.
 */
class StoredWeightTest {
    /** (M, N, K): one row (the decode path, rows not a multiple of 8, K past one conversion chunk of 512), few and
     *  many rows, partial panels, K past one k-block of 256. */
    private static final int[][] SIZES = {
        {1, 8, 40}, {1, 13, 129}, {1, 37, 1100}, {1, 2051, 700}, {2, 7, 3}, {5, 25, 9}, {13, 49, 513},
        {64, 1001, 40}, {129, 300, 600}, {300, 30, 70},
    };

    /** A random weight (N, K) in each stored form, with the doubles it stands for. */
    private record Case(String name, WeightStorage stored, double[] dense) {
    }

    private static List<Case> cases(Random rng, int n) {
        float[] f = new float[n];
        short[] bf = new short[n];
        short[] h = new short[n];
        double[] df = new double[n];
        double[] dbf = new double[n];
        double[] dh = new double[n];
        for (int i = 0; i < n; i++) {
            double v = rng.nextGaussian() * (i % 17 == 0 ? 300 : 1); // a few large values, every exponent range used
            f[i] = (float) v;
            df[i] = f[i];
            bf[i] = HalfFloat.toBf16Bits(v);
            dbf[i] = HalfFloat.fromBf16Bits(bf[i]);
            h[i] = HalfFloat.toFp16Bits(v * 1e-3); // includes FP16 subnormals
            dh[i] = HalfFloat.fromFp16Bits(h[i]);
        }
        return List.of(new Case("F32", new F32Storage(f), df), new Case("BF16", new Bf16Storage(bf), dbf),
                new Case("F16", new F16Storage(h), dh));
    }

    @Test
    void conversionIsTheReadersConversion() {
        short[] all = new short[1 << 16];
        for (int b = 0; b < all.length; b++) {
            all[b] = (short) b;
        }
        double[] bf = new double[all.length];
        double[] h = new double[all.length];
        new Bf16Storage(all).toDouble(0, all.length, bf, 0);
        new F16Storage(all).toDouble(0, all.length, h, 0);
        for (int b = 0; b < all.length; b++) {
            assertEquals(Double.doubleToRawLongBits(HalfFloat.fromBf16Bits((short) b)), Double.doubleToRawLongBits(bf[b]),
                    "BF16 " + b);
            assertEquals(Double.doubleToRawLongBits(HalfFloat.fromFp16Bits((short) b)), Double.doubleToRawLongBits(h[b]),
                    "F16 " + b);
        }
    }

    /**
     * The vectorised BF16 and FP16 conversions handle runs that start anywhere and end in a partial vector (the
     * scalar tail): every (offset, count) below 4 vectors of 8 lanes gives the reader's doubles, and the elements
     * around the run are left alone; the FP16 patterns include an infinity and a NaN (VectorF16 converts a vector
     * that holds one through the table).
     */
    @Test
    void runsOfAnyOffsetAndLengthConvertExactly() {
        short[] bits = new short[64];
        java.util.Random r = new java.util.Random(7);
        for (int i = 0; i < bits.length; i++) {
            bits[i] = (short) r.nextInt();
        }
        assertRunsConvert(new Bf16Storage(bits), bits, HalfFloat::fromBf16Bits);
        short[] h = bits.clone();
        h[11] = (short) 0x7c00; // +inf
        h[30] = (short) 0xfe01; // NaN
        assertRunsConvert(new F16Storage(h), h, HalfFloat::fromFp16Bits);
    }

    private static void assertRunsConvert(WeightStorage s, short[] bits,
                                          java.util.function.Function<Short, Double> ref) {
        for (int from = 0; from < 9; from++) {
            for (int count = 0; count <= 33; count++) {
                double[] dst = new double[count + 2];
                java.util.Arrays.fill(dst, -7.0);
                s.toDouble(from, count, dst, 1);
                assertEquals(-7.0, dst[0], "before the run");
                assertEquals(-7.0, dst[count + 1], "after the run");
                for (int i = 0; i < count; i++) {
                    assertEquals(Double.doubleToRawLongBits(ref.apply(bits[from + i])),
                            Double.doubleToRawLongBits(dst[1 + i]),
                            s.describe() + " from " + from + " count " + count + " element " + i);
                }
            }
        }
    }

    @Test
    void linearOnAStoredWeightIsBitIdentical() {
        Random rng = new Random(27);
        for (int[] s : SIZES) {
            int m = s[0];
            int n = s[1];
            int k = s[2];
            Tensor x = Init.normal(rng, 1, m, k);
            for (Case c : cases(rng, n * k)) {
                Tensor w = Tensor.stored(c.stored(), Shape.of(n, k));
                Tensor want = MatMul.linear(x, Tensor.wrap(c.dense(), n, k));
                assertArrayEquals(want.data(), MatMul.linear(x, w).data(), 0.0, c.name() + " " + m + "," + n + "," + k);
                // dL/dx = G W: the stored weight as the right operand, not transposed
                Tensor g = Init.normal(rng, 1, m, n);
                assertArrayEquals(MatMul.matmul(g, Tensor.wrap(c.dense(), n, k)).data(), MatMul.matmul(g, w).data(), 0.0,
                        c.name() + " G W " + m + "," + n + "," + k);
            }
        }
    }

    @Test
    void embeddingRowsAndDataAreTheDenseValues() {
        Random rng = new Random(5);
        for (Case c : cases(rng, 50 * 12)) {
            Tensor w = Tensor.stored(c.stored(), Shape.of(50, 12));
            int[] ids = {3, 0, 49, 3};
            assertArrayEquals(Indexing.indexSelect(Tensor.wrap(c.dense(), 50, 12), ids).data(),
                    Indexing.indexSelect(w, ids).data(), 0.0, c.name());
            assertArrayEquals(c.dense(), w.data(), 0.0);
            assertNotSame(w.data(), w.data(), "data() of a stored tensor is a fresh copy each call");
            assertEquals(c.dense()[2 * 12 + 5], w.get(2, 5), 0.0);
            assertArrayEquals(c.dense(), w.reshape(600).data(), 0.0);
            assertArrayEquals(c.dense(), w.copy().data(), 0.0);
        }
    }

    @Test
    void storedTensorsAreReadOnlyAndSized() {
        Tensor w = Tensor.stored(new F32Storage(new float[6]), Shape.of(2, 3));
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> w.set(1.0, 0, 0));
        assertEquals("set: a tensor on F32 storage is read-only (copy() it first)", e.getMessage());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> Tensor.stored(new F32Storage(new float[5]), Shape.of(2, 3)));
        assertEquals("F32 storage of 5 elements does not match shape (2, 3) with 6 elements", bad.getMessage());
    }
}
