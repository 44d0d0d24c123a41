package intactkv.tensor;

/**
 * A weight held as BF16 bit patterns, 2 bytes an element (a quarter of {@code double}). Kept on
 * the heap as a {@code short[]} rather than memory-mapped: Java 17 maps at most 2 GB per buffer
 * (a 7B model's embedding alone is 262 MB, but its shards are larger than 2 GB), a plain array is
 * read by the JIT-compiled conversion loop without bounds-check overhead per element, and mapped
 * pages count in a process's resident set as soon as a kernel touches them anyway.
 *
 * <p>BF16 is the upper half of an IEEE float32 pattern, so {@code (double) Float.intBitsToFloat(b << 16)}
 * is exact and equals {@link HalfFloat#fromBf16Bits}, which the safetensors reader used before.
 */
public final class Bf16Storage implements WeightStorage {
    /** Whether the Vector-API conversion ({@link VectorBf16}, the same bits) can be used. */
    private static final boolean VECTOR = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    private final short[] bits;

    /** Wraps {@code bits} (not copied; not modified afterwards by this class). */
    public Bf16Storage(short[] bits) {
        this.bits = bits;
    }

    @Override
    public int size() {
        return bits.length;
    }

    @Override
    public void toDouble(int from, int count, double[] dst, int dstOff) {
        if (VECTOR) {
            VectorBf16.toDouble(bits, from, count, dst, dstOff);
            return;
        }
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = Float.intBitsToFloat((bits[from + i] & 0xffff) << 16);
        }
    }

    @Override
    public long bytes() {
        return 2L * bits.length;
    }

    @Override
    public String describe() {
        return "BF16";
    }
}
