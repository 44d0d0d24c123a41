package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.GradMode;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.io.DType;
import intactkv.model.io.SafetensorsReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code generate} and {@code dump} end to end on a small random model with a byte-level tokenizer. */
class ModelCommandsTest {
    @TempDir
    static Path dir;
    static Path modelDir;

    @BeforeAll
    static void makeModel() throws Exception {
        modelDir = tinyModel(dir.resolve("tiny"));
    }

    /**
     * Writes a small random model with a byte-level tokenizer into {@code target} (also used by
     * {@link BadInputTest}).
     */
    static Path tinyModel(Path target) throws Exception {
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
        LlamaConfig c = new LlamaConfig(16, 24, 4, 2, 2, 1e-5, 10000, 263, 512, true, 1, 2);
        LlamaWeights.random(c, 5, 0.3, true, false).save(target, DType.F32);
        Files.writeString(target.resolve("tokenizer.json"), json);
        return target;
    }

    static String[] run(String... args) {
        return MainTest.run(args);
    }

    /** What ppl's command tests run on: {@link #tinyModel} in {@code dir}/tiny and 40 short lines of its text. */
    record TinyRun(Path model, Path data) {
        static TinyRun write(Path dir) throws Exception {
            System.setProperty("intactkv.home", Path.of("..").toAbsolutePath().normalize().toString());
            Path data = dir.resolve("data.txt");
            Files.writeString(data, "ab a b ab ba b a ab\n".repeat(40));
            return new TinyRun(tinyModel(dir.resolve("tiny")), data);
        }
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
    void quantizeWritesACheckpointThatDumpRuns() throws Exception {
        Path calib = dir.resolve("calib.txt");
        Files.writeString(calib, "ab a b ab ba ".repeat(400));
        Path q = dir.resolve("q-gptq");
        String[] r = run("quantize", "--model", modelDir.toString(), "--method", "gptq", "--wbits", "3", "--group", "8",
                "--calib", calib.toString(), "--calib-samples", "4", "--calib-seqlen", "32", "--out", q.toString());
        assertEquals("0", r[0], r[2]);
        assertTrue(r[1].contains("gptq w3g8 a16 kv16"), r[1]);
        assertTrue(Files.isRegularFile(q.resolve("quant_config.json")) && Files.isRegularFile(q.resolve("tokenizer.json")));
        Path out = dir.resolve("qdump.safetensors");
        String[] d = run("dump", "--model", modelDir.toString(), "--quantized", q.toString(), "--kvbits", "4",
                "--tokens", "1,260,261", "--out", out.toString());
        assertEquals("0", d[0], d[2]);
        var loaded = intactkv.quant.QuantizedModel.load(q, LlamaWeights.load(modelDir, false), null, 4);
        try (SafetensorsReader f = SafetensorsReader.open(out); GradMode.Scope s = GradMode.noGrad()) {
            assertArrayEquals(loaded.model().forward(new int[] {1, 260, 261}, null, LlamaModel.Options.LOGITS)
                    .logits().data().data(), f.read("logits").data(), 0.0);
        }
        // a quant_config.json that disagrees with the weights
        Files.writeString(q.resolve("quant_config.json"),
                Files.readString(q.resolve("quant_config.json")).replace("\"wbits\": 3", "\"wbits\": 2"));
        String[] bad = run("dump", "--model", modelDir.toString(), "--quantized", q.toString(), "--tokens", "1",
                "--out", dir.resolve("never2.safetensors").toString());
        assertEquals("1", bad[0]);
        assertTrue(bad[2].contains("model.layers.0") && bad[2].contains("2-bit"), bad[2]);
        // QuaRot W4A4KV4 on the fly (d_ff 24 = 12 * 2: the online transform uses Paley's H_12)
        String[] qr = run("dump", "--model", modelDir.toString(), "--method", "quarot", "--calib", calib.toString(),
                "--calib-samples", "2", "--calib-seqlen", "16", "--group", "-1", "--tokens", "1,260", "--out",
                dir.resolve("quarot.safetensors").toString());
        assertEquals("0", qr[0], qr[2]);
    }

    @Test
    void pplCalibrateAndDumpWithIntactKv() throws Exception {
        Path data = dir.resolve("eval.txt");
        Files.writeString(data, "ab a b ab ba\nb a ab\n".repeat(60));
        String[] base = run("ppl", "--model", modelDir.toString(), "--data", data.toString(), "--seqlen", "32",
                "--method", "rtn", "--wbits", "3", "--group", "8", "--json");
        assertEquals("0", base[0], base[2]);
        String[] withB = run("ppl", "--model", modelDir.toString(), "--data", data.toString(), "--seqlen", "32",
                "--method", "rtn", "--wbits", "3", "--group", "8", "--intactkv", "bos", "--json");
        assertEquals("0", withB[0], withB[2]);
        com.google.gson.JsonObject a = com.google.gson.JsonParser.parseString(base[1]).getAsJsonObject();
        com.google.gson.JsonObject b = com.google.gson.JsonParser.parseString(withB[1]).getAsJsonObject();
        assertEquals(a.get("windows").getAsInt(), b.get("windows").getAsInt());
        assertTrue(a.get("ppl").getAsDouble() > 1 && b.get("ppl").getAsDouble() > 1);
        // full precision: IntactKV_[B] changes nothing
        String[] fp = run("ppl", "--model", modelDir.toString(), "--data", data.toString(), "--seqlen", "32", "--json");
        String[] fpB = run("ppl", "--model", modelDir.toString(), "--data", data.toString(), "--seqlen", "32",
                "--intactkv", "bos", "--json");
        double p0 = com.google.gson.JsonParser.parseString(fp[1]).getAsJsonObject().get("ppl").getAsDouble();
        double p1 = com.google.gson.JsonParser.parseString(fpB[1]).getAsJsonObject().get("ppl").getAsDouble();
        assertEquals(p0, p1, 1e-9 * p0);
        // KL to full precision beside perplexity: positive for the quantized model, absent for full precision
        assertTrue(a.get("kl_to_fp").getAsDouble() > 0 && a.has("kl_to_fp_stderr"), base[1]);
        assertFalse(com.google.gson.JsonParser.parseString(fp[1]).getAsJsonObject().has("kl_to_fp"), fp[1]);
        // --context prompt: the [P] baseline and IntactKV_[P] score the same windows after the same prompt
        String[] ctx = run("ppl", "--model", modelDir.toString(), "--data", data.toString(), "--seqlen", "200",
                "--method", "rtn", "--wbits", "3", "--group", "8", "--context", "prompt", "--json");
        String[] ctxP = run("ppl", "--model", modelDir.toString(), "--data", data.toString(), "--seqlen", "200",
                "--method", "rtn", "--wbits", "3", "--group", "8", "--context", "prompt", "--intactkv", "prompt", "--json");
        assertEquals("0", ctx[0], ctx[2]);
        assertEquals("0", ctxP[0], ctxP[2]);
        com.google.gson.JsonObject c0 = com.google.gson.JsonParser.parseString(ctx[1]).getAsJsonObject();
        com.google.gson.JsonObject c1 = com.google.gson.JsonParser.parseString(ctxP[1]).getAsJsonObject();
        assertEquals("prompt", c0.get("context").getAsString());
        assertEquals(c0.get("scored_tokens").getAsLong(), c1.get("scored_tokens").getAsLong());
        assertTrue(c0.get("ppl").getAsDouble() != c1.get("ppl").getAsDouble(), "the prompt's KV differs: " + ctx[1]);

        Path prefix = dir.resolve("prefix.safetensors");
        String[] cal = run("calibrate", "--model", modelDir.toString(), "--method", "rtn", "--wbits", "3", "--group", "8",
                "--data", data.toString(), "--intactkv", "bos", "--samples", "4", "--seqlen", "24", "--steps", "6",
                "--accumulation", "2", "--lr", "1e-2", "--out", prefix.toString());
        assertEquals("0", cal[0], cal[2]);
        assertTrue(cal[1].contains("loss") && Files.isRegularFile(prefix), cal[1]);
        String[] withFile = run("ppl", "--model", modelDir.toString(), "--data", data.toString(), "--seqlen", "32",
                "--method", "rtn", "--wbits", "3", "--group", "8", "--intactkv", prefix.toString());
        assertEquals("0", withFile[0], withFile[2]);

        Path chat = dir.resolve("chat.jsonl");
        // answers of 60 tokens: the official selection keeps conversations with more than 50
        Files.writeString(chat, ("{\"conversations\": [{\"from\": \"human\", \"value\": \"ab\"},"
                + " {\"from\": \"gpt\", \"value\": \"" + "b a ab ".repeat(10).strip() + "\"}]}\n").repeat(3));
        String[] calChat = run("calibrate", "--model", modelDir.toString(), "--method", "rtn", "--wbits", "3", "--group",
                "8", "--data", chat.toString(), "--samples", "3", "--seqlen", "400", "--steps", "2", "--accumulation", "1",
                "--out", dir.resolve("prefix-p.safetensors").toString());
        assertEquals("0", calChat[0], calChat[2]);

        Path out = dir.resolve("dump-ikv.safetensors");
        String[] d = run("dump", "--model", modelDir.toString(), "--method", "rtn", "--wbits", "3", "--group", "8",
                "--intactkv", "bos", "--tokens", "1,260,261,259", "--out", out.toString());
        assertEquals("0", d[0], d[2]);
        try (SafetensorsReader f = SafetensorsReader.open(out)) {
            assertEquals(intactkv.tensor.Shape.of(4, 263), f.entry("logits").shape());
            assertEquals(intactkv.tensor.Shape.of(3, 16), f.entry("hidden.0").shape());
        }
        String[] longPrefix = run("ppl", "--model", modelDir.toString(), "--data", data.toString(), "--seqlen", "3",
                "--intactkv", "prompt");
        assertEquals("1", longPrefix[0]);
        assertTrue(longPrefix[2].contains("--seqlen 3"), longPrefix[2]);
    }

    @Test
    void analyzeWritesPlotsAndJson() throws Exception {
        Path out = dir.resolve("analysis");
        String[] r = run("analyze", "--model", modelDir.toString(), "--text", "ab a b ab ba b a ab ba ab a b",
                "--out", out.toString(), "--max-prefix", "3", "--from-query", "4", "--method", "rtn", "--wbits", "3",
                "--group", "8");
        assertEquals("0", r[0], r[2]);
        assertTrue(r[1].contains("mean attention on [BOS]") && r[1].contains("size 3"), r[1]);
        for (String f : new String[] {"activations_layer0.png", "attention_layer1.png", "attention_on_bos.png",
            "mse_vs_intactkv_size.png"}) {
            byte[] png = Files.readAllBytes(out.resolve(f));
            assertTrue(png.length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', f);
        }
        var json = com.google.gson.JsonParser.parseString(Files.readString(out.resolve("analysis.json"))).getAsJsonObject();
        assertEquals(4, json.getAsJsonArray("last_layer_mse_by_intactkv_size").size());
        String[] bad = run("analyze", "--model", modelDir.toString(), "--text", "ab a b", "--out", out.toString(),
                "--from-query", "1", "--max-prefix", "1", "--layers", "7");
        assertEquals("1", bad[0]);
        assertTrue(bad[2].contains("layer 7"), bad[2]);
        // a text file (lines joined with "\n\n", as ppl --data) cut to its first tokens
        Path text = dir.resolve("analyze-text.txt");
        Files.writeString(text, "ab a b ab ba\nb a ab ba ab a b\nba ab a\n");
        Path out2 = dir.resolve("analysis2");
        String[] f = run("analyze", "--model", modelDir.toString(), "--text-file", text.toString(), "--max-tokens", "20",
                "--out", out2.toString(), "--max-prefix", "2", "--from-query", "10");
        assertEquals("0", f[0], f[2]);
        assertTrue(f[1].contains("text: 20 tokens"), f[1]);
        // out-of-range flags are named before any work, and no folder is left behind
        for (String[] c : new String[][] {{"--max-prefix", "-3"}, {"--from-query", "-1"}, {"--max-tokens", "-2"}}) {
            Path never = dir.resolve("never-analysed");
            String[] e = run("analyze", "--model", modelDir.toString(), "--text", "ab", "--out", never.toString(), c[0],
                    c[1]);
            assertEquals("1", e[0], e[2]);
            assertTrue(e[2].contains(c[0]), e[2]);
            assertFalse(Files.exists(never), c[0]);
        }
    }

    @Test
    void demoRunsEndToEndOnASmallModel() throws Exception {
        Path out = dir.resolve("demo");
        // the byte-level test tokenizer makes IntactKV_[P] 162 tokens long: windows must be longer
        String[] r = run("demo", "--model", modelDir.toString(), "--out", out.toString(), "--seqlen", "180",
                "--eval-windows", "2", "--calib-samples", "2", "--cal-steps", "1");
        assertEquals("0", r[0], r[2]);
        assertTrue(r[1].contains("| FP ") && r[1].contains("| QUAROT ") && r[1].contains("[P]+Cal"), r[1]);
        var json = com.google.gson.JsonParser.parseString(Files.readString(out.resolve("results.json"))).getAsJsonObject();
        assertEquals(25, json.getAsJsonArray("table").size()); // 21 + llama.cpp's Q4_K_M and Q3_K_M, none and [B]
        // the generation-fidelity table: RTN, GPTQ, AWQ W3, QuaRot and KV4, each none and [B]
        assertEquals(10, json.getAsJsonObject("generation_fidelity").getAsJsonArray("table").size());
        assertTrue(Files.size(out.resolve("fig2_mse_vs_intactkv_size.png")) > 1000);
        // results.json and every figure name the command, the model's hashes and the input
        var prov = json.getAsJsonObject("provenance");
        assertTrue(prov.get("command").getAsString().startsWith("intactkv demo --model"), prov.toString());
        assertTrue(prov.getAsJsonObject("model").getAsJsonObject("sha256").has("model.safetensors"), prov.toString());
        assertEquals("corpus", json.getAsJsonObject("figures_input").get("kind").getAsString());
        assertTrue(intactkv.figure.Png.readText(out.resolve("fig1_attention_layer1.png")).get("Command")
                .startsWith("intactkv demo"));
        // every IntactKV row whose quantized baseline lost perplexity reports the share it recovered
        var table = json.getAsJsonArray("table");
        for (int i = 0; i < table.size(); i++) {
            var row = table.get(i).getAsJsonObject();
            if (row.get("intactkv").getAsString().equals("[B]")) {
                double base = table.get(i - 1).getAsJsonObject().get("ppl").getAsDouble();
                double fp = table.get(0).getAsJsonObject().get("ppl").getAsDouble();
                if (base > fp) {
                    assertEquals((base - row.get("ppl").getAsDouble()) / (base - fp),
                            row.get("gap_recovered").getAsDouble(), 1e-12, row.toString());
                }
                assertTrue(row.has("kl_difference_stderr") && row.get("kl_to_fp").getAsDouble() >= 0, row.toString());
            }
            if (row.get("intactkv").getAsString().startsWith("[P]")) {
                // [P] rows are paired with the quantized model that sees the same prompt, and FP with the prompt
                assertEquals("prompt", row.get("context").getAsString(), row.toString());
                assertTrue(row.has("kl_recovered"), row.toString());
            }
        }
    }

    @Test
    void recoveredShareIsThePaperMeasure() {
        // LLaMA-2-7B C4 W3 g128 RTN: 8.97 -> 8.61 with IntactKV_[B], FP 7.28
        assertEquals(0.2130, DemoCommand.recoveredShare(8.97, 8.61, 7.28), 1e-4);
        assertEquals(-0.5, DemoCommand.recoveredShare(10, 11, 8), 1e-15);
        assertTrue(Double.isNaN(DemoCommand.recoveredShare(7.0, 7.0, 7.28)));
    }

    @Test
    void demoListsAreFormattedValueByValue() {
        assertEquals("[0.021, 0.843]", DemoCommand.formatted(new double[] {0.02109830300136508, 0.8430900913131321}, "%.3f"));
        assertEquals("[9.547e-04]", DemoCommand.formatted(new double[] {9.546994173009282E-4}, "%.3e"));
        assertEquals("[]", DemoCommand.formatted(new double[0], "%.3f"));
    }

    /** The committed built-in model passes its checksums and runs as {@code --model default}. */
    @Test
    void builtInModelIsIntactAndRuns() throws Exception {
        System.setProperty("intactkv.home", Path.of("..").toAbsolutePath().normalize().toString());
        DefaultModel.verify(DefaultModel.dir());
        Path out = dir.resolve("default-dump.safetensors");
        String[] r = run("dump", "--model", "default", "--text", "a small dog", "--out", out.toString());
        assertEquals("0", r[0], r[2]);
        try (SafetensorsReader f = SafetensorsReader.open(out)) {
            int layers = LlamaConfig.read(DefaultModel.dir().resolve("config.json")).numHiddenLayers();
            assertEquals(6, layers, "the built-in model of docs/DEFAULT_MODEL.md has six layers");
            assertEquals(layers, f.names().stream().filter(n -> n.startsWith("hidden.")).count());
        }
    }

    @Test
    void corruptedBuiltInModelIsDetected() throws Exception {
        Path d = dir.resolve("builtin");
        Files.createDirectories(d);
        for (String f : DefaultModel.FILES) {
            Files.copy(modelDir.resolve(f), d.resolve(f));
        }
        DefaultModel.writeChecksums(d);
        DefaultModel.verify(d);
        byte[] b = Files.readAllBytes(d.resolve("model.safetensors"));
        b[b.length - 1] ^= 1;
        Files.write(d.resolve("model.safetensors"), b);
        java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                () -> DefaultModel.verify(d));
        assertTrue(e.getMessage().contains("corrupted") && e.getMessage().contains("git checkout"), e.getMessage());
        b[b.length - 1] ^= 1;
        Files.write(d.resolve("model.safetensors"), b);
        DefaultModel.verify(d);
        Files.delete(d.resolve("tokenizer.json"));
        e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class, () -> DefaultModel.verify(d));
        assertTrue(e.getMessage().contains("missing"), e.getMessage());
    }

    @Test
    void calibrationDataErrors() throws Exception {
        Path empty = dir.resolve("empty.txt");
        Files.writeString(empty, "  \n");
        Path latin1 = dir.resolve("latin1.txt");
        Files.write(latin1, new byte[] {(byte) 0xE9, 't', (byte) 0xE9});
        for (Path p : new Path[] {empty, latin1, dir.resolve("missing.txt")}) {
            String[] r = run("quantize", "--model", modelDir.toString(), "--method", "awq", "--calib", p.toString(),
                    "--out", dir.resolve("never-q").toString());
            assertEquals("1", r[0], r[2]);
            assertTrue(r[2].contains(p.toString()), r[2]);
        }
        assertFalse(Files.exists(dir.resolve("never-q")));
        String[] noMethod = run("quantize", "--model", modelDir.toString(), "--out", dir.resolve("never-q").toString());
        assertTrue(noMethod[2].contains("--method"), noMethod[2]);
    }

    /** Out-of-range training flags are rejected by name before a tokenizer is trained or a file written. */
    @Test
    void trainRejectsBadFlagsBeforeWritingAnything() {
        String[][] cases = {{"--backcopy-fraction", "1.5"}, {"--warmup", "5000"}, {"--backcopy-triggers", "0"},
            {"--lr", "-1"}, {"--dim", "7", "--heads", "2"}, {"--heads", "8", "--kv-heads", "3"},
            {"--dim", "24", "--heads", "8"}, {"--layers", "0"}, {"--ffn", "0"}, {"--vocab", "100"},
            {"--schedule", "linear"}, {"--isolate-fraction", "1.5"}, {"--hide-separators", "-0.5"},
            {"--qk-weight-decay", "-1"}};
        for (String[] c : cases) {
            Path out = dir.resolve("never-trained");
            List<String> args = new java.util.ArrayList<>(List.of("train", "--out", out.toString()));
            args.addAll(List.of(c));
            String[] r = run(args.toArray(String[]::new));
            assertEquals("1", r[0], r[2]);
            assertTrue(r[2].contains(c[0]), r[2]);
            assertFalse(Files.exists(out), "nothing written for " + String.join(" ", c));
        }
        // an --out that is a file is named before any work
        Path file = dir.resolve("a-file");
        assertDoesNotThrow(() -> Files.writeString(file, "x"));
        String[] r = run("train", "--out", file.toString());
        assertEquals("1", r[0], r[2]);
        assertTrue(r[2].contains("--out") && r[2].contains("not a directory"), r[2]);
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
