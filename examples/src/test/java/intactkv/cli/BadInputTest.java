package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.io.DType;
import intactkv.model.io.FormatException;
import intactkv.prefix.IntactKvPrefix;
import intactkv.quant.QuantConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rows of the reliability issue's table, each as a test: bad flags and files are refused by
 * name, with exit code 1, before any work, and leave nothing behind (docs/RELIABILITY.md).
 */
class BadInputTest {
    @TempDir
    static Path dir;
    static Path model;
    static Path data;

    @BeforeAll
    static void fixtures() throws Exception {
        model = ModelCommandsTest.tinyModel(dir.resolve("tiny"));
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 200; i++) {
            text.append(i % 3 == 0 ? "ab a b\n" : "a ab b ab\n");
        }
        data = dir.resolve("data.txt");
        Files.writeString(data, text);
    }

    /** Runs a command, also capturing System.err (where progress bars go); {code, out, err, System.err}. */
    static String[] run(String... args) {
        PrintStream saved = System.err;
        ByteArrayOutputStream bars = new ByteArrayOutputStream();
        System.setErr(new PrintStream(bars, true, StandardCharsets.UTF_8));
        try {
            String[] r = MainTest.run(args);
            return new String[] {r[0], r[1], r[2], bars.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setErr(saved);
        }
    }

    static void assertRefused(String[] r, String... named) {
        assertEquals("1", r[0], "exit code; stderr: " + r[2]);
        for (String n : named) {
            assertTrue(r[2].contains(n), "message names " + n + ": " + r[2]);
        }
        assertFalse(r[2].contains("Exception"), "no exception class in the message: " + r[2]);
    }

    static String[] with(List<String> base, String... more) {
        List<String> a = new ArrayList<>(base);
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void calibrateFlagsAreNamedBeforeAnyWork() {
        Path out = dir.resolve("never-prefix.safetensors");
        List<String> base = List.of("calibrate", "--model", model.toString(), "--method", "rtn", "--group", "8",
                "--data", data.toString(), "--out", out.toString(), "--seqlen", "16");
        for (String[] c : new String[][] {{"--samples", "0"}, {"--steps", "-5"}, {"--lr", "-1"}, {"--clip", "0"},
            {"--warmup", "2"}, {"--accumulation", "0"}, {"--wbits", "9"}, {"--kvbits", "1"}, {"--prefix-dtype", "bf16"}}) {
            String[] r = run(with(base, c));
            assertRefused(r, c[0]);
            assertTrue(r[3].isEmpty(), "no progress (no work) before " + c[0] + ": " + r[3]);
            assertFalse(Files.exists(out));
        }
        List<String> toDir = new ArrayList<>(base);
        toDir.set(toDir.indexOf(out.toString()), dir.toString());
        assertRefused(run(toDir.toArray(String[]::new)), "--out", "is a directory");
    }

    @Test
    void pplChecksTheDataAndWindowsBeforeQuantizing() {
        String[] r = run("ppl", "--model", model.toString(), "--method", "rtn", "--wbits", "3", "--group", "8", "--data",
                data.toString(), "--seqlen", "100000");
        assertRefused(r, "--seqlen 100000");
        assertFalse(r[3].contains("rtn"), "refused before the quantizer ran: " + r[3]);
        assertRefused(run("ppl", "--model", model.toString(), "--method", "rtn", "--wbits", "9", "--data",
                data.toString()), "--wbits must be in 2..8");
        assertRefused(run("ppl", "--model", model.toString(), "--method", "rtn", "--group", "0", "--data",
                data.toString()), "--group");
    }

    /** {@code --context}: an unknown value, and a prefix file that is not a prefix of the prompt, refused before quantizing. */
    @Test
    void contextIsCheckedBeforeQuantizing() throws Exception {
        String[] r = run("ppl", "--model", model.toString(), "--method", "rtn", "--wbits", "3", "--group", "8", "--data",
                data.toString(), "--seqlen", "64", "--context", "system");
        assertRefused(r, "--context must be none or prompt: system");
        assertFalse(r[3].contains("rtn"), "refused before the quantizer ran: " + r[3]);
        LlamaModel fp = new LlamaModel(LlamaWeights.load(model, false));
        Path other = dir.resolve("other-prefix.safetensors");
        IntactKvPrefix.generate(fp, new int[] {1, 259, 262}).save(other);
        r = run("ppl", "--model", model.toString(), "--method", "rtn", "--wbits", "3", "--group", "8", "--data",
                data.toString(), "--seqlen", "64", "--context", "prompt", "--intactkv", other.toString());
        assertRefused(r, "--context prompt", "differ at token 2");
        assertFalse(r[3].contains("rtn"), "refused before the quantizer ran: " + r[3]);
    }

    @Test
    void theoryReportAndDemoRefuseBadFlagsAndLeaveNoFolder() {
        Path out = dir.resolve("never-report");
        assertRefused(run("theory-report", "--heads", "0", "--out", out.toString()), "--heads");
        assertRefused(run("theory-report", "--kvbits", "1", "--out", out.toString()), "--kvbits");
        assertFalse(Files.exists(out));
        Path demo = dir.resolve("never-demo");
        for (String[] c : new String[][] {{"--cal-steps", "-5"}, {"--cal-lr", "0"}, {"--seqlen", "2"},
            {"--eval-windows", "0"}, {"--calib-samples", "0"}}) {
            String[] r = run(with(List.of("demo", "--out", demo.toString()), c));
            assertRefused(r, c[0]);
            assertTrue(r[1].isEmpty() && r[3].isEmpty(), "no work before refusing " + c[0] + ": " + r[1] + r[3]);
        }
        assertFalse(Files.exists(demo));
    }

    @Test
    void outputsThatAreFilesAreNamed() throws Exception {
        Path file = dir.resolve("a-file");
        Files.writeString(file, "x");
        assertRefused(run("quantize", "--model", model.toString(), "--method", "rtn", "--wbits", "3", "--group", "8",
                "--out", file.toString()), "--out", "is a file");
        assertRefused(run("analyze", "--model", model.toString(), "--text", "ab", "--out", file.toString()), "--out",
                "not a directory");
        assertRefused(run("quantize", "--model", model.toString(), "--method", "rtn", "--dtype", "i64", "--out",
                dir.resolve("q").toString()), "--dtype");
        assertEquals("x", Files.readString(file));
    }

    /** config.json and quant_config.json fields of the wrong type, null or too large are named. */
    @Test
    void configFieldsAreNamed() throws Exception {
        String valid = Files.readString(model.resolve("config.json"));
        Path f = dir.resolve("config.json");
        String[][] cases = {{"\"num_attention_heads\": 4", "\"num_attention_heads\": true", "num_attention_heads"},
            {"\"rms_norm_eps\": 1.0E-5", "\"rms_norm_eps\": null", "rms_norm_eps"},
            {"\"vocab_size\": 263", "\"vocab_size\": 1000000000000", "vocab_size' = 1000000000000 is outside"}};
        for (String[] c : cases) {
            assertTrue(valid.contains(c[0]), c[0] + " in " + valid);
            Files.writeString(f, valid.replace(c[0], c[1]));
            FormatException e = assertThrows(FormatException.class, () -> LlamaConfig.read(f));
            assertTrue(e.getMessage().startsWith(f.toString()) && e.getMessage().contains(c[2]), e.getMessage());
        }
        Path q = dir.resolve("quant_config.json");
        QuantConfig.w3g128().write(q);
        String qv = Files.readString(q);
        Files.writeString(q, qv.replace("\"wbits\": 3", "\"wbits\": \"three\""));
        FormatException e = assertThrows(FormatException.class, () -> QuantConfig.read(q));
        assertTrue(e.getMessage().contains("'wbits' must be an integer, got \"three\""), e.getMessage());
        com.google.gson.JsonObject o = com.google.gson.JsonParser.parseString(qv).getAsJsonObject();
        o.remove("kv_cache");
        Files.writeString(q, o.toString());
        e = assertThrows(FormatException.class, () -> QuantConfig.read(q));
        assertTrue(e.getMessage().contains("missing field 'kv_cache'"), e.getMessage());
    }

    @Test
    void nonFiniteNumbersAreRefusedWhereTheyEnter() throws Exception {
        // a NaN in a weight: refused at load, naming the tensor
        Path nan = dir.resolve("nan-model");
        LlamaWeights w = LlamaWeights.load(model, true); // as doubles, to write into (inference keeps F32, read-only)
        w.block(1).v().data().data()[3] = Double.NaN;
        w.save(nan, DType.F32);
        Files.copy(model.resolve("tokenizer.json"), nan.resolve("tokenizer.json"));
        assertRefused(run("ppl", "--model", nan.toString(), "--data", data.toString(), "--seqlen", "32"),
                "model.layers.1.self_attn.v_proj.weight", "NaN");
        // a NaN in a prefix file, and prefix ids outside the vocabulary
        LlamaModel m = new LlamaModel(LlamaWeights.load(model, false));
        IntactKvPrefix p = IntactKvPrefix.bos(m);
        Path bad = dir.resolve("nan-prefix.safetensors");
        p.keys().get(1).data()[0] = Double.POSITIVE_INFINITY;
        p.save(bad);
        assertRefused(run("ppl", "--model", model.toString(), "--data", data.toString(), "--seqlen", "32", "--intactkv",
                bad.toString()), bad.toString(), "'k.1'", "Infinity");
        Path ids = dir.resolve("bad-ids.safetensors");
        new IntactKvPrefix(new int[] {999}, IntactKvPrefix.bos(m).keys(), IntactKvPrefix.bos(m).values(),
                IntactKvPrefix.bos(m).logits()).save(ids);
        assertRefused(run("ppl", "--model", model.toString(), "--data", data.toString(), "--seqlen", "32", "--intactkv",
                ids.toString()), "'prefix_ids'", "999");
        // finite weights whose perplexity overflows: a non-zero exit naming the window
        Path huge = dir.resolve("huge-model");
        LlamaWeights h = LlamaWeights.load(model, false);
        java.util.Arrays.fill(h.norm().data().data(), 1e308); // logits overflow to infinity

        h.save(huge, DType.F64);
        Files.copy(model.resolve("tokenizer.json"), huge.resolve("tokenizer.json"));
        assertRefused(run("ppl", "--model", huge.toString(), "--data", data.toString(), "--seqlen", "32"), "window 0",
                "non-finite");
    }

    @Test
    void evalChecksEveryItemBeforeScoring() throws Exception {
        Path f = dir.resolve("items.jsonl");
        String good = "{\"context\": \"ab a\", \"choices\": [\" b\", \" ab\"], \"label\": 1}";
        String tooLong = "{\"context\": \"" + "ab ".repeat(400) + "\", \"choices\": [\" b\", \" a\"], \"label\": 0}";
        Files.writeString(f, good + "\n" + good + "\n" + tooLong + "\n");
        String[] r = run("eval", "--model", model.toString(), "--tasks", f.toString());
        assertRefused(r, f + ":3", "more than the model's context of 512");
        assertTrue(r[3].isEmpty(), "nothing scored: " + r[3]);
        Files.writeString(f, good + "\n{\"context\": \"a\", \"choices\": [\" b\"], \"label\": 0}\n");
        assertRefused(run("eval", "--model", model.toString(), "--tasks", f.toString()), f + ":2", "at least 2 choices");
        assertRefused(run("eval", "--model", model.toString(), "--tasks", f.toString(), "--shots", "-1"), "--shots");
        // a valid file is scored: acc is 0, 0.5 or 1 for two identical items
        Files.writeString(f, good + "\n" + good + "\n");
        r = run("eval", "--model", model.toString(), "--tasks", f.toString(), "--json");
        assertEquals("0", r[0], r[2]);
        com.google.gson.JsonObject o = com.google.gson.JsonParser.parseString(r[1]).getAsJsonObject();
        double acc = o.getAsJsonArray("results").get(0).getAsJsonObject().get("acc").getAsDouble();
        assertTrue(acc == 0 || acc == 1, r[1]);
    }

    @Test
    void undecodableCommandLineTextIsRefused() {
        String m = Main.undecodableArguments(new String[] {"--text", "caf\uFFFD"}, "ANSI_X3.4-1968");
        assertNotNull(m);
        assertTrue(m.contains("ANSI_X3.4-1968") && m.contains("C.UTF-8"), m);
        assertNull(Main.undecodableArguments(new String[] {"--text", "caf\uFFFD"}, "UTF-8"));
        assertNull(Main.undecodableArguments(new String[] {"--text", "cafe"}, "ANSI_X3.4-1968"));
    }
}
