package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.io.DType;
import intactkv.quant.Basis;
import intactkv.quant.HubQuantConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code quantize --format autogptq|autoawq} and {@code --quantized} on what it writes, end to end: the written
 * checkpoint runs with IntactKV beside the full-precision model; combinations the layouts cannot hold and an
 * AutoAWQ checkpoint without its scales asked for IntactKV are refused with one line naming the flag or file.
 */
class HubFormatCommandTest {
    @TempDir
    static Path dir;
    static Path model;
    static Path data;

    @BeforeAll
    static void makeModel() throws Exception {
        // ModelCommandsTest's byte-level tokenizer on a model whose dimensions are multiples of 32 (3-bit words)
        Path tiny = ModelCommandsTest.tinyModel(dir.resolve("tiny16"));
        model = dir.resolve("tiny");
        Files.createDirectories(model);
        Files.copy(tiny.resolve("tokenizer.json"), model.resolve("tokenizer.json"));
        LlamaConfig c = new LlamaConfig(32, 64, 2, 2, 2, 1e-5, 10000, 263, 512, true, 1, 2);
        LlamaWeights.random(c, 5, 0.3, true, false).save(model, DType.F32);
        data = dir.resolve("data.txt");
        Files.writeString(data, "ab a b ab ba aab abba\nb a ab ab ab bab a\naba bab abab b a\n".repeat(8));
    }

    private static String[] run(String... args) {
        return MainTest.run(args);
    }

    private static String ppl(Path quantized, String intactkv) {
        String[] r = run("ppl", "--model", model.toString(), "--quantized", quantized.toString(), "--data",
                data.toString(), "--seqlen", "32", "--intactkv", intactkv, "--json");
        assertEquals("0", r[0], r[2]);
        return r[1];
    }

    @Test
    void gptqWrittenAsAutoGptqRunsWithIntactKv() throws Exception {
        Path out = dir.resolve("q-gptq");
        String[] r = run("quantize", "--model", model.toString(), "--method", "gptq", "--wbits", "3", "--group", "16",
                "--calib", data.toString(), "--calib-samples", "2", "--calib-seqlen", "16", "--format", "autogptq",
                "--out", out.toString());
        assertEquals("0", r[0], r[2]);
        assertTrue(r[1].contains("format autogptq: 14 linears written with float16 scales, codes kept: max |dW|"), r[1]);
        assertTrue(Files.isRegularFile(out.resolve(HubQuantConfig.GPTQ_FILE)));
        JsonObject q = JsonParser.parseString(Files.readString(out.resolve("config.json"))).getAsJsonObject()
                .getAsJsonObject("quantization_config");
        assertEquals("gptq", q.get("quant_method").getAsString());
        assertEquals(3, q.get("bits").getAsInt());
        assertTrue(q.get("desc_act").getAsBoolean(), "GPTQ's act-order groups: desc_act");
        String bos = ppl(out, "bos");
        assertTrue(bos.contains("\"method\": \"gptq\"") || bos.contains("gptq"), bos);
        assertFalse(bos.equals(ppl(out, "none")), "IntactKV changes the result");
    }

    @Test
    void awqWrittenAsAutoAwqNeedsItsScalesForIntactKv() throws Exception {
        Path out = dir.resolve("q-awq");
        String[] r = run("quantize", "--model", model.toString(), "--method", "awq", "--wbits", "4", "--group", "16",
                "--calib", data.toString(), "--calib-samples", "2", "--calib-seqlen", "16", "--format", "autoawq",
                "--out", out.toString());
        assertEquals("0", r[0], r[2]);
        assertTrue(Files.isRegularFile(out.resolve(Basis.AwqScaled.FILE)), "the scales IntactKV needs are kept");
        ppl(out, "bos");
        // as AutoAWQ itself writes it: no scales; the model runs, IntactKV is refused with what to do
        Files.delete(out.resolve(Basis.AwqScaled.FILE));
        ppl(out, "none");
        String[] refused = run("ppl", "--model", model.toString(), "--quantized", out.toString(), "--data",
                data.toString(), "--seqlen", "32", "--intactkv", "bos");
        assertEquals("1", refused[0], refused[1] + refused[2]);
        assertTrue(refused[2].contains("AutoAWQ") && refused[2].contains(Basis.AwqScaled.FILE), refused[2]);
        assertEquals(1, refused[2].strip().lines().count(), refused[2]);
    }

    @Test
    void combinationsTheLayoutsCannotHoldAreRefusedBeforeAnyWork() {
        Path out = dir.resolve("never");
        String[] a = run("quantize", "--model", model.toString(), "--method", "rtn", "--wbits", "4", "--format", "autoawq",
                "--out", out.toString());
        assertEquals("1", a[0], a[1] + a[2]);
        assertTrue(a[2].contains("--format autoawq writes --method awq"), a[2]);
        String[] b = run("quantize", "--model", model.toString(), "--method", "rtn", "--wbits", "5", "--format",
                "autogptq", "--out", out.toString());
        assertTrue(b[2].contains("--wbits 2, 3, 4 or 8"), b[2]);
        String[] c = run("quantize", "--model", model.toString(), "--method", "rtn", "--format", "gguf", "--out",
                out.toString());
        assertTrue(c[2].contains("--format must be packed, autogptq or autoawq: gguf"), c[2]);
        assertFalse(Files.exists(out), "nothing written");
    }
}
