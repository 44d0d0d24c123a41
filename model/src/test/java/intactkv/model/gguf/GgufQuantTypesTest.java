package intactkv.model.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Every supported ggml type dequantized bit for bit as gguf-py's {@code gguf.quants.dequantize}
 * (which mirrors ggml's reference {@code dequantize_row_*}) does, on the committed fixture of
 * tools/oracle/gguf_fixtures.py: random block bytes (every code and scale bit pattern, finite
 * and subnormal fp16 scales) and, for the legacy types, gguf-py's own quantization of random data.
 * Tolerance: none; float bits are compared, so a different rounding order anywhere fails.
 */
class GgufQuantTypesTest {
    static Path fixture(String name) throws Exception {
        return Path.of(GgufQuantTypesTest.class.getResource("/oracle/gguf/" + name).toURI());
    }

    @Test
    void everySupportedTypeMatchesGgufPyBitForBit() throws Exception {
        Set<GgmlType> seen = EnumSet.noneOf(GgmlType.class);
        int compared = 0;
        try (GgufFile f = GgufFile.open(fixture("quant_types.gguf"))) {
            for (GgufFile.TensorInfo t : f.tensors()) {
                if (t.name().endsWith(".expected")) {
                    continue;
                }
                GgufFile.TensorInfo e = f.tensor(t.name() + ".expected");
                assertNotNull(e, t.name());
                assertEquals(GgmlType.F32, e.type());
                float[] got = f.readFloats(t);
                float[] want = f.readFloats(e);
                assertEquals(want.length, got.length, t.name());
                for (int i = 0; i < want.length; i++) {
                    if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(want[i])) {
                        fail(t.name() + " (" + t.type() + ") element " + i + ": " + got[i] + " != gguf-py " + want[i]);
                    }
                }
                seen.add(t.type());
                compared += want.length;
            }
        }
        Set<GgmlType> supported = EnumSet.noneOf(GgmlType.class);
        for (GgmlType t : GgmlType.values()) {
            if (t.isSupported()) {
                supported.add(t);
            }
        }
        assertEquals(supported, seen, "every supported type has a fixture");
        assertEquals(13, supported.size());
        assertEquals(true, compared > 3000, "compared " + compared);
    }

    @Test
    void blockLayoutsAreGgmls() {
        // ggml-common.h static_asserts: sizeof(block_q4_K) == 2*2 + 12 + 128 and so on
        assertEquals(144, GgmlType.Q4_K.typeSize());
        assertEquals(210, GgmlType.Q6_K.typeSize());
        assertEquals(110, GgmlType.Q3_K.typeSize());
        assertEquals(34, GgmlType.Q8_0.typeSize());
        assertEquals(GgmlType.BF16, GgmlType.ofId(30));
        assertEquals(null, GgmlType.ofId(4)); // Q4_2, removed from ggml
    }
}
