package intactkv.tensor;

/**
 * A weight held as IEEE FP16 bit patterns, 2 bytes an element, on the heap as a {@code short[]}
 * (why not memory-mapped: {@link Bf16Storage}). The conversion reads a table of the 65536 values
 * {@link HalfFloat#fromFp16Bits} gives (512 KB, built once), so it is exactly the double the
 * safetensors reader produced before, without the branches of the decoding in the inner loop.
 */
public final class F16Storage implements WeightStorage {
    private static final double[] VALUE = table();

    private final short[] bits;

    /** Wraps {@code bits} (not copied; not modified afterwards by this class). */
    public F16Storage(short[] bits) {
        this.bits = bits;
    }

    private static double[] table() {
        double[] t = new double[1 << 16];
        for (int b = 0; b < t.length; b++) {
            t[b] = HalfFloat.fromFp16Bits((short) b);
        }
        return t;
    }

    @Override
    public int size() {
        return bits.length;
    }

    @Override
    public void toDouble(int from, int count, double[] dst, int dstOff) {
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = VALUE[bits[from + i] & 0xffff];
        }
    }

    @Override
    public long bytes() {
        return 2L * bits.length;
    }

    @Override
    public String describe() {
        return "F16";
    }
}
