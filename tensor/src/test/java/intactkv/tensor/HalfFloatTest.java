package intactkv.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.tensor.HalfFloat.Format;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class HalfFloatTest {
    @Test
    void handPickedFp16Values() {
        assertEquals(65504.0, HalfFloat.round(65504.0, Format.FP16));
        assertEquals(65504.0, HalfFloat.round(65519.99, Format.FP16));
        assertEquals(Double.POSITIVE_INFINITY, HalfFloat.round(65520.0, Format.FP16)); // tie goes to even: 2^16
        assertEquals(0x1.0p-24, HalfFloat.round(0x1.0p-24, Format.FP16));
        assertEquals(0.0, HalfFloat.round(0x1.0p-25, Format.FP16)); // tie between 0 and 2^-24: even is 0
        assertEquals(0x1.0p-24, HalfFloat.round(0x1.0000000000001p-25, Format.FP16));
        assertEquals(1.0, HalfFloat.round(1.0 + 0x1.0p-11, Format.FP16)); // tie: even mantissa
        assertEquals(1.0 + 0x1.0p-9, HalfFloat.round(1.0 + 3 * 0x1.0p-11, Format.FP16)); // tie: up to even
        assertEquals(0.333251953125, HalfFloat.round(1.0 / 3, Format.FP16));
        assertEquals((short) 0x3c00, HalfFloat.toFp16Bits(1.0));
        assertEquals((short) 0xc000, HalfFloat.toFp16Bits(-2.0));
        assertEquals((short) 0x7bff, HalfFloat.toFp16Bits(65504));
        assertEquals((short) 0x0001, HalfFloat.toFp16Bits(0x1.0p-24));
        assertEquals((short) 0x8000, HalfFloat.toFp16Bits(-0.0));
        assertTrue(Double.isNaN(HalfFloat.fromFp16Bits(HalfFloat.toFp16Bits(Double.NaN))));
    }

    @Test
    void handPickedBf16Values() {
        assertEquals(1.0, HalfFloat.round(1.0 + 0x1.0p-8, Format.BF16)); // tie to even
        assertEquals(1.0 + 0x1.0p-6, HalfFloat.round(1.0 + 3 * 0x1.0p-8, Format.BF16));
        assertEquals((short) 0x3f80, HalfFloat.toBf16Bits(1.0));
        assertEquals((short) 0x4049, HalfFloat.toBf16Bits(Math.PI)); // 3.140625
        assertEquals(3.140625, HalfFloat.fromBf16Bits((short) 0x4049));
        assertEquals(Double.POSITIVE_INFINITY, HalfFloat.round(0x1.ffp127, Format.BF16));
    }

    /** Every 16-bit pattern decodes to a value that encodes back to the same pattern. */
    @Test
    void allPatternsRoundTrip() {
        for (int b = 0; b < 65536; b++) {
            short bits = (short) b;
            double v16 = HalfFloat.fromFp16Bits(bits);
            if (!Double.isNaN(v16)) {
                assertEquals(bits, HalfFloat.toFp16Bits(v16), "fp16 pattern " + Integer.toHexString(b));
                assertEquals(v16, HalfFloat.round(v16, Format.FP16));
            }
            double vb = HalfFloat.fromBf16Bits(bits);
            if (!Double.isNaN(vb)) {
                assertEquals(bits, HalfFloat.toBf16Bits(vb), "bf16 pattern " + Integer.toHexString(b));
            }
        }
    }

    /**
     * Independent oracle: the nearest FP16 value found by binary search over the sorted list
     * of all finite FP16 values, ties to the even pattern, on random doubles of all magnitudes.
     */
    @Test
    void matchesBruteForceNearestValue() {
        double[] values = new double[0x7c00];
        for (int b = 0; b < 0x7c00; b++) {
            values[b] = HalfFloat.fromFp16Bits((short) b); // increasing for positive patterns
        }
        Random rng = new Random(11);
        for (int t = 0; t < 200_000; t++) {
            double x = Math.scalb(rng.nextDouble() * 2, rng.nextInt(44) - 28);
            if (t % 4 == 0) { // exact ties between neighbours
                int b = rng.nextInt(0x7bff);
                x = (values[b] + values[b + 1]) / 2;
            }
            int pos = Arrays.binarySearch(values, x);
            double expected;
            if (pos >= 0) {
                expected = values[pos];
            } else {
                int hi = -pos - 1;
                if (hi >= values.length) {
                    double max = values[values.length - 1];
                    expected = x - max < (0x1.0p16 - max) / 2 ? max : Double.POSITIVE_INFINITY;
                } else {
                    int lo = hi - 1;
                    double dl = x - values[lo];
                    double dh = values[hi] - x;
                    expected = dl < dh ? values[lo] : dh < dl ? values[hi] : ((lo & 1) == 0 ? values[lo] : values[hi]);
                }
            }
            assertEquals(expected, HalfFloat.round(x, Format.FP16), "x = " + x);
            assertEquals(-expected, HalfFloat.round(-x, Format.FP16), "x = " + -x);
        }
    }
}
