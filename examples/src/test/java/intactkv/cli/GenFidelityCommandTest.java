package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ./intactkv gen-fidelity}: bad flags refused by name before any model work (no progress
 * bar, nothing on standard output), and a run's table and JSON on a tiny random model.
 */
class GenFidelityCommandTest {
    @TempDir
    static Path dir;
    static Path model;
    static Path data;

    @BeforeAll
    static void fixtures() throws Exception {
        model = ModelCommandsTest.tinyModel(dir.resolve("tiny"));
        data = dir.resolve("lines.txt");
        Files.writeString(data, "ab a b ab a\nb\na ab b ab b a\nab ab a b a b\nb a\n");
    }

    static List<String> base() {
        return List.of("gen-fidelity", "--model", model.toString(), "--kvbits", "4", "--data", data.toString());
    }

    @Test
    void badFlagsAreRefusedByNameBeforeAnyWork() {
        String[][] cases = {
            {"--prompts must be >= 1: 0", "--prompts", "0"},
            {"--max-tokens must be >= 1: 0", "--max-tokens", "0"},
            {"--prompt-words must be >= 1: 0", "--prompt-words", "0"},
            // the longest line has 6 words
            {"--prompt-words 6: no line of " + data + " has more than 6 words (the longest has 6)", "--prompt-words", "6"},
            {"--prompts 4: only 3 lines of " + data + " have more than 3 words", "--prompts", "4", "--prompt-words", "3"},
            {"--intactkv prompt is [BOS] + the Vicuna system prompt", "--intactkv", "prompt", "--prompts", "1"},
            {"--context prompt is ppl's", "--context", "prompt", "--prompts", "1"},
            {"--max-tokens 100000", "--max-tokens", "100000", "--prompts", "1"},
            {"--kv-cache-dtype must be f64, f32, f16 or bf16, got 'f8'", "--kv-cache-dtype", "f8", "--prompts", "1"},
        };
        for (String[] c : cases) {
            String[] args = BadInputTest.with(base(), java.util.Arrays.copyOfRange(c, 1, c.length));
            String[] r = BadInputTest.run(args);
            BadInputTest.assertRefused(r, c[0]);
            assertTrue(r[1].isEmpty() && r[3].isEmpty(), "no work before refusing " + c[0] + ": " + r[1] + r[3]);
        }
        String[] r = BadInputTest.run("gen-fidelity", "--model", model.toString(), "--data", data.toString());
        BadInputTest.assertRefused(r, "gen-fidelity compares a quantized model with the full-precision one");
        assertTrue(r[1].isEmpty() && r[3].isEmpty(), r[1] + r[3]);
    }

    /** A prefix file of more than [BOS] is not the start of every prompt: refused by the flag before the weights are read. */
    @Test
    void aPrefixFileLongerThanBosIsRefused() throws Exception {
        Path prefix = dir.resolve("three.safetensors");
        intactkv.prefix.IntactKvPrefix.generate(new intactkv.model.LlamaModel(intactkv.model.LlamaWeights.load(model,
                false)), new int[] {1, 259, 262}).save(prefix);
        String[] r = BadInputTest.run(BadInputTest.with(base(), "--intactkv", prefix.toString(), "--prompts", "1"));
        BadInputTest.assertRefused(r, "--intactkv " + prefix + ": a prefix of 3 tokens [1, 259, 262] is not the start of"
                + " every prompt");
        assertTrue(r[1].isEmpty() && r[3].isEmpty(), r[1] + r[3]);
    }

    @Test
    void tableAndJsonOfARun() {
        String[] r = BadInputTest.run(BadInputTest.with(base(), "--intactkv", "bos", "--prompts", "3", "--prompt-words",
                "2", "--max-tokens", "5"));
        assertEquals("0", r[0], r[2]);
        assertTrue(r[1].contains("| none w16 a16 kv4") && r[1].contains("| [B]           |")
                && r[1].contains("| [B] - none"), r[1]);
        r = BadInputTest.run(BadInputTest.with(base(), "--intactkv", "bos", "--prompts", "3", "--prompt-words", "2",
                "--max-tokens", "5", "--json"));
        assertEquals("0", r[0], r[2]);
        JsonObject o = JsonParser.parseString(r[1]).getAsJsonObject();
        assertEquals(3, o.get("prompts").getAsInt());
        JsonArray rows = o.getAsJsonArray("rows");
        assertEquals(2, rows.size());
        for (int i = 0; i < 2; i++) {
            JsonObject row = rows.get(i).getAsJsonObject();
            double identical = row.get("identical").getAsDouble();
            double agreed = row.get("tokens_agreed").getAsDouble();
            double rouge = row.get("rouge_l_f1").getAsDouble();
            // a share, at most --max-tokens tokens, an F-measure
            assertTrue(identical >= 0 && identical <= 1 && agreed >= 0 && agreed <= 5 && rouge >= 0 && rouge <= 1,
                    row.toString());
            assertEquals(i == 1, row.has("difference_tokens_agreed"), row.toString());
        }
        assertEquals("[B]", rows.get(1).getAsJsonObject().get("intactkv").getAsString());
        assertEquals("f64", o.get("kv_cache_dtype").getAsString());
        // every KV cache in bf16, the full-precision reference's too: said in the table's first line and the JSON
        r = BadInputTest.run(BadInputTest.with(base(), "--prompts", "3", "--prompt-words", "2", "--max-tokens", "5",
                "--kv-cache-dtype", "bf16"));
        assertEquals("0", r[0], r[2]);
        String first = r[1].lines().findFirst().orElse("");
        assertTrue(first.endsWith("; every KV cache in bf16, the full-precision one's too"), r[1]);
        r = BadInputTest.run(BadInputTest.with(base(), "--prompts", "3", "--prompt-words", "2", "--max-tokens", "5",
                "--kv-cache-dtype", "bf16", "--json"));
        assertEquals("bf16", JsonParser.parseString(r[1]).getAsJsonObject().get("kv_cache_dtype").getAsString());
    }
}
