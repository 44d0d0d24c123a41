package intactkv.model.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.model.io.FormatException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A LLaMA-3 vocabulary saved without its post-processor (the byte-level fixture of
 * {@link ByteLevelTokenizerTest} with {@code post_processor: null}): its [BOS] comes from
 * {@code tokenizer_config.json}'s {@code bos_token} or {@code config.json}'s {@code bos_token_id}
 * beside it, in that order; without either it has none, as before.
 */
class BosFromConfigTest {
    /** The id of {@code <|begin_of_text|>} in the fixture. */
    static final int BEGIN = 400;
    /** The id of {@code <|end_of_text|>}, a second valid choice that tells the sources apart. */
    static final int END = 401;

    @TempDir
    Path dir;
    Path file;

    @BeforeEach
    void withoutPostProcessor() throws Exception {
        JsonObject t = JsonParser.parseString(Files.readString(ByteLevelTokenizerTest.DIR.resolve("tokenizer.json"),
                StandardCharsets.UTF_8)).getAsJsonObject();
        t.add("post_processor", JsonNull.INSTANCE);
        file = dir.resolve("tokenizer.json");
        Files.writeString(file, t.toString());
    }

    @Test
    void withoutConfigsThereIsNoBos() throws Exception {
        Tokenizer tok = Tokenizer.load(file);
        assertEquals(-1, tok.bosId());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> tok.encode("hi", true));
        assertTrue(e.getMessage().contains("this tokenizer has no <s> token"), e.getMessage());
    }

    @Test
    void configJsonBosTokenId() throws Exception {
        Files.writeString(dir.resolve("config.json"), "{\"bos_token_id\": " + BEGIN + "}");
        Tokenizer tok = Tokenizer.load(file);
        assertEquals(BEGIN, tok.bosId());
        int[] plain = tok.encode("hi there", false);
        int[] withBos = tok.encode("hi there", true);
        assertEquals(BEGIN, withBos[0]);
        assertArrayEquals(plain, java.util.Arrays.copyOfRange(withBos, 1, withBos.length));
        assertArrayEquals(plain, tok.encode("hi there"), "no template: [BOS] only when asked for, as before");
    }

    @Test
    void tokenizerConfigWinsAndMayBeAnObject() throws Exception {
        Files.writeString(dir.resolve("config.json"), "{\"bos_token_id\": " + END + "}");
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\": \"<|begin_of_text|>\"}");
        assertEquals(BEGIN, Tokenizer.load(file).bosId());
        Files.writeString(dir.resolve("tokenizer_config.json"),
                "{\"bos_token\": {\"content\": \"<|end_of_text|>\", \"special\": true}}");
        assertEquals(END, Tokenizer.load(file).bosId());
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\": null}");
        assertEquals(END, Tokenizer.load(file).bosId(), "a null bos_token falls through to config.json");
    }

    @Test
    void aNameOrIdTheVocabularyLacksIsRefused() throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\": \"<s>\"}");
        FormatException e = assertThrows(FormatException.class, () -> Tokenizer.load(file));
        assertTrue(e.getMessage().contains("tokenizer_config.json") && e.getMessage().contains("'bos_token' = \"<s>\""),
                e.getMessage());
        Files.delete(dir.resolve("tokenizer_config.json"));
        Files.writeString(dir.resolve("config.json"), "{\"bos_token_id\": 128000}");
        e = assertThrows(FormatException.class, () -> Tokenizer.load(file));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("'bos_token_id' = 128000"),
                e.getMessage());
    }

    @Test
    void aTemplateIsStillTakenFirst() throws Exception {
        Path withTemplate = dir.resolve("sub");
        Files.createDirectories(withTemplate);
        Files.copy(ByteLevelTokenizerTest.DIR.resolve("tokenizer.json"), withTemplate.resolve("tokenizer.json"));
        Files.writeString(withTemplate.resolve("config.json"), "{\"bos_token_id\": " + END + "}");
        assertEquals(BEGIN, Tokenizer.load(withTemplate.resolve("tokenizer.json")).bosId());
    }
}
