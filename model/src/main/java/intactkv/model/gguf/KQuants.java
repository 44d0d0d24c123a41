package intactkv.model.gguf;

import java.nio.ByteBuffer;

/**
 * Dequantization of ggml's k-quants: super-blocks of {@link GgmlType#QK_K} = 256 elements, in
 * float32 exactly as ggml's reference C code computes (every product and difference rounded to
 * float in the same order, so results are ggml's bit for bit). Layouts (ggml-common.h):
 * <pre>
 *   Q2_K  (84 bytes):  scales[16] (4-bit scale | 4-bit min), qs[64] (2-bit), d, dmin   y = d sc q - dmin m
 *   Q3_K  (110 bytes): hmask[32], qs[64], scales[12] (16 6-bit scales), d               y = d (sc - 32) (q - 4 [high bit clear])
 *   Q4_K  (144 bytes): d, dmin, scales[12] (8 6-bit scales and mins), qs[128]           y = (d sc) q - (dmin m)
 *   Q5_K  (176 bytes): d, dmin, scales[12], qh[32], qs[128]                             y = (d sc) (q + 16 [high bit]) - (dmin m)
 *   Q6_K  (210 bytes): ql[128], qh[64], scales[16] (int8), d                            y = (d sc) (q - 32)
 * </pre>
 * Reference: ggml/src/ggml-quants.c {@code dequantize_row_q2_K}, {@code _q3_K}, {@code _q4_K}
 * (with {@code get_scale_min_k4}), {@code _q5_K}, {@code _q6_K}.
 */
final class KQuants {
    private static final int QK = GgmlType.QK_K;

    private KQuants() {
    }

    /** Dequantizes {@code n / 256} super-blocks of {@code type} from {@code b} (advanced) into {@code y[off..off+n)}. */
    static void dequantize(GgmlType type, ByteBuffer b, float[] y, int off, int n) {
        byte[] block = new byte[type.typeSize()];
        for (int i = off; i < off + n; i += QK) {
            b.get(block);
            ByteBuffer blk = ByteBuffer.wrap(block).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            switch (type) {
                case Q2_K -> q2k(blk, block, y, i);
                case Q3_K -> q3k(blk, block, y, i);
                case Q4_K, Q5_K -> q45k(type == GgmlType.Q5_K, blk, block, y, i);
                case Q6_K -> q6k(blk, block, y, i);
                default -> throw new IllegalArgumentException("not a k-quant type: " + type);
            }
        }
    }

    private static float half(ByteBuffer blk, int at) {
        return (float) intactkv.tensor.HalfFloat.fromFp16Bits(blk.getShort(at));
    }

    private static void q2k(ByteBuffer blk, byte[] x, float[] y, int out) {
        final int scales = 0;
        final int qs = 16;
        float d = half(blk, 80);
        float min = half(blk, 82);
        int is = 0;
        int q = qs;
        for (int n = 0; n < QK; n += 128) {
            int shift = 0;
            for (int j = 0; j < 4; j++) {
                for (int half = 0; half < 2; half++) {
                    int sc = x[scales + is++] & 0xFF;
                    float dl = d * (sc & 0xF);
                    float ml = min * (sc >> 4);
                    for (int l = 0; l < 16; l++) {
                        y[out++] = dl * (((x[q + l + 16 * half] & 0xFF) >> shift) & 3) - ml;
                    }
                }
                shift += 2;
            }
            q += 32;
        }
    }

    private static void q3k(ByteBuffer blk, byte[] x, float[] y, int out) {
        final int hmask = 0;
        final int qs = 32;
        float dAll = half(blk, 108);
        // the sixteen 6-bit scales: low 4 bits from bytes 0-7, high 2 bits from bytes 8-11 (ggml's aux shuffle)
        int[] aux = new int[4];
        for (int k = 0; k < 3; k++) {
            aux[k] = blk.getInt(96 + 4 * k);
        }
        final int kmask1 = 0x03030303;
        final int kmask2 = 0x0f0f0f0f;
        int tmp = aux[2];
        aux[2] = ((aux[0] >>> 4) & kmask2) | (((tmp >>> 4) & kmask1) << 4);
        aux[3] = ((aux[1] >>> 4) & kmask2) | (((tmp >>> 6) & kmask1) << 4);
        aux[0] = (aux[0] & kmask2) | (((tmp >>> 0) & kmask1) << 4);
        aux[1] = (aux[1] & kmask2) | (((tmp >>> 2) & kmask1) << 4);
        byte[] scales = new byte[16];
        for (int k = 0; k < 16; k++) {
            scales[k] = (byte) (aux[k / 4] >>> (8 * (k % 4))); // little-endian bytes of aux, read as int8
        }
        int is = 0;
        int m = 1;
        int q = qs;
        for (int n = 0; n < QK; n += 128) {
            int shift = 0;
            for (int j = 0; j < 4; j++) {
                for (int half = 0; half < 2; half++) {
                    float dl = dAll * (scales[is++] - 32);
                    for (int l = 0; l < 16; l++) {
                        int lo = ((x[q + l + 16 * half] & 0xFF) >> shift) & 3;
                        int hi = (x[hmask + l + 16 * half] & m) != 0 ? 0 : 4;
                        y[out++] = dl * (lo - hi);
                    }
                }
                shift += 2;
                m <<= 1;
            }
            q += 32;
        }
    }

    /** ggml's {@code get_scale_min_k4}: the j-th 6-bit scale and min of the 12 bytes at {@code s}. */
    static int[] scaleMinK4(int j, byte[] x, int s) {
        int sc;
        int mn;
        if (j < 4) {
            sc = x[s + j] & 63;
            mn = x[s + j + 4] & 63;
        } else {
            sc = (x[s + j + 4] & 0xF) | (((x[s + j - 4] & 0xFF) >> 6) << 4);
            mn = ((x[s + j + 4] & 0xFF) >> 4) | (((x[s + j] & 0xFF) >> 6) << 4);
        }
        return new int[] {sc, mn};
    }

    private static void q45k(boolean five, ByteBuffer blk, byte[] x, float[] y, int out) {
        float d = half(blk, 0);
        float min = half(blk, 2);
        final int scales = 4;
        final int qh = 16;
        int ql = five ? 48 : 16;
        int is = 0;
        int u1 = 1;
        int u2 = 2;
        for (int j = 0; j < QK; j += 64) {
            int[] a = scaleMinK4(is, x, scales);
            float d1 = d * a[0];
            float m1 = min * a[1];
            int[] c = scaleMinK4(is + 1, x, scales);
            float d2 = d * c[0];
            float m2 = min * c[1];
            for (int l = 0; l < 32; l++) {
                int q = (x[ql + l] & 0xF) + (five && (x[qh + l] & u1) != 0 ? 16 : 0);
                y[out++] = d1 * q - m1;
            }
            for (int l = 0; l < 32; l++) {
                int q = ((x[ql + l] & 0xFF) >> 4) + (five && (x[qh + l] & u2) != 0 ? 16 : 0);
                y[out++] = d2 * q - m2;
            }
            ql += 32;
            is += 2;
            u1 <<= 2;
            u2 <<= 2;
        }
    }

    private static void q6k(ByteBuffer blk, byte[] x, float[] y, int out) {
        float d = half(blk, 208);
        int ql = 0;
        int qh = 128;
        int sc = 192;
        for (int n = 0; n < QK; n += 128) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int h = x[qh + l] & 0xFF;
                int q1 = (byte) ((x[ql + l] & 0xF) | (((h >> 0) & 3) << 4)) - 32;
                int q2 = (byte) ((x[ql + l + 32] & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                int q3 = (byte) (((x[ql + l] & 0xFF) >> 4) | (((h >> 4) & 3) << 4)) - 32;
                int q4 = (byte) (((x[ql + l + 32] & 0xFF) >> 4) | (((h >> 6) & 3) << 4)) - 32;
                y[out + l] = d * x[sc + is] * q1;
                y[out + l + 32] = d * x[sc + is + 2] * q2;
                y[out + l + 64] = d * x[sc + is + 4] * q3;
                y[out + l + 96] = d * x[sc + is + 6] * q4;
            }
            out += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}
