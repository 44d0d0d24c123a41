package intactkv.tensor;

/**
 * Doubles held in a narrower format ({@link ElementDtype#F32}, {@link ElementDtype#F16} or
 * {@link ElementDtype#BF16}): each element is rounded to the format when it is written ({@link #write}) and widened
 * back to double, exactly, when it is read ({@link #read}). So a kernel that reads it gets, element by element, the
 * double {@link ElementDtype#round} gives, and computes in double as with any other array. What a KV cache holds its
 * keys and values in when asked to take half or a quarter of the memory (the model module's {@code CacheRows}).
 *
 * <p>Storage: {@code float[]} for F32, the {@code short[]} bit patterns for F16 and BF16, read through the weights'
 * own row-major storages on the same array ({@link F32Storage}, {@link F16Storage}, {@link Bf16Storage}:
 * {@link WeightStorage#heldToDouble}), so widened exactly as the weights are. A finite double whose rounding would be
 * infinite (beyond F16's 65504) is refused, not stored as an infinity that would turn attention into NaN.
 */
public final class NarrowArray {
    private final ElementDtype dtype;
    private final float[] floats;
    private final short[] bits;
    /** Reads {@code floats} or {@code bits} (the same array, not a copy; it only reads). */
    private final WeightStorage reader;

    private NarrowArray(ElementDtype dtype, int size) {
        this.dtype = dtype;
        this.floats = dtype == ElementDtype.F32 ? new float[size] : null;
        this.bits = dtype == ElementDtype.F32 ? null : new short[size];
        this.reader = switch (dtype) {
            case F32 -> new F32Storage(floats);
            case F16 -> new F16Storage(bits);
            default -> new Bf16Storage(bits);
        };
    }

    /** {@code size} zeros in {@code dtype} (F32, F16 or BF16; F64 has no narrow form: use a double[]). */
    public static NarrowArray zeros(ElementDtype dtype, int size) {
        if (dtype == ElementDtype.F64) {
            throw new IllegalArgumentException("a narrow array holds f32, f16 or bf16, not f64 (a double[] does)");
        }
        if (size < 0) {
            throw new IllegalArgumentException("a narrow array of " + size + " elements");
        }
        return new NarrowArray(dtype, size);
    }

    /** The format the elements are held in. */
    public ElementDtype dtype() {
        return dtype;
    }

    /** The number of elements. */
    public int size() {
        return floats != null ? floats.length : bits.length;
    }

    /** Bytes the elements take ({@code size x dtype.bytes()}). */
    public long bytes() {
        return (long) size() * dtype.bytes();
    }

    /**
     * Elements {@code [at, at + count)} become {@code src[srcOff ..]} rounded to {@link #dtype()}
     * ({@link ElementDtype#round}); this array is <em>modified</em>. NaN and infinities are kept as such.
     *
     * @throws IllegalArgumentException where a finite value would round to an infinity (beyond the format's largest
     *     finite value), naming the value; the elements before it are written, the rest are not
     */
    public void write(double[] src, int srcOff, int at, int count) {
        for (int i = 0; i < count; i++) {
            double x = src[srcOff + i];
            if (floats != null) {
                float f = (float) x;
                if (Float.isInfinite(f) && !Double.isInfinite(x)) {
                    throw overflow(x);
                }
                floats[at + i] = f;
            } else {
                short b = dtype == ElementDtype.F16 ? HalfFloat.toFp16Bits(x) : HalfFloat.toBf16Bits(x);
                if ((b & 0x7fff) == (dtype == ElementDtype.F16 ? 0x7c00 : 0x7f80) && !Double.isInfinite(x)) {
                    throw overflow(x);
                }
                bits[at + i] = b;
            }
        }
    }

    private IllegalArgumentException overflow(double x) {
        return new IllegalArgumentException("the value " + x + " is beyond the largest finite " + id() + " ("
                + largest() + "); hold it in a wider format");
    }

    private String id() {
        return dtype.id();
    }

    private double largest() {
        return switch (dtype) {
            case F32 -> Float.MAX_VALUE;
            case F16 -> HalfFloat.Format.FP16.maxFinite();
            default -> HalfFloat.Format.BF16.maxFinite();
        };
    }

    /** {@code dst[dstOff + i]} = element {@code from + i} as a double (exact), i &lt; count; {@code dst} modified. */
    public void read(int from, int count, double[] dst, int dstOff) {
        reader.heldToDouble(from, count, dst, dstOff);
    }

    /** Elements {@code [from, from + count)} copied as they are held to {@code dst[at ..]} (same dtype; modified). */
    public void copyTo(int from, NarrowArray dst, int at, int count) {
        if (dst.dtype != dtype) {
            throw new IllegalArgumentException("copy of " + id() + " elements into a " + dst.id() + " array");
        }
        if (floats != null) {
            System.arraycopy(floats, from, dst.floats, at, count);
        } else {
            System.arraycopy(bits, from, dst.bits, at, count);
        }
    }
}
