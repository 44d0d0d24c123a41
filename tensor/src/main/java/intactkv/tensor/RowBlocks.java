package intactkv.tensor;

/**
 * The row-interleaved layout of a stored weight W (rows N, columns K) that the one-row product of
 * decoding reads with vectors across output rows ({@link BlockedGemv}): the rows are cut into blocks of
 * {@code lanes} consecutive rows (the vector's double lanes: 4 with AVX2, 8 with AVX-512), and the blocks
 * into groups of {@code group} blocks (the blocks {@link BlockedGemv} sums side by side). Each full group,
 * then each block left over, then the last, partial block is one unit of {@code width} rows stored
 * column-major (k-major):
 * <pre>
 *   physical(j, p) = start(u) + p * width(u) + (j - first row of u),    u the unit row j belongs to,
 *   units in row order: N / (lanes * group) groups of width lanes * group, then (N / lanes) mod group
 *   blocks of width lanes, then one of width N mod lanes (if any); start(u) = first row of u * K
 * </pre>
 * so the {@code lanes} weights of step p for the rows of a block are adjacent (one vector load), the
 * {@code group * lanes} weights of step p of a group are one contiguous run, and a decoding step reads a
 * group as one stream instead of {@code group} streams K * lanes apart (a TinyLlama-shaped decode 7 %
 * faster on two cores, session 21; docs/PERFORMANCE.md). With {@code group} 1 every full block is its
 * own unit (the layout of sessions 13-20). The layout holds exactly N * K elements (no
 * padding), so it is made in place, one unit at a time ({@link #interleave(short[])}): a checkpoint's
 * tensor never exists twice.
 *
 * <p>It only moves elements: every element keeps its value, so every product computed from it is the
 * same, bit for bit, as from the row-major weight.
 *
 * @param rows    N, the rows of W (outputs of the linear layer), at least 1
 * @param cols    K, the columns of W (inputs), at least 1
 * @param lanes   rows a block holds, at least 2
 * @param group   blocks a group holds, at least 1
 */
public record RowBlocks(int rows, int cols, int lanes, int group) {
    /** Validates the sizes: the layout addresses elements with int indices, as the storages do. */
    public RowBlocks {
        if (rows < 1 || cols < 1 || lanes < 2 || group < 1) {
            throw new IllegalArgumentException("row blocks need rows >= 1, cols >= 1, lanes >= 2, group >= 1; got ("
                    + rows + ", " + cols + ", " + lanes + ", " + group + ")");
        }
        if ((long) rows * cols > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("row blocks of (" + rows + ", " + cols + ") exceed 2^31 - 1 elements");
        }
    }

    /** Blocks of {@code lanes} rows, each its own unit (no groups): the layout of sessions 13-20. */
    public RowBlocks(int rows, int cols, int lanes) {
        this(rows, cols, lanes, 1);
    }

    /**
     * The layout the one-row product of this JVM reads for a weight held as {@code held}: blocks of the preferred
     * vector's double lanes when the Vector API is present (4 with AVX2, 8 with AVX-512) in groups of
     * {@link BlockedGemv}'s blocks ({@link BlockedGemv#GROUP}; for FP16, whose kernel reads a group as two passes of
     * four blocks, {@link BlockedGemv#GROUP_F16}), else of 4 rows, ungrouped.
     */
    public static RowBlocks preferred(int rows, int cols, ElementDtype held) {
        if (!Gemm.vectorized()) {
            return new RowBlocks(rows, cols, 4);
        }
        return new RowBlocks(rows, cols, BlockedGemv.LANES,
                held == ElementDtype.F16 ? BlockedGemv.GROUP_F16 : BlockedGemv.GROUP);
    }

    /** Blocks of {@code lanes} rows. */
    public int fullBlocks() {
        return rows / lanes;
    }

    /** Full groups of {@code group} blocks. */
    public int fullGroups() {
        return fullBlocks() / group;
    }

    /** Rows of the last, partial block (0 when N is a multiple of the lanes). */
    public int tailRows() {
        return rows % lanes;
    }

    /** Where step 0 of block {@code b}'s first row is held (the partial block: b = {@link #fullBlocks()}). */
    public int blockStart(int b) {
        if (b < fullGroups() * group) {
            int g = b / group;
            return g * group * lanes * cols + (b - g * group) * lanes;
        }
        return b * lanes * cols;
    }

    /** How far apart block {@code b}'s steps are held: its unit's width (group * lanes, lanes, or the tail's rows). */
    public int stepStride(int b) {
        return b < fullGroups() * group ? group * lanes : b < fullBlocks() ? lanes : tailRows();
    }

    /** Where element (row, col) of W is held (see the class comment). */
    public int physical(int row, int col) {
        int b = row / lanes;
        return blockStart(b) + col * stepStride(b) + (row - b * lanes);
    }

    /** Rearranges a row-major W into this layout, in place (a unit's worth of scratch); {@code w} is <em>modified</em>. */
    public void interleave(short[] w) {
        checkLength(w.length);
        short[] unit = new short[Math.min(rows, group * lanes) * cols];
        for (int r0 = 0; r0 < rows; ) {
            int width = unitWidth(r0);
            int base = r0 * cols;
            System.arraycopy(w, base, unit, 0, width * cols);
            for (int r = 0; r < width; r++) {
                for (int p = 0; p < cols; p++) {
                    w[base + p * width + r] = unit[r * cols + p];
                }
            }
            r0 += width;
        }
    }

    /** {@link #interleave(short[])} for float32 weights. */
    public void interleave(float[] w) {
        checkLength(w.length);
        float[] unit = new float[Math.min(rows, group * lanes) * cols];
        for (int r0 = 0; r0 < rows; ) {
            int width = unitWidth(r0);
            int base = r0 * cols;
            System.arraycopy(w, base, unit, 0, width * cols);
            for (int r = 0; r < width; r++) {
                for (int p = 0; p < cols; p++) {
                    w[base + p * width + r] = unit[r * cols + p];
                }
            }
            r0 += width;
        }
    }

    /** The width of the unit that starts at row {@code r0}. */
    private int unitWidth(int r0) {
        return stepStride(r0 / lanes);
    }

    private void checkLength(int length) {
        if (length != rows * cols) {
            throw new IllegalArgumentException("a (" + rows + ", " + cols + ") weight has " + rows * cols
                    + " elements, got " + length);
        }
    }
}
