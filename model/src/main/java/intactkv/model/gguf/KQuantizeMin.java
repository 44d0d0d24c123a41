package intactkv.model.gguf;

import static intactkv.model.gguf.GgmlFloats.fp16ToFp32;
import static intactkv.model.gguf.GgmlFloats.fp32ToFp16;
import static intactkv.model.gguf.GgmlFloats.nearestInt;
import static intactkv.model.gguf.LegacyQuantize.putHalf;

import java.util.Arrays;

/**
 * ggml's reference quantization of Q4_K and Q5_K, the k-quants with a minimum: super-blocks of
 * 256 in eight groups of 32, {@code x ~ d sc l - dmin m} with codes {@code l in [0, nmax]}
 * (nmax 15 or 31), in float32 exactly as C computes it.
 *
 * <p>Per group: weights {@code sqrt(mean x^2) + |x|}, then {@code make_qkx2_quants} (squared error;
 * Q4_K 21 steps from -1 by 0.1, Q5_K 16 steps from -0.5 by 0.1) gives a scale and a min; both are
 * quantized to 6 bits against their maxima ({@code d = max_scale / 63}, {@code dmin = max_min / 63},
 * FP16) and packed by {@code get_scale_min_k4}'s layout into 12 bytes; then every code is recomputed
 * as {@code nearest((x + dmin m) / (d sc))} clamped to [0, nmax] (a group with {@code d sc = 0}
 * keeps the search's codes). Block: d, dmin (fp16), scales[12], [Q5_K: qh[32], the fifth bits],
 * qs[128] (low nibble: codes j..j+31 of each 64, high nibble: the next 32).
 *
 * <p>Reference: ggml/src/ggml-quants.c {@code quantize_row_q4_K_ref}, {@code quantize_row_q5_K_ref},
 * {@code get_scale_min_k4}; reached through {@code ggml_quantize_chunk -> quantize_q4_K} /
 * {@code quantize_q5_K} with a null imatrix.
 */
final class KQuantizeMin {
    private static final int QK_K = GgmlType.QK_K;

    private KQuantizeMin() {
    }

    /** Q4_K (144-byte blocks). */
    static void q4_K(float[] x, byte[] y) {
        byte[] L = new byte[QK_K];
        for (int i = 0; i < x.length / QK_K; i++) {
            int yo = i * GgmlType.Q4_K.typeSize();
            codes(x, i * QK_K, y, yo, L, 15, -1.f, 20);
            int q = yo + 16;
            for (int j = 0; j < QK_K; j += 64) {
                for (int l = 0; l < 32; ++l) {
                    y[q + l] = (byte) (L[j + l] | (L[j + l + 32] << 4));
                }
                q += 32;
            }
        }
    }

    /** Q5_K (176-byte blocks). */
    static void q5_K(float[] x, byte[] y) {
        byte[] L = new byte[QK_K];
        for (int i = 0; i < x.length / QK_K; i++) {
            int yo = i * GgmlType.Q5_K.typeSize();
            codes(x, i * QK_K, y, yo, L, 31, -0.5f, 15);
            int qh = yo + 16;
            int ql = yo + 48;
            Arrays.fill(y, qh, qh + QK_K / 8, (byte) 0);
            int m1 = 1;
            int m2 = 2;
            for (int n = 0; n < QK_K; n += 64) {
                for (int j = 0; j < 32; ++j) {
                    int l1 = L[n + j];
                    if (l1 > 15) {
                        l1 -= 16;
                        y[qh + j] |= (byte) m1;
                    }
                    int l2 = L[n + j + 32];
                    if (l2 > 15) {
                        l2 -= 16;
                        y[qh + j] |= (byte) m2;
                    }
                    y[ql + j] = (byte) (l1 | (l2 << 4));
                }
                m1 = (m1 << 2) & 0xFF;
                m2 = (m2 << 2) & 0xFF;
                ql += 32;
            }
        }
    }

    /**
     * The part Q4_K and Q5_K share: searches the eight groups of the super-block at {@code xo},
     * writes d, dmin and the 12 scale bytes of the block at {@code yo}, and leaves the final codes
     * (each in [0, nmax]) in {@code L} (modified).
     */
    private static void codes(float[] x, int xo, byte[] y, int yo, byte[] L, int nmax, float rmin, int nstep) {
        byte[] laux = new byte[32];
        float[] weights = new float[32];
        float[] mins = new float[QK_K / 32];
        float[] scales = new float[QK_K / 32];
        float maxScale = 0;
        float maxMin = 0;
        for (int j = 0; j < QK_K / 32; ++j) {
            float sumX2 = 0;
            for (int l = 0; l < 32; ++l) {
                sumX2 += x[xo + 32 * j + l] * x[xo + 32 * j + l];
            }
            float avX = (float) Math.sqrt(sumX2 / 32);
            for (int l = 0; l < 32; ++l) {
                weights[l] = avX + Math.abs(x[xo + 32 * j + l]);
            }
            scales[j] = KQuantSearch.makeQkx2Quants(32, nmax, x, xo + 32 * j, weights, 0, L, 32 * j, mins, j,
                    laux, rmin, 0.1f, nstep, false);
            if (scales[j] > maxScale) {
                maxScale = scales[j];
            }
            if (mins[j] > maxMin) {
                maxMin = mins[j];
            }
        }
        float invScale = maxScale > 0 ? 63.f / maxScale : 0.f;
        float invMin = maxMin > 0 ? 63.f / maxMin : 0.f;
        int sc = yo + 4;
        for (int j = 0; j < QK_K / 32; ++j) {
            int ls = Math.min(63, nearestInt(invScale * scales[j]) & 0xFF);
            int lm = Math.min(63, nearestInt(invMin * mins[j]) & 0xFF);
            if (j < 4) {
                y[sc + j] = (byte) ls;
                y[sc + j + 4] = (byte) lm;
            } else {
                y[sc + j + 4] = (byte) ((ls & 0xF) | ((lm & 0xF) << 4));
                y[sc + j - 4] |= (byte) ((ls >>> 4) << 6);
                y[sc + j] |= (byte) ((lm >>> 4) << 6);
            }
        }
        putHalf(y, yo, fp32ToFp16(maxScale / 63.f));
        putHalf(y, yo + 2, fp32ToFp16(maxMin / 63.f));
        float dAll = fp16ToFp32(KQuantize.half(y, yo));
        float dminAll = fp16ToFp32(KQuantize.half(y, yo + 2));
        for (int j = 0; j < QK_K / 32; ++j) {
            int s;
            int m;
            if (j < 4) {
                s = y[sc + j] & 63;
                m = y[sc + j + 4] & 63;
            } else {
                s = (y[sc + j + 4] & 0xF) | (((y[sc + j - 4] & 0xFF) >>> 6) << 4);
                m = ((y[sc + j + 4] & 0xFF) >>> 4) | (((y[sc + j] & 0xFF) >>> 6) << 4);
            }
            float d = dAll * s;
            if (d == 0) {
                continue;
            }
            float dm = dminAll * m;
            for (int ii = 0; ii < 32; ++ii) {
                int l = nearestInt((x[xo + 32 * j + ii] + dm) / d);
                L[32 * j + ii] = (byte) Math.max(0, Math.min(nmax, l));
            }
        }
    }
}
