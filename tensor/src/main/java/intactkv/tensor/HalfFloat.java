package intactkv.tensor;

/**
 * Exact IEEE 754 round-to-nearest-even conversion between double and the 16-bit formats
 * FP16 (binary16: 1 sign, 5 exponent, 10 fraction bits) and BF16 (bfloat16: 1 sign,
 * 8 exponent, 7 fraction bits), used to emulate the paper's FP16 numerics and to read and
 * write F16/BF16 checkpoints.
 *
 * <p>Rounding is done once, directly from the double. (Going through {@code float} first
 * rounds twice and can differ on values just past a tie.) For a format with {@code P}
 * fraction bits and minimum normal exponent {@code e_min}, a finite nonzero {@code x} with
 * binary exponent {@code e = max(floor(log2|x|), e_min)} is rounded to a multiple of the
 * quantum {@code 2^(e-P)}:
 * <pre>
 *   round(x) = sign(x) * rint(|x| / 2^(e-P)) * 2^(e-P)     (rint: ties to even)
 * </pre>
 * and values that round above the largest finite number become infinite. Subnormals fall
 * out of the same formula because {@code e} is clamped to {@code e_min}.
 */
public final class HalfFloat {
    private HalfFloat() {
    }

    /** The two 16-bit formats. */
    public enum Format {
        /** IEEE binary16: max 65504, smallest subnormal 2^-24. */
        FP16(10, -14, 15),
        /** bfloat16: the exponent range of float32 with 7 fraction bits. */
        BF16(7, -126, 127);

        final int fractionBits;
        final int minExponent;
        final int maxExponent;

        Format(int fractionBits, int minExponent, int maxExponent) {
            this.fractionBits = fractionBits;
            this.minExponent = minExponent;
            this.maxExponent = maxExponent;
        }

        /** The largest finite value: {@code (2 - 2^-P) * 2^e_max}. */
        public double maxFinite() {
            return (2.0 - Math.scalb(1.0, -fractionBits)) * Math.scalb(1.0, maxExponent);
        }
    }

    /** {@code x} rounded to the nearest value of {@code format} (ties to even). NaN and +-Inf pass through. */
    public static double round(double x, Format format) {
        if (Double.isNaN(x) || Double.isInfinite(x) || x == 0.0) {
            return x;
        }
        double a = Math.abs(x);
        int e = Math.max(Math.getExponent(a), format.minExponent);
        double quantum = Math.scalb(1.0, e - format.fractionBits);
        double r = Math.rint(a / quantum) * quantum;
        if (r > format.maxFinite()) {
            r = Double.POSITIVE_INFINITY;
        }
        return Math.copySign(r, x);
    }

    /** Rounds every element of {@code t} to {@code format}; returns a new tensor. */
    public static Tensor round(Tensor t, Format format) {
        return Elementwise.map(t, x -> round(x, format));
    }

    /** The FP16 bit pattern of {@code round(x, FP16)}; NaN becomes the quiet NaN {@code 0x7e00}. */
    public static short toFp16Bits(double x) {
        if (Double.isNaN(x)) {
            return (short) 0x7e00;
        }
        double r = round(x, Format.FP16);
        int sign = (Double.doubleToRawLongBits(r) < 0) ? 0x8000 : 0;
        double a = Math.abs(r);
        int bits;
        if (Double.isInfinite(a)) {
            bits = 0x7c00;
        } else if (a < 0x1.0p-14) {
            bits = (int) (a * 0x1.0p24); // subnormal: count of 2^-24 quanta (exact)
        } else {
            int e = Math.getExponent(a);
            int frac = (int) ((a / Math.scalb(1.0, e) - 1.0) * 1024.0); // exact after rounding
            bits = ((e + 15) << 10) | frac;
        }
        return (short) (sign | bits);
    }

    /** The value of the FP16 bit pattern {@code bits} (exact). */
    public static double fromFp16Bits(short bits) {
        int b = bits & 0xffff;
        int exp = (b >>> 10) & 0x1f;
        int frac = b & 0x3ff;
        double v;
        if (exp == 0) {
            v = frac * 0x1.0p-24;
        } else if (exp == 31) {
            v = frac == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else {
            v = (1024 + frac) * Math.scalb(1.0, exp - 25);
        }
        return (b & 0x8000) != 0 ? -v : v;
    }

    /**
     * The BF16 bit pattern of {@code round(x, BF16)}: the upper half of the float32 pattern of
     * the rounded value (which float32 holds exactly). NaN becomes {@code 0x7fc0}.
     */
    public static short toBf16Bits(double x) {
        if (Double.isNaN(x)) {
            return (short) 0x7fc0;
        }
        float f = (float) round(x, Format.BF16);
        return (short) (Float.floatToRawIntBits(f) >>> 16);
    }

    /** The value of the BF16 bit pattern {@code bits} (exact). */
    public static double fromBf16Bits(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }
}
