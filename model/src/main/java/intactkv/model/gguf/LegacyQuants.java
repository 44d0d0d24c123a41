package intactkv.model.gguf;

import intactkv.tensor.HalfFloat;
import java.nio.ByteBuffer;

/**
 * Dequantization of ggml's legacy 32-element block types, in float32 exactly as ggml's
 * reference C code computes (Java's float arithmetic rounds every operation to float, as C does
 * without contraction; the result is then held as float, so it is ggml's bit for bit).
 * Each block starts with the fp16 scale d (and, for the _1 types, the fp16 minimum m):
 * <pre>
 *   Q4_0  (18 bytes): d, 16 bytes of nibbles        y = (q - 8) d        q = low nibble for j, high for j + 16
 *   Q4_1  (20 bytes): d, m, 16 bytes of nibbles     y = q d + m
 *   Q5_0  (22 bytes): d, qh (uint32), 16 nibbles    y = (q - 16) d      q = nibble | bit j (or j + 12 shifted) of qh as bit 4
 *   Q5_1  (24 bytes): d, m, qh, 16 nibbles          y = q d + m
 *   Q8_0  (34 bytes): d, 32 int8                    y = q d
 * </pre>
 * Reference: ggml/src/ggml-quants.c {@code dequantize_row_q4_0}, {@code _q4_1}, {@code _q5_0},
 * {@code _q5_1}, {@code _q8_0}; the block structs in ggml/src/ggml-common.h.
 */
final class LegacyQuants {
    static final int QK = 32;

    private LegacyQuants() {
    }

    /** fp16 at the buffer's current position (little-endian), widened exactly to float. */
    static float half(ByteBuffer b) {
        return (float) HalfFloat.fromFp16Bits(b.getShort());
    }

    /** Dequantizes {@code n / 32} blocks of {@code type} from {@code b} (advanced) into {@code y[off..off+n)}. */
    static void dequantize(GgmlType type, ByteBuffer b, float[] y, int off, int n) {
        byte[] qs = new byte[QK];
        for (int i = off; i < off + n; i += QK) {
            switch (type) {
                case Q4_0 -> {
                    float d = half(b);
                    b.get(qs, 0, QK / 2);
                    for (int j = 0; j < QK / 2; j++) {
                        int x0 = (qs[j] & 0x0F) - 8;
                        int x1 = ((qs[j] & 0xFF) >> 4) - 8;
                        y[i + j] = x0 * d;
                        y[i + j + QK / 2] = x1 * d;
                    }
                }
                case Q4_1 -> {
                    float d = half(b);
                    float m = half(b);
                    b.get(qs, 0, QK / 2);
                    for (int j = 0; j < QK / 2; j++) {
                        int x0 = qs[j] & 0x0F;
                        int x1 = (qs[j] & 0xFF) >> 4;
                        y[i + j] = x0 * d + m;
                        y[i + j + QK / 2] = x1 * d + m;
                    }
                }
                case Q5_0, Q5_1 -> {
                    float d = half(b);
                    float m = type == GgmlType.Q5_1 ? half(b) : 0f;
                    int qh = b.getInt(); // little-endian uint32, as ggml's memcpy on a little-endian machine
                    b.get(qs, 0, QK / 2);
                    int offset = type == GgmlType.Q5_0 ? 16 : 0;
                    for (int j = 0; j < QK / 2; j++) {
                        int xh0 = ((qh >>> j) << 4) & 0x10;
                        int xh1 = (qh >>> (j + 12)) & 0x10;
                        int x0 = ((qs[j] & 0x0F) | xh0) - offset;
                        int x1 = (((qs[j] & 0xFF) >> 4) | xh1) - offset;
                        if (type == GgmlType.Q5_0) {
                            y[i + j] = x0 * d;
                            y[i + j + QK / 2] = x1 * d;
                        } else {
                            y[i + j] = x0 * d + m;
                            y[i + j + QK / 2] = x1 * d + m;
                        }
                    }
                }
                case Q8_0 -> {
                    float d = half(b);
                    b.get(qs, 0, QK);
                    for (int j = 0; j < QK; j++) {
                        y[i + j] = qs[j] * d;
                    }
                }
                default -> throw new IllegalArgumentException("not a legacy block type: " + type);
            }
        }
    }
}
