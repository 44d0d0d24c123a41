package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.Perplexity;
import intactkv.prefix.PrefixedModel;
import intactkv.quant.ModelQuantizer;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ppl --method rtn --intactkv bos --no-kl} takes IntactKV's prefix from the full-precision model, then
 * quantizes it releasing its layers (issue 27, item 4): the perplexity is the one of keeping both models, bit for
 * bit, and the one the library computes with the twin of {@link QuantizedModel#quantize}. With KL asked for and
 * both models too large for the heap, the refusal names --no-kl, before any weight is read.
 */
class PplReleasingTest {
    @TempDir
    static Path dir;
    static Path model;
    static Path data;

    @BeforeAll
    static void setUp() throws Exception {
        ModelCommandsTest.TinyRun tiny = ModelCommandsTest.TinyRun.write(dir);
        model = tiny.model();
        data = tiny.data();
    }

    private static JsonObject ppl(String... extra) {
        List<String> args = new java.util.ArrayList<>(List.of("ppl", "--model", model.toString(), "--data",
                data.toString(), "--seqlen", "32", "--method", "rtn", "--wbits", "3", "--group", "8", "--intactkv", "bos",
                "--json"));
        args.addAll(List.of(extra));
        String[] r = MainTest.run(args.toArray(String[]::new));
        assertEquals("0", r[0], r[2]);
        return JsonParser.parseString(r[1]).getAsJsonObject();
    }

    @Test
    void releasingGivesTheSamePerplexityBitForBit() throws Exception {
        JsonObject keep = ppl("--kl");
        JsonObject release = ppl("--no-kl");
        assertTrue(keep.has("kl_to_fp"));
        assertFalse(release.has("kl_to_fp"));
        assertEquals(keep.get("ppl").getAsDouble(), release.get("ppl").getAsDouble(), 0.0);
        assertEquals(keep.get("mean_nll").getAsDouble(), release.get("mean_nll").getAsDouble(), 0.0);
        assertEquals(keep.get("windows").getAsInt(), release.get("windows").getAsInt());
        // the library's path: the quantized model with the prefix of its twin (the full-precision model)
        LlamaWeights fp = LlamaWeights.load(model, false);
        Tokenizer tok = ModelDir.tokenizer(model);
        QuantizedModel q = QuantizedModel.quantize(fp, QuantConfig.rtn(3, 8), null, ModelQuantizer.Progress.NONE);
        int[] tokens = Perplexity.tokenize(tok, Files.readString(data).lines().toList());
        Perplexity.Result r = Perplexity.evaluate(new PrefixedModel(q.model(), IntactKvPrefix.bos(q.twin())), null,
                tokens, 32, fp.config().bosTokenId(), d -> { });
        assertEquals(r.ppl(), release.get("ppl").getAsDouble(), 0.0);
    }

    /**
     * eval has no KL, so RTN on the fly always releases the full-precision model after the prefix: its results are
     * those of the same weights loaded from a packed checkpoint with {@code --quantized} (which, since session 13,
     * also takes the prefix from the full-precision model and then releases it: the two release paths agree).
     */
    @Test
    void evalReleasingAgreesWithTheCheckpointThatKeepsTheTwin() throws Exception {
        Path q = dir.resolve("q-rtn");
        String[] w = MainTest.run("quantize", "--model", model.toString(), "--method", "rtn", "--wbits", "3", "--group", "8",
                "--out", q.toString());
        assertEquals("0", w[0], w[2]);
        String[] released = MainTest.run("eval", "--model", model.toString(), "--method", "rtn", "--wbits", "3", "--group",
                "8", "--intactkv", "bos", "--builtin", "gloss", "--limit", "12", "--json");
        String[] kept = MainTest.run("eval", "--model", model.toString(), "--quantized", q.toString(), "--intactkv", "bos",
                "--builtin", "gloss",
                "--limit", "12", "--json");
        assertEquals("0", released[0], released[2]);
        assertEquals("0", kept[0], kept[2]);
        assertEquals(JsonParser.parseString(kept[1]).getAsJsonObject().get("results"),
                JsonParser.parseString(released[1]).getAsJsonObject().get("results"));
    }

    /**
     * Every command that reads weights refuses a model that cannot fit before reading any of them: one line with the
     * terms, the heap and INTACTKV_JAVA_OPTS, no stack trace, nothing written (the 70B-shaped header of
     * {@link SparseCheckpoint}: 137 GB of BF16 weights, more than any test machine's heap).
     */
    @Test
    void everyCommandThatReadsWeightsRefusesBeforeReading() throws Exception {
        Path ckpt = big();
        Path text = dir.resolve("long.txt");
        Path questions = Files.writeString(dir.resolve("big-questions.jsonl"), MtBenchCommandTest.Q1 + "\n");
        String m = ckpt.toString();
        String[][] commands = {
            {"ppl", "--model", m, "--data", text.toString(), "--seqlen", "128"},
            {"ppl", "--model", m, "--data", text.toString(), "--seqlen", "128", "--method", "rtn", "--no-kl"},
            {"eval", "--model", m, "--builtin", "gloss", "--limit", "2"},
            {"dump", "--model", m, "--text", "ab a", "--out", dir.resolve("big-dump.safetensors").toString()},
            {"analyze", "--model", m, "--text", "ab a b ".repeat(20), "--out", dir.resolve("big-analyze").toString()},
            {"calibrate", "--model", m, "--method", "rtn", "--intactkv", "bos", "--data", text.toString(), "--samples", "2",
                "--seqlen", "16", "--out", dir.resolve("big-prefix.safetensors").toString()},
            {"quantize", "--model", m, "--method", "rtn", "--wbits", "3", "--out", dir.resolve("big-q").toString()},
            {"generate", "--model", m, "--prompt", "ab a", "--max-tokens", "4"},
            {"generate", "--model", m, "--prompt", "ab a", "--max-tokens", "4", "--method", "rtn", "--intactkv", "bos"},
            {"mtbench", "--model", m, "--questions", questions.toString(), "--max-new-tokens", "4", "--model-id", "big",
                "--out", dir.resolve("big-answers.jsonl").toString()},
            {"gen-fidelity", "--model", m, "--kvbits", "4", "--data", text.toString(), "--prompts", "2",
                "--prompt-words", "3", "--max-tokens", "4"},
        };
        for (String[] c : commands) {
            String[] r = MainTest.run(c);
            String line = r[2].strip();
            assertEquals("1", r[0], String.join(" ", c) + ": " + r[1] + r[2]);
            assertEquals(1, line.lines().count(), line);
            // calibrate words its backward bound as before (the weights of the plan are one of its sums)
            assertTrue(line.startsWith("intactkv " + c[0] + ": error: ") && (c[0].equals("calibrate")
                    || line.contains("full-precision weights (BF16")) && line.contains(" needs at least ")
                    && line.contains("INTACTKV_JAVA_OPTS=-Xmx"), line);
            assertFalse(line.contains("Exception"), line);
            // the scoring commands name the layer-by-layer order and what it needs (a 70B layer, not the model)
            if (c[0].equals("ppl") || c[0].equals("eval")) {
                assertTrue(line.contains("or add --layer-by-layer (one decoder layer in memory at a time, the same"
                        + " numbers: needs "), line);
            }
        }
        for (String out : new String[] {"big-dump.safetensors", "big-analyze", "big-prefix.safetensors", "big-q",
            "big-answers.jsonl"}) {
            assertFalse(Files.exists(dir.resolve(out)), out + " was not written");
        }
    }

    /** A 70B-shaped checkpoint header (vocabulary 1024: the built-in tokenizer SparseCheckpoint copies must fit it). */
    private static Path big() throws Exception {
        Path ckpt = dir.resolve("l70b");
        if (!Files.isDirectory(ckpt)) {
            SparseCheckpoint.write(ckpt, new LlamaConfig(8192, 28672, 64, 8, 80, 1e-5, 10000, 1024, 4096, false, 1, 2));
            Files.writeString(dir.resolve("long.txt"), "ab a b ab ba b a ab\n".repeat(200));
        }
        return ckpt;
    }

    /**
     * A 70B-shaped checkpoint (its 68 B parameters as a header without data): with KL both models cannot fit in any test machine's heap,
     * and the refusal gives the estimate by terms, the heap, INTACTKV_JAVA_OPTS, --no-kl and --layer-by-layer with what
     * each needs.
     */
    @Test
    void whenBothModelsDoNotFitTheRefusalNamesNoKl() throws Exception {
        Path ckpt = big();
        Path text = dir.resolve("long.txt");
        String[] r = MainTest.run("ppl", "--model", ckpt.toString(), "--data", text.toString(), "--seqlen", "128",
                "--method", "rtn", "--wbits", "3", "--group", "128", "--intactkv", "bos");
        assertEquals("1", r[0], r[1] + r[2]);
        String line = r[2].strip();
        assertEquals(1, line.lines().count(), line);
        assertTrue(line.startsWith("intactkv ppl: error: --seqlen 128 with rtn and KL [full-precision weights (BF16) "),
                line);
        // the peak is while quantizing here (one linear's buffers of 28672 x 8192 exceed a window of 128 tokens)
        assertTrue(line.contains(" + quantized codes ") && line.contains(" + one linear's quantization buffers ")
                && line.contains("more than this Java's heap of ") && line.contains("INTACTKV_JAVA_OPTS=-Xmx")
                && line.contains(", or add --no-kl (the full-precision model is then released once IntactKV's prefix is"
                + " taken: needs ") && line.contains(", or add --layer-by-layer (one decoder layer in memory at a time,"
                + " the same numbers: needs "), line);
        assertFalse(line.contains("Exception"), line);
    }
}
