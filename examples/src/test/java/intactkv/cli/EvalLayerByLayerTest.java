package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code eval --layer-by-layer} (every item's inputs through {@code LayerwiseLogits}, one decoder layer of the
 * checkpoint read at a time) prints the results of {@code eval} on the whole model, for the harness and the official
 * MMLU protocol, whatever --inputs-per-pass; what it cannot run is refused by name before any weight is read. (That
 * the log-likelihoods themselves are the whole model's, bit for bit, is checked in intactkv-core:
 * {@code LayerwiseLogitsTest}, {@code MultipleChoiceTest}.)
 */
class EvalLayerByLayerTest {
    @TempDir
    static Path dir;
    static ModelCommandsTest.TinyRun tiny;
    static Path harness;
    static Path mmlu;

    @BeforeAll
    static void setUp() throws Exception {
        tiny = ModelCommandsTest.TinyRun.write(dir);
        harness = dir.resolve("harness.jsonl");
        Files.writeString(harness, """
                {"context": "ab a", "choices": [" b", " ab", " ba"], "label": 1}
                {"context": "a b", "choices": [" a", " b"], "label": 0}
                {"context": "ba ab a", "choices": [" b a", " ab", " a a b"], "label": 2}
                {"context": "b", "choices": [" a", " ab"], "label": 1}
                """);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 4; i++) {
            for (String s : MmluEvalTest.SUBJECTS) {
                sb.append(MmluEvalTest.line(s, i)).append('\n');
            }
        }
        mmlu = dir.resolve("mmlu.jsonl");
        Files.writeString(mmlu, sb);
    }

    private static String[] eval(List<String> base, String... extra) {
        List<String> args = new ArrayList<>(base);
        args.addAll(List.of(extra));
        return BadInputTest.run(args.toArray(String[]::new));
    }

    private static JsonObject json(List<String> base, String... extra) {
        String[] r = eval(base, extra);
        assertEquals("0", r[0], r[2]);
        return JsonParser.parseString(r[1]).getAsJsonObject();
    }

    private static String[] join(String[] a, String... more) {
        List<String> all = new ArrayList<>(List.of(a));
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }

    /**
     * The same results, key for key, and the same --log-samples file, byte for byte: every choice's log-likelihood
     * (or every letter's probability) written as the exact repr of its double.
     */
    private static void assertSameRuns(String[][] runs, List<String> base, String results) throws Exception {
        String[][] orders = {{"--layer-by-layer"}, {"--layer-by-layer", "--inputs-per-pass", "1"},
            {"--layer-by-layer", "--inputs-per-pass", "3"}};
        Path wholeSamples = dir.resolve("whole.jsonl");
        Path layeredSamples = dir.resolve("layered.jsonl");
        for (String[] run : runs) {
            JsonObject whole = json(base, join(run, "--log-samples", wholeSamples.toString()));
            String want = Files.readString(wholeSamples);
            for (String[] layered : orders) {
                JsonObject got = json(base, join(join(run, layered), "--log-samples", layeredSamples.toString()));
                String name = String.join(" ", run) + " " + String.join(" ", layered);
                JsonElement wantResults = whole.get(results);
                assertEquals(wantResults, got.get(results), name);
                assertEquals(whole.get("quantization"), got.get("quantization"), name);
                assertEquals(want, Files.readString(layeredSamples), name + ": --log-samples");
            }
        }
    }

    @Test
    void harnessLayerByLayerPrintsTheWholeModelsResults() throws Exception {
        Path awq = dir.resolve("q-awq");
        String[] q = MainTest.run("quantize", "--model", tiny.model().toString(), "--method", "awq", "--wbits", "3",
                "--group", "8", "--calib", tiny.data().toString(), "--calib-seqlen", "8", "--calib-samples", "4",
                "--out", awq.toString());
        assertEquals("0", q[0], q[2]);
        String[][] runs = {
            {},
            {"--method", "rtn", "--wbits", "3", "--group", "8", "--intactkv", "bos"},
            {"--kvbits", "4", "--intactkv", "bos"},
            {"--quantized", awq.toString(), "--intactkv", "bos"},
        };
        List<String> base = List.of("eval", "--model", tiny.model().toString(), "--tasks", harness.toString(), "--json");
        assertSameRuns(runs, base, "results");
        Path samples = dir.resolve("fp.jsonl");
        JsonObject fp = json(base, "--log-samples", samples.toString());
        assertEquals(4, fp.getAsJsonArray("results").get(0).getAsJsonObject().get("items").getAsInt());
        List<String> lines = Files.readAllLines(samples);
        assertEquals(4, lines.size(), "one line per item");
        JsonObject third = JsonParser.parseString(lines.get(2)).getAsJsonObject();
        assertEquals(3, third.getAsJsonArray("loglikelihood").size(), "one log-likelihood per choice");
        assertEquals("[4,3,6]", third.getAsJsonArray("choice_bytes").toString(), "\" b a\", \" ab\", \" a a b\"");
        assertEquals(harness + ":3", third.get("where").getAsString());
    }

    @Test
    void mmluOfficialLayerByLayerPrintsTheWholeModelsResults() throws Exception {
        String[][] runs = {
            {},
            {"--method", "rtn", "--wbits", "3", "--group", "8", "--intactkv", "bos"},
        };
        List<String> base = List.of("eval", "--model", tiny.model().toString(), "--tasks", mmlu.toString(), "--protocol",
                "mmlu-official", "--mmlu-shots", "0,1", "--mmlu-dev", "1", "--json");
        assertSameRuns(runs, base, "runs");
        assertEquals(2, json(base).getAsJsonArray("runs").size(), "one run per shot count");
    }

    @Test
    void whatItCannotRunIsRefusedNamingTheFlag() {
        List<String> base = List.of("eval", "--model", tiny.model().toString(), "--tasks", harness.toString());
        List<String> official = List.of("eval", "--model", tiny.model().toString(), "--tasks", mmlu.toString(),
                "--protocol", "mmlu-official", "--mmlu-shots", "0", "--mmlu-dev", "1");
        for (List<String> b : List.of(base, official)) {
            MmluEvalTest.assertRefusedBeforeWork(eval(b, "--inputs-per-pass", "2"),
                    "--inputs-per-pass is for --layer-by-layer");
            MmluEvalTest.assertRefusedBeforeWork(eval(b, "--layer-by-layer", "--inputs-per-pass", "0"),
                    "--inputs-per-pass must be at least 1, got 0");
            MmluEvalTest.assertRefusedBeforeWork(eval(b, "--layer-by-layer", "--method", "gptq", "--wbits", "3", "--group",
                    "8", "--calib", tiny.data().toString(), "--calib-seqlen", "8", "--calib-samples", "2"),
                    "--layer-by-layer runs the full-precision model, --method rtn",
                    "--method gptq needs its calibration over the whole model");
        }
        MmluEvalTest.assertRefusedBeforeWork(eval(base, "--log-samples", dir.resolve("no-such-folder/s.jsonl").toString()),
                "--log-samples");
        String[] context = eval(base, "--layer-by-layer", "--context", "prompt");
        MmluEvalTest.assertRefusedBeforeWork(context, "--layer-by-layer: --context prompt is not supported (only none)");
        assertTrue(context[1].isEmpty(), context[1]);
    }
}
