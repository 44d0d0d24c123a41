package intactkv.cli;

import static intactkv.cli.BadInputTest.assertRefused;
import static intactkv.cli.BadInputTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --model FILE.gguf} where a model directory goes: ppl (with and without quantization and
 * IntactKV) and generate run on the committed GGUF fixture of tools/oracle/gguf_fixtures.py
 * (the oracle/model/gqa_f32 test model, whose tensors GgufModelTest shows equal to the
 * safetensors ones bit for bit), and a damaged GGUF file is refused in one line naming the file.
 */
class GgufModelCommandsTest {
    @TempDir
    static Path dir;
    static Path gguf;
    static Path data;

    @BeforeAll
    static void fixtures() throws Exception {
        gguf = Path.of("..", "model", "src", "test", "resources", "oracle", "gguf", "gqa_f32.gguf").toAbsolutePath()
                .normalize();
        data = dir.resolve("data.txt");
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 40; i++) {
            text.append(i % 2 == 0 ? "t3t4t5 t6\n" : "t7t3 t9t10\n"); // the fixture's placeholder tokens
        }
        Files.writeString(data, text);
    }

    static JsonObject ppl(String... more) {
        String[] base = {"ppl", "--model", gguf.toString(), "--data", data.toString(), "--seqlen", "16", "--json"};
        String[] args = java.util.stream.Stream.concat(java.util.Arrays.stream(base), java.util.Arrays.stream(more))
                .toArray(String[]::new);
        String[] r = run(args);
        assertEquals("0", r[0], r[2]);
        return JsonParser.parseString(r[1]).getAsJsonObject();
    }

    @Test
    void pplRunsOnAGgufFile() {
        JsonObject fp = ppl();
        assertTrue(fp.get("windows").getAsInt() > 1, fp.toString());
        assertTrue(Double.isFinite(fp.get("ppl").getAsDouble()), fp.toString());
        JsonObject q = ppl("--method", "rtn", "--wbits", "3", "--group", "16", "--intactkv", "bos");
        assertEquals("bos", q.get("intactkv").getAsString());
        assertTrue(Double.isFinite(q.get("kl_to_fp").getAsDouble()), q.toString());
        assertEquals(fp.get("scored_tokens").getAsInt(), q.get("scored_tokens").getAsInt()); // same tokenizer, same windows
    }

    @Test
    void generateRunsOnAGgufFile() {
        String[] r = run("generate", "--model", gguf.toString(), "--prompt", "t3t4", "--max-tokens", "3");
        assertEquals("0", r[0], r[2]);
    }

    @Test
    void aDamagedGgufFileIsRefusedInOneLine() throws Exception {
        byte[] b = Files.readAllBytes(gguf);
        b[2] = 'M';
        Path bad = dir.resolve("bad.gguf");
        Files.write(bad, b);
        String[] r = run("ppl", "--model", bad.toString(), "--data", data.toString());
        assertRefused(r, bad.toString(), "not a GGUF file: the magic at byte 0 is 47 47 4d 46");
        assertEquals(1, r[2].strip().lines().count(), r[2]);
        Path truncated = dir.resolve("truncated.gguf");
        Files.write(truncated, java.util.Arrays.copyOf(Files.readAllBytes(gguf), 40000));
        r = run("ppl", "--model", truncated.toString(), "--data", data.toString());
        assertRefused(r, truncated.toString(), "past the end of the data section");
    }
}
