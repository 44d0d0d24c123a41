package intactkv.tensor;

/**
 * The row-interleaved layout of a stored weight W (rows N, columns K) that the one-row product of
 * decoding reads with vectors across output rows ({@link BlockedGemv}): the rows are cut into blocks of
 * {@code lanes} consecutive rows (the vector's double lanes: 4 with AVX2, 8 with AVX-512), and inside a
 * block the elements are stored column-major (k-major):
 * <pre>
 *   physical(j, p) = b * lanes * K + p * w + (j - b * lanes),   b = j / lanes,
 *   w = lanes for a full block, N mod lanes for the last, partial block
 * </pre>
 * so the {@code lanes} weights of step p for the rows of a block are adjacent (one vector load), and a
 * run of steps p0..p0+kc-1 of one block is one contiguous range. The layout holds exactly N * K elements
 * (no padding), so it is made in place, one block at a time ({@link #interleave(short[])}): a checkpoint's
 * tensor never exists twice.
 *
 * <p>It only moves elements: every element keeps its value, so every product computed from it is the
 * same, bit for bit, as from the row-major weight.
 *
 * @param rows    N, the rows of W (outputs of the linear layer), at least 1
 * @param cols    K, the columns of W (inputs), at least 1
 * @param lanes   rows a block holds, at least 2
 */
public record RowBlocks(int rows, int cols, int lanes) {
    /** Validates the sizes: the layout addresses elements with int indices, as the storages do. */
    public RowBlocks {
        if (rows < 1 || cols < 1 || lanes < 2) {
            throw new IllegalArgumentException("row blocks need rows >= 1, cols >= 1, lanes >= 2; got (" + rows + ", "
                    + cols + ", " + lanes + ")");
        }
        if ((long) rows * cols > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("row blocks of (" + rows + ", " + cols + ") exceed 2^31 - 1 elements");
        }
    }

    /**
     * The layout the one-row product of this JVM reads: blocks of the preferred vector's double lanes
     * when the Vector API is present (4 with AVX2, 8 with AVX-512), else of 4 rows.
     */
    public static RowBlocks preferred(int rows, int cols) {
        return new RowBlocks(rows, cols, Gemm.vectorized() ? BlockedGemv.LANES : 4);
    }

    /** Blocks of {@code lanes} rows. */
    public int fullBlocks() {
        return rows / lanes;
    }

    /** Rows of the last, partial block (0 when N is a multiple of the lanes). */
    public int tailRows() {
        return rows % lanes;
    }

    /** Where element (row, col) of W is held (see the class comment). */
    public int physical(int row, int col) {
        int b = row / lanes;
        int width = b < fullBlocks() ? lanes : tailRows();
        return b * lanes * cols + col * width + (row - b * lanes);
    }

    /** Rearranges a row-major W into this layout, in place (a block's worth of scratch); {@code w} is <em>modified</em>. */
    public void interleave(short[] w) {
        checkLength(w.length);
        short[] block = new short[lanes * cols];
        for (int b = 0; b * lanes < rows; b++) {
            int width = Math.min(lanes, rows - b * lanes);
            int base = b * lanes * cols;
            System.arraycopy(w, base, block, 0, width * cols);
            for (int r = 0; r < width; r++) {
                for (int p = 0; p < cols; p++) {
                    w[base + p * width + r] = block[r * cols + p];
                }
            }
        }
    }

    /** {@link #interleave(short[])} for float32 weights. */
    public void interleave(float[] w) {
        checkLength(w.length);
        float[] block = new float[lanes * cols];
        for (int b = 0; b * lanes < rows; b++) {
            int width = Math.min(lanes, rows - b * lanes);
            int base = b * lanes * cols;
            System.arraycopy(w, base, block, 0, width * cols);
            for (int r = 0; r < width; r++) {
                for (int p = 0; p < cols; p++) {
                    w[base + p * width + r] = block[r * cols + p];
                }
            }
        }
    }

    private void checkLength(int length) {
        if (length != rows * cols) {
            throw new IllegalArgumentException("a (" + rows + ", " + cols + ") weight has " + rows * cols
                    + " elements, got " + length);
        }
    }
}
