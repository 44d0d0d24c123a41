package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.Value;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.io.DType;
import intactkv.model.text.ChatTemplate;
import intactkv.model.text.Generator;
import intactkv.model.text.Sampler;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.IntactKvPrefix;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Part C of the reliability issue (26): data files, eval, generate, calibrate and train, one test
 * per row (docs/RELIABILITY.md, "Data files, eval, generate, calibrate and train"). Degenerate inputs are refused or reported, a
 * flag without effect is refused, and each message names the flag, file or line that causes it.
 */
class CommandInputsTest {
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
        System.setProperty("intactkv.home", Path.of("..").toAbsolutePath().normalize().toString());
    }

    static String[] run(String... args) {
        return BadInputTest.run(args);
    }

    static void assertRefused(String[] r, String... named) {
        BadInputTest.assertRefused(r, named);
    }

    // ---- data files ----------------------------------------------------------------------------

    /** A UTF-8 byte-order mark is not scored: ppl with and without it is identical (was 83.72 vs 79.89). */
    @Test
    void byteOrderMarkIsNotScored() throws Exception {
        Path marked = dir.resolve("bom.txt");
        byte[] body = Files.readAllBytes(data);
        byte[] withMark = new byte[body.length + 3];
        withMark[0] = (byte) 0xEF;
        withMark[1] = (byte) 0xBB;
        withMark[2] = (byte) 0xBF;
        System.arraycopy(body, 0, withMark, 3, body.length);
        Files.write(marked, withMark);
        String[] plain = run("ppl", "--model", model.toString(), "--data", data.toString(), "--seqlen", "64");
        String[] bom = run("ppl", "--model", model.toString(), "--data", marked.toString(), "--seqlen", "64");
        assertEquals("0", plain[0], plain[2]);
        assertEquals("0", bom[0], bom[2]);
        assertTrue(plain[1].startsWith("ppl "), plain[1]);
        assertEquals(plain[1], bom[1], "the same perplexity, to the last digit");
    }

    /**
     * {@code --data <(cat f)} is a pipe (/dev/fd/63), not a regular file: read like any file (it
     * said "no such data file"). A named pipe stands in for it; the result is the regular file's.
     */
    @Test
    void dataThroughAPipeIsRead() throws Exception {
        Path fifo = dir.resolve("data.fifo");
        Process mk = new ProcessBuilder("mkfifo", fifo.toString()).redirectErrorStream(true).start();
        assertEquals(0, mk.waitFor(), "mkfifo " + fifo);
        byte[] body = Files.readAllBytes(data);
        Thread writer = new Thread(() -> {
            try (OutputStream os = Files.newOutputStream(fifo)) { // blocks until ppl opens the pipe
                os.write(body);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        writer.setDaemon(true);
        writer.start();
        // a refusal would leave the writer blocked, not the test: ppl on the tiny model takes well under a second
        String[] piped = assertTimeoutPreemptively(Duration.ofSeconds(60),
                () -> run("ppl", "--model", model.toString(), "--data", fifo.toString(), "--seqlen", "64"));
        String[] plain = run("ppl", "--model", model.toString(), "--data", data.toString(), "--seqlen", "64");
        assertEquals("0", piped[0], piped[2]);
        assertEquals(plain[1], piped[1]);
    }

    /** What is refused is named for what it is: a path that does not exist, a directory. */
    @Test
    void missingDataAndDirectoriesAreNamed() {
        Path missing = dir.resolve("missing.txt");
        assertRefused(run("ppl", "--model", model.toString(), "--data", missing.toString()),
                missing + ": no such data file");
        assertRefused(run("ppl", "--model", model.toString(), "--data", dir.toString()),
                dir + ": is a directory, not a data file");
        assertRefused(run("eval", "--model", model.toString(), "--tasks", missing.toString()),
                missing + ": no such tasks file");
    }

    // ---- eval ------------------------------------------------------------------------------------

    /** An item with two identical choices is refused at load with the file, the line and both indices. */
    @Test
    void identicalChoicesAreRefusedByLine() throws Exception {
        Path tasks = dir.resolve("same.jsonl");
        Files.writeString(tasks, "{\"context\": \"x\", \"choices\": [\" a\", \" b\"], \"label\": 1}\n"
                + "{\"context\": \"x\", \"choices\": [\" b\", \" a\", \" b\"], \"label\": 0}\n");
        String[] r = run("eval", "--model", model.toString(), "--tasks", tasks.toString());
        assertRefused(r, tasks + ":2: choices 0 and 2 are identical (\" b\")");
        assertTrue(r[3].isEmpty(), "refused before scoring: " + r[3]);
    }

    /**
     * Ties among distinct choices are counted per task and broken as the harness does (the first
     * maximum, np.argmax). A model whose final norm is zero gives all-zero logits, so every token
     * has log-probability exactly -log V: choices of as many tokens tie exactly in acc, and in
     * acc_norm when they also have as many bytes. Items (tiny tokenizer: " a" = [▁, a],
     * " b" = [▁, b], " ab" = [▁, ab]): [" a", " b"] label 1 ties in both and is wrong in both;
     * [" a", " ab"] label 1 ties in acc (wrong) but not per byte (-2 log V / 3 beats / 2: right).
     */
    @Test
    void tiesAreCountedAndGoToTheFirstChoice() throws Exception {
        LlamaWeights w = LlamaWeights.load(model, false);
        Path flat = dir.resolve("flat");
        new LlamaWeights(w.config(), w.embed(), w.blocks(), Value.constant(Tensor.zeros(w.config().hiddenSize())),
                w.lmHead()).save(flat, DType.F32);
        Files.copy(model.resolve("tokenizer.json"), flat.resolve("tokenizer.json"));
        Path tasks = dir.resolve("ties.jsonl");
        Files.writeString(tasks, "{\"context\": \"x\", \"choices\": [\" a\", \" b\"], \"label\": 1}\n"
                + "{\"context\": \"x\", \"choices\": [\" a\", \" ab\"], \"label\": 1}\n");
        String[] t = run("eval", "--model", flat.toString(), "--tasks", tasks.toString());
        assertEquals("0", t[0], t[2]);
        assertTrue(t[1].contains("ties  ties_norm"), t[1]);
        assertTrue(t[1].matches("(?s).*\\nties +2 +0\\.0000 \\+- 0\\.0000 +0\\.5000 \\+- 0\\.5000 +2 +1\\s*"), t[1]);
        String[] j = run("eval", "--model", flat.toString(), "--tasks", tasks.toString(), "--json");
        assertEquals("0", j[0], j[2]);
        assertTrue(j[1].contains("\"ties\": 2,") && j[1].contains("\"ties_norm\": 1"), j[1]);
        assertTrue(j[1].contains("\"acc\": 0.0,") && j[1].contains("\"acc_norm\": 0.5,"), j[1]);
    }

    /** eval's --seed draws shots and built-in items: with --tasks and no shots it does nothing, and is refused. */
    @Test
    void evalSeedWithoutAnythingToDrawIsRefused() throws Exception {
        Path tasks = dir.resolve("two.jsonl");
        Files.writeString(tasks, "{\"context\": \"x\", \"choices\": [\" a\", \" b\"], \"label\": 1}\n"
                + "{\"context\": \"y\", \"choices\": [\" a\", \" b\"], \"label\": 0}\n");
        String[] r = run("eval", "--model", model.toString(), "--tasks", tasks.toString(), "--seed", "5");
        assertRefused(r, "--seed has no effect with --tasks and --shots 0", "add --shots K");
        assertTrue(r[3].isEmpty(), "refused before scoring: " + r[3]);
        String[] shots = run("eval", "--model", model.toString(), "--tasks", tasks.toString(), "--seed", "5", "--shots",
                "1");
        assertEquals("0", shots[0], shots[2]);
    }

    // ---- generate --------------------------------------------------------------------------------

    /**
     * The continuation keeps the space its first token carries: on the built-in model "a small
     * domesticated" continues with a ▁ piece, printed as " to ..." (was "domesticatedto"), also
     * after the chat template.
     */
    @Test
    void generateKeepsTheSpaceBeforeTheContinuation() throws Exception {
        Path dm = DefaultModel.dir();
        LlamaModel m = new LlamaModel(LlamaWeights.load(dm, false));
        Tokenizer tok = Tokenizer.load(dm.resolve("tokenizer.json"));
        String prompt = "a small domesticated";
        for (boolean chat : new boolean[] {false, true}) {
            int[] ids = tok.encode(chat ? ChatTemplate.vicunaPrompt(prompt) : prompt, true);
            Generator.Result g = new Generator(m, tok).generate(ids, 3, Sampler.greedy(), s -> { });
            assertTrue(tok.piece(g.tokens()[0]).startsWith(Tokenizer.SPACE), "the first new token is a ▁ piece: "
                    + tok.piece(g.tokens()[0]));
            String[] r = chat ? run("generate", "--model", "default", "--prompt", prompt, "--max-tokens", "3", "--chat")
                    : run("generate", "--model", "default", "--prompt", prompt, "--max-tokens", "3");
            assertEquals("0", r[0], r[2]);
            assertTrue(r[1].startsWith(prompt + " ") && !r[1].startsWith(prompt + "  "), "one space: " + r[1]);
            assertEquals(prompt + g.text() + System.lineSeparator(), r[1]);
        }
    }

    /** --top-p and --seed do nothing at temperature 0 (greedy): refused naming both flags, before the model loads. */
    @Test
    void samplingFlagsWithoutSamplingAreRefused() {
        for (String[] flag : new String[][] {{"--top-p", "0.5"}, {"--seed", "7"}, {"--top-p", "1.0"}}) {
            String[] r = run("generate", "--model", model.toString(), "--prompt", "ab", flag[0], flag[1]);
            assertRefused(r, flag[0] + " has no effect at --temperature 0", "add --temperature T > 0");
            assertTrue(r[1].isEmpty(), "nothing generated: " + r[1]);
        }
        String[] sampled = run("generate", "--model", model.toString(), "--prompt", "ab", "--temperature", "0.8",
                "--top-p", "0.5", "--seed", "7", "--max-tokens", "3");
        assertEquals("0", sampled[0], sampled[2]);
        assertRefused(run("generate", "--model", model.toString(), "--prompt", "ab", "--temperature", "-1"),
                "--temperature must be >= 0");
        assertRefused(run("generate", "--model", model.toString(), "--prompt", "ab", "--temperature", "1",
                "--top-p", "0"), "--top-p must be in (0, 1]");
    }

    // ---- calibrate -------------------------------------------------------------------------------

    /**
     * {@code calibrate --seqlen 32} with the prompt prefix (64 tokens on the built-in model): the
     * cause is a window shorter than the prefix, and the message says that and the length to use
     * (it said "does not start with the prefix tokens (use --intactkv prompt ...)").
     */
    @Test
    void calibrationWindowShorterThanThePrefixIsNamed() {
        String[] r = run("calibrate", "--model", "default", "--method", "rtn", "--wbits", "3", "--data",
                data.toString(), "--seqlen", "32", "--out", dir.resolve("never.safetensors").toString());
        assertRefused(r, "--seqlen 32 leaves no room after the --intactkv prompt prefix of 64 tokens",
                "use --seqlen 65 or more", "--intactkv bos");
        assertFalse(r[2].contains("does not start with"), r[2]);
        assertTrue(r[3].isEmpty(), "refused before quantizing: " + r[3]);
        // a text too short for one sample names calibrate's own window flag
        Path tiny = dir.resolve("few.txt");
        assertRefused(run("calibrate", "--model", model.toString(), "--method", "rtn", "--wbits", "3", "--group", "8",
                "--intactkv", "bos", "--data", writeQuietly(tiny, "ab a\n").toString(), "--seqlen", "64", "--out",
                dir.resolve("never.safetensors").toString()), "use a longer --data file or a smaller --seqlen (now 64");
    }

    /**
     * ShareGPT: a line with only a system turn is refused for what it is, on its line; conversations
     * cut by --seqlen before 51 answer tokens say which --seqlen keeps them.
     */
    @Test
    void shareGptProblemsSayTheirCause() throws Exception {
        Path system = dir.resolve("system.jsonl");
        Files.writeString(system, "{\"id\": \"s\", \"conversations\": [{\"from\": \"system\", \"value\": \"be brief\"}]}\n");
        String[] r = run("calibrate", "--model", model.toString(), "--method", "rtn", "--wbits", "3", "--group", "8",
                "--data", system.toString(), "--out", dir.resolve("never.safetensors").toString());
        assertRefused(r, system + ":1: conversation 's' (record 0): 'conversations[0].from' is \"system\"",
                "remove the system turn");
        assertFalse(r[2].contains("does not start with"), r[2]);
        Path cut = dir.resolve("cut.jsonl");
        Files.writeString(cut, "{\"conversations\": [{\"from\": \"human\", \"value\": \"ab\"}, {\"from\": \"gpt\","
                + " \"value\": \"" + "a b ".repeat(60) + "\"}]}\n");
        String[] s = run("calibrate", "--model", model.toString(), "--method", "rtn", "--wbits", "3", "--group", "8",
                "--data", cut.toString(), "--samples", "1", "--seqlen", "64", "--out",
                dir.resolve("never.safetensors").toString());
        assertRefused(s, "1 would qualify uncut, but --seqlen 64 cuts it", "or more");
        assertTrue(s[3].isEmpty(), "refused before quantizing: " + s[3]);
    }

    /** A quantizer's calibration text shorter than its window names --calib-seqlen, not --seqlen. */
    @Test
    void shortQuantizerCalibrationNamesCalibSeqlen() {
        Path tiny = writeQuietly(dir.resolve("calib-tiny.txt"), "ab a b\n");
        for (String[] extra : new String[][] {{"--calib-bos-first"}, {"--calib-docs", "file"}}) {
            List<String> args = new java.util.ArrayList<>(List.of("ppl", "--model", model.toString(), "--method", "gptq",
                    "--calib", tiny.toString(), "--data", data.toString(), "--seqlen", "64"));
            args.addAll(List.of(extra));
            String[] r = run(args.toArray(String[]::new));
            assertRefused(r, tiny.toString(), "here the sequence length is --calib-seqlen");
            assertFalse(r[2].contains("--seqlen"), "the ppl window is not the cause: " + r[2]);
        }
    }

    // ---- train -----------------------------------------------------------------------------------

    /**
     * {@code train --steps 20} runs (the default warm-up was a fixed 100, longer than the run); the
     * default is min(100, steps / 10), 100 from 1000 steps on, so the documented runs keep theirs;
     * an explicit warm-up of at least --steps is refused naming both flags, before anything is written.
     */
    @Test
    void warmUpFollowsTheSteps() {
        assertEquals(2, parsedTrain("--steps", "20").warmupSteps());
        assertEquals(0, parsedTrain("--steps", "1").warmupSteps());
        assertEquals(99, parsedTrain("--steps", "999").warmupSteps());
        assertEquals(100, parsedTrain("--steps", "1000").warmupSteps());
        assertEquals(100, parsedTrain().warmupSteps(), "the default --steps 2000 keeps the earlier 100");
        // the built-in model's rebuild command (docs/DEFAULT_MODEL.md) gives --warmup 100 with --steps 3600
        assertEquals(100, parsedTrain("--steps", "3600", "--warmup", "100").warmupSteps());
        assertEquals(0, parsedTrain("--steps", "1", "--warmup", "0").warmupSteps());
        Path out = dir.resolve("never-trained");
        for (String w : new String[] {"20", "21"}) {
            assertRefused(run("train", "--out", out.toString(), "--steps", "20", "--warmup", w),
                    "--warmup " + w + " must be less than --steps 20", "default min(100, --steps / 10) = 2");
        }
        assertRefused(run("train", "--out", out.toString(), "--warmup", "-1"), "--warmup must be >= 0");
        assertFalse(Files.exists(out));
    }

    /** The back-copy shape flags do nothing without back-copy sequences: refused naming both flags. */
    @Test
    void backcopyFlagsWithoutBackcopyAreRefused() {
        Path out = dir.resolve("never-trained");
        for (String[] f : new String[][] {{"--backcopy-triggers", "3"}, {"--backcopy-branching", "4"}}) {
            assertRefused(run("train", "--out", out.toString(), f[0], f[1]),
                    f[0] + " has no effect without --backcopy-fraction F > 0");
        }
        assertFalse(Files.exists(out));
        assertEquals(3, parsedTrain("--backcopy-fraction", "0.5", "--backcopy-triggers", "3").backcopyTriggers);
    }

    /** A TrainCommand with {@code args} parsed and its flags checked, not run. */
    private static TrainCommand parsedTrain(String... args) {
        TrainCommand t = new TrainCommand();
        List<String> a = new java.util.ArrayList<>(List.of("--out", dir.resolve("never-trained").toString()));
        a.addAll(List.of(args));
        new CommandLine(t).parseArgs(a.toArray(String[]::new));
        t.checkFlags();
        return t;
    }

    // ---- help ------------------------------------------------------------------------------------

    /**
     * No option of any command shows a picocli field placeholder ({@code --lr=<lr>}), and
     * calibrate's confusable pairs each say which calibration they belong to.
     */
    @Test
    void helpHasLabelsAndSaysWhichIsWhich() {
        CommandLine main = Main.commandLine();
        for (var e : main.getSubcommands().entrySet()) {
            String usage = e.getValue().getUsageMessage(CommandLine.Help.Ansi.OFF);
            assertFalse(usage.contains("=<"), e.getKey() + " --help shows a field placeholder:\n" + usage);
        }
        CommandLine.Model.CommandSpec cal = main.getSubcommands().get("calibrate").getCommandSpec();
        String[][] pairs = {{"--seqlen", "--calib-seqlen"}, {"--samples", "--calib-samples"}, {"--data", "--calib"},
            {"--seed", "--qseed"}};
        for (String[] p : pairs) {
            String ours = String.join(" ", cal.findOption(p[0]).description());
            assertTrue(ours.contains("prefix calibration") && ours.contains("see " + p[1]), p[0] + ": " + ours);
            String theirs = String.join(" ", cal.findOption(p[1]).description());
            assertTrue(theirs.startsWith("the quantizer's"), p[1] + ": " + theirs);
        }
    }

    private static Path writeQuietly(Path p, String text) {
        try {
            return Files.writeString(p, text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
