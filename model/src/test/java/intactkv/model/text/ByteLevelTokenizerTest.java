package intactkv.model.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.model.io.FormatException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Byte-level BPE in LLaMA-3's layout against Hugging Face's tokenizers.js: ids with and without
 * [BOS] and the decoded text of ten strings (contractions in both cases, digit groups, white
 * space runs, non-ASCII, an emoji, special tokens inside text), from
 * {@code tools/tokenizer/bytelevel_fixture.mjs}; and GPT-2's byte table by hand.
 */
class ByteLevelTokenizerTest {
    static final Path DIR = Path.of("src/test/resources/bytelevel");

    @TempDir
    Path tmp;

    @Test
    void encodesAndDecodesAsTokenizersJs() throws Exception {
        Tokenizer tok = Tokenizer.load(DIR.resolve("tokenizer.json"));
        assertEquals(400, tok.bosId(), "<|begin_of_text|> from the TemplateProcessing post-processor");
        JsonObject f = JsonParser.parseString(Files.readString(DIR.resolve("cases.json"), StandardCharsets.UTF_8))
                .getAsJsonObject();
        int n = 0;
        for (JsonElement e : f.getAsJsonArray("cases")) {
            JsonObject c = e.getAsJsonObject();
            String text = c.get("text").getAsString();
            int[] ids = ids(c, "ids");
            assertArrayEquals(ids, tok.encode(text, false), text);
            assertArrayEquals(ids(c, "ids_with_bos"), tok.encode(text), text + " (the post-processor's [BOS])");
            assertEquals(c.get("decoded").getAsString(), tok.decode(ids), text);
            n++;
        }
        assertEquals(10, n);
    }

    private static int[] ids(JsonObject c, String key) {
        return c.getAsJsonArray(key).asList().stream().mapToInt(JsonElement::getAsInt).toArray();
    }

    @Test
    void gpt2ByteTableByHand() {
        assertEquals("\u0120", ByteLevel.map(" "), "space is G with a dot");
        assertEquals("\u010a", ByteLevel.map("\n"));
        assertEquals("a!~", ByteLevel.map("a!~"), "printable ASCII stands for itself");
        assertEquals("\u00c3\u00a9", ByteLevel.map("\u00e9"), "e-acute is the bytes C3 A9");
        assertEquals("caf\u00e9 \n\t\u4e2d", ByteLevel.unmap(ByteLevel.map("caf\u00e9 \n\t\u4e2d")));
    }

    @Test
    void unsupportedArrangementsAreNamed() throws Exception {
        String valid = Files.readString(DIR.resolve("tokenizer.json"), StandardCharsets.UTF_8);
        Path f = tmp.resolve("tokenizer.json");
        Files.writeString(f, valid.replace("\"Isolated\"", "\"MergedWithPrevious\""));
        FormatException e = assertThrows(FormatException.class, () -> Tokenizer.load(f));
        assertTrue(e.getMessage().contains("pre_tokenizer.pretokenizers[0].behavior"), e.getMessage());
        Files.writeString(f, valid.replace("\"normalizer\": null", "\"normalizer\": {\"type\": \"NFKD\"}"));
        e = assertThrows(FormatException.class, () -> Tokenizer.load(f));
        assertTrue(e.getMessage().contains("'normalizer'"), e.getMessage());
    }
}
