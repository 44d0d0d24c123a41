package intactkv.model.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link GgmlQuantize} against ggml itself: the committed bytes that
 * {@code ggml_quantize_chunk(type, src, dst, 0, nrows, n_per_row, NULL)} wrote (llama.cpp built
 * by tools/gguf/build_llama_quantize.sh, harness tools/gguf/quant_rows.c, rows and bytes by
 * tools/gguf/quant_fixtures.sh) must be ours bit for bit, for every type and every row. The rows
 * are the hard cases (all-zero blocks and groups, one huge value, all-negative, tiny and
 * subnormal values, equal values, heavy tails, rounding ties, values past FP16's range; see
 * fixtures.json's row_kinds). A failure names the type, the row, its kind and the first
 * differing block.
 */
class GgmlQuantizeOracleTest {
    private static Path fixture(String name) throws URISyntaxException {
        return Path.of(GgmlQuantizeOracleTest.class.getResource("/gguf/quant/" + name).toURI());
    }

    @Test
    void everyTypeIsGgmlsBytesForEveryRow() throws IOException, URISyntaxException {
        JsonObject meta = JsonParser.parseString(Files.readString(fixture("fixtures.json"))).getAsJsonObject();
        int nRows = meta.get("nrows").getAsInt();
        int nPerRow = meta.get("n_per_row").getAsInt();
        List<String> kinds = new ArrayList<>();
        for (JsonElement k : meta.getAsJsonArray("row_kinds")) {
            kinds.add(k.getAsString());
        }
        float[] src = new float[nRows * nPerRow];
        ByteBuffer.wrap(Files.readAllBytes(fixture("input.f32"))).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(src);
        int types = 0;
        for (JsonElement t : meta.getAsJsonArray("types")) {
            GgmlType type = GgmlType.valueOf(t.getAsString());
            byte[] want = Files.readAllBytes(fixture(type + ".bin"));
            byte[] got = GgmlQuantize.quantize(type, src, nRows, nPerRow);
            assertEquals(want.length, got.length, type + " size");
            int rowBytes = want.length / nRows;
            for (int r = 0; r < nRows; r++) {
                for (int i = r * rowBytes; i < (r + 1) * rowBytes; i++) {
                    if (got[i] != want[i]) {
                        int block = (i - r * rowBytes) / type.typeSize();
                        fail(type + " row " + r + " (" + kinds.get(r) + "): block " + block + " differs first at byte "
                                + (i - r * rowBytes) % type.typeSize() + ": ours " + (got[i] & 0xFF) + ", ggml "
                                + (want[i] & 0xFF));
                    }
                }
            }
            types++;
        }
        assertEquals(13, types, "types compared");
        assertTrue(kinds.contains("denormal") && kinds.contains("ties_q8"), "hard cases present");
    }
}
