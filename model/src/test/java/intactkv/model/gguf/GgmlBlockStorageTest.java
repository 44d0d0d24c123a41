package intactkv.model.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * A block-type matrix held as its file's bytes reads, for any run of any row, the doubles of the float32 values
 * {@link GgufFile#readFloats} gives (which GgufQuantTypesTest checks against gguf-py), on every block type of the
 * committed fixture quant_types.gguf; a wrong size is refused naming it.
 */
class GgmlBlockStorageTest {
    @Test
    void everyRunOfEveryRowIsTheDequantizedFloats() throws Exception {
        java.util.Set<GgmlType> types = java.util.EnumSet.noneOf(GgmlType.class);
        try (GgufFile f = GgufFile.open(GgufQuantTypesTest.fixture("quant_types.gguf"))) {
            for (GgufFile.TensorInfo t : f.tensors()) {
                if (t.type().blockSize() == 1) {
                    continue;
                }
                float[] want = f.readFloats(t);
                int bs = t.type().blockSize();
                // the fixture's elements as rows of two blocks (or one), so that runs cross rows and blocks
                int cols = want.length % (2 * bs) == 0 ? 2 * bs : bs;
                int rows = want.length / cols;
                GgmlBlockStorage s = new GgmlBlockStorage(t.type(), rows, cols, f.readBytes(t));
                assertEquals(want.length, s.size());
                assertEquals(t.bytes(), s.bytes());
                for (int from = 0; from < want.length; from += 37) {
                    for (int count : new int[] {0, 1, 5, bs - 1, bs + 3, cols + 7, want.length}) {
                        int c = Math.min(count, want.length - from);
                        double[] got = new double[c + 2];
                        s.toDouble(from, c, got, 1);
                        assertEquals(0.0, got[0]);
                        assertEquals(0.0, got[c + 1]);
                        for (int i = 0; i < c; i++) {
                            assertEquals(Double.doubleToRawLongBits(want[from + i]),
                                    Double.doubleToRawLongBits(got[1 + i]),
                                    t.name() + " (" + t.type() + ") from " + from + " element " + i);
                        }
                    }
                }
                types.add(t.type());
            }
        }
        assertEquals(10, types.size(), types.toString()); // Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K .. Q6_K
    }

    @Test
    void wrongSizesAndTypesAreRefused() {
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> new GgmlBlockStorage(GgmlType.Q8_0, 2, 32, new byte[67])).getMessage()
                .contains("a (2, 32) Q8_0 matrix takes 68 bytes, got 67"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> new GgmlBlockStorage(GgmlType.Q4_K, 1, 128, new byte[72])).getMessage()
                .contains("needs rows of a multiple of 256 elements"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> new GgmlBlockStorage(GgmlType.F16, 1, 2, new byte[4])).getMessage()
                .contains("F16 is not a block type"));
    }
}
