package intactkv.cli;

import static intactkv.cli.BadInputTest.assertRefused;
import static intactkv.cli.BadInputTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.text.Tokenizer;
import intactkv.quant.ActivationStore;
import intactkv.quant.Calibration;
import intactkv.quant.CalibrationSet;
import intactkv.quant.DocumentSplit;
import intactkv.quant.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The calibration flags: each method's official loader by default (with its official length
 * and seed), the earlier [BOS]-first windows behind {@code --calib-bos-first}, and files too
 * short for the chosen loader refused by name (file, loader, numbers) before any model work,
 * leaving nothing behind.
 */
class CalibrationFlagsTest {
    @TempDir
    static Path dir;
    static Path model;
    /** 60 lines of 2..12 words: about 5..25 tokens each, no blank line. */
    static Path lines;
    static Tokenizer tok;

    @BeforeAll
    static void fixtures() throws Exception {
        model = ModelCommandsTest.tinyModel(dir.resolve("tiny"));
        tok = Tokenizer.load(model.resolve("tokenizer.json"));
        StringBuilder text = new StringBuilder();
        java.util.Random r = new java.util.Random(3);
        String[] words = {"a", "b", "ab", "ba"};
        for (int i = 0; i < 60; i++) {
            for (int w = 0, n = 2 + r.nextInt(11); w < n; w++) {
                text.append(w == 0 ? "" : " ").append(words[r.nextInt(words.length)]);
            }
            text.append('\n');
        }
        lines = dir.resolve("lines.txt");
        Files.writeString(lines, text);
    }

    /** The calibration set {@code quantize} would use with {@code flags} (after its own validation). */
    private static List<int[]> set(Method m, String... flags) throws Exception {
        QuantizeCommand cmd = new QuantizeCommand();
        List<String> args = new ArrayList<>(List.of("--model", model.toString(), "--method", m.id(), "--calib",
                lines.toString(), "--out", dir.resolve("never").toString()));
        args.addAll(List.of(flags));
        new CommandLine(cmd).parseArgs(args.toArray(String[]::new));
        cmd.quant.validate();
        return cmd.quant.calibration(m);
    }

    private static List<List<Integer>> ids(List<int[]> ws) {
        return ws.stream().map(w -> Arrays.stream(w).boxed().toList()).toList();
    }

    @Test
    void eachMethodGetsItsOfficialLoaderLengthAndSeed() throws Exception {
        String text = Calibration.readText(lines);
        List<String> docs = Calibration.documents(text);
        assertEquals(60, docs.size(), "one document per line: the file has no blank line");
        assertEquals(ids(Calibration.load(Method.GPTQ, tok, docs, 8, 16, 42L, false, "x")),
                ids(set(Method.GPTQ, "--calib-samples", "8", "--calib-seqlen", "16")));
        List<int[]> awq = set(Method.AWQ, "--calib-samples", "60");
        assertEquals(ids(Calibration.load(Method.AWQ, tok, docs, 60, 512, 42L, false, "x")), ids(awq));
        assertTrue(awq.size() >= 1 && awq.stream().allMatch(b -> b.length == 512), "awq: blocks of 512 by default");
        assertEquals(ids(Calibration.load(Method.QUAROT, tok, docs, 4, 32, 0L, false, "x")),
                ids(set(Method.QUAROT, "--calib-samples", "4", "--calib-seqlen", "32")), "quarot: seed 0");
        assertEquals(ids(Calibration.load(Method.OMNIQUANT, tok, docs, 4, 32, 2L, false, "x")),
                ids(set(Method.OMNIQUANT, "--calib-samples", "4", "--calib-seqlen", "32")), "omniquant: seed 2");
        assertEquals(ids(Calibration.load(Method.QUAROT, tok, docs, 4, 32, 9L, false, "x")),
                ids(set(Method.QUAROT, "--calib-samples", "4", "--calib-seqlen", "32", "--calib-seed", "9", "--qseed", "5")),
                "--calib-seed, not --qseed, seeds the draws");
        List<int[]> w = set(Method.QUAROT, "--calib-samples", "30", "--calib-seqlen", "32");
        assertTrue(w.stream().anyMatch(x -> x[0] != tok.bosId()), "no window has [BOS] forced first");
        // the whole file as one document
        assertEquals(ids(Calibration.load(Method.GPTQ, tok, List.of(text), 8, 64, null, false, "x")),
                ids(set(Method.GPTQ, "--calib-samples", "8", "--calib-seqlen", "64", "--calib-docs", "file")));
        assertEquals(ids(Calibration.load(Method.GPTQ, tok, text, DocumentSplit.PARAGRAPHS, 8, 16, null, false, "x")),
                ids(set(Method.GPTQ, "--calib-samples", "8", "--calib-seqlen", "16", "--calib-docs", "paragraphs")));
    }

    @Test
    void bosFirstIsTodaysWindowsBitForBit() throws Exception {
        String text = Calibration.readText(lines);
        List<int[]> w = set(Method.GPTQ, "--calib-bos-first", "--calib-samples", "6");
        assertEquals(ids(Calibration.windows(tok, text, 6, 512, 42, "x")), ids(w), "512 tokens and --qseed 42 by default");
        assertTrue(w.stream().allMatch(x -> x[0] == tok.bosId()));
        assertEquals(ids(Calibration.windows(tok, text, 6, 20, 7, "x")),
                ids(set(Method.AWQ, "--calib-bos-first", "--calib-samples", "6", "--calib-seqlen", "20", "--qseed", "7")));
        assertNotEquals(ids(w), ids(set(Method.GPTQ, "--calib-samples", "6", "--calib-seqlen", "512", "--calib-docs", "file")));
    }

    @Test
    void filesTooShortForTheLoaderAreRefusedBeforeAnyWork() throws Exception {
        Path out = dir.resolve("never-q");
        String f = lines.toString();
        List<String> base = List.of("quantize", "--model", model.toString(), "--calib", f, "--out", out.toString());
        // gptq: every line is shorter than the default window (2048, at most the model's 512 positions)
        String[] r = run(BadInputTest.with(base, "--method", "gptq"));
        assertRefused(r, f, "gptq", "more than 512 tokens", "60 documents", "--calib-seqlen 512", "--calib-docs auto");
        assertTrue(r[3].isEmpty(), "no progress before the refusal: " + r[3]);
        // awq: more documents asked than the file has
        assertRefused(run(BadInputTest.with(base, "--method", "awq", "--calib-samples", "61")), f, "awq",
                "needs 61 documents", "only 60 of its 60");
        // awq: the documents kept are fewer tokens than one block
        assertRefused(run(BadInputTest.with(base, "--method", "awq", "--calib-samples", "2")), f, "awq", "blocks of 512");
        // quarot and omniquant: the joined text (of the first 5 lines) is shorter than one window
        Path five = dir.resolve("five-lines.txt");
        Files.writeString(five, String.join("\n", Files.readAllLines(lines).subList(0, 5)) + "\n");
        List<String> fiveBase = List.of("quantize", "--model", model.toString(), "--calib", five.toString(), "--out",
                out.toString());
        assertRefused(run(BadInputTest.with(fiveBase, "--method", "quarot", "--group", "-1")), five.toString(), "quarot",
                "more than 512 tokens of joined text");
        assertRefused(run(BadInputTest.with(fiveBase, "--method", "omniquant", "--calib-seqlen", "400")),
                five.toString(), "omniquant", "more than 400");
        // the earlier loader keeps its own check
        assertRefused(run(BadInputTest.with(fiveBase, "--method", "gptq", "--calib-bos-first", "--calib-seqlen", "500")),
                five.toString(), "too short");
        // a window longer than the model's positions
        assertRefused(run(BadInputTest.with(base, "--method", "gptq", "--calib-seqlen", "100000")),
                "--calib-seqlen 100000 is longer than the model's max_position_embeddings 512");
        assertFalse(Files.exists(out));
    }

    @Test
    void calibrationFlagsAreCheckedByName() {
        Path out = dir.resolve("never-q2");
        List<String> base = List.of("quantize", "--model", model.toString(), "--method", "gptq", "--calib",
                lines.toString(), "--out", out.toString());
        assertRefused(run(BadInputTest.with(base, "--calib-docs", "words")), "--calib-docs", "words");
        assertRefused(run(BadInputTest.with(base, "--calib-seqlen", "1")), "--calib-seqlen must be >= 2: 1");
        assertRefused(run(BadInputTest.with(base, "--calib-samples", "0")), "--calib-samples must be >= 1: 0");
        assertFalse(Files.exists(out));
    }

    /** --calib-activations: f64 (default) or f32 travel with the calibration set; anything else is refused by name. */
    @Test
    void calibActivationsChoosesTheStoreAndRefusesOtherValues() throws Exception {
        List<int[]> f64 = set(Method.GPTQ, "--calib-samples", "8", "--calib-seqlen", "16");
        List<int[]> f32 = set(Method.GPTQ, "--calib-samples", "8", "--calib-seqlen", "16", "--calib-activations", "f32");
        assertEquals(ActivationStore.F64, CalibrationSet.storeOf(f64));
        assertEquals(ActivationStore.F32, CalibrationSet.storeOf(f32));
        assertEquals(ids(f64), ids(f32), "the same sequences");
        Path out = dir.resolve("never-q3");
        List<String> base = List.of("quantize", "--model", model.toString(), "--method", "gptq", "--calib",
                lines.toString(), "--out", out.toString());
        for (String bad : new String[] {"f16", "F32", "double"}) {
            String[] r = run(BadInputTest.with(base, "--calib-activations", bad));
            assertRefused(r, "--calib-activations must be f64 or f32, got '" + bad + "'");
            assertTrue(r[3].isEmpty(), "no progress before the refusal: " + r[3]);
        }
        assertFalse(Files.exists(out));
        Path q = dir.resolve("q-gptq-f32");
        String[] r = run("quantize", "--model", model.toString(), "--method", "gptq", "--wbits", "4", "--group", "8",
                "--calib", lines.toString(), "--calib-docs", "file", "--calib-samples", "2", "--calib-seqlen", "32",
                "--calib-activations", "f32", "--out", q.toString());
        assertEquals("0", r[0], r[2]);
        assertTrue(Files.isRegularFile(q.resolve("quant_config.json")));
    }

    @Test
    void quantizeRunsWithTheWholeFileAsOneDocument() {
        Path out = dir.resolve("q-gptq-file");
        String[] r = run("quantize", "--model", model.toString(), "--method", "gptq", "--wbits", "4", "--group", "8",
                "--calib", lines.toString(), "--calib-docs", "file", "--calib-samples", "4", "--calib-seqlen", "64",
                "--out", out.toString());
        assertEquals("0", r[0], r[2]);
        assertTrue(Files.isRegularFile(out.resolve("quant_config.json")));
    }
}
