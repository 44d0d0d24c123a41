package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.model.LlamaConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ppl --layer-by-layer} ({@code LayerwisePerplexity}, one decoder layer of the checkpoint read at a time) prints
 * the numbers of {@code ppl} on the whole model, bit for bit, whatever --windows-per-pass; what it cannot run is
 * refused before any weight is read, naming the flag.
 */
class PplLayerByLayerTest {
    @TempDir
    static Path dir;
    static ModelCommandsTest.TinyRun tiny;

    @BeforeAll
    static void setUp() throws Exception {
        tiny = ModelCommandsTest.TinyRun.write(dir);
    }

    private static String[] ppl(String... extra) {
        List<String> args = new ArrayList<>(List.of("ppl", "--model", tiny.model().toString(), "--data",
                tiny.data().toString(), "--seqlen", "32", "--json"));
        args.addAll(List.of(extra));
        return MainTest.run(args.toArray(String[]::new));
    }

    private static JsonObject json(String... extra) {
        String[] r = ppl(extra);
        assertEquals("0", r[0], r[2]);
        return JsonParser.parseString(r[1]).getAsJsonObject();
    }

    private static String[] with(String[] a, String... more) {
        List<String> all = new ArrayList<>(List.of(a));
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }

    @Test
    void layerByLayerPrintsTheWholeModelsNumbers() {
        String[][] runs = {
            {},
            {"--method", "rtn", "--wbits", "3", "--group", "8", "--intactkv", "bos"},
            {"--method", "rtn", "--wbits", "3", "--group", "8", "--kvbits", "4", "--intactkv", "bos", "--no-kl"},
            {"--kvbits", "4", "--intactkv", "bos"},
        };
        for (String[] run : runs) {
            JsonObject whole = json(run);
            String[][] orders = {{"--layer-by-layer"}, {"--layer-by-layer", "--windows-per-pass", "1"},
                {"--layer-by-layer", "--windows-per-pass", "3"}};
            for (String[] layered : orders) {
                JsonObject got = json(with(run, layered));
                String name = String.join(" ", run) + " " + String.join(" ", layered);
                assertEquals(whole.keySet(), got.keySet(), name);
                for (String key : new String[] {"ppl", "mean_nll", "kl_to_fp", "kl_to_fp_stderr"}) {
                    if (whole.has(key)) {
                        assertEquals(whole.get(key).getAsDouble(), got.get(key).getAsDouble(), 0.0, name + ": " + key);
                    }
                }
                assertEquals(whole.get("windows").getAsInt(), got.get("windows").getAsInt(), name);
                assertEquals(whole.get("quantization").getAsString(), got.get("quantization").getAsString(), name);
            }
            assertTrue(whole.get("windows").getAsInt() > 3, "more windows than a pass of three carries");
        }
    }

    /**
     * Packed checkpoints written by quantize (RTN, GPTQ, AWQ, QuaRot), read a layer at a time beside the full-precision;
     * AWQ's and QuaRot's IntactKV prefix from their twins, each full-precision layer scaled or rotated when read.
     */
    @Test
    void aQuantizedCheckpointReadLayerByLayerGivesTheLoadedModelsNumbers() throws Exception {
        Path rtn = dir.resolve("q-rtn");
        Path gptq = dir.resolve("q-gptq");
        String[] a = MainTest.run("quantize", "--model", tiny.model().toString(), "--method", "rtn", "--wbits", "3",
                "--group", "8", "--out", rtn.toString());
        assertEquals("0", a[0], a[2]);
        String[] b = MainTest.run("quantize", "--model", tiny.model().toString(), "--method", "gptq", "--wbits", "3",
                "--group", "8", "--calib", tiny.data().toString(), "--calib-seqlen", "8", "--calib-samples", "4",
                "--out", gptq.toString());
        assertEquals("0", b[0], b[2]);
        Path quarot = dir.resolve("q-quarot");
        String[] c = MainTest.run("quantize", "--model", tiny.model().toString(), "--method", "quarot", "--wbits", "4",
                "--calib", tiny.data().toString(), "--calib-seqlen", "8", "--calib-samples", "4", "--out",
                quarot.toString());
        assertEquals("0", c[0], c[2]);
        Path awq = dir.resolve("q-awq");
        String[] d = MainTest.run("quantize", "--model", tiny.model().toString(), "--method", "awq", "--wbits", "3",
                "--group", "8", "--calib", tiny.data().toString(), "--calib-seqlen", "8", "--calib-samples", "4",
                "--out", awq.toString());
        assertEquals("0", d[0], d[2]);
        // the plan counts the AWQ twin's current layer in double while the prefix is made, and only then
        QuantOptions plan = new QuantOptions();
        plan.model = tiny.model();
        plan.quantized = awq;
        LlamaConfig config = MemoryEstimate.config(tiny.model());
        String twinLayer = "the AWQ twin's current layer (scaled, in double; while the prefix is made)";
        assertEquals(MemoryEstimate.linearsInDouble(config) / config.numHiddenLayers(),
                plan.layerwiseTerms(32, 8, 2, true).bytes(twinLayer));
        assertEquals(0, plan.layerwiseTerms(32, 8, 2, false).bytes(twinLayer));
        plan.quantized = quarot;
        String rotatedTwin = "the QuaRot twin's embedding and head, its current layer, its rotation and online"
                + " transforms (in double; while the prefix is made)";
        assertEquals(8L * 2 * config.vocabSize() * config.hiddenSize()
                        + MemoryEstimate.linearsInDouble(config) / config.numHiddenLayers()
                        + MemoryEstimate.quaRotRotation(config) + MemoryEstimate.quaRotTransforms(config),
                plan.layerwiseTerms(32, 8, 2, true).bytes(rotatedTwin));
        assertEquals(0, plan.layerwiseTerms(32, 8, 2, false).bytes(rotatedTwin));
        String[][] runs = {
            {"--quantized", quarot.toString()},
            {"--quantized", quarot.toString(), "--intactkv", "bos"},
            {"--quantized", awq.toString(), "--intactkv", "bos"},
            {"--quantized", rtn.toString(), "--intactkv", "bos"},
            {"--quantized", gptq.toString(), "--intactkv", "bos"},
            {"--quantized", gptq.toString(), "--kvbits", "4", "--no-kl"},
        };
        for (String[] run : runs) {
            JsonObject whole = json(run);
            JsonObject got = json(with(run, "--layer-by-layer", "--windows-per-pass", "2"));
            String name = String.join(" ", run);
            assertEquals(whole.keySet(), got.keySet(), name);
            for (String key : new String[] {"ppl", "mean_nll", "kl_to_fp", "kl_to_fp_stderr"}) {
                if (whole.has(key)) {
                    assertEquals(whole.get(key).getAsDouble(), got.get(key).getAsDouble(), 0.0, name + ": " + key);
                }
            }
            assertEquals(whole.get("quantization").getAsString(), got.get("quantization").getAsString(), name);
        }
    }

    @Test
    void whatItCannotRunIsRefusedNamingTheFlag() {
        String[] gptq = ppl("--layer-by-layer", "--method", "gptq", "--wbits", "3", "--group", "8", "--calib",
                tiny.data().toString(), "--calib-seqlen", "8", "--calib-samples", "2");
        assertEquals("1", gptq[0], gptq[2]);
        assertTrue(gptq[2].contains("--layer-by-layer runs the full-precision model, --method rtn")
                && gptq[2].contains("--method gptq needs its calibration over the whole model: write it with"
                + " ./intactkv quantize, then pass --quantized"), gptq[2]);
        // a window long enough for the context's 162 tokens (the test tokenizer spells the prompt in bytes)
        String[] context = MainTest.run("ppl", "--model", tiny.model().toString(), "--data", tiny.data().toString(),
                "--seqlen", "256", "--layer-by-layer", "--context", "prompt");
        assertEquals("1", context[0], context[2]);
        assertTrue(context[2].contains("--layer-by-layer: --context prompt is not supported (only none)"), context[2]);
        String[] zero = ppl("--layer-by-layer", "--windows-per-pass", "0");
        assertEquals("1", zero[0], zero[2]);
        assertTrue(zero[2].contains("--windows-per-pass must be at least 1, got 0"), zero[2]);
        String[] alone = ppl("--windows-per-pass", "2");
        assertEquals("1", alone[0], alone[2]);
        assertTrue(alone[2].contains("--windows-per-pass is for --layer-by-layer"), alone[2]);
    }
}
