package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.autograd.GradMode;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.text.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code eval --protocol mmlu-official} end to end on the built-in model, against prompts and
 * letter logits computed here from the model directly, and its refusals of bad input (exit 1,
 * named, before any work) on the tiny test model.
 */
class MmluEvalTest {
    @TempDir
    static Path dir;
    static Path tiny;
    static Path items;

    static final String[] SUBJECTS = {"high_school_biology", "anatomy"};
    static final String[] WORDS = {"a small dog", "the heart", "a tall tree", "the river", "a cold wind", "an old house",
        "the bright sun"};
    static final String[] OPTIONS = {"a part of the body", "a kind of plant", "a body of water", "a domestic animal"};

    /** Item i of subject s, as one JSONL line: question, four lettered options, "\nAnswer:", letters as choices. */
    static String line(String subject, int i) {
        StringBuilder ctx = new StringBuilder("What is " + WORDS[i] + "?");
        for (int j = 0; j < 4; j++) {
            ctx.append("\\n").append((char) ('A' + j)).append(". ").append(OPTIONS[(i + j) % 4]);
        }
        ctx.append("\\nAnswer:");
        return "{\"context\": \"" + ctx + "\", \"choices\": [\" A\", \" B\", \" C\", \" D\"], \"label\": " + (i * 3 % 4)
                + ", \"subject\": \"" + subject + "\"}";
    }

    @BeforeAll
    static void fixtures() throws Exception {
        System.setProperty("intactkv.home", Path.of("..").toAbsolutePath().normalize().toString());
        tiny = ModelCommandsTest.tinyModel(dir.resolve("tiny"));
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < WORDS.length; i++) {
            for (String s : SUBJECTS) { // the subjects interleaved: each subject's dev items are its first five
                sb.append(line(s, i)).append('\n');
            }
        }
        items = dir.resolve("mmlu.jsonl");
        Files.writeString(items, sb);
    }

    static String[] run(String... args) {
        return BadInputTest.run(args);
    }

    /** The official prompt of test item t of subject s after k shots, written out here from mmlu.py. */
    static String prompt(String subject, int t, int k) {
        StringBuilder p = new StringBuilder("The following are multiple choice questions (with answers) about  "
                + subject.replace('_', ' ') + ".\n\n");
        for (int i = 0; i < k; i++) {
            p.append(context(i)).append(' ').append((char) ('A' + i * 3 % 4)).append("\n\n");
        }
        return p.append(context(t)).toString();
    }

    static String context(int i) {
        StringBuilder ctx = new StringBuilder("What is " + WORDS[i] + "?");
        for (int j = 0; j < 4; j++) {
            ctx.append('\n').append((char) ('A' + j)).append(". ").append(OPTIONS[(i + j) % 4]);
        }
        return ctx.append("\nAnswer:").toString();
    }

    @Test
    void builtInModelIsScoredByTheLettersLogitsAtTheLastPosition() throws Exception {
        String[] r = run("eval", "--model", "default", "--tasks", items.toString(), "--protocol", "mmlu-official",
                "--json");
        assertEquals("0", r[0], r[2]);
        JsonObject o = JsonParser.parseString(r[1]).getAsJsonObject();
        assertEquals("mmlu-official", o.get("protocol").getAsString());
        assertEquals(5, o.get("dev_items").getAsInt(), "the dev split is the largest of the default shots 0,5");
        JsonArray runs = o.getAsJsonArray("runs");
        assertEquals(2, runs.size());

        Path m = DefaultModel.dir();
        Tokenizer tok = Tokenizer.load(m.resolve("tokenizer.json"));
        LlamaModel model = new LlamaModel(LlamaWeights.load(m, false));
        int v = model.config().vocabSize();
        int[] letter = new int[4];
        for (int c = 0; c < 4; c++) {
            int[] ids = tok.encode(String.valueOf((char) ('A' + c)), true);
            letter[c] = ids[ids.length - 1];
        }
        for (int run = 0; run < 2; run++) {
            int k = run == 0 ? 0 : 5;
            JsonObject j = runs.get(run).getAsJsonObject();
            assertEquals(k, j.get("shots").getAsInt());
            assertEquals(4, j.get("items").getAsInt(), "two test items per subject");
            int rightAll = 0;
            for (String s : SUBJECTS) {
                int right = 0;
                for (int t = 5; t < WORDS.length; t++) {
                    int[] text = tok.encode(prompt(s, t, k), false);
                    int[] ids = new int[text.length + 1];
                    ids[0] = tok.bosId();
                    System.arraycopy(text, 0, ids, 1, text.length);
                    double[] logits;
                    try (GradMode.Scope g = GradMode.noGrad()) {
                        logits = model.forward(ids, null, LlamaModel.Options.LOGITS).logits().data().data();
                    }
                    int best = 0;
                    for (int c = 1; c < 4; c++) {
                        if (logits[(ids.length - 1) * v + letter[c]] > logits[(ids.length - 1) * v + letter[best]]) {
                            best = c;
                        }
                    }
                    right += best == t * 3 % 4 ? 1 : 0;
                }
                rightAll += right;
                assertEquals(right / 2.0, j.getAsJsonObject("subjects").getAsJsonObject(s).get("acc").getAsDouble(), 0.0,
                        s + ", " + k + "-shot");
            }
            assertEquals(rightAll / 4.0, j.get("weighted_accuracy").getAsDouble(), 0.0, k + "-shot");
            assertEquals(rightAll / 4.0, j.getAsJsonObject("categories").getAsJsonObject("STEM").get("acc").getAsDouble()
                    * 0.5 + j.getAsJsonObject("categories").getAsJsonObject("other (business, health, misc.)")
                    .get("acc").getAsDouble() * 0.5, 1e-15, "biology is STEM, anatomy is health");
        }
    }

    @Test
    void intactKvAndQuantizationRunAsWithTheHarness() {
        List<String> base = List.of("eval", "--model", "default", "--tasks", items.toString(), "--protocol",
                "mmlu-official", "--mmlu-shots", "2", "--mmlu-dev", "5");
        String[] plain = run(base.toArray(String[]::new));
        assertEquals("0", plain[0], plain[2]);
        assertTrue(plain[1].startsWith("fp, intactkv none, mmlu-official 2-shot (dev split: the first 5 items of each"
                + " subject; at most 2048 tokens)"), plain[1]);
        assertTrue(plain[1].contains("weighted average (all items)                  4  "), plain[1]);
        // IntactKV_[B] of the full-precision model is the model's own [BOS] cache: the same table
        String[] bos = run(BadInputTest.with(base, "--intactkv", "bos"));
        assertEquals("0", bos[0], bos[2]);
        assertEquals(plain[1].replace("intactkv none", "intactkv bos"), bos[1]);
        String[] prompt = run(BadInputTest.with(base, "--intactkv", "prompt"));
        assertEquals("0", prompt[0], prompt[2]);
        assertTrue(prompt[1].startsWith("fp, intactkv prompt, mmlu-official 2-shot"), prompt[1]);
        String[] rtn = run(BadInputTest.with(base, "--intactkv", "bos", "--method", "rtn", "--wbits", "3", "--group",
                "32"));
        assertEquals("0", rtn[0], rtn[2]);
        assertTrue(rtn[1].startsWith("rtn w3g32 a16 kv16, intactkv bos, mmlu-official 2-shot"), rtn[1]);
    }

    @Test
    void harnessStaysTheDefault() {
        Path f = dir.resolve("harness.jsonl");
        String[] r;
        try {
            Files.writeString(f, "{\"context\": \"ab a\", \"choices\": [\" b\", \" ab\"], \"label\": 1}\n"
                    + "{\"context\": \"a b\", \"choices\": [\" a\", \" b\"], \"label\": 0}\n");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        r = run("eval", "--model", tiny.toString(), "--tasks", f.toString(), "--json");
        assertEquals("0", r[0], r[2]);
        String[] h = run("eval", "--model", tiny.toString(), "--tasks", f.toString(), "--json", "--protocol", "harness");
        assertEquals(r[1], h[1]);
        assertTrue(r[1].contains("\"acc_norm\""), r[1]);
    }

    /** Refused with exit 1, the message naming {@code named}, and nothing scored or printed. */
    static void assertRefusedBeforeWork(String[] r, String... named) {
        BadInputTest.assertRefused(r, named);
        assertTrue(r[1].isEmpty(), "nothing printed: " + r[1]);
        assertTrue(r[3].isEmpty(), "no progress (no work) before refusing: " + r[3]);
    }

    @Test
    void badInputIsRefusedByNameBeforeAnyWork() throws Exception {
        List<String> base = List.of("eval", "--model", tiny.toString(), "--tasks", items.toString());
        assertRefusedBeforeWork(run(BadInputTest.with(base, "--protocol", "mmlu")), "--protocol", "mmlu-official");
        assertRefusedBeforeWork(run(BadInputTest.with(base, "--mmlu-shots", "2")), "--mmlu-shots",
                "need --protocol mmlu-official");
        List<String> mmlu = List.of(BadInputTest.with(base, "--protocol", "mmlu-official"));
        assertRefusedBeforeWork(run(BadInputTest.with(mmlu, "--mmlu-shots", "0,6", "--mmlu-dev", "5")), "--mmlu-shots 6",
                "5 dev items");
        assertRefusedBeforeWork(run(BadInputTest.with(mmlu, "--mmlu-shots", "3", "--mmlu-dev", "2")), "--mmlu-shots 3",
                "--mmlu-dev 2");
        assertRefusedBeforeWork(run(BadInputTest.with(mmlu, "--mmlu-shots", "-1")), "--mmlu-shots must be >= 0");
        // 7 items per subject: a dev split of 7 leaves nothing to score
        assertRefusedBeforeWork(run(BadInputTest.with(mmlu, "--mmlu-shots", "7")), "subject 'anatomy' has 7 items",
                "--mmlu-dev 7");
        assertRefusedBeforeWork(run(BadInputTest.with(mmlu, "--shots", "2")), "--shots", "--mmlu-shots");
        assertRefusedBeforeWork(run(BadInputTest.with(mmlu, "--mmlu")), "--mmlu belongs to --protocol harness");
        assertRefusedBeforeWork(run("eval", "--model", tiny.toString(), "--builtin", "gloss", "--protocol",
                "mmlu-official"), "--tasks");

        List<String> lines = new ArrayList<>(Files.readAllLines(items));
        Path bad = dir.resolve("bad.jsonl");
        List<String> noLetters = new ArrayList<>(lines);
        noLetters.set(12, noLetters.get(12).replace("[\" A\", \" B\", \" C\", \" D\"]", "[\" yes\", \" no\", \" C\", \" D\"]"));
        Files.write(bad, noLetters);
        List<String> onBad = List.of("eval", "--model", tiny.toString(), "--tasks", bad.toString(), "--protocol",
                "mmlu-official");
        assertRefusedBeforeWork(run(onBad.toArray(String[]::new)), bad + ":13", "single letters", "\" yes\"");
        List<String> noSubject = new ArrayList<>(lines);
        noSubject.set(3, noSubject.get(3).replace(", \"subject\": \"anatomy\"", ""));
        Files.write(bad, noSubject);
        assertRefusedBeforeWork(run(onBad.toArray(String[]::new)), bad + ":4", "\"subject\"");
        List<String> noCue = new ArrayList<>(lines);
        noCue.set(0, noCue.get(0).replace("\\nAnswer:\"", "\""));
        Files.write(bad, noCue);
        assertRefusedBeforeWork(run(onBad.toArray(String[]::new)), bad + ":1", "\\nAnswer:");
        // the tiny model's context is 512 tokens: a question longer than that does not fit even 0-shot
        List<String> tooLong = new ArrayList<>(lines);
        tooLong.set(13, tooLong.get(13).replace("What is", "ab ".repeat(600) + "What is"));
        Files.write(bad, tooLong);
        assertRefusedBeforeWork(run(BadInputTest.with(onBad, "--mmlu-shots", "0")), bad + ":14",
                "the 0-shot prompt takes", "limit of 512");
    }
}
