package intactkv.model.gguf;

import static intactkv.model.gguf.GgmlFloats.bestIndexInt8;
import static intactkv.model.gguf.GgmlFloats.fp16ToFp32;
import static intactkv.model.gguf.GgmlFloats.fp32ToFp16;
import static intactkv.model.gguf.LegacyQuantize.putHalf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * IQ4_NL, ggml's 4-bit non-linear type: blocks of 32 values {@code d * K[q]}, {@code q} a 4-bit
 * index into the fixed table {@code K = kvalues_iq4nl} (16 int8 levels from -127 to 113), d an
 * FP16 scale. llama-quantize uses it in place of Q2_K/Q3_K (and others) for tensors whose rows
 * are not a multiple of 256 (every matrix of the built-in model), so {@code --method gguf} needs
 * it both ways.
 *
 * <p>Quantization, as {@code ggml_quantize_chunk} does it without an imatrix (that is
 * {@code quantize_iq4_nl}, with {@code ntry = 7}; the {@code quantize_row_iq4_nl_ref} function,
 * {@code ntry = -1}, is not what llama-quantize runs): per block, weights {@code w = x^2};
 * {@code max} the element of largest |x| (a block below GROUP_MAX_EPS is scale 0, codes of the
 * level nearest 0); codes by nearest level of {@code x / d} for {@code d = -max / K[0]}, and the
 * weighted least-squares scale {@code d = sum w K[q] x / sum w K[q]^2}; then for
 * {@code itry in [-7, 7]} the inverse scale {@code (itry + K[0]) / max} gives codes whose
 * least-squares scale replaces d when it raises {@code (sum w K[q] x)^2 / sum w K[q]^2}; the final
 * codes are the nearest levels of {@code x / d}. All in float32 as C.
 *
 * <p>Reference: ggml/src/ggml-quants.c {@code quantize_iq4_nl}, {@code quantize_row_iq4_nl_impl},
 * {@code best_index_int8}, {@code dequantize_row_iq4_nl}; ggml-common.h {@code kvalues_iq4nl},
 * {@code block_iq4_nl} (d fp16, qs[16]: element j in the low nibble of qs[j], j + 16 in the high).
 */
public final class Iq4NlQuantize {
    /** {@code kvalues_iq4nl}: the 16 levels, ascending. */
    static final byte[] VALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    private static final int QK = 32;
    private static final int NTRY = 7;

    private Iq4NlQuantize() {
    }

    /** Quantizes all of {@code x} (a whole number of 32-blocks; not modified) into {@code y} (modified). */
    static void quantize(float[] x, byte[] y) {
        byte[] L = new byte[QK];
        float[] weight = new float[QK];
        for (int ib = 0; ib < x.length / QK; ib++) {
            int xo = ib * QK;
            int yo = ib * GgmlType.IQ4_NL.typeSize();
            for (int j = 0; j < QK; ++j) {
                weight[j] = x[xo + j] * x[xo + j];
            }
            float max = GgmlFloats.signedAbsMax(x, xo, QK);
            float scale = 0;
            if (Math.abs(max) >= KQuantSearch.GROUP_MAX_EPS) {
                scale = search(x, xo, weight, max);
            }
            putHalf(y, yo, fp32ToFp16(scale));
            float id = scale != 0 ? 1 / scale : 0;
            for (int j = 0; j < QK; ++j) {
                L[j] = (byte) bestIndexInt8(VALUES, id * x[xo + j]);
            }
            for (int j = 0; j < 16; ++j) {
                y[yo + 2 + j] = (byte) (L[j] | (L[16 + j] << 4));
            }
        }
    }

    /** The scale search of one block ({@code quantize_row_iq4_nl_impl}'s loop over itry). */
    private static float search(float[] x, int xo, float[] weight, float max) {
        float d = -max / VALUES[0];
        float id = 1 / d;
        float sumqx = 0;
        float sumq2 = 0;
        for (int j = 0; j < QK; ++j) {
            float al = id * x[xo + j];
            float q = VALUES[bestIndexInt8(VALUES, al)];
            float w = weight[j];
            sumqx += w * q * x[xo + j];
            sumq2 += w * q * q;
        }
        d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
        float best = d * sumqx;
        for (int itry = -NTRY; itry <= NTRY; ++itry) {
            id = (itry + VALUES[0]) / max;
            sumqx = 0;
            sumq2 = 0;
            for (int j = 0; j < QK; ++j) {
                float al = id * x[xo + j];
                float q = VALUES[bestIndexInt8(VALUES, al)];
                float w = weight[j];
                sumqx += w * q * x[xo + j];
                sumq2 += w * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        return d;
    }

    /**
     * {@code dequantize_row_iq4_nl}: {@code n} values (a multiple of 32) from {@code src} (read from
     * its position, little-endian, advanced past them) into {@code y[off..off+n)} as
     * {@code d * K[q]} in float.
     */
    public static void dequantize(ByteBuffer src, float[] y, int off, int n) {
        ByteBuffer b = src.order(ByteOrder.LITTLE_ENDIAN);
        for (int ib = 0; ib < n / QK; ib++) {
            float d = fp16ToFp32(b.getShort());
            int o = off + ib * QK;
            for (int j = 0; j < 16; ++j) {
                int q = b.get() & 0xFF;
                y[o + j] = d * VALUES[q & 0xF];
                y[o + j + 16] = d * VALUES[q >>> 4];
            }
        }
    }
}
