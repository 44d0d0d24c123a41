package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.GradMode;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.io.DType;
import intactkv.model.io.SafetensorsReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code generate} and {@code dump} end to end on a small random model with a byte-level tokenizer. */
class ModelCommandsTest {
    @TempDir
    static Path dir;
    static Path modelDir;

    @BeforeAll
    static void makeModel() throws Exception {
        // vocabulary: <unk>, <s>, </s>, the 256 byte tokens, then "▁", "a", "b", "ab"
        StringBuilder vocab = new StringBuilder("{\"<unk>\":0,\"<s>\":1,\"</s>\":2");
        for (int b = 0; b < 256; b++) {
            vocab.append(String.format(",\"<0x%02X>\":%d", b, 3 + b));
        }
        vocab.append(",\"\u2581\":259,\"a\":260,\"b\":261,\"ab\":262}");
        String json = "{\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true},"
                + "{\"id\":1,\"content\":\"<s>\",\"special\":true},{\"id\":2,\"content\":\"</s>\",\"special\":true}],"
                + "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\u2581\"}]},"
                + "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\"}}]},"
                + "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"byte_fallback\":true,\"vocab\":" + vocab
                + ",\"merges\":[\"a b\"]}}";
        modelDir = dir.resolve("tiny");
        LlamaConfig c = new LlamaConfig(16, 24, 4, 2, 2, 1e-5, 10000, 263, 512, true, 1, 2);
        LlamaWeights.random(c, 5, 0.3, true, false).save(modelDir, DType.F32);
        Files.writeString(modelDir.resolve("tokenizer.json"), json);
    }

    static String[] run(String... args) {
        CommandLine cl = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new String[] {String.valueOf(code), out.toString(), err.toString()};
    }

    @Test
    void dumpWritesWhatTheModelComputes() throws Exception {
        Path out = dir.resolve("dump.safetensors");
        String[] r = run("dump", "--model", modelDir.toString(), "--text", "ab a", "--out", out.toString());
        assertEquals("0", r[0], r[2]);
        LlamaModel m = new LlamaModel(LlamaWeights.load(modelDir, false));
        try (SafetensorsReader f = SafetensorsReader.open(out); GradMode.Scope s = GradMode.noGrad()) {
            long[] ids = f.readLongs("input_ids");
            assertArrayEquals(new long[] {1, 259, 262, 259, 260}, ids, "[BOS] ▁ ab ▁ a");
            LlamaModel.Output o = m.forward(new int[] {1, 259, 262, 259, 260}, null, LlamaModel.Options.WITH_HIDDEN);
            assertArrayEquals(o.logits().data().data(), f.read("logits").data(), 0.0);
            assertArrayEquals(o.hidden().get(1).data().data(), f.read("hidden.1").data(), 0.0);
            assertEquals(java.util.List.of("input_ids", "logits", "hidden.0", "hidden.1"), f.names());
        }
    }

    @Test
    void generateStreamsAndIsDeterministic() {
        String[] a = run("generate", "--model", modelDir.toString(), "--prompt", "ab", "--max-tokens", "5");
        String[] b = run("generate", "--model", modelDir.toString(), "--prompt", "ab", "--max-tokens", "5");
        assertEquals("0", a[0], a[2]);
        assertTrue(a[1].startsWith("ab"), a[1]);
        assertEquals(a[1], b[1]);
        assertTrue(a[2].contains("tokens, stopped at"), a[2]);
        String[] s = run("generate", "--model", modelDir.toString(), "--prompt", "ab", "--temperature", "0.8",
                "--seed", "3", "--chat");
        assertEquals("0", s[0], s[2]);
    }

    @Test
    void badInputGetsActionableErrors() {
        String[] missing = run("dump", "--model", dir.resolve("nope").toString(), "--tokens", "1", "--out", "x");
        assertEquals("1", missing[0]);
        assertTrue(missing[2].contains("does not exist"), missing[2]);
        String[] both = run("dump", "--model", modelDir.toString(), "--tokens", "1", "--text", "a", "--out", "x");
        assertEquals("2", both[0]);
        assertTrue(both[2].contains("mutually exclusive"), both[2]);
        Path never = dir.resolve("never.safetensors");
        String[] range = run("dump", "--model", modelDir.toString(), "--tokens", "1,999", "--out", never.toString());
        assertEquals("1", range[0]);
        assertTrue(range[2].contains("token id 999"), range[2]);
        assertFalse(Files.exists(never), "nothing written on failure");
    }
}
