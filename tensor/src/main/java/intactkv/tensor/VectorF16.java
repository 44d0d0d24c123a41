package intactkv.tensor;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * IEEE FP16 to double with the Vector API, exactly, for {@link F16Storage}: a group of FP16 patterns h is
 * sign-extended to ints and shifted left by 13, which puts h's sign at bit 31 and its 5 exponent and 10 fraction bits
 * at bits 27..13 (the masked-out bits 30..28 held copies of the sign). Read as a float32, that pattern is
 * {@code value(h) x 2^-112} exactly: a normal FP16 (exponent e in 1..30) becomes a normal float of exponent e - 127
 * instead of e - 15, a subnormal FP16 (e = 0, the fraction counting 2^-24) a subnormal float counting 2^-136, zero
 * stays zero. Widened to double (exact), {@link #toDouble} multiplies by 2^112 (exact: a power of two, and the result
 * is the FP16 value, far inside double's range), giving what {@link HalfFloat#fromFp16Bits} gives.
 *
 * <p>The one-row product ({@link BlockedGemv}) skips the multiplication: it multiplies the scaled weight
 * ({@link #loadScaled}) by {@code a_p x 2^112} instead, and {@code fma(w 2^-112, a 2^112, c)} rounds the same real
 * number {@code w a + c} once, so the same bits, as long as {@code a_p x 2^112} is exact (|a_p| below 2^911) and
 * no pattern is infinite or NaN (exponent 31, which this scaling does not map to infinity or NaN): the caller checks
 * both ({@link F16Storage#finite}) and otherwise takes the exact general path. {@link #toDouble} handles exponent 31
 * through the table of {@link F16Storage}, one vector of patterns at a time.
 */
final class VectorF16 {
    /** Doubles per step: the preferred species (4 with AVX2, 8 with AVX-512). */
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    private static final int N = D.length();
    /** As many shorts and ints as D has doubles. */
    private static final VectorSpecies<Short> H = VectorSpecies.of(short.class,
            jdk.incubator.vector.VectorShape.forBitSize(16 * N));
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class,
            jdk.incubator.vector.VectorShape.forBitSize(32 * N));
    /** The scale between a pattern read by {@link #loadScaled} and its FP16 value: 2^112. */
    static final double SCALE = 0x1p112;
    /** The largest |a| whose product with {@link #SCALE} is exact and finite (2^911 x 2^112 = 2^1023). */
    static final double MAX_SCALED_INPUT = 0x1p911;

    private VectorF16() {
    }

    /**
     * The {@link #lanes()} FP16 patterns {@code bits[from ..]} as doubles times 2^-112 (exact; see the class comment),
     * for patterns whose exponent is not 31.
     */
    static DoubleVector loadScaled(short[] bits, int from) {
        IntVector w = (IntVector) ShortVector.fromArray(H, bits, from).convertShape(VectorOperators.S2I, I, 0);
        return (DoubleVector) w.lanewise(VectorOperators.LSHL, 13).lanewise(VectorOperators.AND, 0x8fffe000)
                .reinterpretAsFloats().convertShape(VectorOperators.F2D, D, 0);
    }

    /** Doubles per {@link #loadScaled}: the preferred species' lanes. */
    static int lanes() {
        return N;
    }

    /**
     * {@code dst[dstOff + i] = fp16(bits[from + i])} for i &lt; count, exactly {@link HalfFloat#fromFp16Bits} bit for
     * bit (infinities and NaN through {@link F16Storage}'s table of the 65536 values); {@code dst} is
     * <em>modified</em>.
     */
    static void toDouble(short[] bits, int from, int count, double[] dst, int dstOff) {
        double[] table = F16Storage.VALUE;
        int i = 0;
        for (; i + N <= count; i += N) {
            ShortVector h = ShortVector.fromArray(H, bits, from + i);
            VectorMask<Short> special = h.and((short) 0x7c00).compare(VectorOperators.EQ, (short) 0x7c00);
            if (special.anyTrue()) {
                for (int q = 0; q < N; q++) {
                    dst[dstOff + i + q] = table[bits[from + i + q] & 0xffff];
                }
                continue;
            }
            IntVector w = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
            FloatVector f = w.lanewise(VectorOperators.LSHL, 13).lanewise(VectorOperators.AND, 0x8fffe000)
                    .reinterpretAsFloats();
            ((DoubleVector) f.convertShape(VectorOperators.F2D, D, 0)).mul(SCALE).intoArray(dst, dstOff + i);
        }
        for (; i < count; i++) {
            dst[dstOff + i] = table[bits[from + i] & 0xffff];
        }
    }
}
