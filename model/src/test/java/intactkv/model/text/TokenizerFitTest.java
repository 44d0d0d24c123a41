package intactkv.model.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.LlamaConfig;
import intactkv.model.io.FormatException;
import intactkv.model.io.SafetensorsReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 26: a tokenizer must fit the config it is used with ({@link TokenizerFit}). */
class TokenizerFitTest {
    @TempDir
    Path tmp;

    /** A tokenizer.json of {@code n} pieces: {@code <unk>}, {@code bos}, {@code </s>}, then t3, t4, ... */
    private Path tokenizer(String name, int n, String bos) throws IOException {
        StringBuilder vocab = new StringBuilder("{\"<unk>\":0,\"" + bos + "\":1,\"</s>\":2");
        for (int i = 3; i < n; i++) {
            vocab.append(",\"t").append(i).append("\":").append(i);
        }
        String json = "{\"added_tokens\":[{\"id\":1,\"content\":\"" + bos + "\",\"special\":true}],"
                + "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"" + bos
                + "\"}}]},\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"byte_fallback\":true,\"vocab\":" + vocab
                + "},\"merges\":[]}}";
        Path f = tmp.resolve(name + ".tokenizer.json");
        Files.writeString(f, json);
        return f;
    }

    private Path config(String name, int vocab, int bos, int eos) throws IOException {
        Path f = tmp.resolve(name + ".config.json");
        new LlamaConfig(16, 24, 4, 2, 2, 1e-5, 10000, vocab, 64, false, bos, eos).write(f, "float32");
        return f;
    }

    @Test
    void aTokenizerOfTheConfigsSizeFits() throws IOException {
        Path t = tokenizer("same", 420, "<s>");
        assertNull(TokenizerFit.check(Tokenizer.load(t), t, config("same", 420, 1, 2)));
    }

    /** The case: a 420-piece tokenizer beside 1024-row weights is refused, naming both files and numbers. */
    @Test
    void anotherModelsTokenizerIsRefused() throws IOException {
        Path t = tokenizer("small", 420, "<s>");
        Path c = config("big", 1024, 1, 2);
        FormatException e = assertThrows(FormatException.class, () -> TokenizerFit.check(Tokenizer.load(t), t, c));
        String m = e.getMessage();
        assertTrue(m.contains(t.toString()) && m.contains(c.toString()) && m.contains("420 tokens")
                && m.contains("vocab_size 1024"), m);
        Path larger = tokenizer("larger", 1030, "<s>");
        e = assertThrows(FormatException.class, () -> TokenizerFit.check(Tokenizer.load(larger), larger, c));
        assertTrue(e.getMessage().contains("1030 tokens") && e.getMessage().contains("ids 1024..1029 have no embedding"),
                e.getMessage());
    }

    /** vocab_size rounded up to a multiple of 8..128 is padding: accepted, with a note. */
    @Test
    void paddingIsAcceptedWithANote() throws IOException {
        Path t = tokenizer("pad", 32001, "<s>");
        String note = TokenizerFit.check(Tokenizer.load(t), t, config("pad", 32064, 1, 2));
        assertTrue(note != null && note.contains("32001 tokens") && note.contains("ids 32001..32063 are padding"), note);
        assertTrue(TokenizerFit.isPadding(1020, 1024));
        assertTrue(TokenizerFit.isPadding(32001, 32128)); // a multiple of 128, 127 apart
        assertFalse(TokenizerFit.isPadding(32000, 32128)); // 128 apart: not the rounding up of 32000
        assertFalse(TokenizerFit.isPadding(420, 1024));
        assertFalse(TokenizerFit.isPadding(1021, 1027)); // 1027 is a multiple of none of 8..128
    }

    @Test
    void specialTokenIdsMustAgree() throws IOException {
        Path t = tokenizer("bos", 64, "<s>");
        FormatException e = assertThrows(FormatException.class, () -> TokenizerFit.check(Tokenizer.load(t), t,
                config("bos", 64, 3, 2)));
        assertTrue(e.getMessage().contains("[BOS] '<s>' has id 1") && e.getMessage().contains("bos_token_id 3"),
                e.getMessage());
        e = assertThrows(FormatException.class, () -> TokenizerFit.check(Tokenizer.load(t), t, config("eos", 64, 1, 5)));
        assertTrue(e.getMessage().contains("[EOS] '</s>' has id 2") && e.getMessage().contains("eos_token_id 5"),
                e.getMessage());
        // an EOS list that holds the tokenizer's </s> fits
        Path c = config("eos-list", 64, 1, 2);
        Files.writeString(c, Files.readString(c).replace("\"eos_token_id\": 2", "\"eos_token_id\": [7, 2]"));
        assertNull(TokenizerFit.check(Tokenizer.load(t), t, c));
    }

    /** What a message shows when a text file is given where a safetensors file is needed. */
    @Test
    void textStartRecognisesText() throws IOException {
        Path text = tmp.resolve("notes.txt");
        Files.writeString(text, "a small domesticated carnivore\nsecond line", StandardCharsets.UTF_8);
        assertEquals("a small domesticated carnivore", SafetensorsReader.textStart(text));
        Path cut = tmp.resolve("cut.txt");
        Files.writeString(cut, "x".repeat(63) + "\u00e9 more"); // é cut at byte 64
        assertEquals("x".repeat(40) + "...", SafetensorsReader.textStart(cut));
        Path binary = tmp.resolve("b.safetensors");
        Files.write(binary, new byte[] {16, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '});
        assertNull(SafetensorsReader.textStart(binary));
        FormatException e = assertThrows(FormatException.class, () -> SafetensorsReader.open(text));
        assertTrue(e.getMessage().contains("not a safetensors file: it begins with text \"a small domesticated")
                && e.getMessage().contains("header length"), e.getMessage());
    }
}
