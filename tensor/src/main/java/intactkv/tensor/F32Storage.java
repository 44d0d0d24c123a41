package intactkv.tensor;

/**
 * A weight held as float32, 4 bytes an element, on the heap as a {@code float[]} (why not
 * memory-mapped: {@link Bf16Storage}). Widening a float to double is exact.
 */
public final class F32Storage implements WeightStorage {
    private final float[] values;
    /** The row-interleaved layout of {@code values}, or null when row-major. */
    private final RowBlocks blocks;

    /** Wraps {@code values} (not copied; not modified afterwards by this class), row-major. */
    public F32Storage(float[] values) {
        this(values, null);
    }

    private F32Storage(float[] values, RowBlocks blocks) {
        this.values = values;
        this.blocks = blocks;
    }

    /**
     * A weight of {@code blocks.rows() x blocks.cols()} held in the row-interleaved layout of the one-row
     * product: {@code rowMajor} is rearranged in place ({@link RowBlocks#interleave(float[])}; <em>modified</em>)
     * and wrapped, not copied.
     */
    public static F32Storage interleaved(float[] rowMajor, RowBlocks blocks) {
        blocks.interleave(rowMajor);
        return new F32Storage(rowMajor, blocks);
    }

    @Override
    public RowBlocks rowBlocks() {
        return blocks;
    }

    @Override
    public int size() {
        return values.length;
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
                dst[dstOff + i + q] = values[at + q * stride];
            }
            i += run;
        }
    }

    @Override
    public void heldToDouble(int from, int count, double[] dst, int dstOff) {
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = values[from + i];
        }
    }

    @Override
    public long bytes() {
        return 4L * values.length;
    }

    @Override
    public String describe() {
        return "F32";
    }
}
