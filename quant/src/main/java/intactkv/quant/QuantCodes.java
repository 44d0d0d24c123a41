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
 * <p>A code is stored as {@code code - qmin}, in {@code [0, 2^bits)}: {@code qmin} is 0 for asymmetric and
 * GPTQ-style symmetric codes, {@code -2^(bits-1)} for RTN's symmetric ones.
 *
 * <p><b>Layout in memory: a dense bit stream.</b> The offsets of all rows x cols elements, row-major, are
 * packed at {@code bits} bits each, least significant bit first, into {@code long} words: element i holds
 * stream bits {@code [i * bits, (i + 1) * bits)}, that is it starts in word {@code (i * bits) >>> 6} at bit
 * {@code (i * bits) & 63}, and when {@code (i * bits) & 63 > 64 - bits} its high bits continue at bit 0 of
 * the next word. The words are {@code ceil(rows * cols * bits / 64)}, the bits after the last code zero.
 * That is {@code bits / 8} bytes a code for every width: 0.25 at 2 bits, 0.375 at 3, 0.5 at 4, 1 at 8, 2 at
 * 16. Why a stream and not whole codes a word (floor(64 / bits) a word, never split): it is the
 * {@link PackedCheckpoint} file's own stream (32-bit words there; two of them make one word here, low
 * half first), so reading and writing a checkpoint move words without unpacking a code, and the memory
 * is the file's for every width, where whole codes a word waste up to 23 % (0.381 bytes at 3 bits,
 * 1.6 at 11 and 12 bits against 1.375 and 1.5, 2 at 13 against 1.625). The price, a code split across
 * two words about once a word, is one predictable branch in the sequential decode of {@link #toDouble},
 * which keeps the current word shifted and reads the next one only when a code needs it (no division or
 * multiplication per element to find a code).
 */
public final class QuantCodes implements WeightStorage {
    private final int rows;
    private final int cols;
    private final int bits;
    private final int qmin;
    private final int groups;
    private final long[] words;    // code - qmin of every element, a dense bit stream (see the class comment)
    private final double[] scales; // (rows, groups)
    private final double[] zeros;  // (rows, groups)
    private final int[] groupOf;   // (cols)

    /**
     * Packs {@code offsets} (not kept). {@code offsets[i]} is {@code code - qmin} of element i (row-major),
     * in {@code [0, 2^bits)}; {@code scales} and {@code zeros} are (rows, groups), {@code groupOf} (cols)
     * with values in {@code [0, groups)}. Sizes and the offsets' range are checked here; scales, zeros and
     * groups by {@link PackedCheckpoint} or the Hub readers when they come from a file.
     */
    QuantCodes(int rows, int cols, int bits, int qmin, int groups, int[] offsets, double[] scales, double[] zeros,
               int[] groupOf) {
        this(rows, cols, bits, qmin, groups, pack(offsets, bits), offsets.length, scales, zeros, groupOf);
    }

    private QuantCodes(int rows, int cols, int bits, int qmin, int groups, long[] words, long codes,
                       double[] scales, double[] zeros, int[] groupOf) {
        FakeQuant.checkBits("quantization codes", bits);
        if ((long) rows * cols != codes || words.length != words(codes, bits) || (long) rows * groups != scales.length
                || zeros.length != scales.length || groupOf.length != cols) {
            throw new IllegalArgumentException("quantization codes of (" + rows + ", " + cols + ") with " + groups
                    + " groups: " + codes + " codes in " + words.length + " words, " + scales.length + " scales, "
                    + zeros.length + " zeros, " + groupOf.length + " group indices");
        }
        this.rows = rows;
        this.cols = cols;
        this.bits = bits;
        this.qmin = qmin;
        this.groups = groups;
        this.words = words;
        this.scales = scales;
        this.zeros = zeros;
        this.groupOf = groupOf;
    }

    /**
     * Wraps {@code words} (not copied), the offsets of rows x cols codes already as the bit stream of the class
     * comment, {@link #words(long, int)} words long; what {@link PackedCheckpoint} reads. The bits after the last
     * code are not read (the reader checks they are zero).
     */
    static QuantCodes ofWords(int rows, int cols, int bits, int qmin, int groups, long[] words, double[] scales,
                              double[] zeros, int[] groupOf) {
        return new QuantCodes(rows, cols, bits, qmin, groups, words, (long) rows * cols, scales, zeros, groupOf);
    }

    /** The 64-bit words {@code codes} codes of {@code bits} bits take: {@code ceil(codes * bits / 64)}. */
    static int words(long codes, int bits) {
        return (int) ((codes * bits + 63) >>> 6);
    }

    /** {@code offsets} as the bit stream of the class comment; each must be in {@code [0, 2^bits)}. */
    private static long[] pack(int[] offsets, int bits) {
        FakeQuant.checkBits("quantization codes", bits);
        long[] words = new long[words(offsets.length, bits)];
        for (int i = 0; i < offsets.length; i++) {
            if (offsets[i] < 0 || offsets[i] >= 1 << bits) {
                throw new IllegalArgumentException("quantization code offset " + offsets[i] + " of element " + i
                        + " is outside [0, " + (1 << bits) + ") for " + bits + "-bit codes");
            }
            write(words, i, bits, offsets[i]);
        }
        return words;
    }

    /**
     * Sets element {@code i}'s {@code bits} bits of the stream to {@code v} (in {@code [0, 2^bits)}),
     * clearing what was there first, so that an element may be written again.
     */
    static void write(long[] words, long i, int bits, int v) {
        long bit = i * bits;
        int w = (int) (bit >>> 6);
        int shift = (int) (bit & 63);
        long mask = (1L << bits) - 1;
        words[w] = words[w] & ~(mask << shift) | (long) v << shift;
        int spill = shift + bits - 64;
        if (spill > 0) { // the high spill bits go to the low bits of the next word
            words[w + 1] = words[w + 1] & ~(mask >>> (bits - spill)) | (long) v >>> (64 - shift);
        }
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
        long bit = (long) i * bits;
        int w = (int) (bit >>> 6);
        int shift = (int) (bit & 63);
        long v = words[w] >>> shift;
        if (shift + bits > 64) {
            v |= words[w + 1] << (64 - shift);
        }
        return (int) (v & ((1L << bits) - 1));
    }

    /** The codes' bit stream (not a copy: do not modify), {@link #words(long, int)} words long. */
    long[] words() {
        return words;
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

    /**
     * Decodes the stream sequentially from element {@code from}: the current word is kept shifted so that the
     * next code is in its low bits ({@code have} of them valid), and the next word is read only when a code
     * needs more bits than are left; the group's scale and zero follow the column, without a division.
     */
    @Override
    public void toDouble(int from, int count, double[] dst, int dstOff) {
        if (count <= 0) {
            return;
        }
        int r = from / cols;
        int c = from - r * cols;
        int base = r * groups;
        long bit = (long) from * bits;
        int w = (int) (bit >>> 6);
        long cur = words[w] >>> (bit & 63);
        int have = 64 - (int) (bit & 63);
        long mask = (1L << bits) - 1;
        for (int i = 0; i < count; i++) {
            int off;
            if (have >= bits) {
                off = (int) (cur & mask);
                cur >>>= bits;
                have -= bits;
            } else { // the code's high bits - have of them - are the low bits of the next word
                long next = words[++w];
                off = (int) ((cur | next << have) & mask);
                cur = next >>> (bits - have);
                have += 64 - bits;
            }
            int at = base + groupOf[c];
            double code = (double) (off + qmin); // an integer: exact
            dst[dstOff + i] = FakeQuant.dequantize(code, scales[at], zeros[at]);
            if (++c == cols) {
                c = 0;
                base += groups;
            }
        }
    }

    /** The words of the stream (8 bytes each), the scales and zeros (8 each) and the group of each column (4). */
    @Override
    public long bytes() {
        return 8L * words.length + 16L * scales.length + 4L * groupOf.length;
    }

    @Override
    public String describe() {
        return "int" + bits + (groups == 1 ? " per channel" : " g" + cols / groups);
    }

    /**
     * Collects the codes, scales and zeros of one weight while a quantizer computes them, and gives
     * the stored weight, or null when some code was not an integer in range (a NaN or infinite scale:
     * the quantizer then keeps its dense fake-quantized doubles, as before). Codes may be put in any order
     * (GPTQ puts them column by column in act order, RTN and AWQ row by row), straight into the packed
     * stream of the class comment, so a quantizer never holds more than the packed codes. Not for
     * several threads at once: neighbouring codes share a word.
     */
    static final class Builder {
        private final int rows;
        private final int cols;
        private final int bits;
        private final int qmin;
        private final int groups;
        private final long[] words;
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
            this.words = new long[words((long) rows * cols, bits)];
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
                write(words, (long) r * cols + c, bits, (int) off);
            } else {
                valid = false;
            }
            return FakeQuant.dequantize(code, scales[at], zeros[at]);
        }

        /** The stored weight as a tensor, or {@code dense} (the same values as doubles) if a code was invalid. */
        Tensor build(Tensor dense) {
            return valid ? ofWords(rows, cols, bits, qmin, groups, words, scales, zeros, groupOf).tensor()
                    : dense;
        }
    }
}
