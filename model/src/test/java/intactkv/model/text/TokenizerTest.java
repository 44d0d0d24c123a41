package intactkv.model.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Parity with SentencePiece's own encoder on a BPE model with byte fallback trained and
 * converted by {@code tools/oracle/tokenizer_fixtures.py} (ids must be identical), decode
 * round trips, and errors for malformed files.
 */
class TokenizerTest {
    static Path dir;
    static Tokenizer tok;

    @TempDir
    Path tmp;

    @BeforeAll
    static void load() throws Exception {
        dir = Path.of(TokenizerTest.class.getResource("/oracle/tokenizer").toURI());
        tok = Tokenizer.load(dir.resolve("tokenizer.json"));
    }

    @Test
    void idsEqualSentencePieceOnEveryCase() throws IOException {
        JsonObject root = JsonParser.parseString(Files.readString(dir.resolve("cases.json"), StandardCharsets.UTF_8))
                .getAsJsonObject();
        int n = 0;
        for (JsonElement c : root.getAsJsonArray("cases")) {
            String text = c.getAsJsonObject().get("text").getAsString();
            int[] expected = new int[c.getAsJsonObject().getAsJsonArray("ids").size()];
            for (int i = 0; i < expected.length; i++) {
                expected[i] = c.getAsJsonObject().getAsJsonArray("ids").get(i).getAsInt();
            }
            assertArrayEquals(expected, tok.encode(text, false), "text: \"" + text + "\"");
            assertEquals(text, tok.decode(tok.encode(text, false)), "round trip of \"" + text + "\"");
            n++;
        }
        assertTrue(n >= 60, "only " + n + " cases");
    }

    @Test
    void bosSpecialTokensAndByteFallback() {
        int[] ids = tok.encode("ka lo");
        assertEquals(tok.bosId(), ids[0], "the post-processor adds <s>");
        assertEquals("<s> ka lo", tok.decode(ids)); // as HF: Strip only removes a space at the very start
        assertEquals("ka lo", tok.decode(ids, true));
        int[] withEos = tok.encode("ka</s>", false);
        assertEquals(tok.eosId(), withEos[withEos.length - 1], "a literal </s> is the special token");
        int[] emoji = tok.encode("🎉", false); // not in the training text
        // "▁" then the four UTF-8 bytes of U+1F389 as <0xNN> tokens
        assertEquals(5, emoji.length);
        assertEquals("<0xF0>", tok.piece(emoji[1]));
        assertEquals("<0x89>", tok.piece(emoji[4]));
        assertEquals("🎉", tok.decode(emoji));
        assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {tok.vocabSize()}));
    }

    @Test
    void malformedFilesNameTheFileAndField() throws IOException {
        Path f = tmp.resolve("tokenizer.json");
        Files.writeString(f, "{\"model\": {\"type\": \"Unigram\"}}");
        IOException e = assertThrows(IOException.class, () -> Tokenizer.load(f));
        assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("model.type"), e.getMessage());
        Files.writeString(f, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a c\"]}}");
        e = assertThrows(IOException.class, () -> Tokenizer.load(f));
        assertTrue(e.getMessage().contains("model.merges[0]"), e.getMessage());
        Files.writeString(f, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 2}, \"merges\": []}}");
        e = assertThrows(IOException.class, () -> Tokenizer.load(f));
        assertTrue(e.getMessage().contains("id 1"), e.getMessage());
        Files.writeString(f, "{oops");
        e = assertThrows(IOException.class, () -> Tokenizer.load(f));
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
    }
}
