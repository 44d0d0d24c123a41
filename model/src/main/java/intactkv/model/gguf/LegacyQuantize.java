package intactkv.model.gguf;

import static intactkv.model.gguf.GgmlFloats.cvtt;
import static intactkv.model.gguf.GgmlFloats.fp32ToFp16;

/**
 * ggml's reference quantization of the 32-element legacy types, in float32 exactly as C computes
 * it. Every method quantizes all of {@code x} (a whole number of 32-blocks; not modified) into
 * {@code y} (block after block from offset 0; modified). The codes are truncating float-to-int
 * casts of {@code x / d + offset}, so a code is round-to-nearest with ties up.
 *
 * <ul>
 *   <li>Q4_0 and Q5_0 (symmetric, {@code b} = 4 or 5 bits): {@code max} = the element of largest
 *       |x|, {@code d = max / -2^(b-1)}, {@code q = min(2^b - 1, (int)(x / d + 2^(b-1) + 0.5))},
 *       value {@code d (q - 2^(b-1))};</li>
 *   <li>Q4_1 and Q5_1 (asymmetric): {@code d = (max - min) / (2^b - 1)},
 *       {@code q = (int)((x - min) / d + 0.5)} (Q4_1 also clamps at 15), value {@code d q + min}.</li>
 * </ul>
 * d and min are stored as FP16; "/ d" is a multiply by the float reciprocal {@code 1/d} (0 when
 * d is 0), as in C. The fifth bits of Q5 sit in a 32-bit little-endian {@code qh}.
 *
 * <p>Reference: ggml/src/ggml-quants.c {@code quantize_row_q4_0_ref}, {@code quantize_row_q4_1_ref},
 * {@code quantize_row_q5_0_ref}, {@code quantize_row_q5_1_ref}; llama-quantize reaches them
 * through {@code ggml_quantize_chunk -> quantize_q4_0} (and so on) with a null imatrix.
 */
final class LegacyQuantize {
    private static final int QK = 32;

    private LegacyQuantize() {
    }

    /** Q4_0: block = d (fp16), qs[16] (element j in the low nibble of qs[j], j + 16 in the high). */
    static void q4_0(float[] x, byte[] y) {
        for (int i = 0; i < x.length / QK; i++) {
            int xo = i * QK;
            int yo = i * 18;
            float max = signedMax(x, xo);
            float d = max / -8;
            float id = d != 0 ? 1.0f / d : 0.0f;
            putHalf(y, yo, fp32ToFp16(d));
            for (int j = 0; j < QK / 2; ++j) {
                float x0 = x[xo + j] * id;
                float x1 = x[xo + QK / 2 + j] * id;
                int xi0 = Math.min(15, (byte) cvtt(x0 + 8.5f)) & 0xFF;
                int xi1 = Math.min(15, (byte) cvtt(x1 + 8.5f)) & 0xFF;
                y[yo + 2 + j] = (byte) (xi0 | (xi1 << 4));
            }
        }
    }

    /** The block's {min, max} as {@code quantize_row_q4_1_ref} / {@code _q5_1_ref} find them (strict comparisons, in order). */
    private static float[] range(float[] x, int xo) {
        float min = Float.MAX_VALUE;
        float max = -Float.MAX_VALUE;
        for (int j = 0; j < QK; j++) {
            float v = x[xo + j];
            if (v < min) {
                min = v;
            }
            if (v > max) {
                max = v;
            }
        }
        return new float[] {min, max};
    }

    /** Q4_1: block = d (fp16), m (fp16), qs[16]. */
    static void q4_1(float[] x, byte[] y) {
        for (int i = 0; i < x.length / QK; i++) {
            int xo = i * QK;
            int yo = i * 20;
            float[] range = range(x, xo);
            float min = range[0];
            float max = range[1];
            float d = (max - min) / ((1 << 4) - 1);
            float id = d != 0 ? 1.0f / d : 0.0f;
            putHalf(y, yo, fp32ToFp16(d));
            putHalf(y, yo + 2, fp32ToFp16(min));
            for (int j = 0; j < QK / 2; ++j) {
                float x0 = (x[xo + j] - min) * id;
                float x1 = (x[xo + QK / 2 + j] - min) * id;
                int xi0 = Math.min(15, (byte) cvtt(x0 + 0.5f)) & 0xFF;
                int xi1 = Math.min(15, (byte) cvtt(x1 + 0.5f)) & 0xFF;
                y[yo + 4 + j] = (byte) (xi0 | (xi1 << 4));
            }
        }
    }

    /** Q5_0: block = d (fp16), qh (uint32, bit j = fifth bit of element j), qs[16]. */
    static void q5_0(float[] x, byte[] y) {
        for (int i = 0; i < x.length / QK; i++) {
            int xo = i * QK;
            int yo = i * 22;
            float max = signedMax(x, xo);
            float d = max / -16;
            float id = d != 0 ? 1.0f / d : 0.0f;
            putHalf(y, yo, fp32ToFp16(d));
            int qh = 0;
            for (int j = 0; j < QK / 2; ++j) {
                float x0 = x[xo + j] * id;
                float x1 = x[xo + QK / 2 + j] * id;
                int xi0 = Math.min(31, (byte) cvtt(x0 + 16.5f)) & 0xFF;
                int xi1 = Math.min(31, (byte) cvtt(x1 + 16.5f)) & 0xFF;
                y[yo + 6 + j] = (byte) ((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
                qh |= ((xi0 & 0x10) >>> 4) << j;
                qh |= ((xi1 & 0x10) >>> 4) << (j + QK / 2);
            }
            putInt(y, yo + 2, qh);
        }
    }

    /** Q5_1: block = d (fp16), m (fp16), qh (uint32), qs[16]. */
    static void q5_1(float[] x, byte[] y) {
        for (int i = 0; i < x.length / QK; i++) {
            int xo = i * QK;
            int yo = i * 24;
            float[] range = range(x, xo);
            float min = range[0];
            float max = range[1];
            float d = (max - min) / ((1 << 5) - 1);
            float id = d != 0 ? 1.0f / d : 0.0f;
            putHalf(y, yo, fp32ToFp16(d));
            putHalf(y, yo + 2, fp32ToFp16(min));
            int qh = 0;
            for (int j = 0; j < QK / 2; ++j) {
                float x0 = (x[xo + j] - min) * id;
                float x1 = (x[xo + QK / 2 + j] - min) * id;
                int xi0 = cvtt(x0 + 0.5f) & 0xFF;
                int xi1 = cvtt(x1 + 0.5f) & 0xFF;
                y[yo + 8 + j] = (byte) ((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
                qh |= ((xi0 & 0x10) >>> 4) << j;
                qh |= ((xi1 & 0x10) >>> 4) << (j + QK / 2);
            }
            putInt(y, yo + 4, qh);
        }
    }

    /** The element of largest |x| in the block at {@code xo} (the first one on a tie), with its sign. */
    private static float signedMax(float[] x, int xo) {
        return GgmlFloats.signedAbsMax(x, xo, QK);
    }

    /** Stores a little-endian 16-bit value. */
    static void putHalf(byte[] y, int at, short h) {
        y[at] = (byte) h;
        y[at + 1] = (byte) (h >>> 8);
    }

    /** Stores a little-endian 32-bit value. */
    private static void putInt(byte[] y, int at, int v) {
        putHalf(y, at, (short) v);
        putHalf(y, at + 2, (short) (v >>> 16));
    }
}
