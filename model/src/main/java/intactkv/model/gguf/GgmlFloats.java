package intactkv.model.gguf;

/**
 * The scalar float32 primitives ggml's quantizers are built from, each emulated bit for bit as
 * llama.cpp's C computes it on x86-64 (SSE float arithmetic, no FMA contraction), so that
 * {@link GgmlQuantize} writes the bytes {@code llama-quantize} writes.
 *
 * <p>Reference: ggml/src/ggml-quants.c {@code nearest_int}, {@code best_index_int8};
 * ggml/src/ggml-impl.h {@code ggml_compute_fp32_to_fp16}, {@code ggml_compute_fp32_to_bf16}.
 */
final class GgmlFloats {
    private GgmlFloats() {
    }

    /**
     * The element of {@code x[off .. off + n)} with the largest magnitude, signed; the first one on ties;
     * 0 when all are 0. The loop of ggml's {@code quantize_row_q4_0_ref}, {@code make_qx_quants},
     * {@code make_q3_quants} and {@code quantize_row_iq4_nl_impl} ({@code if (ax > amax) {amax = ax; max = x[i];}}):
     * its magnitude is their {@code amax}.
     */
    static float signedAbsMax(float[] x, int off, int n) {
        float amax = 0;
        float max = 0;
        for (int i = 0; i < n; ++i) {
            float ax = Math.abs(x[off + i]);
            if (ax > amax) {
                amax = ax;
                max = x[off + i];
            }
        }
        return max;
    }

    /**
     * {@code nearest_int}: adds 1.5 * 2^23 in float and reads the low mantissa bits, which rounds
     * to nearest with ties to even for |v| <= 4194303. Outside that range (and for NaN or
     * infinity) ggml gets whatever the bits say (its assert is compiled out in a release build);
     * so does this port, since it does the same float addition and bit masking.
     */
    static int nearestInt(float v) {
        float val = v + 12582912.f;
        return (Float.floatToRawIntBits(val) & 0x007fffff) - 0x00400000;
    }

    /**
     * C's float-to-integer conversion as x86-64 executes it ({@code cvttss2si}): truncation
     * toward zero, and the "integer indefinite" {@code 0x80000000} for NaN and for values
     * outside the int range (Java would saturate instead). The caller then keeps the low bits,
     * as a C cast to {@code int8_t} / {@code uint8_t} does.
     */
    static int cvtt(float v) {
        if (Float.isNaN(v) || v >= 0x1p31f || v < -0x1p31f) {
            return Integer.MIN_VALUE;
        }
        return (int) v;
    }

    /** C's {@code roundf}: to nearest, halves away from zero (Java's Math.round rounds halves up). */
    static float roundf(float v) {
        // In double, |v| + 0.5 is exact for every float v, so its floor is roundf's magnitude
        // (in float, 0.49999997f + 0.5f would round up to 1).
        return (float) Math.copySign(Math.floor(Math.abs((double) v) + 0.5), v);
    }

    /**
     * {@code GGML_FP32_TO_FP16} ({@code ggml_compute_fp32_to_fp16}, the portable path taken
     * without F16C): round to nearest even, overflow to infinity, subnormal halves kept, NaN to
     * {@code 0x7e00} with the sign kept. The two scalings by 2^112 and 2^-110 and the add of a
     * bias float do the rounding in float arithmetic, here exactly as in C.
     */
    static short fp32ToFp16(float f) {
        float base = (Math.abs(f) * 0x1.0p+112f) * 0x1.0p-110f;
        int w = Float.floatToRawIntBits(f);
        int shl1W = w + w;
        int sign = w & 0x80000000;
        int bias = shl1W & 0xFF000000;
        if (Integer.compareUnsigned(bias, 0x71000000) < 0) {
            bias = 0x71000000;
        }
        base = Float.intBitsToFloat((bias >>> 1) + 0x07800000) + base;
        int bits = Float.floatToRawIntBits(base);
        int expBits = (bits >>> 13) & 0x00007C00;
        int mantissaBits = bits & 0x00000FFF;
        int nonsign = expBits + mantissaBits;
        return (short) ((sign >>> 16) | (Integer.compareUnsigned(shl1W, 0xFF000000) > 0 ? 0x7E00 : nonsign));
    }

    /** {@code GGML_FP16_TO_FP32}: the exact float value of a half's bits. */
    static float fp16ToFp32(short h) {
        return (float) intactkv.tensor.HalfFloat.fromFp16Bits(h);
    }

    /**
     * {@code ggml_compute_fp32_to_bf16}: round to nearest even on the float's bits (an add of
     * 0x7fff plus the lowest kept bit); a NaN keeps its sign and upper payload and is made quiet
     * (bit 6 of the half set). Subnormals are rounded, not flushed.
     */
    static short fp32ToBf16(float s) {
        int i = Float.floatToRawIntBits(s);
        if ((i & 0x7fffffff) > 0x7f800000) {
            return (short) ((i >>> 16) | 64);
        }
        return (short) ((i + (0x7fff + ((i >>> 16) & 1))) >>> 16);
    }

    /**
     * {@code best_index_int8}: the index of the entry of the ascending table {@code val} nearest to
     * {@code x} (a tie between two neighbours goes to the upper one), by bisection; the table's
     * int8 entries are compared as floats, as C promotes them.
     */
    static int bestIndexInt8(byte[] val, float x) {
        int n = val.length;
        if (x <= val[0]) {
            return 0;
        }
        if (x >= val[n - 1]) {
            return n - 1;
        }
        int ml = 0;
        int mu = n - 1;
        while (mu - ml > 1) {
            int mav = (ml + mu) / 2;
            if (x < val[mav]) {
                mu = mav;
            } else {
                ml = mav;
            }
        }
        return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
    }
}
