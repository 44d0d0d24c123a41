package intactkv.model.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;

import intactkv.tensor.HalfFloat;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The ports of ggml's scalar primitives against independent definitions: the FP16 bit trick
 * against {@link HalfFloat}'s exact round-to-nearest-even from double, BF16 likewise,
 * {@code nearest_int} against {@link Math#rint} in its documented range, and hand-worked cases.
 */
class GgmlFloatsTest {
    /** Random float bit patterns (every exponent, subnormals and values past FP16's range included). */
    private static float[] randomFloats(long seed, int n) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            float v;
            do {
                v = Float.intBitsToFloat(rnd.nextInt());
            } while (Float.isNaN(v));
            f[i] = v;
        }
        return f;
    }

    @Test
    void fp16BitTrickIsRoundToNearestEven() {
        for (float v : randomFloats(11, 200_000)) {
            assertEquals(HalfFloat.toFp16Bits(v), GgmlFloats.fp32ToFp16(v), "value " + v);
        }
        // exact FP16 ties: 1 + 2^-11 is halfway between 1 and 1 + 2^-10, and rounds to even (1)
        assertEquals((short) 0x3c00, GgmlFloats.fp32ToFp16(1f + 0x1p-11f));
        assertEquals((short) 0x3c02, GgmlFloats.fp32ToFp16(1f + 3 * 0x1p-11f));
        assertEquals((short) 0x7bff, GgmlFloats.fp32ToFp16(65519.99f));
        assertEquals((short) 0x7c00, GgmlFloats.fp32ToFp16(65520f));
        assertEquals((short) 0x0001, GgmlFloats.fp32ToFp16(0x1p-24f));
        assertEquals((short) 0x8000, GgmlFloats.fp32ToFp16(-0x1p-26f));
        // ggml keeps the sign of a NaN (HalfFloat does not)
        assertEquals((short) 0xfe00, GgmlFloats.fp32ToFp16(Float.intBitsToFloat(0xffc00000)));
    }

    @Test
    void bf16IsRoundToNearestEvenAndKeepsNaNQuiet() {
        for (float v : randomFloats(12, 200_000)) {
            assertEquals(HalfFloat.toBf16Bits(v), GgmlFloats.fp32ToBf16(v), "value " + v);
        }
        // a signalling NaN keeps its sign and upper payload and gets the quiet bit
        assertEquals((short) 0xffc1, GgmlFloats.fp32ToBf16(Float.intBitsToFloat(0xff810000)));
        assertEquals((short) 0x7fc1, GgmlFloats.fp32ToBf16(Float.intBitsToFloat(0x7f810001)));
    }

    @Test
    void nearestIntIsRintInItsRange() {
        SplittableRandom rnd = new SplittableRandom(13);
        for (int i = 0; i < 200_000; i++) {
            float v = (float) ((rnd.nextDouble() * 2 - 1) * Math.pow(2, rnd.nextInt(23)));
            assertEquals((int) Math.rint(v), GgmlFloats.nearestInt(v), "value " + v);
        }
        assertEquals(2, GgmlFloats.nearestInt(2.5f));
        assertEquals(-4, GgmlFloats.nearestInt(-3.5f));
        assertEquals(4194303, GgmlFloats.nearestInt(4194303f));
        // outside the range the bit trick is ggml's garbage, reproduced: NaN reads as 0
        assertEquals(0, GgmlFloats.nearestInt(Float.NaN));
    }

    @Test
    void castsAreX86Truncations() {
        assertEquals(-3, GgmlFloats.cvtt(-3.99f));
        assertEquals(Integer.MIN_VALUE, GgmlFloats.cvtt(Float.POSITIVE_INFINITY));
        assertEquals(Integer.MIN_VALUE, GgmlFloats.cvtt(Float.NaN));
        assertEquals(Integer.MIN_VALUE, GgmlFloats.cvtt(0x1p31f));
        assertEquals(Integer.MIN_VALUE, GgmlFloats.cvtt(-0x1p31f));
        assertEquals(Integer.MAX_VALUE - 127, GgmlFloats.cvtt(0x1p31f - 128));
    }

    @Test
    void bestIndexPicksTheNearestLevelAndTheUpperOneOnATie() {
        byte[] k = Iq4NlQuantize.VALUES;
        assertEquals(0, GgmlFloats.bestIndexInt8(k, -500f));
        assertEquals(15, GgmlFloats.bestIndexInt8(k, 500f));
        assertEquals(8, GgmlFloats.bestIndexInt8(k, 0f)); // -10 and 1: 1 is nearer
        assertEquals(8, GgmlFloats.bestIndexInt8(k, -4.5f)); // tie between -10 and 1 goes up
        assertEquals(7, GgmlFloats.bestIndexInt8(k, -4.50001f));
        for (int i = 0; i < k.length; i++) {
            assertEquals(i, GgmlFloats.bestIndexInt8(k, k[i]));
        }
    }
}
