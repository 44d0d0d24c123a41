package intactkv.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.model.io.DType;
import intactkv.model.io.FormatException;
import intactkv.model.io.SafetensorsWriter;
import intactkv.tensor.Init;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 26, "a checkpoint is what it claims": config.json fields that change the computation
 * and are not implemented, and tensors the model does not use, are refused by name
 * ({@link ConfigClaims}, {@link CheckpointContents}); known buffers are checked and accepted.
 */
class CheckpointContentsTest {
    @TempDir
    Path tmp;

    /** d = 16, h = 4 (d_h = 4), h_kv = 2, L = 2, V = 40, untied. */
    static final LlamaConfig C = new LlamaConfig(16, 24, 4, 2, 2, 1e-5, 10000, 40, 64, false, 1, 2);

    /** A saved random model with {@code edit} applied to its config.json. */
    private Path model(String name, Consumer<JsonObject> edit) throws IOException {
        Path dir = tmp.resolve(name);
        LlamaWeights.random(C, 3, 0.2, true, false).save(dir, DType.F32);
        Path f = dir.resolve("config.json");
        JsonObject o = JsonParser.parseString(Files.readString(f)).getAsJsonObject();
        edit.accept(o);
        Files.writeString(f, o.toString());
        return dir;
    }

    /** A model whose safetensors file holds the weights of {@code weights} plus {@code extra}. */
    private Path modelWith(String name, LlamaConfig config, LlamaWeights weights, Consumer<SafetensorsWriter> extra)
            throws IOException {
        Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        SafetensorsWriter w = new SafetensorsWriter();
        weights.forEachNamed((n, v) -> w.put(n, DType.F32, v.data()));
        extra.accept(w);
        w.write(dir.resolve("model.safetensors"));
        config.write(dir.resolve("config.json"), "float32");
        return dir;
    }

    private static String refused(Path dir) {
        FormatException e = assertThrows(FormatException.class, () -> LlamaWeights.load(dir, false));
        assertTrue(e.getMessage().startsWith(dir.toString()), e.getMessage());
        return e.getMessage();
    }

    private static void assertNames(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), "message names " + p + ": " + message);
        }
    }

    @Test
    void modelTypeMustBeLlama() throws IOException {
        String m = refused(model("mistral", o -> {
            o.addProperty("model_type", "mistral");
            o.addProperty("sliding_window", 16);
        }));
        assertNames(m, "config.json", "model_type 'mistral' is not implemented", ConfigClaims.FAMILIES);
        m = refused(model("qwen2", o -> {
            o.addProperty("model_type", "qwen2");
            o.addProperty("attention_bias", true);
        }));
        assertNames(m, "model_type 'qwen2'");
        // absent model_type: accepted only when architectures says LlamaForCausalLM
        assertDoesNotThrow(() -> LlamaWeights.load(model("arch-only", o -> o.remove("model_type")), false));
        m = refused(model("neither", o -> {
            o.remove("model_type");
            o.remove("architectures");
        }));
        assertNames(m, "has neither model_type nor architectures", "\"model_type\": \"llama\"");
        m = refused(model("other-arch", o -> {
            o.remove("model_type");
            com.google.gson.JsonArray a = new com.google.gson.JsonArray();
            a.add("MistralForCausalLM");
            o.add("architectures", a);
        }));
        assertNames(m, "MistralForCausalLM", "does not say LlamaForCausalLM");
    }

    @Test
    void fieldsThatChangeTheComputationAreRefusedByName() throws IOException {
        Object[][] cases = {
            {"sliding_window", 16, "sliding_window 16 is not implemented"},
            {"attention_bias", true, "attention_bias true is not implemented"},
            {"mlp_bias", true, "mlp_bias true is not implemented"},
            {"head_dim", 8, "head_dim 8 is not implemented"},
            {"attention_dropout", 0.1, "attention_dropout 0.1 is not implemented"},
            {"partial_rotary_factor", 0.5, "partial_rotary_factor 0.5 is not implemented"},
            {"hidden_act", "gelu", "hidden_act 'gelu' is not supported"}};
        for (Object[] c : cases) {
            String m = refused(model("f-" + c[0], o -> {
                if (c[1] instanceof Number n) {
                    o.addProperty((String) c[0], n);
                } else if (c[1] instanceof Boolean b) {
                    o.addProperty((String) c[0], b);
                } else {
                    o.addProperty((String) c[0], (String) c[1]);
                }
            }));
            assertNames(m, "config.json", (String) c[2]);
        }
        String m = refused(model("rope-linear", o -> {
            JsonObject r = new JsonObject();
            r.addProperty("type", "linear");
            r.addProperty("factor", 2.0);
            o.add("rope_scaling", r);
        }));
        assertNames(m, "rope_scaling type 'linear' is not supported");
        m = refused(model("gptq", o -> {
            JsonObject q = new JsonObject();
            q.addProperty("quant_method", "gptq");
            o.add("quantization_config", q);
        }));
        assertNames(m, "quantization_config (gptq)", "full-precision");
    }

    /** Fields accepted: their values do not change what is computed, or they are the implemented defaults. */
    @Test
    void fieldsWithoutEffectOrAtTheirDefaultAreAccepted() throws IOException {
        Path dir = model("harmless", o -> {
            o.addProperty("head_dim", 4); // = 16 / 4
            o.addProperty("attention_bias", false);
            o.addProperty("mlp_bias", false);
            o.add("sliding_window", com.google.gson.JsonNull.INSTANCE);
            o.addProperty("attention_dropout", 0.0);
            o.addProperty("pretraining_tp", 2); // HF splits the matmuls into 2 slices: the same sums
            o.addProperty("initializer_range", 0.02);
            o.addProperty("use_cache", true);
            o.addProperty("pad_token_id", 0);
            JsonObject r = new JsonObject();
            r.addProperty("rope_type", "default");
            o.add("rope_scaling", r);
        });
        LlamaWeights w = LlamaWeights.load(dir, false);
        assertNull(w.config().ropeScaling());
        assertEquals(C, w.config());
        // Qwen2-style: a sliding_window value that use_sliding_window switches off is no sliding window
        assertDoesNotThrow(() -> LlamaWeights.load(model("sliding-off", o -> {
            o.addProperty("sliding_window", 4096);
            o.addProperty("use_sliding_window", false);
        }), false));
    }

    @Test
    void tensorsNotUsedAreRefusedByName() throws IOException {
        LlamaWeights w = LlamaWeights.random(C, 4, 0.2, true, false);
        String m = refused(modelWith("q-bias", C, w, s -> s.put("model.layers.0.self_attn.q_proj.bias", DType.F32,
                Tensor.zeros(16))));
        assertNames(m, "tensor 'model.layers.0.self_attn.q_proj.bias' is not used by a LLaMA model",
                "(attention_bias is not supported)");
        m = refused(modelWith("up-bias", C, w, s -> s.put("model.layers.1.mlp.up_proj.bias", DType.F32,
                Tensor.zeros(24))));
        assertNames(m, "'model.layers.1.mlp.up_proj.bias'", "(mlp_bias is not supported)");
        m = refused(modelWith("packed", C, w, s -> s.put("model.layers.0.self_attn.q_proj.qweight", DType.F32,
                Tensor.zeros(2, 16))));
        assertNames(m, "q_proj.qweight'", "packed quantized weights");
        m = refused(modelWith("score", C, w, s -> s.put("score.weight", DType.F32, Tensor.zeros(2, 16))));
        assertNames(m, "tensor 'score.weight' is not used");
    }

    /** A config with fewer layers than the weights: the first layer not used and the config field are named. */
    @Test
    void layersBeyondTheConfigAreRefused() throws IOException {
        LlamaConfig six = new LlamaConfig(16, 24, 4, 2, 6, 1e-5, 10000, 40, 64, false, 1, 2);
        LlamaConfig four = new LlamaConfig(16, 24, 4, 2, 4, 1e-5, 10000, 40, 64, false, 1, 2);
        Path dir = modelWith("six-as-four", four, LlamaWeights.random(six, 5, 0.2, true, false), s -> { });
        String m = refused(dir);
        assertNames(m, "num_hidden_layers 4", "layers up to 5", "layer 4 is the first not used",
                "'model.layers.4.");
    }

    /** inv_freq of older checkpoints: accepted when it is the config's, as HF computes it in float32 and stores it. */
    @Test
    void ropeBuffersAreCheckedAgainstTheConfig() throws IOException {
        LlamaWeights w = LlamaWeights.random(C, 6, 0.2, true, false);
        int dh = C.headDim();
        for (DType dt : new DType[] {DType.F32, DType.F16, DType.BF16}) {
            Tensor hf = hfInvFreq(dh, (float) C.ropeTheta());
            Path ok = modelWith("inv-" + dt, C, w, s -> {
                for (int l = 0; l < 2; l++) {
                    s.put("model.layers." + l + ".self_attn.rotary_emb.inv_freq", dt, hf);
                }
            });
            assertDoesNotThrow(() -> LlamaWeights.load(ok, false), dt.toString());
        }
        // frequencies of another theta (LLaMA-3's 500000 under a config that says 10000)
        Path other = modelWith("inv-theta", C, w, s -> s.put("model.layers.0.self_attn.rotary_emb.inv_freq", DType.F32,
                hfInvFreq(dh, 500000f)));
        assertNames(refused(other), "'model.layers.0.self_attn.rotary_emb.inv_freq' element 1", "rope_theta 10000");
        Path shape = modelWith("inv-shape", C, w, s -> s.put("model.rotary_emb.inv_freq", DType.F32, Tensor.zeros(4)));
        assertNames(refused(shape), "'model.rotary_emb.inv_freq' has shape (4,)", "gives 2 RoPE frequencies, shape (2,)");
    }

    /** The tolerance admits the storage rounding of each dtype and not a relative error of 1e-4 in F32. */
    @Test
    void invFreqToleranceFollowsTheDtype() {
        double x = 0.1;
        assertTrue(CheckpointContents.invFreqTolerance(DType.F32, x) < 1e-4 * x);
        assertTrue(CheckpointContents.invFreqTolerance(DType.F16, x) >= 0x1p-11 * x); // half an F16 ulp
        assertTrue(CheckpointContents.invFreqTolerance(DType.BF16, x) >= 0x1p-8 * x);
        assertEquals(0x1p-24, CheckpointContents.invFreqTolerance(DType.F16, 0), 0.0); // F16 subnormal spacing
    }

    /** HF's {@code 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))}, in float32. */
    private static Tensor hfInvFreq(int dim, float base) {
        double[] f = new double[dim / 2];
        for (int i = 0; i < f.length; i++) {
            float e = (float) (2 * i) / (float) dim;
            f[i] = 1.0f / (float) Math.pow(base, e);
        }
        return Tensor.of(f, f.length);
    }

    @Test
    void aTiedHeadWrittenTwiceMustBeTheEmbedding() throws IOException {
        LlamaConfig tied = new LlamaConfig(16, 24, 4, 2, 2, 1e-5, 10000, 40, 64, true, 1, 2);
        LlamaWeights w = LlamaWeights.random(tied, 7, 0.2, true, false);
        Path same = modelWith("tied-same", tied, w, s -> s.put("lm_head.weight", DType.F32, w.embed().data()));
        assertDoesNotThrow(() -> LlamaWeights.load(same, false));
        Path other = modelWith("tied-other", tied, w, s -> s.put("lm_head.weight", DType.F32,
                Init.normal(new Random(8), 0.2, 40, 16)));
        assertNames(refused(other), "'lm_head.weight' is not used", "tie_word_embeddings true");
    }

    @Test
    void firstDifferenceNamesTheField() {
        LlamaConfig wide = new LlamaConfig(32, 24, 4, 2, 2, 1e-5, 10000, 40, 64, false, 1, 2);
        assertArrayEquals(new String[] {"hidden_size", "16", "32"}, C.firstDifference(wide));
        assertNull(C.firstDifference(C));
        LlamaConfig theta = new LlamaConfig(16, 24, 4, 2, 2, 1e-5, 500000, 40, 64, false, 1, 2);
        assertEquals("rope_theta", C.firstDifference(theta)[0]);
    }
}
