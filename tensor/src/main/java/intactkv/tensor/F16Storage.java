package intactkv.tensor;

/**
 * A weight held as IEEE FP16 bit patterns, 2 bytes an element, on the heap as a {@code short[]}
 * (why not memory-mapped: {@link Bf16Storage}). The conversion reads a table of the 65536 values
 * {@link HalfFloat#fromFp16Bits} gives (512 KB, built once), so it is exactly the double the
 * safetensors reader produced before, without the branches of the decoding in the inner loop.
 */
public final class F16Storage implements WeightStorage {
    /** The value of every FP16 pattern, by its unsigned bits (also {@link VectorF16}'s, for exponent 31). */
    static final double[] VALUE = table();

    private static final boolean VECTOR = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    private final short[] bits;
    /** {@link #finite()}, once computed (a benign race: every thread computes the same value). */
    private volatile Boolean finite;
    /** The row-interleaved layout of {@code bits}, or null when row-major. */
    private final RowBlocks blocks;

    /** Wraps {@code bits} (not copied; not modified afterwards by this class), row-major. */
    public F16Storage(short[] bits) {
        this(bits, null);
    }

    private F16Storage(short[] bits, RowBlocks blocks) {
        this.bits = bits;
        this.blocks = blocks;
    }

    /**
     * A weight of {@code blocks.rows() x blocks.cols()} held in the row-interleaved layout of the one-row
     * product: {@code rowMajor} is rearranged in place ({@link RowBlocks#interleave(short[])}; <em>modified</em>)
     * and wrapped, not copied.
     */
    public static F16Storage interleaved(short[] rowMajor, RowBlocks blocks) {
        blocks.interleave(rowMajor);
        return new F16Storage(rowMajor, blocks);
    }

    @Override
    public RowBlocks rowBlocks() {
        return blocks;
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
                dst[dstOff + i + q] = VALUE[bits[at + q * stride] & 0xffff];
            }
            i += run;
        }
    }

    @Override
    public void heldToDouble(int from, int count, double[] dst, int dstOff) {
        if (VECTOR) { // the same values, a vector at a time (VectorF16; exponent 31 through the table)
            VectorF16.toDouble(bits, from, count, dst, dstOff);
            return;
        }
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = VALUE[bits[from + i] & 0xffff];
        }
    }

    /** The patterns in the held layout ({@link #rowBlocks()}), for kernels that read them; not to be modified. */
    short[] heldBits() {
        return bits;
    }

    /**
     * Whether no element is infinite or NaN (no pattern of exponent 31): then the one-row product may read the
     * patterns scaled by 2^-112 ({@link VectorF16#loadScaled}). Computed once, on first use.
     */
    boolean finite() {
        Boolean f = finite;
        if (f == null) {
            boolean all = true;
            for (short b : bits) {
                if ((b & 0x7c00) == 0x7c00) {
                    all = false;
                    break;
                }
            }
            finite = f = all;
        }
        return f;
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
