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
    /** The row-interleaved layout of {@code bits}, or null when row-major. */
    private final RowBlocks blocks;

    /** Wraps {@code bits} (not copied; not modified afterwards by this class), row-major. */
    public Bf16Storage(short[] bits) {
        this(bits, null);
    }

    private Bf16Storage(short[] bits, RowBlocks blocks) {
        this.bits = bits;
        this.blocks = blocks;
    }

    /**
     * A weight of {@code blocks.rows() x blocks.cols()} held in the row-interleaved layout of the one-row
     * product: {@code rowMajor} is rearranged in place ({@link RowBlocks#interleave(short[])}; <em>modified</em>)
     * and wrapped, not copied.
     */
    public static Bf16Storage interleaved(short[] rowMajor, RowBlocks blocks) {
        blocks.interleave(rowMajor);
        return new Bf16Storage(rowMajor, blocks);
    }

    /** The held patterns themselves (in the layout of {@link #rowBlocks}), for the kernels that read BF16 directly. */
    short[] heldBits() {
        return bits;
    }

    @Override
    public RowBlocks rowBlocks() {
        return blocks;
    }

    @Override
    public int size() {
        return bits.length;
    }

    @Override
    public void toDouble(int from, int count, double[] dst, int dstOff) {
        if (blocks == null) {
            heldToDouble(from, count, dst, dstOff);
            return;
        }
        int cols = blocks.cols();
        int i = 0;
        while (i < count) { // one row's run at a time: its elements are held at a stride of its unit's width
            int row = (from + i) / cols;
            int col = (from + i) - row * cols;
            int run = Math.min(count - i, cols - col);
            int at = blocks.physical(row, col);
            int stride = blocks.stepStride(row / blocks.lanes());
            for (int q = 0; q < run; q++) {
                dst[dstOff + i + q] = Float.intBitsToFloat((bits[at + q * stride] & 0xffff) << 16);
            }
            i += run;
        }
    }

    @Override
    public void heldToDouble(int from, int count, double[] dst, int dstOff) {
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
