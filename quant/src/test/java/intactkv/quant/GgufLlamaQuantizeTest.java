package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.autograd.Value;
import intactkv.model.LlamaWeights;
import intactkv.model.gguf.GgmlQuantize;
import intactkv.model.gguf.GgmlType;
import intactkv.model.gguf.GgufNames;
import intactkv.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link GgufTypeRules} and {@link GgufQuantizer} against llama.cpp's own {@code llama-quantize} run on the built-in
 * model (converted to an F32 GGUF by tools/oracle/gguf_fixtures.py), as recorded by
 * tools/gguf/llama_quantize_builtin.sh in model/src/test/resources/gguf/llama_quantize_builtin.json (branch
 * h-ggq-funcs): for every output type, the same tensors with the same ggml types and shapes, in the same order, and
 * the bytes {@link GgufQuantizer#ggufBytes} makes from the safetensors weights (float32 rounding, attn_q/k
 * permutation, ggml's reference quantization) hash to what llama-quantize wrote.
 *
 * <p>Both tests need h-ggq-funcs merged (the JSON; the second also every type in GgmlQuantize) and fail, saying so,
 * before.
 */
class GgufLlamaQuantizeTest {
    static final Path JSON = Path.of("..", "model", "src", "test", "resources", "gguf", "llama_quantize_builtin.json");
    static final Path MODEL = Path.of("..", "examples", "default-model");
    /** llama-quantize on h-ggq-funcs' k-shaped formula model: rows of 256 and 768, so real k-quants. */
    static final Path KSHAPED = Path.of("..", "model", "src", "test", "resources", "gguf", "llama_quantize_kshaped.json");

    static JsonObject outputs() throws Exception {
        return outputs(JSON);
    }

    static JsonObject outputs(Path json) throws Exception {
        assertTrue(Files.isRegularFile(json), json + " is missing: it is committed by h-ggq-funcs"
                + " (tools/gguf/); this test waits for that merge");
        return JsonParser.parseString(Files.readString(json)).getAsJsonObject().getAsJsonObject("outputs");
    }

    /** Each output type's tensors, types and order in {@code outputs} are {@link GgufTypeRules#assign}'s for {@code c}. */
    static void sameTypes(JsonObject outputs, intactkv.model.LlamaConfig c) {
        for (String ftype : outputs.keySet()) {
            List<String> want = new java.util.ArrayList<>();
            for (JsonElement e : outputs.getAsJsonArray(ftype)) {
                want.add(e.getAsJsonObject().get("name").getAsString() + " " + e.getAsJsonObject().get("type").getAsString());
            }
            List<String> got = new java.util.ArrayList<>();
            GgufTypeRules.assign(c, GgufMix.parse(ftype)).forEach((n, t) -> got.add(n + " " + t));
            assertEquals(want, got, ftype);
        }
    }

    /**
     * The k-shaped model (tools/gguf/kshaped_model.py: d 256, d_ff 768, 4 heads, 2 KV heads, 2 layers, V 512,
     * untied): Q4_K_M gives layer 1's attn_v and ffn_down Q6_K (use_more_bits(1, 2): 1 >= 7 * 2 / 8), Q3_K_M both
     * layers' attn_v Q5_K; no fallback.
     */
    @Test
    void kShapedTypesAreLlamaQuantizes() throws Exception {
        JsonObject outputs = outputs(KSHAPED);
        assertTrue(outputs.has("Q4_K_M") && outputs.has("Q3_K_M"), outputs.keySet().toString());
        sameTypes(outputs, new intactkv.model.LlamaConfig(256, 768, 4, 2, 2, 1e-5, 10000, 512, 512, false, 1, 2));
    }

    @Test
    void theTypeOfEveryTensorIsLlamaQuantizes() throws Exception {
        JsonObject outputs = outputs();
        LlamaWeights w = LlamaWeights.load(MODEL, false);
        assertTrue(outputs.size() >= 2, outputs.keySet().toString());
        for (String ftype : outputs.keySet()) {
            Map<String, String> want = new LinkedHashMap<>();
            Map<String, String> wantShape = new LinkedHashMap<>();
            for (JsonElement e : outputs.getAsJsonArray(ftype)) {
                JsonObject t = e.getAsJsonObject();
                want.put(t.get("name").getAsString(), t.get("type").getAsString());
                wantShape.put(t.get("name").getAsString(), t.get("shape").toString());
            }
            Map<String, String> got = new LinkedHashMap<>();
            GgufTypeRules.assign(w.config(), GgufMix.parse(ftype)).forEach((n, t) -> got.put(n, t.name()));
            assertEquals(List.copyOf(want.entrySet()), List.copyOf(got.entrySet()), ftype);
            for (String name : got.keySet()) {
                int[] s = tensor(w, name).shape().dims();
                String ne = s.length == 1 ? "[" + s[0] + "]" : "[" + s[1] + "," + s[0] + "]";
                assertEquals(wantShape.get(name), ne, ftype + " " + name);
            }
        }
    }

    @Test
    void theBytesOfEveryTensorAreLlamaQuantizes() throws Exception {
        JsonObject outputs = outputs();
        LlamaWeights w = LlamaWeights.load(MODEL, false);
        for (String ftype : outputs.keySet()) {
            for (JsonElement e : outputs.getAsJsonArray(ftype)) {
                JsonObject t = e.getAsJsonObject();
                String name = t.get("name").getAsString();
                GgmlType type = GgmlType.valueOf(t.get("type").getAsString());
                assertTrue(GgmlQuantize.canQuantize(type), "GgmlQuantize cannot quantize " + type + " (" + ftype + " "
                        + name + ") yet: this test waits for the merge of h-ggq-funcs' quantization functions");
                Tensor x = tensor(w, name);
                byte[] bytes;
                if (x.shape().rank() == 1) { // a norm: F32 as stored
                    bytes = GgufQuantizer.ggufBytes(type, Tensor.wrap(x.data(), 1, x.numel()), 0);
                } else {
                    String hf = GgufNames.toHf(name);
                    int heads = hf == null ? 0 : intactkv.model.gguf.GgufWeights.heads(w.config(), hf);
                    bytes = GgufQuantizer.ggufBytes(type, x, heads);
                }
                String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
                assertEquals(t.get("sha256").getAsString(), sha, ftype + " " + name + " as " + type);
            }
        }
    }

    /** The model's tensor of GGUF name {@code name}. */
    static Tensor tensor(LlamaWeights w, String name) {
        String hf = GgufNames.toHf(name);
        Value[] found = new Value[1];
        w.forEachNamed((n, v) -> {
            if (n.equals(hf)) {
                found[0] = v;
            }
        });
        assertTrue(found[0] != null, "no tensor " + hf + " for " + name);
        return found[0].data();
    }
}
