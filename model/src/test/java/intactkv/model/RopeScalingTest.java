package intactkv.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.model.io.FormatException;
import intactkv.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LLaMA-3's RoPE scaling against a PyTorch float64 fixture (tools/rope/llama3_fixture.py) and
 * its three bands by hand; config.json's rope_scaling read, written and refused by type.
 */
class RopeScalingTest {
    @TempDir
    Path tmp;

    @Test
    void frequenciesAndTablesMatchPyTorch() throws Exception {
        JsonObject f = JsonParser.parseString(Files.readString(Path.of("src/test/resources/rope/llama3.json")))
                .getAsJsonObject();
        for (JsonElement e : f.getAsJsonArray("cases")) {
            JsonObject c = e.getAsJsonObject();
            int dh = c.get("head_dim").getAsInt();
            RopeScaling s = new RopeScaling(c.get("factor").getAsDouble(), c.get("low_freq_factor").getAsDouble(),
                    c.get("high_freq_factor").getAsDouble(), c.get("original_max_position_embeddings").getAsInt());
            Rope rope = new Rope(dh, c.get("rope_theta").getAsDouble(), s);
            double[] want = c.getAsJsonArray("inv_freq").asList().stream().mapToDouble(JsonElement::getAsDouble).toArray();
            double[] got = rope.invFreq();
            for (int i = 0; i < want.length; i++) {
                // the same float64 operations in the same order; pow may differ by an ulp
                assertEquals(want[i], got[i], 4 * Math.ulp(want[i]), "inv_freq " + i);
            }
            JsonArray positions = c.getAsJsonArray("positions");
            for (int k = 0; k < positions.size(); k++) {
                int p = positions.get(k).getAsInt();
                Tensor[] cs = rope.tables(p, 1);
                JsonArray cos = c.getAsJsonArray("cos").get(k).getAsJsonArray();
                JsonArray sin = c.getAsJsonArray("sin").get(k).getAsJsonArray();
                for (int j = 0; j < dh; j++) {
                    // angles up to 1e5 rad: an ulp of the angle (1.5e-11) bounds the difference
                    assertEquals(cos.get(j).getAsDouble(), cs[0].get(0, j), 1e-10, "cos pos " + p + " dim " + j);
                    assertEquals(sin.get(j).getAsDouble(), cs[1].get(0, j), 1e-10, "sin pos " + p + " dim " + j);
                }
            }
        }
    }

    @Test
    void threeBandsByHand() {
        // L = 64, low 1, high 4: wavelengths below 16 unchanged, above 64 divided by the factor 4
        RopeScaling s = new RopeScaling(4, 1, 4, 64);
        double high = 2 * Math.PI / 8;   // wavelength 8
        double low = 2 * Math.PI / 128;  // wavelength 128
        double mid = 2 * Math.PI / 32;   // wavelength 32: s = (64/32 - 1) / 3 = 1/3
        double[] out = s.apply(new double[] {high, low, mid});
        assertEquals(high, out[0], 0.0);
        assertEquals(low / 4, out[1], 0.0);
        assertEquals((1 - 1.0 / 3) * mid / 4 + mid / 3, out[2], 1e-15);
    }

    @Test
    void configJsonReadsWritesAndRefuses() throws Exception {
        LlamaConfig c = new LlamaConfig(16, 32, 2, 1, 2, 1e-5, 500000, 300, 256, false, 1, 2,
                new RopeScaling(8, 1, 4, 8192));
        Path f = tmp.resolve("config.json");
        c.write(f, "float32");
        assertEquals(c, LlamaConfig.read(f));
        String text = Files.readString(f);
        Files.writeString(f, text.replace("\"llama3\"", "\"yarn\""));
        FormatException e = assertThrows(FormatException.class, () -> LlamaConfig.read(f));
        assertTrue(e.getMessage().contains("rope_scaling type 'yarn' is not supported"), e.getMessage());
        Files.writeString(f, text.replace("\"high_freq_factor\": 4.0", "\"high_freq_factor\": 0.5"));
        e = assertThrows(FormatException.class, () -> LlamaConfig.read(f));
        assertTrue(e.getMessage().contains("high_freq_factor"), e.getMessage());
    }
}
