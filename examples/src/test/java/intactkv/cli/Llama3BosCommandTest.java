package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.io.DType;
import intactkv.model.io.SafetensorsReader;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code dump --text} on a checkpoint whose LLaMA-3-style (byte-level) {@code tokenizer.json} has
 * no post-processor: [BOS] comes from {@code config.json}'s {@code bos_token_id} (or
 * {@code tokenizer_config.json}'s {@code bos_token}) and is prepended; it used to be refused with
 * "this tokenizer has no &lt;s&gt; token".
 */
class Llama3BosCommandTest {
    static final int BEGIN = 256;
    static final int END = 257;

    @TempDir
    Path dir;

    /** GPT-2's byte-to-character table: printable Latin-1 stands for itself, the rest from U+0100 on. */
    private static String byteChar(int b, int[] next) {
        boolean printable = b >= 33 && b <= 126 || b >= 161 && b <= 172 || b >= 174;
        return String.valueOf((char) (printable ? b : 256 + next[0]++));
    }

    /** A byte-level vocabulary (id = byte value, no merges) plus the two LLaMA-3 control tokens; no post-processor. */
    static Path model(Path target) throws Exception {
        JsonObject vocab = new JsonObject();
        int[] next = {0};
        for (int b = 0; b < 256; b++) {
            vocab.addProperty(byteChar(b, next), b);
        }
        vocab.addProperty("<|begin_of_text|>", BEGIN);
        vocab.addProperty("<|end_of_text|>", END);
        JsonArray added = new JsonArray();
        for (int id : new int[] {BEGIN, END}) {
            JsonObject a = new JsonObject();
            a.addProperty("id", id);
            a.addProperty("content", id == BEGIN ? "<|begin_of_text|>" : "<|end_of_text|>");
            a.addProperty("special", true);
            added.add(a);
        }
        JsonObject pre = new JsonObject();
        pre.addProperty("type", "ByteLevel");
        pre.addProperty("add_prefix_space", false);
        pre.addProperty("use_regex", true);
        JsonObject bpe = new JsonObject();
        bpe.addProperty("type", "BPE");
        bpe.add("vocab", vocab);
        bpe.add("merges", new JsonArray());
        JsonObject t = new JsonObject();
        t.add("added_tokens", added);
        t.add("normalizer", JsonNull.INSTANCE);
        t.add("pre_tokenizer", pre);
        t.add("post_processor", JsonNull.INSTANCE);
        t.add("model", bpe);
        LlamaConfig c = new LlamaConfig(16, 24, 4, 2, 2, 1e-5, 500000, 258, 512, true, BEGIN, END);
        LlamaWeights.random(c, 7, 0.3, true, false).save(target, DType.F32);
        Files.writeString(target.resolve("tokenizer.json"), t.toString());
        return target;
    }

    @Test
    void dumpTextPrependsTheConfigsBos() throws Exception {
        Path m = model(dir.resolve("llama3-like"));
        Path out = dir.resolve("d.safetensors");
        String[] r = MainTest.run("dump", "--model", m.toString(), "--text", "hi", "--out", out.toString());
        assertEquals("0", r[0], r[2]);
        try (SafetensorsReader f = SafetensorsReader.open(out)) {
            assertArrayEquals(new long[] {BEGIN, 'h', 'i'}, f.readLongs("input_ids"), "config.json's bos_token_id first");
        }
    }

    @Test
    void aTokenizerConfigNamingAnotherTokenIsRefusedBeforeTheModelRuns() throws Exception {
        Path m = model(dir.resolve("llama3-bad"));
        Files.writeString(m.resolve("tokenizer_config.json"), "{\"bos_token\": \"<s>\"}");
        Path out = dir.resolve("bad.safetensors");
        String[] r = MainTest.run("dump", "--model", m.toString(), "--text", "hi", "--out", out.toString());
        assertEquals("1", r[0], r[2]);
        assertTrue(r[2].contains("tokenizer_config.json") && r[2].contains("'bos_token' = \"<s>\" is not a token of"),
                r[2]);
        assertFalse(Files.exists(out), "no output file");
    }
}
