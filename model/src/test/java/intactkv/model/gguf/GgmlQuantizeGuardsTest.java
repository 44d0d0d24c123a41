package intactkv.model.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * What {@link GgmlQuantize} refuses (one message naming the value, row and column, or the shape),
 * and checks of the quantizers that do not need ggml: every type dequantizes back to within its
 * step, and IQ4_NL decodes a hand-made block.
 */
class GgmlQuantizeGuardsTest {
    private static final GgmlType[] BLOCK_TYPES = {GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1,
        GgmlType.Q8_0, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.IQ4_NL};

    private static String refusal(GgmlType type, float[] src, int rows, int cols) {
        return assertThrows(IllegalArgumentException.class, () -> GgmlQuantize.quantize(type, src, rows, cols))
                .getMessage();
    }

    @Test
    void refusesNonFiniteValuesByRowAndColumnForEveryBlockType() {
        for (GgmlType t : BLOCK_TYPES) {
            float[] x = new float[2 * 256];
            x[256 + 17] = Float.NaN;
            assertEquals("value NaN at row 1, column 17 is not finite: " + t + " cannot encode it (ggml would write "
                    + "meaningless codes); fix or remove the non-finite weights first", refusal(t, x, 2, 256));
            x[256 + 17] = 0;
            x[3] = Float.NEGATIVE_INFINITY;
            assertTrue(refusal(t, x, 2, 256).startsWith("value -Infinity at row 0, column 3 is not finite"), t.name());
        }
    }

    @Test
    void convertsNonFiniteValuesFaithfullyToTheFloatTypes() {
        float[] x = {Float.NaN, Float.POSITIVE_INFINITY, -1f};
        ByteBuffer f16 = ByteBuffer.wrap(GgmlQuantize.quantize(GgmlType.F16, x, 1, 3));
        float[] back = Dequantize.toFloats(GgmlType.F16, f16, 3);
        assertTrue(Float.isNaN(back[0]));
        assertEquals(Float.POSITIVE_INFINITY, back[1]);
        assertEquals(-1f, back[2]);
    }

    @Test
    void refusesARowLengthOffTheBlockNamingBoth() {
        assertEquals("row length 384 is not a multiple of Q4_K's block size 256",
                refusal(GgmlType.Q4_K, new float[384], 1, 384));
        assertEquals("row length 40 is not a multiple of IQ4_NL's block size 32",
                refusal(GgmlType.IQ4_NL, new float[80], 2, 40));
    }

    @Test
    void refusesAShapeThatIsNotTheSource() {
        assertEquals("source holds 64 values, not 3 x 32", refusal(GgmlType.Q8_0, new float[64], 3, 32));
        assertEquals("shape -1 x 32 is not a matrix: rows must be >= 0 and the row length > 0",
                refusal(GgmlType.Q8_0, new float[64], -1, 32));
        assertEquals("shape 1 x 0 is not a matrix: rows must be >= 0 and the row length > 0",
                refusal(GgmlType.F32, new float[0], 1, 0));
    }

    @Test
    void refusesATypeItCannotWriteListingTheOnesItCan() {
        String m = refusal(GgmlType.IQ2_XXS, new float[256], 1, 256);
        assertTrue(m.startsWith("ggml type IQ2_XXS cannot be quantized here (quantizable: F32, F16, BF16"), m);
    }

    /**
     * Theorem (per type): the dequantized value is within a bounded multiple of the block's range
     * of the input. Bound: the coarsest code step of each type (2 bits over the group range for
     * Q2_K: range / 3, plus the scale's 4-bit quantization error, so 0.75 of the range is a loose
     * but failing-when-broken bound; a packing bug moves values by whole codes across the range).
     */
    @Test
    void everyTypeDequantizesBackNearItsInput() {
        SplittableRandom rnd = new SplittableRandom(29);
        float[] x = new float[4 * 256];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        for (GgmlType t : BLOCK_TYPES) {
            float[] y = Dequantize.toFloats(t, ByteBuffer.wrap(GgmlQuantize.quantize(t, x, 4, 256)), x.length);
            double worst = 0;
            double sq = 0;
            for (int i = 0; i < x.length; i++) {
                worst = Math.max(worst, Math.abs(x[i] - y[i]));
                sq += (x[i] - y[i]) * (x[i] - y[i]);
            }
            double rms = Math.sqrt(sq / x.length);
            // Gaussian blocks span about 5 units: 0.75 of it bounds every type's worst error; the RMS
            // error of a b-bit code is about range / 2^b / sqrt(12), so 0.5 catches a wrong packing
            assertTrue(worst < 3.75, t + " worst " + worst);
            assertTrue(rms < 0.5, t + " rms " + rms);
        }
    }

    @Test
    void iq4NlDecodesAHandMadeBlock() {
        byte[] block = new byte[18];
        block[0] = 0x00;
        block[1] = 0x38; // FP16 0.5
        for (int j = 0; j < 16; j++) {
            block[2 + j] = (byte) (j | ((15 - j) << 4));
        }
        float[] y = new float[32];
        Iq4NlQuantize.dequantize(ByteBuffer.wrap(block), y, 0, 32);
        float[] want = new float[32];
        for (int j = 0; j < 16; j++) {
            want[j] = 0.5f * Iq4NlQuantize.VALUES[j];
            want[j + 16] = 0.5f * Iq4NlQuantize.VALUES[15 - j];
        }
        assertArrayEquals(want, y);
        assertArrayEquals(want, Dequantize.toFloats(GgmlType.IQ4_NL, ByteBuffer.wrap(block), 32));
    }
}
