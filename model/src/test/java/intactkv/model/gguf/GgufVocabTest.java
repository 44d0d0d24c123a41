package intactkv.model.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.model.text.GgufVocab;
import intactkv.model.text.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * GGUF vocabularies as tokenizers, against independent oracles: the built-in model's tokenizer
 * written as a {@code llama} (SentencePiece-style, scores) vocabulary encodes as its own
 * tokenizer.json does (merge ranks), and the byte-level test tokenizer written as {@code gpt2}
 * with {@code pre = llama-bpe} encodes the cases Hugging Face's tokenizers.js produced
 * (bytelevel/cases.json). llama.cpp's own vocab files are checked by tools/gguf/vocab_cases.sh,
 * not here (third-party data is not committed).
 */
class GgufVocabTest {
    static final List<String> TEXTS = List.of("the cat sat on the warm mat", "a dog ran after the red ball.",
            "numbers like 42, 7 and 1999 appear here", "caf\u00e9 cr\u00e8me and na\u00efve words",
            "\u4e2d\u6587 text too \ud83d\ude00", "  two  spaces,\tand a tab\nnewline", "", " ",
            "the quick brown fox jumps over the lazy dog; a definition of a word in a gloss",
            "<s> literal special tokens </s> inside", "UPPER case And Mixed 3.14159");

    @Test
    void spmVocabularyEncodesAsTheBuiltInTokenizer() throws Exception {
        Path root = Path.of("..").toAbsolutePath().normalize();
        Tokenizer json = Tokenizer.load(root.resolve("examples/default-model/tokenizer.json"));
        Tokenizer gguf = GgufVocab.load(GgufQuantTypesTest.fixture("vocab_spm.gguf"));
        assertEquals(json.vocabSize(), gguf.vocabSize());
        assertEquals(json.bosId(), gguf.bosId());
        assertEquals(json.eosId(), gguf.eosId());
        for (String t : TEXTS) {
            assertArrayEquals(json.encode(t), gguf.encode(t), t);
            assertEquals(json.decode(json.encode(t)), gguf.decode(gguf.encode(t)), t);
        }
        assertEquals(json.bosId(), gguf.encode("a")[0]); // add_bos_token
    }

    @Test
    void bpeVocabularyEncodesTokenizersJsCases() throws Exception {
        Path dir = Path.of(GgufVocabTest.class.getResource("/bytelevel").toURI());
        Tokenizer gguf = GgufVocab.load(GgufQuantTypesTest.fixture("vocab_bpe.gguf"));
        JsonObject f = JsonParser.parseString(Files.readString(dir.resolve("cases.json"), StandardCharsets.UTF_8))
                .getAsJsonObject();
        int n = 0;
        for (JsonElement e : f.getAsJsonArray("cases")) {
            JsonObject c = e.getAsJsonObject();
            String text = c.get("text").getAsString();
            assertArrayEquals(ids(c.getAsJsonArray("ids")), gguf.encode(text, false), text);
            assertArrayEquals(ids(c.getAsJsonArray("ids_with_bos")), gguf.encode(text), text);
            assertEquals(c.get("decoded").getAsString(), gguf.decode(gguf.encode(text, false)), text);
            n++;
        }
        assertTrue(n >= 5, n + " cases");
    }

    static int[] ids(JsonArray a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsInt();
        }
        return out;
    }
}
