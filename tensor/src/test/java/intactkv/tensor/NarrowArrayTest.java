package intactkv.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link NarrowArray} and {@link ElementDtype}: what is read back is the written value rounded to nearest, ties to
 * even, checked against hand-worked ties, against independent roundings (Java's {@code (float)} cast for F32, the
 * bit patterns of {@link HalfFloat} for F16 and BF16) on random values of every magnitude the formats hold, and
 * finite values beyond a format's range are refused.
 */
class NarrowArrayTest {
    private static double roundTrip(ElementDtype d, double x) {
        NarrowArray a = NarrowArray.zeros(d, 3);
        a.write(new double[] {x}, 0, 1, 1);
        double[] out = new double[3];
        a.read(0, 3, out, 0);
        assertEquals(0.0, out[0]);
        assertEquals(0.0, out[2]);
        return out[1];
    }

    /** Ties to even at 1: halfway between 1 and the next value rounds down; halfway above an odd last bit, up. */
    @Test
    void tiesRoundToEvenByHand() {
        // F32: 23 fraction bits, spacing 2^-23 at 1
        assertEquals(1.0, roundTrip(ElementDtype.F32, 1 + 0x1p-24));
        assertEquals(1 + 0x1p-22, roundTrip(ElementDtype.F32, 1 + 3 * 0x1p-24));
        // F16: 10 fraction bits
        assertEquals(1.0, roundTrip(ElementDtype.F16, 1 + 0x1p-11));
        assertEquals(1 + 0x1p-9, roundTrip(ElementDtype.F16, 1 + 3 * 0x1p-11));
        assertEquals(-(1 + 0x1p-9), roundTrip(ElementDtype.F16, -(1 + 3 * 0x1p-11)));
        // F16 subnormals: multiples of 2^-24; half of the smallest rounds to 0 (even), 1.5 of it to 2
        assertEquals(0.0, roundTrip(ElementDtype.F16, 0x1p-25));
        assertEquals(0x1p-23, roundTrip(ElementDtype.F16, 3 * 0x1p-25));
        // BF16: 7 fraction bits
        assertEquals(1.0, roundTrip(ElementDtype.BF16, 1 + 0x1p-8));
        assertEquals(1 + 0x1p-6, roundTrip(ElementDtype.BF16, 1 + 3 * 0x1p-8));
        assertEquals(65504.0, roundTrip(ElementDtype.F16, 65519.0));
    }

    /**
     * Random values from 2^-30 to 2^15 and both signs: F32 equals {@code (float) x}, F16 and BF16 equal the value of
     * HalfFloat's bit pattern of x, and all equal {@link ElementDtype#round}; each is within half a unit of the last
     * place of x.
     */
    @Test
    void readBackIsTheRoundedValue() {
        Random r = new Random(24);
        int n = 4000;
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = (r.nextBoolean() ? -1 : 1) * Math.scalb(1 + r.nextDouble(), r.nextInt(46) - 30);
        }
        for (ElementDtype d : new ElementDtype[] {ElementDtype.F32, ElementDtype.F16, ElementDtype.BF16}) {
            NarrowArray a = NarrowArray.zeros(d, n + 5);
            a.write(x, 0, 5, n);
            double[] out = new double[n];
            a.read(5, n, out, 0);
            int fraction = d == ElementDtype.F32 ? 23 : d == ElementDtype.F16 ? 10 : 7;
            for (int i = 0; i < n; i++) {
                double expected = switch (d) {
                    case F32 -> (double) (float) x[i];
                    case F16 -> HalfFloat.fromFp16Bits(HalfFloat.toFp16Bits(x[i]));
                    default -> HalfFloat.fromBf16Bits(HalfFloat.toBf16Bits(x[i]));
                };
                assertEquals(expected, out[i], 0.0, d + " " + x[i]);
                assertEquals(d.round(x[i]), out[i], 0.0, d + " " + x[i]);
                // half a unit in the last place, or half the smallest subnormal spacing of F16 (2^-24)
                double ulp = Math.scalb(1.0, Math.max(Math.getExponent(x[i]), d == ElementDtype.F16 ? -14 : -126)
                        - fraction);
                assertTrue(Math.abs(out[i] - x[i]) <= ulp / 2, d + " " + x[i] + " -> " + out[i]);
            }
            assertEquals((long) (n + 5) * d.bytes(), a.bytes());
        }
    }

    /** Copies keep the patterns; NaN and infinities are kept; a finite value beyond the range is refused by value. */
    @Test
    void copiesSpecialsAndOverflow() {
        NarrowArray a = NarrowArray.zeros(ElementDtype.F16, 4);
        a.write(new double[] {Double.NaN, Double.NEGATIVE_INFINITY, -65504.0, 0.1}, 0, 0, 4);
        NarrowArray b = NarrowArray.zeros(ElementDtype.F16, 6);
        a.copyTo(0, b, 2, 4);
        double[] out = new double[6];
        b.read(0, 6, out, 0);
        assertTrue(Double.isNaN(out[2]));
        assertEquals(Double.NEGATIVE_INFINITY, out[3]);
        assertEquals(-65504.0, out[4]);
        assertEquals(HalfFloat.round(0.1, HalfFloat.Format.FP16), out[5]);

        IllegalArgumentException big = assertThrows(IllegalArgumentException.class,
                () -> a.write(new double[] {65520.0}, 0, 0, 1));
        assertEquals("the value 65520.0 is beyond the largest finite f16 (65504.0); hold it in a wider format",
                big.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> NarrowArray.zeros(ElementDtype.F32, 1).write(new double[] {1e39}, 0, 0, 1));
        assertThrows(IllegalArgumentException.class,
                () -> NarrowArray.zeros(ElementDtype.BF16, 1).write(new double[] {-1e39}, 0, 0, 1));
        assertEquals(Double.POSITIVE_INFINITY, roundTrip(ElementDtype.BF16, Double.POSITIVE_INFINITY));
        assertThrows(IllegalArgumentException.class, () -> a.copyTo(0, NarrowArray.zeros(ElementDtype.BF16, 4), 0, 1));
        assertThrows(IllegalArgumentException.class, () -> NarrowArray.zeros(ElementDtype.F64, 1));
        assertEquals(ElementDtype.BF16, ElementDtype.parse("bf16"));
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> ElementDtype.parse("F32"));
        assertEquals("must be f64, f32, f16 or bf16, got 'F32'", bad.getMessage());
    }
}
