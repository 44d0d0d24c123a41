package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.model.LlamaWeights;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.IntactKvPrefix;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code analyze --sharegpt} (Figure 2, official protocol) and {@code calibrate} on ShareGPT data. */
class OfficialProtocolCommandsTest {
    @TempDir
    static Path dir;
    static Path tiny;

    @BeforeAll
    static void models() throws Exception {
        System.setProperty("intactkv.home", Path.of("..").toAbsolutePath().normalize().toString());
        tiny = ModelCommandsTest.tinyModel(dir.resolve("tiny"));
    }

    static String[] run(String... args) {
        return MainTest.run(args);
    }

    static final String[] WORDS = {"the", "small", "dog", "ran", "across", "a", "green", "field", "of", "tall", "grass",
        "and", "water", "river", "light", "stone", "house", "bird", "song", "morning"};

    /** A ShareGPT array of {@code n} conversations with answers of {@code answerWords} words (our own text, seeded). */
    static String shareGpt(int n, int answerWords, long seed) {
        Random r = new Random(seed);
        List<String> recs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            StringBuilder q = new StringBuilder();
            StringBuilder a = new StringBuilder();
            for (int w = 0; w < 6; w++) {
                q.append(w == 0 ? "" : " ").append(WORDS[r.nextInt(WORDS.length)]);
            }
            for (int w = 0; w < answerWords; w++) {
                a.append(w == 0 ? "" : " ").append(WORDS[r.nextInt(WORDS.length)]);
            }
            recs.add("{\"id\": \"t" + i + "\", \"conversations\": [{\"from\": \"human\", \"value\": \"" + q + "\"},"
                    + " {\"from\": \"gpt\", \"value\": \"" + a + "\"}]}");
        }
        return "[\n" + String.join(",\n", recs) + "\n]\n";
    }

    @Test
    void analyzeShareGptRunsFigure2WithTheOfficialProtocol() throws Exception {
        Path data = dir.resolve("chat.json");
        Files.writeString(data, shareGpt(5, 70, 1));
        // one sample: 65 IntactKV sizes of the built-in tokenizer's prompt already take most of this test's time
        Path out = dir.resolve("figure2");
        String[] r = run("analyze", "--model", "default", "--sharegpt", data.toString(), "--samples", "1", "--seqlen",
                "160", "--out", out.toString());
        assertEquals("0", r[0], r[2]);
        Tokenizer tok = Tokenizer.load(DefaultModel.dir().resolve("tokenizer.json"));
        int k = IntactKvPrefix.vicunaPromptIds(tok).length;
        assertTrue(r[1].contains("1 conversation selected") && r[1].contains("loss on positions >= " + k), r[1]);
        byte[] png = Files.readAllBytes(out.resolve("mse_vs_intactkv_size.png"));
        assertTrue(png.length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G');
        JsonObject json = JsonParser.parseString(Files.readString(out.resolve("analysis.json"))).getAsJsonObject();
        assertEquals(k, json.get("intactkv_size").getAsInt());
        // the ShareGPT file is recorded by path and hash, the built-in model by its files' hashes
        JsonObject prov = json.getAsJsonObject("provenance");
        assertEquals(DefaultModel.sha256(data), prov.getAsJsonObject("input").get("sha256").getAsString());
        assertEquals(DefaultModel.sha256(DefaultModel.dir().resolve("model.safetensors")),
                prov.getAsJsonObject("model").getAsJsonObject("sha256").get("model.safetensors").getAsString());
        assertTrue(intactkv.figure.Png.readText(out.resolve("mse_vs_intactkv_size.png")).get("Command")
                .contains("--sharegpt"));
        assertEquals(1, json.get("samples").getAsInt());
        assertEquals(1, json.getAsJsonArray("conversation_indices").size());
        assertTrue(json.get("quantization").getAsString().startsWith("rtn w3"), json.get("quantization").toString());
        JsonArray rows = json.getAsJsonArray("by_size");
        assertEquals(k + 1, rows.size(), "sizes 0..K");
        int layers = LlamaWeights.load(DefaultModel.dir(), false).config().numHiddenLayers();
        for (int s = 0; s <= k; s++) {
            JsonObject row = rows.get(s).getAsJsonObject();
            assertEquals(s, row.get("size").getAsInt());
            double last = row.get("last_layer").getAsDouble();
            double total = row.get("total").getAsDouble();
            assertTrue(last > 0 && total > last && total < layers * 1e6, row.toString());
        }
        // the built-in model has a [BOS] sink: keeping [BOS] intact lowers the last layer's loss
        assertTrue(rows.get(1).getAsJsonObject().get("last_layer").getAsDouble()
                < rows.get(0).getAsJsonObject().get("last_layer").getAsDouble(), rows.toString());
    }

    @Test
    void analyzeShareGptRefusesBadInputBeforeAnyWork() throws Exception {
        Path data = dir.resolve("short.json");
        Files.writeString(data, shareGpt(3, 70, 2).replace("]\n", ",{\"conversations\": [{\"from\": \"human\", \"value\":"
                + " \"hi\"}, {\"from\": \"gpt\", \"value\": \"too short\"}]}]\n"));
        Tokenizer tok = Tokenizer.load(DefaultModel.dir().resolve("tokenizer.json"));
        int k = IntactKvPrefix.vicunaPromptIds(tok).length;
        String[][] cases = {{"--samples", "4"}, {"--max-prefix", String.valueOf(k + 1)}, {"--max-prefix", "0"},
            {"--seqlen", "1"}};
        String[] says = {"only 3 of the 4 conversations have more than 50 assistant tokens", "--max-prefix must be in 1.."
            + k, "--max-prefix must be in 1..", "--seqlen must be >= 2"};
        for (int i = 0; i < cases.length; i++) {
            Path never = dir.resolve("never-" + i);
            String[] r = run("analyze", "--model", "default", "--sharegpt", data.toString(), "--out", never.toString(),
                    cases[i][0], cases[i][1]);
            assertEquals("1", r[0], r[1] + r[2]);
            assertTrue(r[2].contains(says[i]), r[2]);
            assertFalse(Files.exists(never), "nothing written for " + cases[i][0]);
        }
        Path never = dir.resolve("never-missing");
        String[] r = run("analyze", "--model", "default", "--sharegpt", dir.resolve("missing.json").toString(), "--out",
                never.toString());
        assertEquals("1", r[0]);
        assertTrue(r[2].contains("missing.json"), r[2]);
        assertFalse(Files.exists(never));
    }

    @Test
    void calibrateOnShareGptWithTheOfficialSettings() throws Exception {
        Path data = dir.resolve("cal.json");
        // the tiny model's tokenizer: "ab", "a" and each space ("\u2581") are one token each: answers of 60 tokens
        Files.writeString(data, shareGpt(4, 0, 3).replace("\"value\": \"\"}", "\"value\": \"" + "ab a ".repeat(15).strip()
                + "\"}"));
        Path prefix = dir.resolve("p.safetensors");
        String[] r = run("calibrate", "--model", tiny.toString(), "--method", "rtn", "--wbits", "3", "--group", "8",
                "--data", data.toString(), "--samples", "2", "--seqlen", "400", "--steps", "2", "--accumulation", "2",
                "--prefix-dtype", "f32", "--out", prefix.toString());
        assertEquals("0", r[0], r[2]);
        assertTrue(r[1].contains("ShareGPT: 2 conversations") && r[1].contains("constant, no warm-up")
                && r[1].contains("prefix stored as f32"), r[1]);
        IntactKvPrefix p = IntactKvPrefix.load(prefix, LlamaWeights.load(tiny, false).config());
        for (var t : p.values()) {
            for (double x : t.data()) {
                assertEquals((float) x, x, 0.0, "every entry of the f32 prefix is a float");
            }
        }
        String[] w = run("calibrate", "--model", tiny.toString(), "--method", "rtn", "--wbits", "3", "--group", "8",
                "--data", data.toString(), "--samples", "2", "--seqlen", "400", "--steps", "4", "--accumulation", "1",
                "--warmup", "0.5", "--out", dir.resolve("p2.safetensors").toString());
        assertEquals("0", w[0], w[2]);
        assertTrue(w[1].contains("constant after 2 warm-up steps") && w[1].contains("prefix stored as f16"), w[1]);
        Path never = dir.resolve("never.safetensors");
        for (String[] c : new String[][] {{"--prefix-dtype", "bf16", "--samples", "2"}, {"--warmup", "1.5", "--samples",
            "2"}, {"--samples", "5", "--prefix-dtype", "f64"}}) {
            String[] e = run("calibrate", "--model", tiny.toString(), "--method", "rtn", "--wbits", "3", "--group", "8",
                    "--data", data.toString(), "--seqlen", "400", "--out", never.toString(), c[0], c[1], c[2], c[3]);
            assertEquals("1", e[0], e[1] + e[2]);
            assertTrue(e[2].contains(c[0]) && (e[2].contains(c[1]) || c[0].equals("--samples")), e[2]);
            assertFalse(Files.exists(never), c[0]);
        }
    }
}
