package intactkv.model.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Q8_0 through {@link GgmlQuantize} and back through {@link Dequantize}; C's roundf by hand. */
class GgmlQuantizeTest {
    @Test
    void q8_0RoundTripIsWithinHalfAStep() {
        SplittableRandom rnd = new SplittableRandom(7);
        float[] x = new float[4 * 64];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        byte[] q = GgmlQuantize.quantize(GgmlType.Q8_0, x, 4, 64);
        assertEquals(x.length / 32 * 34, q.length);
        float[] y = Dequantize.toFloats(GgmlType.Q8_0, ByteBuffer.wrap(q), x.length);
        for (int b = 0; b < x.length / 32; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(x[b * 32 + j]));
            }
            // Half a step of amax/127, widened by the FP16 rounding of the scale (relative 2^-11 of 127 steps).
            double tol = amax / 127 * (0.5 + 127 * Math.pow(2, -11)) + 1e-7;
            for (int j = 0; j < 32; j++) {
                assertTrue(Math.abs(x[b * 32 + j] - y[b * 32 + j]) <= tol, "element " + (b * 32 + j));
            }
        }
    }

    @Test
    void roundfRoundsHalvesAwayFromZero() {
        assertEquals(3f, GgmlQuantize.roundf(2.5f));
        assertEquals(-3f, GgmlQuantize.roundf(-2.5f));
        assertEquals(0f, GgmlQuantize.roundf(0.49999997f));
        assertEquals(-2f, GgmlQuantize.roundf(-1.5f));
        assertEquals(1f, GgmlQuantize.roundf(1.4999999f));
    }

    @Test
    void refusesARowLengthOffTheBlock() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> GgmlQuantize.quantize(GgmlType.Q8_0, new float[40], 1, 40));
        assertTrue(e.getMessage().contains("40"), e.getMessage());
    }
}
