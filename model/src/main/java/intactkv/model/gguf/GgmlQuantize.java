package intactkv.model.gguf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * ggml's reference quantization: float32 rows into the blocks of a {@link GgmlType}, as
 * {@code llama-quantize} writes them when no importance matrix is given (what
 * {@code ggml_quantize_chunk(type, src, dst, 0, nrows, n_per_row, NULL)} computes: the
 * {@code quantize_row_*_ref} functions for Q4_0..Q8_0 and Q2_K..Q6_K, {@code quantize_iq4_nl}
 * for IQ4_NL, the row converters for F16 and BF16). The arithmetic is ggml's float32 arithmetic,
 * emulated operation by operation, so the bytes equal llama.cpp's own output
 * (GgmlQuantizeOracleTest, LlamaQuantizeBuiltinTest); {@link Dequantize} reads them back.
 *
 * <p>Symbols: {@code nRows} rows of {@code nPerRow} elements each, {@code nPerRow} a multiple of
 * the type's block size; the result is {@code nRows * nPerRow / blockSize * typeSize} bytes,
 * row after row, as a GGUF tensor's data. The block types quantize a row block by block, so
 * rows do not interact.
 *
 * <p>Where: {@link LegacyQuantize} (Q4_0, Q4_1, Q5_0, Q5_1), {@link KQuantize} (Q2_K, Q3_K, Q6_K),
 * {@link KQuantizeMin} (Q4_K, Q5_K), {@link KQuantSearch} (their scale searches),
 * {@link Iq4NlQuantize} (IQ4_NL), {@link GgmlFloats} (nearest_int, FP16/BF16 rounding).
 */
public final class GgmlQuantize {
    private GgmlQuantize() {
    }

    /** The types this class quantizes. */
    public static boolean canQuantize(GgmlType type) {
        return switch (type) {
            case F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL -> true;
            default -> false;
        };
    }

    /**
     * Quantizes {@code src} (row-major, {@code nRows x nPerRow}; not modified) into {@code type}'s
     * blocks.
     *
     * <p>Guards, checked before any work: the type is one of {@link #canQuantize}'s; the shape
     * matches {@code src}; the row length is a multiple of the block size (ggml asserts this; a
     * partial block has no encoding); and, for the block types, every value is finite. ggml has no
     * check for NaN or infinity: they pass through its float arithmetic into codes and scales that
     * decode to NaN or to unrelated numbers (its {@code nearest_int} of a non-finite value is an
     * arbitrary bit pattern), so a weight that is not a number would silently become garbage; it
     * is refused here with its row and column. F32, F16 and BF16 convert non-finite values
     * faithfully (NaN stays NaN, as ggml's converters do) and accept them.
     *
     * @throws IllegalArgumentException naming the type when it is not quantized here, the row
     *                                  length when it is not a multiple of the block size, the
     *                                  shape when it disagrees with {@code src}, or the first
     *                                  non-finite value's row and column
     */
    public static byte[] quantize(GgmlType type, float[] src, int nRows, int nPerRow) {
        if (!canQuantize(type)) {
            throw new IllegalArgumentException("ggml type " + type + " cannot be quantized here (quantizable: "
                    + "F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL)");
        }
        if (nRows < 0 || nPerRow <= 0) {
            throw new IllegalArgumentException("shape " + nRows + " x " + nPerRow
                    + " is not a matrix: rows must be >= 0 and the row length > 0");
        }
        if (nPerRow % type.blockSize() != 0) {
            throw new IllegalArgumentException("row length " + nPerRow + " is not a multiple of "
                    + type + "'s block size " + type.blockSize());
        }
        if ((long) nRows * nPerRow != src.length) {
            throw new IllegalArgumentException("source holds " + src.length + " values, not "
                    + nRows + " x " + nPerRow);
        }
        if (type.blockSize() > 1) {
            for (int i = 0; i < src.length; i++) {
                if (!Float.isFinite(src[i])) {
                    throw new IllegalArgumentException("value " + src[i] + " at row " + i / nPerRow + ", column "
                            + i % nPerRow + " is not finite: " + type + " cannot encode it (ggml would write "
                            + "meaningless codes); fix or remove the non-finite weights first");
                }
            }
        }
        ByteBuffer out = ByteBuffer.allocate((int) Dequantize.bytes(type, src.length)).order(ByteOrder.LITTLE_ENDIAN);
        byte[] y = out.array();
        switch (type) {
            case F32 -> out.asFloatBuffer().put(src);
            case F16 -> {
                for (int i = 0; i < src.length; i++) {
                    LegacyQuantize.putHalf(y, 2 * i, GgmlFloats.fp32ToFp16(src[i]));
                }
            }
            case BF16 -> {
                for (int i = 0; i < src.length; i++) {
                    LegacyQuantize.putHalf(y, 2 * i, GgmlFloats.fp32ToBf16(src[i]));
                }
            }
            case Q4_0 -> LegacyQuantize.q4_0(src, y);
            case Q4_1 -> LegacyQuantize.q4_1(src, y);
            case Q5_0 -> LegacyQuantize.q5_0(src, y);
            case Q5_1 -> LegacyQuantize.q5_1(src, y);
            case Q8_0 -> q8_0(src, out);
            case Q2_K -> KQuantize.q2_K(src, y);
            case Q3_K -> KQuantize.q3_K(src, y);
            case Q4_K -> KQuantizeMin.q4_K(src, y);
            case Q5_K -> KQuantizeMin.q5_K(src, y);
            case Q6_K -> KQuantize.q6_K(src, y);
            case IQ4_NL -> Iq4NlQuantize.quantize(src, y);
            default -> throw new IllegalStateException(type.toString());
        }
        return y;
    }

    /**
     * {@code quantize_row_q8_0_ref}: per block of 32, d = amax / 127 (float), codes roundf(x / d)
     * (multiplied by the float reciprocal, as ggml does), d stored as FP16.
     */
    static void q8_0(float[] x, ByteBuffer y) {
        for (int b = 0; b < x.length / 32; b++) {
            float amax = 0f;
            for (int j = 0; j < 32; j++) {
                float a = Math.abs(x[b * 32 + j]);
                amax = amax > a ? amax : a;
            }
            float d = amax / 127f;
            float id = d != 0f ? 1.0f / d : 0.0f;
            y.putShort(GgmlFloats.fp32ToFp16(d));
            for (int j = 0; j < 32; j++) {
                y.put((byte) GgmlFloats.cvtt(roundf(x[b * 32 + j] * id)));
            }
        }
    }

    /** C's {@code roundf}: to nearest, halves away from zero (Java's Math.round rounds halves up). */
    static float roundf(float v) {
        return GgmlFloats.roundf(v);
    }
}
