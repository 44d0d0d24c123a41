package intactkv.quant;

import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import intactkv.tensor.WeightStorage;

/**
 * A quantized weight W (rows, cols) kept as what the quantizer computed: one integer code per element
 * and a scale s and zero z per (row, group), dequantized where a kernel reads it with
 * {@link FakeQuant#dequantize} ({@code (code - z) * s}, the second half of {@link FakeQuant#quantize}),
 * so its doubles are exactly the fake-quantized weight's. Column c of row r belongs to group
 * {@code groupOf[c]}: {@code c / g} for groups of g consecutive inputs (RTN, AWQ), the act-order
 * group for GPTQ and QuaRot (AutoGPTQ's {@code g_idx}), 0 per channel.
 *
 * <p>Held in memory as one byte per code for 2..8 bits (a short for 9..16): an eighth of the
 * double weight, and the conversion reads whole bytes; on disk the codes are packed to their bit
 * width ({@link PackedCheckpoint}). A code is stored as {@code code - qmin}, in {@code [0, 2^bits)}:
 * {@code qmin} is 0 for asymmetric and GPTQ-style symmetric codes, {@code -2^(bits-1)} for RTN's
 * symmetric ones.
 */
public final class QuantCodes implements WeightStorage {
    private final int rows;
    private final int cols;
    private final int bits;
    private final int qmin;
    private final int groups;
    private final byte[] small;   // code - qmin, bits <= 8
    private final short[] large;  // code - qmin, bits > 8
    private final double[] scales; // (rows, groups)
    private final double[] zeros;  // (rows, groups)
    private final int[] groupOf;   // (cols)

    /**
     * Wraps the arrays (not copied). {@code offsets[i]} is {@code code - qmin} of element i (row-major),
     * in {@code [0, 2^bits)}; {@code scales} and {@code zeros} are (rows, groups), {@code groupOf} (cols)
     * with values in {@code [0, groups)}. Sizes are checked here; values by {@link PackedCheckpoint} when
     * they come from a file.
     */
    QuantCodes(int rows, int cols, int bits, int qmin, int groups, int[] offsets, double[] scales, double[] zeros,
               int[] groupOf) {
        this(rows, cols, bits, qmin, groups, bits <= 8 ? bytes(offsets) : null, bits <= 8 ? null : shorts(offsets),
                scales, zeros, groupOf);
    }

    private QuantCodes(int rows, int cols, int bits, int qmin, int groups, byte[] small, short[] large,
                       double[] scales, double[] zeros, int[] groupOf) {
        FakeQuant.checkBits("quantization codes", bits);
        int codes = small != null ? small.length : large.length;
        if ((long) rows * cols != codes || (long) rows * groups != scales.length
                || zeros.length != scales.length || groupOf.length != cols || (small == null) != (bits > 8)) {
            throw new IllegalArgumentException("quantization codes of (" + rows + ", " + cols + ") with " + groups
                    + " groups: " + codes + " codes, " + scales.length + " scales, " + zeros.length + " zeros, "
                    + groupOf.length + " group indices");
        }
        this.rows = rows;
        this.cols = cols;
        this.bits = bits;
        this.qmin = qmin;
        this.groups = groups;
        this.small = small;
        this.large = large;
        this.scales = scales;
        this.zeros = zeros;
        this.groupOf = groupOf;
    }

    private static byte[] bytes(int[] offsets) {
        byte[] b = new byte[offsets.length];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) offsets[i];
        }
        return b;
    }

    private static short[] shorts(int[] offsets) {
        short[] s = new short[offsets.length];
        for (int i = 0; i < s.length; i++) {
            s[i] = (short) offsets[i];
        }
        return s;
    }

    /** This storage as a read-only (rows, cols) tensor. */
    public Tensor tensor() {
        return Tensor.stored(this, Shape.of(rows, cols));
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    public int bits() {
        return bits;
    }

    /** The smallest code; stored offsets are {@code code - qmin}. */
    public int qmin() {
        return qmin;
    }

    public int groups() {
        return groups;
    }

    /** {@code code - qmin} of element {@code i} (row-major), in {@code [0, 2^bits)}. */
    public int offset(int i) {
        return small != null ? small[i] & 0xff : large[i] & 0xffff;
    }

    /** The scales, (rows, groups) row-major (not a copy: do not modify). */
    double[] scales() {
        return scales;
    }

    /** The zeros, (rows, groups) row-major (not a copy: do not modify). */
    double[] zeros() {
        return zeros;
    }

    /** Column to group (not a copy: do not modify). */
    int[] groupOf() {
        return groupOf;
    }

    @Override
    public int size() {
        return rows * cols;
    }

    @Override
    public void toDouble(int from, int count, double[] dst, int dstOff) {
        int r = from / cols;
        int c = from - r * cols;
        for (int i = 0; i < count; i++) {
            int at = r * groups + groupOf[c];
            double code = (double) (offset(from + i) + qmin); // an integer: exact
            dst[dstOff + i] = FakeQuant.dequantize(code, scales[at], zeros[at]);
            if (++c == cols) {
                c = 0;
                r++;
            }
        }
    }

    @Override
    public long bytes() {
        long codes = small != null ? small.length : 2L * large.length;
        return codes + 16L * scales.length + 4L * groupOf.length;
    }

    @Override
    public String describe() {
        return "int" + bits + (groups == 1 ? " per channel" : " g" + cols / groups);
    }

    /**
     * Collects the codes, scales and zeros of one weight while a quantizer computes them, and gives
     * the stored weight, or null when some code was not an integer in range (a NaN or infinite scale:
     * the quantizer then keeps its dense fake-quantized doubles, as before).
     */
    static final class Builder {
        private final int rows;
        private final int cols;
        private final int bits;
        private final int qmin;
        private final int groups;
        private final byte[] small;
        private final short[] large;
        private final double[] scales;
        private final double[] zeros;
        private final int[] groupOf;
        private boolean valid = true;

        Builder(int rows, int cols, int bits, int qmin, int groups, int[] groupOf) {
            this.rows = rows;
            this.cols = cols;
            this.bits = bits;
            this.qmin = qmin;
            this.groups = groups;
            this.small = bits <= 8 ? new byte[rows * cols] : null;
            this.large = bits <= 8 ? null : new short[rows * cols];
            this.scales = new double[rows * groups];
            this.zeros = new double[rows * groups];
            this.groupOf = groupOf;
        }

        /** Groups of {@code g} consecutive columns: {@code groupOf[c] = c / g}. */
        static int[] consecutive(int cols, int g) {
            int[] of = new int[cols];
            for (int c = 0; c < cols; c++) {
                of[c] = c / g;
            }
            return of;
        }

        /** Scale and zero of row {@code r}, group {@code group}. */
        void params(int r, int group, double s, double z) {
            scales[r * groups + group] = s;
            zeros[r * groups + group] = z;
        }

        /**
         * Records {@code code} ({@link FakeQuant#code}) of element (r, c), whose group's parameters were
         * given to {@link #params} first, and returns its value {@code (code - z) * s}.
         */
        double put(int r, int c, double code) {
            int at = r * groups + groupOf[c];
            double off = code - qmin;
            if (off >= 0 && off < (1 << bits) && off == Math.rint(off) && Double.isFinite(scales[at])
                    && scales[at] != 0 && Double.isFinite(zeros[at])) {
                if (small != null) {
                    small[r * cols + c] = (byte) off;
                } else {
                    large[r * cols + c] = (short) off;
                }
            } else {
                valid = false;
            }
            return FakeQuant.dequantize(code, scales[at], zeros[at]);
        }

        /** The stored weight as a tensor, or {@code dense} (the same values as doubles) if a code was invalid. */
        Tensor build(Tensor dense) {
            return valid ? new QuantCodes(rows, cols, bits, qmin, groups, small, large, scales, zeros, groupOf).tensor()
                    : dense;
        }
    }
}
