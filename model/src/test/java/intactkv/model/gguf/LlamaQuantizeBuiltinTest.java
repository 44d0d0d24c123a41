package intactkv.model.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.model.io.SafetensorsReader;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * {@link GgmlQuantize} against llama.cpp's own {@code llama-quantize} on the built-in model: for
 * every output type (Q8_0 ... Q3_K_M) and every tensor of it, quantizing the built-in model's F32
 * weight, in GGUF's layout (rows of W_q and W_k permuted as convert_hf_to_gguf does), with the
 * type llama-quantize chose for that tensor gives bytes with the sha256 it wrote
 * (gguf/llama_quantize_builtin.json, made by tools/gguf/llama_quantize_builtin.sh). The JSON is
 * also what {@code --method gguf}'s per-tensor type assignment is checked against.
 */
class LlamaQuantizeBuiltinTest {
    @Test
    void everyTensorOfEveryOutputIsLlamaQuantizesBytes() throws IOException, URISyntaxException,
            NoSuchAlgorithmException {
        Path json = Path.of(LlamaQuantizeBuiltinTest.class.getResource("/gguf/llama_quantize_builtin.json").toURI());
        JsonObject doc = JsonParser.parseString(Files.readString(json)).getAsJsonObject();
        JsonObject cfg = JsonParser.parseString(Files.readString(Path.of("..", "examples", "default-model",
                "config.json"))).getAsJsonObject();
        int heads = cfg.get("num_attention_heads").getAsInt();
        int kvHeads = cfg.get("num_key_value_heads").getAsInt();
        Map<String, float[]> weights = new HashMap<>();
        try (SafetensorsReader r = SafetensorsReader.open(Path.of("..", "examples", "default-model",
                "model.safetensors"))) {
            for (String hf : r.names()) {
                double[] d = r.read(hf).data();
                float[] f = new float[d.length];
                for (int i = 0; i < d.length; i++) {
                    f[i] = (float) d[i]; // exact: the checkpoint is F32
                }
                weights.put(hf, f);
            }
        }
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        Set<String> typesSeen = new TreeSet<>();
        List<String> mismatches = new ArrayList<>();
        int compared = 0;
        JsonObject outputs = doc.getAsJsonObject("outputs");
        for (String output : outputs.keySet()) {
            for (JsonElement e : outputs.getAsJsonArray(output)) {
                JsonObject t = e.getAsJsonObject();
                String name = t.get("name").getAsString();
                String hf = GgufNames.toHf(name);
                assertNotNull(hf, name);
                float[] w = weights.get(hf);
                assertNotNull(w, hf);
                List<Integer> ne = new ArrayList<>();
                t.getAsJsonArray("shape").forEach(d -> ne.add(d.getAsInt()));
                int nPerRow = ne.get(0);
                int nRows = ne.size() > 1 ? ne.get(1) : 1;
                if (hf.endsWith("q_proj.weight")) {
                    w = permute(w, heads, nPerRow);
                } else if (hf.endsWith("k_proj.weight")) {
                    w = permute(w, kvHeads, nPerRow);
                }
                GgmlType type = GgmlType.valueOf(t.get("type").getAsString());
                byte[] q = GgmlQuantize.quantize(type, w, nRows, nPerRow);
                String got = HexFormat.of().formatHex(sha.digest(q));
                if (!got.equals(t.get("sha256").getAsString())) {
                    mismatches.add(output + " " + name + " (" + type + ")");
                }
                typesSeen.add(type.name());
                compared++;
            }
        }
        assertEquals(List.of(), mismatches, "tensors whose bytes differ from llama-quantize's");
        assertEquals(12, outputs.size(), "outputs");
        assertEquals(12 * (2 + 9 * cfg.get("num_hidden_layers").getAsInt() + 1), compared, "tensors compared");
        // no k-quant: every matrix row of the built-in model (128 or 384) is off the 256-block, so
        // llama-quantize falls back to Q4_0 / Q5_0 / Q5_1 / Q8_0 (llama-quant.cpp tensor_type_fallback);
        // the k-quants are compared with ggml in GgmlQuantizeOracleTest
        assertEquals(Set.of("F32", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"), typesSeen, "types exercised");
    }

    /**
     * convert_hf_to_gguf.py {@code LlamaModel.permute} on a (n d_h, cols) row-major matrix: GGUF row
     * {@code h d_h + 2i + j} is Hugging Face row {@code h d_h + j d_h/2 + i} (the inverse of
     * {@link GgufWeights#unpermute}).
     */
    static float[] permute(float[] w, int nHead, int cols) {
        int dh = w.length / cols / nHead;
        int half = dh / 2;
        float[] out = new float[w.length];
        for (int h = 0; h < nHead; h++) {
            for (int i = 0; i < half; i++) {
                for (int j = 0; j < 2; j++) {
                    System.arraycopy(w, (h * dh + j * half + i) * cols, out, (h * dh + 2 * i + j) * cols, cols);
                }
            }
        }
        return out;
    }
}
