package intactkv.model.gguf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * ggml's reference quantization: float32 rows into the blocks of a {@link GgmlType}, as
 * {@code llama-quantize} writes them when no importance matrix is given (ggml-quants.c
 * {@code quantize_row_*_ref}, reached through {@code ggml_quantize_chunk} with a null imatrix).
 * The arithmetic is ggml's float32 arithmetic, emulated with explicit {@code (float)} rounding,
 * so the bytes equal llama.cpp's own output; {@link Dequantize} reads them back.
 *
 * <p>Symbols: {@code nRows} rows of {@code nPerRow} elements each, {@code nPerRow} a multiple of
 * the type's block size; the result is {@code nRows * nPerRow / blockSize * typeSize} bytes,
 * row after row, as a GGUF tensor's data.
 */
public final class GgmlQuantize {
    private GgmlQuantize() {
    }

    /** The types this class quantizes. */
    public static boolean canQuantize(GgmlType type) {
        return switch (type) {
            case F32, Q8_0 -> true;
            default -> false;
        };
    }

    /**
     * Quantizes {@code src} (row-major, {@code nRows x nPerRow}) into {@code type}'s blocks.
     *
     * @throws IllegalArgumentException naming the type when it is not quantized here, or the row
     *                                  length when it is not a multiple of the block size
     */
    public static byte[] quantize(GgmlType type, float[] src, int nRows, int nPerRow) {
        if (!canQuantize(type)) {
            throw new IllegalArgumentException("ggml type " + type + " cannot be quantized here");
        }
        if (nPerRow % type.blockSize() != 0) {
            throw new IllegalArgumentException("row length " + nPerRow + " is not a multiple of "
                    + type + "'s block size " + type.blockSize());
        }
        if ((long) nRows * nPerRow != src.length) {
            throw new IllegalArgumentException("source holds " + src.length + " values, not "
                    + nRows + " x " + nPerRow);
        }
        ByteBuffer out = ByteBuffer.allocate((int) Dequantize.bytes(type, src.length)).order(ByteOrder.LITTLE_ENDIAN);
        switch (type) {
            case F32 -> out.asFloatBuffer().put(src);
            case Q8_0 -> q8_0(src, out);
            default -> throw new IllegalStateException(type.toString());
        }
        return out.array();
    }

    /**
     * {@code quantize_row_q8_0_ref}: per block of 32, d = amax / 127 (float), codes roundf(x / d)
     * (multiplied by the float reciprocal, as ggml does), d stored as FP16.
     */
    static void q8_0(float[] x, ByteBuffer y) {
        for (int b = 0; b < x.length / 32; b++) {
            float amax = 0f;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(x[b * 32 + j]));
            }
            float d = amax / 127f;
            float id = d != 0f ? 1.0f / d : 0.0f;
            y.putShort(intactkv.tensor.HalfFloat.toFp16Bits(d));
            for (int j = 0; j < 32; j++) {
                y.put((byte) roundf(x[b * 32 + j] * id));
            }
        }
    }

    /** C's {@code roundf}: to nearest, halves away from zero (Java's Math.round rounds halves up). */
    static float roundf(float v) {
        // In double, |v| + 0.5 is exact for every float v, so its floor is roundf's magnitude
        // (in float, 0.49999997f + 0.5f would round up to 1).
        return (float) Math.copySign(Math.floor(Math.abs((double) v) + 0.5), v);
    }
}
