package intactkv.tensor;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * BF16 to double with the Vector API, for {@link Bf16Storage#toDouble}: a group of BF16 patterns is
 * sign-extended to ints, shifted left by 16 (the pattern becomes the upper half of a float32; the
 * sign extension's upper bits are shifted out), reinterpreted as floats and widened to doubles. Each
 * step is exact, so every element equals the scalar {@code (double) Float.intBitsToFloat(b << 16)}:
 * the same bits, only several lanes at a time (tested in {@code StoredWeightTest}).
 */
final class VectorBf16 {
    /** Doubles per step: the preferred species (4 with AVX2, 8 with AVX-512). */
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    private static final int N = D.length();
    /** As many shorts, ints and floats as D has doubles (64 and 128 bits with AVX2). */
    private static final VectorSpecies<Short> H = VectorSpecies.of(short.class, jdk.incubator.vector.VectorShape.forBitSize(16 * N));
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, jdk.incubator.vector.VectorShape.forBitSize(32 * N));

    private VectorBf16() {
    }

    /**
     * The {@link #lanes()} BF16 patterns {@code bits[from ..]} as one vector of doubles, by the steps of the
     * class comment (exact); for kernels that read BF16 weights straight into their FMAs.
     */
    static DoubleVector load(short[] bits, int from) {
        IntVector w = (IntVector) ShortVector.fromArray(H, bits, from).convertShape(VectorOperators.S2I, I, 0);
        return (DoubleVector) w.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats()
                .convertShape(VectorOperators.F2D, D, 0);
    }

    /** Doubles per {@link #load}: the preferred species' lanes. */
    static int lanes() {
        return N;
    }

    /** {@code dst[dstOff + i] = bf16(bits[from + i])} for i < count; {@code dst} is <em>modified</em>. */
    static void toDouble(short[] bits, int from, int count, double[] dst, int dstOff) {
        int i = 0;
        for (; i + N <= count; i += N) {
            IntVector w = (IntVector) ShortVector.fromArray(H, bits, from + i).convertShape(VectorOperators.S2I, I, 0);
            FloatVector f = w.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            ((DoubleVector) f.convertShape(VectorOperators.F2D, D, 0)).intoArray(dst, dstOff + i);
        }
        for (; i < count; i++) {
            dst[dstOff + i] = Float.intBitsToFloat((bits[from + i] & 0xffff) << 16);
        }
    }
}
