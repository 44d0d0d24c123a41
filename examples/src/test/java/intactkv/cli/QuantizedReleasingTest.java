package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.model.LlamaConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A {@code --quantized} run that needs the full-precision model only for IntactKV's prefix ({@code ppl --no-kl},
 * {@code eval}, {@code dump}, {@code generate}) takes the prefix from the twin rebuilt from the full-precision
 * weights and the checkpoint's basis, releases both, and only then loads the quantized model (issue 27, item 3).
 * Checked here: the perplexity is the one of the path that keeps both models ({@code --kl}), bit for bit, for a
 * checkpoint in the original basis (RTN) and one whose twin is another model (AWQ's scaled linears); the memory plan
 * is the larger of the two phases instead of their sum; an AutoAWQ checkpoint without its scales is still refused
 * for IntactKV, in one line.
 */
class QuantizedReleasingTest {
    @TempDir
    static Path dir;
    static Path model;
    static Path data;
    static Path rtn;
    static Path awq;

    @BeforeAll
    static void setUp() throws Exception {
        ModelCommandsTest.TinyRun tiny = ModelCommandsTest.TinyRun.write(dir);
        model = tiny.model();
        data = tiny.data();
        rtn = dir.resolve("q-rtn");
        awq = dir.resolve("q-awq");
        quantize("--method", "rtn", "--wbits", "3", "--group", "8", "--out", rtn.toString());
        quantize("--method", "awq", "--wbits", "4", "--group", "8", "--calib", data.toString(), "--calib-samples", "2",
                "--calib-seqlen", "16", "--out", awq.toString());
    }

    private static void quantize(String... flags) {
        List<String> args = new ArrayList<>(List.of("quantize", "--model", model.toString()));
        args.addAll(List.of(flags));
        String[] r = MainTest.run(args.toArray(String[]::new));
        assertEquals("0", r[0], r[2]);
    }

    private static String[] ppl(Path q, String... extra) {
        List<String> args = new ArrayList<>(List.of("ppl", "--model", model.toString(), "--quantized", q.toString(),
                "--data", data.toString(), "--seqlen", "32", "--json"));
        args.addAll(List.of(extra));
        return MainTest.run(args.toArray(String[]::new));
    }

    private static JsonObject pplJson(Path q, String... extra) {
        String[] r = ppl(q, extra);
        assertEquals("0", r[0], r[2]);
        return JsonParser.parseString(r[1]).getAsJsonObject();
    }

    @Test
    void releasingGivesTheSamePerplexityBitForBit() {
        for (Path q : new Path[] {rtn, awq}) {
            JsonObject keep = pplJson(q, "--intactkv", "bos", "--kl");
            JsonObject release = pplJson(q, "--intactkv", "bos", "--no-kl");
            assertTrue(keep.has("kl_to_fp"), q.toString());
            assertFalse(release.has("kl_to_fp"), q.toString());
            assertEquals(keep.get("ppl").getAsDouble(), release.get("ppl").getAsDouble(), 0.0, q.toString());
            assertEquals(keep.get("mean_nll").getAsDouble(), release.get("mean_nll").getAsDouble(), 0.0, q.toString());
            // IntactKV changes the result, so the released path did take a prefix (from the twin)
            JsonObject none = pplJson(q, "--intactkv", "none", "--no-kl");
            assertFalse(none.get("ppl").getAsDouble() == release.get("ppl").getAsDouble(), q.toString());
        }
    }

    /**
     * The plan of {@code ppl --quantized Q --no-kl}: the larger of the full-precision weights with the twin (while
     * the prefix is taken) and the quantized model with one window; with KL the sum of the three and two copies of
     * the logits, as before.
     */
    @Test
    void thePlanIsTheLargerOfTheTwoPhases() throws Exception {
        LlamaConfig c = MemoryEstimate.config(model);
        long fp = WeightBytes.of(model).bytes();
        for (Path q : new Path[] {rtn, awq}) {
            long quantized = WeightBytes.of(q).bytes();
            long twin = q == awq ? MemoryEstimate.linearsInDouble(c) : 0;
            // a scoring window: one layer's keys and values, no attention probabilities
            long window = MemoryEstimate.layerActivations(c, 32) + MemoryEstimate.layerKv(c, 32)
                    + MemoryEstimate.logits(c, 32);
            String[] noKl = {"ppl", "--model", model.toString(), "--quantized", q.toString(), "--data", "x.txt",
                "--seqlen", "32", "--intactkv", "bos", "--no-kl"};
            assertEquals(Math.max(fp + twin, quantized + window), HeapRule.estimate(noKl), q.toString());
            String[] kl = {"ppl", "--model", model.toString(), "--quantized", q.toString(), "--data", "x.txt",
                "--seqlen", "32", "--intactkv", "bos"};
            assertEquals(fp + quantized + twin + window + MemoryEstimate.logits(c, 32), HeapRule.estimate(kl),
                    q.toString());
        }
    }

    /** Without its scales an AutoAWQ checkpoint has no twin: --no-kl refuses IntactKV as --kl does, in one line. */
    @Test
    void aFoldedAwqCheckpointIsRefusedForIntactKvOnBothPaths() throws Exception {
        Path out = dir.resolve("q-autoawq");
        quantize("--method", "awq", "--wbits", "4", "--group", "8", "--calib", data.toString(), "--calib-samples", "2",
                "--calib-seqlen", "16", "--format", "autoawq", "--out", out.toString());
        Files.delete(out.resolve(intactkv.quant.Basis.AwqScaled.FILE));
        for (String kl : new String[] {"--kl", "--no-kl"}) {
            String[] r = ppl(out, "--intactkv", "bos", kl);
            assertEquals("1", r[0], r[1] + r[2]);
            assertTrue(r[2].contains("AutoAWQ") && r[2].contains(intactkv.quant.Basis.AwqScaled.FILE), r[2]);
            assertEquals(1, r[2].strip().lines().count(), r[2]);
        }
        assertEquals("0", ppl(out, "--intactkv", "none", "--no-kl")[0]);
    }
}
