package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.io.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --method gguf --type T} in the commands (issue 29): it runs wherever a method does, with and without
 * IntactKV_[B], a model written by {@code quantize --method gguf} gives the perplexity of the one quantized on the
 * fly, and its flags are refused by name, before any work, leaving nothing behind (BadInputTest's style).
 */
class GgufMethodCliTest {
    @TempDir
    static Path dir;
    static Path model;
    static Path data;

    /** The test tokenizer with a d 32, d_ff 64 model (rows of 32 and 64: Q8_0 blocks, not its F16 fallback). */
    @BeforeAll
    static void fixtures() throws Exception {
        Path tiny = ModelCommandsTest.tinyModel(dir.resolve("tiny"));
        model = dir.resolve("m32");
        LlamaConfig c = new LlamaConfig(32, 64, 4, 2, 2, 1e-5, 10000, 263, 512, false, 1, 2);
        LlamaWeights.random(c, 5, 0.3, true, false).save(model, DType.F32);
        Files.copy(tiny.resolve("tokenizer.json"), model.resolve("tokenizer.json"));
        data = dir.resolve("eval.txt");
        Files.writeString(data, "ab a b ab ba\nb a ab\n".repeat(60));
    }

    static JsonObject ppl(String... more) {
        java.util.List<String> a = new java.util.ArrayList<>(java.util.List.of("ppl", "--model", model.toString(),
                "--data", data.toString(), "--seqlen", "32", "--json"));
        a.addAll(java.util.List.of(more));
        String[] r = BadInputTest.run(a.toArray(String[]::new));
        assertEquals("0", r[0], r[2]);
        return JsonParser.parseString(r[1]).getAsJsonObject();
    }

    @Test
    void pplRunsWithAndWithoutIntactKvAndASavedModelGivesTheSamePerplexity() throws Exception {
        JsonObject none = ppl("--method", "gguf", "--type", "q8_0");
        JsonObject bos = ppl("--method", "gguf", "--type", "Q8_0", "--intactkv", "bos");
        assertEquals("gguf Q8_0 a16 kv16", none.get("quantization").getAsString());
        assertTrue(none.get("kl_to_fp").getAsDouble() > 0, none.toString());
        assertTrue(bos.get("ppl").getAsDouble() > 1 && bos.get("windows").getAsInt() == none.get("windows").getAsInt());
        Path q = dir.resolve("q8");
        String[] w = BadInputTest.run("quantize", "--model", model.toString(), "--method", "gguf", "--type", "Q8_0",
                "--dtype", "f32", "--out", q.toString());
        assertEquals("0", w[0], w[2]);
        assertTrue(w[1].contains("gguf Q8_0"), w[1]);
        assertTrue(Files.readString(q.resolve("quant_config.json")).contains("\"gguf_type\": \"Q8_0\""));
        JsonObject loaded = ppl("--quantized", q.toString());
        assertEquals(none.get("ppl").getAsDouble(), loaded.get("ppl").getAsDouble(), 0.0);
        assertEquals(none.get("kl_to_fp").getAsDouble(), loaded.get("kl_to_fp").getAsDouble(), 0.0);
    }

    @Test
    void dumpAndGenerateRunIt() {
        Path out = dir.resolve("dump.safetensors");
        String[] d = BadInputTest.run("dump", "--model", model.toString(), "--method", "gguf", "--type", "Q8_0",
                "--tokens", "1,260,261", "--out", out.toString());
        assertEquals("0", d[0], d[2]);
        assertTrue(Files.isRegularFile(out));
        String[] g = BadInputTest.run("generate", "--model", model.toString(), "--method", "gguf", "--type", "Q8_0",
                "--intactkv", "bos", "--prompt", "ab", "--max-tokens", "3");
        assertEquals("0", g[0], g[2]);
    }

    @Test
    void ggufFlagsAreRefusedByNameBeforeAnyWork() {
        Path out = dir.resolve("never-q");
        String m = model.toString();
        String d = data.toString();
        BadInputTest.assertRefused(BadInputTest.run("ppl", "--model", m, "--data", d, "--method", "gguf", "--type", "Q4_K_L"),
                "--type", "'Q4_K_L'", "Q4_K_M", "Q3_K_M", "Q8_0");
        BadInputTest.assertRefused(BadInputTest.run("ppl", "--model", m, "--data", d, "--type", "Q4_K_M"),
                "--type Q4_K_M", "--method gguf");
        BadInputTest.assertRefused(BadInputTest.run("ppl", "--model", m, "--data", d, "--method", "rtn", "--type",
                "Q4_K_M"), "--type Q4_K_M", "--method rtn");
        BadInputTest.assertRefused(BadInputTest.run("ppl", "--model", m, "--data", d, "--method", "gguf"),
                "--method gguf needs --type", "Q4_K_M");
        BadInputTest.assertRefused(BadInputTest.run("ppl", "--model", m, "--data", d, "--method", "gguf", "--type",
                "Q4_K_M", "--wbits", "4"), "--wbits", "--type Q4_K_M");
        BadInputTest.assertRefused(BadInputTest.run("ppl", "--model", m, "--data", d, "--method", "gguf", "--type",
                "Q4_K_M", "--group", "32"), "--group", "--type Q4_K_M");
        String[] r = BadInputTest.run("quantize", "--model", m, "--method", "gguf", "--type", "Q8_0", "--dtype", "bf16",
                "--out", out.toString());
        BadInputTest.assertRefused(r, "--dtype bf16", "f32");
        BadInputTest.assertRefused(BadInputTest.run("quantize", "--model", m, "--method", "gguf", "--type", "Q8_0",
                "--format", "autogptq", "--out", out.toString()), "--format autogptq", "gguf");
        assertFalse(Files.exists(out), "nothing written");
        for (String[] x : new String[][] {r}) {
            assertFalse(x[3].contains("gguf Q8_0"), "refused before the quantizer's progress bar: " + x[3]);
        }
    }
}
