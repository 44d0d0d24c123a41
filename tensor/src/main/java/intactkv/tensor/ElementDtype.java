package intactkv.tensor;

import java.util.Locale;

/**
 * A number format that doubles can be held in, rounded when written and widened back exactly when read
 * ({@link NarrowArray}): what a KV cache may hold its keys and values in. {@link #F64} keeps double, the default
 * everywhere; {@link #F32} rounds with Java's {@code (float)} cast (IEEE round to nearest, ties to even);
 * {@link #F16} and {@link #BF16} round to nearest, ties to even, with {@link HalfFloat} (F16: a finite value beyond
 * its largest, 65504, becomes infinite; {@link NarrowArray#write} refuses it).
 */
public enum ElementDtype {
    F64(8),
    F32(4),
    F16(2),
    BF16(2);

    private final int bytes;

    ElementDtype(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes an element takes in memory. */
    public int bytes() {
        return bytes;
    }

    /** {@code x} rounded to this format (as a double; exact to widen back). NaN and infinities pass through. */
    public double round(double x) {
        return switch (this) {
            case F64 -> x;
            case F32 -> (float) x;
            case F16 -> HalfFloat.round(x, HalfFloat.Format.FP16);
            case BF16 -> HalfFloat.round(x, HalfFloat.Format.BF16);
        };
    }

    /** The flag's spelling: {@code f64}, {@code f32}, {@code f16}, {@code bf16}. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * {@code f64}, {@code f32}, {@code f16} or {@code bf16} (exactly, lower case).
     *
     * @throws IllegalArgumentException for anything else, naming the value and the choices
     */
    public static ElementDtype parse(String s) {
        for (ElementDtype d : values()) {
            if (d.id().equals(s)) {
                return d;
            }
        }
        throw new IllegalArgumentException("must be f64, f32, f16 or bf16, got '" + s + "'");
    }
}
