package intactkv.model.gguf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A GGUF tensor's bytes as float32 values, for every {@link GgmlType#isSupported() supported}
 * type: F32 as stored, F16 and BF16 widened exactly (ggml's {@code ggml_fp16_to_fp32} and
 * {@code ggml_bf16_to_fp32}: BF16 is the upper half of a float's bits), the block types through
 * {@link LegacyQuants} and {@link KQuants}. The values are ggml's own dequantization, bit for
 * bit; the caller holds them as float (and reads them as double, exactly). IQ4_NL, which
 * {@code llama-quantize} can choose for a tensor, is dequantized too ({@link Iq4NlQuantize}),
 * though the GGUF reader does not list it as supported yet.
 */
public final class Dequantize {
    private Dequantize() {
    }

    /**
     * Dequantizes {@code n} elements of {@code type} from {@code src} (read from its position,
     * little-endian, advanced past them) into {@code y[off..off+n)}; {@code n} must be a multiple
     * of the block size and {@code src} must hold {@link #bytes} of them (the caller checked both).
     */
    public static void into(GgmlType type, ByteBuffer src, float[] y, int off, int n) {
        ByteBuffer b = src.order(ByteOrder.LITTLE_ENDIAN);
        switch (type) {
            case F32 -> b.asFloatBuffer().get(y, off, n);
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    y[off + i] = (float) intactkv.tensor.HalfFloat.fromFp16Bits(b.getShort(b.position() + 2 * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    y[off + i] = Float.intBitsToFloat((b.getShort(b.position() + 2 * i) & 0xFFFF) << 16);
                }
            }
            case Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 -> LegacyQuants.dequantize(type, b, y, off, n);
            case Q2_K, Q3_K, Q4_K, Q5_K, Q6_K -> KQuants.dequantize(type, b, y, off, n);
            case IQ4_NL -> Iq4NlQuantize.dequantize(b, y, off, n);
            default -> throw new IllegalArgumentException("ggml type " + type + " is not supported (supported: "
                    + GgmlType.supported() + ")");
        }
        if (type == GgmlType.F32 || type == GgmlType.F16 || type == GgmlType.BF16) {
            b.position(b.position() + (int) bytes(type, n));
        }
    }

    /** The bytes {@code n} elements of {@code type} take ({@code n} a multiple of the block size). */
    public static long bytes(GgmlType type, long n) {
        return n / type.blockSize() * type.typeSize();
    }

    /** {@link #into} for a whole array. */
    public static float[] toFloats(GgmlType type, ByteBuffer src, int n) {
        float[] y = new float[n];
        into(type, src, y, 0, n);
        return y;
    }
}
