package intactkv.model.gguf;

import static intactkv.model.gguf.GgmlFloats.fp16ToFp32;
import static intactkv.model.gguf.GgmlFloats.fp32ToFp16;
import static intactkv.model.gguf.GgmlFloats.nearestInt;
import static intactkv.model.gguf.LegacyQuantize.putHalf;

import java.util.Arrays;

/**
 * ggml's reference quantization of the k-quants Q2_K, Q3_K and Q6_K (super-blocks of 256 in
 * sixteen groups of 16), in float32 exactly as C computes it. Each method quantizes all of
 * {@code x} (a whole number of super-blocks; not modified) into {@code y} (modified). The pattern:
 * a scale search per group ({@link KQuantSearch}), the group scales quantized against the largest
 * (to 4, 6 or 8 bits, the super-block scale stored as FP16), then every code recomputed from the
 * quantized group scale as {@code nearest(x / d_group)} clamped to the code range (a group whose
 * quantized scale is 0 keeps the search's codes).
 *
 * <p>Reference: ggml/src/ggml-quants.c {@code quantize_row_q2_K_ref}, {@code quantize_row_q3_K_ref},
 * {@code quantize_row_q6_K_ref}; llama-quantize reaches them through {@code ggml_quantize_chunk ->
 * quantize_q2_K} (and so on) with a null imatrix. Q4_K and Q5_K: {@link KQuantizeMin}.
 */
final class KQuantize {
    private static final int QK_K = GgmlType.QK_K;

    private KQuantize() {
    }

    /**
     * Q2_K: per group of 16, {@code x ~ scale l - min} with {@code l in [0, 3]} from
     * {@code make_qkx2_quants} (weights |x|, mean absolute error, 16 steps from -0.5 by 0.1); scales
     * and mins to 4 bits against their maxima {@code d = max_scale / 15}, {@code dmin = max_min / 15}.
     * Block: scales[16] (scale low nibble, min high), qs[64] (2 bits), d, dmin (fp16).
     */
    static void q2_K(float[] x, byte[] y) {
        byte[] L = new byte[QK_K];
        byte[] laux = new byte[16];
        float[] weights = new float[16];
        float[] mins = new float[QK_K / 16];
        float[] scales = new float[QK_K / 16];
        final float q4scale = 15.f;
        for (int i = 0; i < x.length / QK_K; i++) {
            int xo = i * QK_K;
            int yo = i * GgmlType.Q2_K.typeSize();
            float maxScale = 0;
            float maxMin = 0;
            for (int j = 0; j < QK_K / 16; ++j) {
                for (int l = 0; l < 16; ++l) {
                    weights[l] = Math.abs(x[xo + 16 * j + l]);
                }
                scales[j] = KQuantSearch.makeQkx2Quants(16, 3, x, xo + 16 * j, weights, 0, L, 16 * j, mins, j,
                        laux, -0.5f, 0.1f, 15, true);
                if (scales[j] > maxScale) {
                    maxScale = scales[j];
                }
                if (mins[j] > maxMin) {
                    maxMin = mins[j];
                }
            }
            int sc = yo;
            if (maxScale > 0) {
                float iscale = q4scale / maxScale;
                for (int j = 0; j < QK_K / 16; ++j) {
                    y[sc + j] = (byte) nearestInt(iscale * scales[j]);
                }
                putHalf(y, yo + 80, fp32ToFp16(maxScale / q4scale));
            } else {
                Arrays.fill(y, sc, sc + 16, (byte) 0);
                putHalf(y, yo + 80, fp32ToFp16(0.f));
            }
            if (maxMin > 0) {
                float iscale = q4scale / maxMin;
                for (int j = 0; j < QK_K / 16; ++j) {
                    y[sc + j] |= (byte) (nearestInt(iscale * mins[j]) << 4);
                }
                putHalf(y, yo + 82, fp32ToFp16(maxMin / q4scale));
            } else {
                putHalf(y, yo + 82, fp32ToFp16(0.f));
            }
            float dAll = fp16ToFp32(half(y, yo + 80));
            float dminAll = fp16ToFp32(half(y, yo + 82));
            for (int j = 0; j < QK_K / 16; ++j) {
                int s = y[sc + j] & 0xFF;
                float d = dAll * (s & 0xF);
                if (d == 0) {
                    continue;
                }
                float dm = dminAll * (s >>> 4);
                for (int ii = 0; ii < 16; ++ii) {
                    int l = nearestInt((x[xo + 16 * j + ii] + dm) / d);
                    L[16 * j + ii] = (byte) Math.max(0, Math.min(3, l));
                }
            }
            pack2Bits(L, y, yo + 16);
        }
    }

    /**
     * Q3_K: per group of 16, symmetric codes {@code l in [-4, 3]} from {@code make_q3_quants};
     * the group scales to 6 signed bits against the one of largest magnitude,
     * {@code d = max_scale / -32}. Block: hmask[32] (the codes' third bit), qs[64] (low 2 bits),
     * scales[12] (6-bit scales + 32, low nibbles then high pairs), d (fp16).
     */
    static void q3_K(float[] x, byte[] y) {
        byte[] L = new byte[QK_K];
        float[] scales = new float[QK_K / 16];
        for (int i = 0; i < x.length / QK_K; i++) {
            int xo = i * QK_K;
            int yo = i * GgmlType.Q3_K.typeSize();
            int hmask = yo;
            int qs = yo + 32;
            int sc = yo + 96;
            float maxScale = 0;
            float amax = 0;
            for (int j = 0; j < QK_K / 16; ++j) {
                scales[j] = KQuantSearch.makeQ3Quants(16, 4, x, xo + 16 * j, L, 16 * j);
                float scale = Math.abs(scales[j]);
                if (scale > amax) {
                    amax = scale;
                    maxScale = scales[j];
                }
            }
            Arrays.fill(y, sc, sc + 12, (byte) 0);
            if (maxScale != 0) {
                float iscale = -32.f / maxScale;
                for (int j = 0; j < QK_K / 16; ++j) {
                    byte l8 = (byte) nearestInt(iscale * scales[j]);
                    int l = (byte) (Math.max(-32, Math.min(31, l8)) + 32);
                    if (j < 8) {
                        y[sc + j] = (byte) (l & 0xF);
                    } else {
                        y[sc + j - 8] |= (byte) ((l & 0xF) << 4);
                    }
                    l >>= 4;
                    y[sc + j % 4 + 8] |= (byte) (l << (2 * (j / 4)));
                }
                putHalf(y, yo + 108, fp32ToFp16(1 / iscale));
            } else {
                putHalf(y, yo + 108, fp32ToFp16(0.f));
            }
            float dAll = fp16ToFp32(half(y, yo + 108));
            for (int j = 0; j < QK_K / 16; ++j) {
                int s = j < 8 ? y[sc + j] & 0xF : (y[sc + j - 8] & 0xFF) >>> 4;
                s = (byte) ((s | ((((y[sc + 8 + j % 4] & 0xFF) >>> (2 * (j / 4))) & 3) << 4)) - 32);
                float d = dAll * s;
                if (d == 0) {
                    continue;
                }
                for (int ii = 0; ii < 16; ++ii) {
                    int l = nearestInt(x[xo + 16 * j + ii] / d);
                    L[16 * j + ii] = (byte) (Math.max(-4, Math.min(3, l)) + 4);
                }
            }
            Arrays.fill(y, hmask, hmask + QK_K / 8, (byte) 0);
            int m = 0;
            int hm = 1;
            for (int j = 0; j < QK_K; ++j) {
                if (L[j] > 3) {
                    y[hmask + m] |= (byte) hm;
                    L[j] -= 4;
                }
                if (++m == QK_K / 8) {
                    m = 0;
                    hm = (hm << 1) & 0xFF;
                }
            }
            pack2Bits(L, y, qs);
        }
    }

    /**
     * Q6_K: per group of 16, symmetric codes {@code l in [-32, 31]} from {@code make_qx_quants}
     * (rmse_type 1); group scales to int8 against the one of largest magnitude,
     * {@code d = max_scale / -128}. A super-block whose scales are all below GROUP_MAX_EPS is all
     * zero bytes. Block: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (int8), d (fp16).
     */
    static void q6_K(float[] x, byte[] y) {
        byte[] L = new byte[QK_K];
        float[] scales = new float[QK_K / 16];
        for (int i = 0; i < x.length / QK_K; i++) {
            int xo = i * QK_K;
            int yo = i * GgmlType.Q6_K.typeSize();
            float maxScale = 0;
            float maxAbsScale = 0;
            for (int ib = 0; ib < QK_K / 16; ++ib) {
                float scale = KQuantSearch.makeQxQuants(16, 32, x, xo + 16 * ib, L, 16 * ib);
                scales[ib] = scale;
                float absScale = Math.abs(scale);
                if (absScale > maxAbsScale) {
                    maxAbsScale = absScale;
                    maxScale = scale;
                }
            }
            if (maxAbsScale < KQuantSearch.GROUP_MAX_EPS) {
                Arrays.fill(y, yo, yo + GgmlType.Q6_K.typeSize(), (byte) 0);
                putHalf(y, yo + 208, fp32ToFp16(0.f));
                continue;
            }
            float iscale = -128.f / maxScale;
            putHalf(y, yo + 208, fp32ToFp16(1 / iscale));
            int sc = yo + 192;
            for (int ib = 0; ib < QK_K / 16; ++ib) {
                y[sc + ib] = (byte) Math.min(127, nearestInt(iscale * scales[ib]));
            }
            float dAll = fp16ToFp32(half(y, yo + 208));
            for (int j = 0; j < QK_K / 16; ++j) {
                float d = dAll * y[sc + j];
                if (d == 0) {
                    continue;
                }
                for (int ii = 0; ii < 16; ++ii) {
                    int l = nearestInt(x[xo + 16 * j + ii] / d);
                    L[16 * j + ii] = (byte) (Math.max(-32, Math.min(31, l)) + 32);
                }
            }
            int ql = yo;
            int qh = yo + 128;
            for (int j = 0; j < QK_K; j += 128) {
                for (int l = 0; l < 32; ++l) {
                    int q1 = L[j + l] & 0xF;
                    int q2 = L[j + l + 32] & 0xF;
                    int q3 = L[j + l + 64] & 0xF;
                    int q4 = L[j + l + 96] & 0xF;
                    y[ql + l] = (byte) (q1 | (q3 << 4));
                    y[ql + l + 32] = (byte) (q2 | (q4 << 4));
                    y[qh + l] = (byte) (((L[j + l] & 0xFF) >>> 4) | (((L[j + l + 32] & 0xFF) >>> 4) << 2)
                            | (((L[j + l + 64] & 0xFF) >>> 4) << 4) | (((L[j + l + 96] & 0xFF) >>> 4) << 6));
                }
                ql += 64;
                qh += 32;
            }
        }
    }

    /** Packs 256 two-bit codes: byte {@code j/4 + l} of qs holds codes j+l, +32, +64, +96 (j = 0, 128). */
    private static void pack2Bits(byte[] L, byte[] y, int qs) {
        for (int j = 0; j < QK_K; j += 128) {
            for (int l = 0; l < 32; ++l) {
                y[qs + j / 4 + l] = (byte) ((L[j + l] & 0xFF) | ((L[j + l + 32] & 0xFF) << 2)
                        | ((L[j + l + 64] & 0xFF) << 4) | ((L[j + l + 96] & 0xFF) << 6));
            }
        }
    }

    /** The little-endian 16-bit value at {@code at}. */
    static short half(byte[] y, int at) {
        return (short) ((y[at] & 0xFF) | (y[at + 1] << 8));
    }
}
