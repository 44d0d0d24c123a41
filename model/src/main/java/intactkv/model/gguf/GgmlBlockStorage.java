package intactkv.model.gguf;

import intactkv.tensor.WeightStorage;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A matrix of a ggml block type (Q4_0 .. Q8_0, Q2_K .. Q6_K) held as the file's own bytes, row-major, each row
 * {@link GgmlType#typeSize()} bytes a block of {@link GgmlType#blockSize()} elements: a 7B Q4_K_M model takes its
 * file's 4 GB in memory instead of 27 GB of float32. The kernels read it through {@link #toDouble}, which
 * dequantizes the blocks a run of a row touches with ggml's own functions ({@link Dequantize#into}, as
 * {@link GgufFile#readFloats} does) and widens the floats to double: element for element the doubles of the
 * float32 matrix that reading would give, so every product is the same, bit for bit. A block is dequantized as a
 * whole, independently of its neighbours, so any run of any row gives the same values.
 *
 * <p>Where the doubles are read: the GEMM's packing pass (each element once per product), the one-row product of
 * decoding ({@code Gemv}: 512 columns of 8 rows at a time, every element once per token: the dequantization runs at
 * every step, the price of the memory) and the embedding lookup (one row a token).
 */
public final class GgmlBlockStorage implements WeightStorage {
    private final GgmlType type;
    private final int rows;
    private final int cols;
    private final int rowBytes;
    private final byte[] bytes;
    /** A float row segment per thread, for {@link #toDouble}. */
    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * Wraps {@code bytes} (not copied): {@code rows} rows of {@code cols} elements of {@code type}, row-major.
     *
     * @throws IllegalArgumentException if {@code type} is not a block type this project dequantizes, {@code cols}
     *                                  is not a multiple of its block, or {@code bytes} is not that many rows
     */
    public GgmlBlockStorage(GgmlType type, int rows, int cols, byte[] bytes) {
        if (type.blockSize() == 1 || !type.isSupported()) {
            throw new IllegalArgumentException("ggml type " + type + " is not a block type this project dequantizes");
        }
        if (rows < 0 || cols <= 0 || cols % type.blockSize() != 0) {
            throw new IllegalArgumentException("a (" + rows + ", " + cols + ") " + type + " matrix needs rows of a"
                    + " multiple of " + type.blockSize() + " elements");
        }
        long rb = Dequantize.bytes(type, cols);
        if (rb * rows != bytes.length) {
            throw new IllegalArgumentException("a (" + rows + ", " + cols + ") " + type + " matrix takes "
                    + rb * rows + " bytes, got " + bytes.length);
        }
        this.type = type;
        this.rows = rows;
        this.cols = cols;
        this.rowBytes = (int) rb;
        this.bytes = bytes;
    }

    @Override
    public int size() {
        return rows * cols;
    }

    @Override
    public void toDouble(int from, int count, double[] dst, int dstOff) {
        int bs = type.blockSize();
        int i = 0;
        while (i < count) { // a row's run at a time: the blocks it touches, dequantized whole
            int row = (from + i) / cols;
            int col = (from + i) - row * cols;
            int run = Math.min(count - i, cols - col);
            int b0 = col / bs;
            int b1 = (col + run + bs - 1) / bs;
            int n = (b1 - b0) * bs;
            float[] y = SCRATCH.get();
            if (y.length < n) {
                y = new float[Math.max(n, 2 * y.length)];
                SCRATCH.set(y);
            }
            ByteBuffer src = ByteBuffer.wrap(bytes, row * rowBytes + b0 * type.typeSize(), (b1 - b0) * type.typeSize())
                    .order(ByteOrder.LITTLE_ENDIAN);
            Dequantize.into(type, src, y, 0, n);
            int skip = col - b0 * bs;
            for (int q = 0; q < run; q++) {
                dst[dstOff + i + q] = y[skip + q];
            }
            i += run;
        }
    }

    @Override
    public long bytes() {
        return bytes.length;
    }

    @Override
    public String describe() {
        return type.name();
    }
}
