package intactkv.model.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * {@link GgmlQuantize} against llama.cpp's {@code llama-quantize} where the k-quants are really
 * chosen: the formula model of tools/gguf/kshaped_model.py (rows of 256 and 768; the built-in
 * model's 128 and 384 make llama-quantize fall back to 32-block types), quantized to 12 types
 * (gguf/llama_quantize_kshaped.json, made by tools/gguf/llama_quantize_builtin.sh). Every tensor of
 * every output, recomputed here from the same formula and quantized with the type llama-quantize
 * chose, must have the sha256 it wrote.
 */
class LlamaQuantizeKShapedTest {
    private static final long SEED = 0x5EED2026L;
    private static final int D = 256;
    private static final int D_FF = 768;
    private static final int KV = D / 4 * 2;
    private static final int LAYERS = 2;
    private static final int VOCAB = 512;

    /** kshaped_model.py's TENSORS: GGUF name to {rows, row length} ({1, n} for a norm), in formula order. */
    static Map<String, int[]> tensors() {
        Map<String, int[]> t = new LinkedHashMap<>();
        t.put("token_embd.weight", new int[] {VOCAB, D});
        for (int l = 0; l < LAYERS; l++) {
            String b = "blk." + l + ".";
            t.put(b + "attn_norm.weight", new int[] {1, D});
            t.put(b + "attn_q.weight", new int[] {D, D});
            t.put(b + "attn_k.weight", new int[] {KV, D});
            t.put(b + "attn_v.weight", new int[] {KV, D});
            t.put(b + "attn_output.weight", new int[] {D, D});
            t.put(b + "ffn_norm.weight", new int[] {1, D});
            t.put(b + "ffn_gate.weight", new int[] {D_FF, D});
            t.put(b + "ffn_up.weight", new int[] {D_FF, D});
            t.put(b + "ffn_down.weight", new int[] {D, D_FF});
        }
        t.put("output_norm.weight", new int[] {1, D});
        t.put("output.weight", new int[] {VOCAB, D});
        return t;
    }

    /** kshaped_model.py's {@code values(k, n, norm)}: splitmix64, 24-bit uniform, rare outliers, in double, then float. */
    static float[] values(int k, int n, boolean norm) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            long z = SEED * (k + 1) + i + 0x9E3779B97F4A7C15L;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z = z ^ (z >>> 31);
            double u = (z >>> 40) / (double) (1 << 24);
            double v = (u - 0.5) * 0.08;
            if ((z & 255) == 0) {
                v = v * 8.0;
            }
            if (norm) {
                v = v + 1.0;
            }
            out[i] = (float) v;
        }
        return out;
    }

    @Test
    void everyTensorOfEveryOutputIsLlamaQuantizesBytes() throws IOException, URISyntaxException,
            NoSuchAlgorithmException {
        Path json = Path.of(LlamaQuantizeKShapedTest.class.getResource("/gguf/llama_quantize_kshaped.json").toURI());
        JsonObject outputs = JsonParser.parseString(Files.readString(json)).getAsJsonObject().getAsJsonObject("outputs");
        Map<String, int[]> shapes = tensors();
        Map<String, float[]> weights = new LinkedHashMap<>();
        int k = 0;
        for (Map.Entry<String, int[]> e : shapes.entrySet()) {
            int[] s = e.getValue();
            weights.put(e.getKey(), values(k++, s[0] * s[1], s[0] == 1));
        }
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        Set<String> typesSeen = new TreeSet<>();
        List<String> mismatches = new ArrayList<>();
        int compared = 0;
        for (String output : outputs.keySet()) {
            for (JsonElement el : outputs.getAsJsonArray(output)) {
                JsonObject t = el.getAsJsonObject();
                String name = t.get("name").getAsString();
                int[] s = shapes.get(name);
                assertNotNull(s, name);
                assertEquals(s[1], t.getAsJsonArray("shape").get(0).getAsInt(), name + " row length");
                GgmlType type = GgmlType.valueOf(t.get("type").getAsString());
                byte[] q = GgmlQuantize.quantize(type, weights.get(name), s[0], s[1]);
                if (!HexFormat.of().formatHex(sha.digest(q)).equals(t.get("sha256").getAsString())) {
                    mismatches.add(output + " " + name + " (" + type + ")");
                }
                typesSeen.add(type.name());
                compared++;
            }
        }
        assertEquals(List.of(), mismatches, "tensors whose bytes differ from llama-quantize's");
        assertEquals(12 * shapes.size(), compared, "tensors compared");
        assertEquals(Set.of("F32", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"),
                typesSeen, "types exercised");
    }
}
