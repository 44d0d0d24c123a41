package intactkv.cli;

import static intactkv.cli.BadInputTest.assertRefused;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.text.ChatTemplate;
import intactkv.model.text.GenerationConfig;
import intactkv.model.text.Generator;
import intactkv.model.text.Sampler;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.PrefixSpec;
import intactkv.prefix.PrefixedModel;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 28, deliverable 3: {@code ./intactkv mtbench} on the built-in model with tiny question
 * files written here. The answers are the library's generation with the official settings
 * (Vicuna conversation, per-category temperature, seed i for choice i, post-processing); the
 * file is FastChat's answer format; reruns are deterministic but for tstamp; a rerun resumes,
 * and repairs a last line cut short.
 */
class MtBenchCommandTest {
    @TempDir
    static Path dir;
    static LlamaWeights fp;
    static Tokenizer tok;
    static final int N = 6;
    static final String Q1 = "{\"question_id\": 81, \"category\": \"writing\", \"turns\": [\"Describe a small domesticated"
            + " animal.\", \"Now in one sentence.\"]}";
    static final String Q2 = "{\"question_id\": 121, \"category\": \"coding\", \"turns\": [\"What is a river?\", \"And a"
            + " lake?\"]}";
    static final String Q3 = "{\"question_id\": \"q-3\", \"category\": \"general\", \"turns\": [\"Name a tool.\"],"
            + " \"reference\": [\"a hammer\"]}";

    @BeforeAll
    static void load() throws Exception {
        fp = LlamaWeights.load(IntactKvFidelityTest.MODEL, false);
        tok = Tokenizer.load(IntactKvFidelityTest.MODEL.resolve("tokenizer.json"));
    }

    static Path questions(String name, String... lines) throws Exception {
        Path f = dir.resolve(name);
        Files.writeString(f, String.join("\n", lines) + "\n");
        return f;
    }

    static String[] mtbench(Path q, Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("mtbench", "--model", IntactKvFidelityTest.MODEL.toString(),
                "--questions", q.toString(), "--model-id", "tiny", "--out", out.toString(), "--max-new-tokens",
                String.valueOf(N)));
        a.addAll(List.of(more));
        return BadInputTest.run(a.toArray(String[]::new));
    }

    static List<JsonObject> answers(Path out) throws Exception {
        List<JsonObject> r = new ArrayList<>();
        for (String l : Files.readAllLines(out)) {
            r.add(JsonParser.parseString(l).getAsJsonObject());
        }
        return r;
    }

    /** What the library writes for {@code turns} at {@code temperature} with seed {@code choice}: the official loop. */
    static List<String> expected(List<String> turns, double temperature, int choice) {
        return expected(new PrefixedModel(new LlamaModel(fp), null), turns, temperature, choice);
    }

    static List<String> expected(PrefixedModel run, List<String> turns, double temperature, int choice) {
        return expected(run, turns, temperature, choice, intactkv.tensor.ElementDtype.F64);
    }

    static List<String> expected(PrefixedModel run, List<String> turns, double temperature, int choice,
                                 intactkv.tensor.ElementDtype cache) {
        GenerationConfig g = GenerationConfig.defaults().withTemperature(temperature).withDoSample(temperature >= 1e-4);
        Sampler s = new Sampler(g, choice);
        List<String> answers = new ArrayList<>();
        for (int j = 0; j < turns.size(); j++) {
            int[] ids = tok.encode(ChatTemplate.vicunaConversation(turns.subList(0, j + 1), answers), true);
            Generator.Result r = run.generate(tok, ids, N, s, new Generator.Stop(new int[0], ChatTemplate.VICUNA_STOP),
                    cache, t -> { });
            answers.add(MtBenchCommand.clean(r.text(), MtBenchCommand.specialTexts(tok)));
        }
        return answers;
    }

    private static List<String> turns(JsonObject answer, int choice) {
        JsonArray t = answer.getAsJsonArray("choices").get(choice).getAsJsonObject().getAsJsonArray("turns");
        List<String> out = new ArrayList<>();
        t.forEach(e -> out.add(e.getAsString()));
        return out;
    }

    /**
     * FastChat's answer format, the library's answers with each category's temperature (coding 0.0
     * greedy, writing 0.7 and an unlisted category 0.7 sampled with seed 0), and a second run that
     * writes the same lines but for tstamp.
     */
    @Test
    void answersAreTheOfficialLoopsInFastChatsFormat() throws Exception {
        Path q = questions("q3.jsonl", Q1, Q2, Q3);
        Path out = dir.resolve("a3.jsonl");
        String[] r = mtbench(q, out);
        assertEquals("0", r[0], r[2]);
        assertTrue(r[2].contains("[3 answers appended to " + out + " (0 were there); model_id tiny; fp, intactkv none]"),
                r[2]);
        List<JsonObject> a = answers(out);
        assertEquals(3, a.size());
        for (JsonObject x : a) {
            assertEquals(List.of("question_id", "answer_id", "model_id", "choices", "tstamp"), new ArrayList<>(x.keySet()));
            assertEquals("tiny", x.get("model_id").getAsString());
            String id = x.get("answer_id").getAsString();
            assertEquals(22, id.length());
            assertTrue(id.chars().allMatch(c -> MtBenchCommand.ID_ALPHABET.indexOf(c) >= 0), id);
            assertTrue(x.get("tstamp").getAsDouble() > 1.6e9, "seconds since the epoch");
            assertEquals(1, x.getAsJsonArray("choices").size());
            assertEquals(0, x.getAsJsonArray("choices").get(0).getAsJsonObject().get("index").getAsInt());
        }
        assertEquals(81, a.get(0).get("question_id").getAsInt());
        assertEquals("q-3", a.get(2).get("question_id").getAsString(), "a string id is written back as a string");
        assertEquals(expected(List.of("Describe a small domesticated animal.", "Now in one sentence."), 0.7, 0),
                turns(a.get(0), 0));
        List<String> greedy = expected(List.of("What is a river?", "And a lake?"), 0.0, 0);
        assertEquals(greedy, turns(a.get(1), 0));
        assertEquals(expected(List.of("Name a tool."), 0.7, 0), turns(a.get(2), 0));
        assertNotEquals(greedy.get(0), expected(List.of("What is a river?"), 0.7, 0).get(0),
                "greedy and 0.7 differ on this question, so the category's temperature was applied");

        Path again = dir.resolve("a3-again.jsonl");
        assertEquals("0", mtbench(q, again)[0]);
        List<JsonObject> b = answers(again);
        for (int i = 0; i < 3; i++) {
            a.get(i).remove("tstamp");
            b.get(i).remove("tstamp");
            assertEquals(a.get(i), b.get(i), "deterministic but for tstamp");
        }
    }

    /**
     * The paper's setting: RTN W3 g128 with IntactKV_[P] (the Vicuna system prompt's keys and
     * values from the full-precision model): both turns are what the library's quantized model
     * with that prefix writes (turn 2's prompt also begins with the prefix).
     */
    @Test
    void quantizedWithIntactKvPromptIsTheLibrarys() throws Exception {
        Path q = questions("qp.jsonl", Q2);
        Path out = dir.resolve("a-rtn-p.jsonl");
        String[] r = mtbench(q, out, "--method", "rtn", "--wbits", "3", "--group", "128", "--intactkv", "prompt");
        assertEquals("0", r[0], r[2]);
        assertTrue(r[2].contains("rtn w3g128 a16 kv16, intactkv prompt]"), r[2]);
        QuantizedModel qm = QuantizedModel.quantize(fp, QuantConfig.rtn(3, 128), null, (a, b) -> { });
        PrefixedModel run = new PrefixedModel(qm.model(), PrefixSpec.resolve("prompt", qm.twin(), tok));
        assertEquals(expected(run, List.of("What is a river?", "And a lake?"), 0.0, 0), turns(answers(out).get(0), 0));
    }

    /** --kv-cache-dtype bf16 with RTN W3 + IntactKV_[P]: the library's answers with a BF16 cache, the label says so. */
    @Test
    void aBf16KvCacheIsTheLibrarys() throws Exception {
        Path q = questions("qb.jsonl", Q2);
        Path out = dir.resolve("a-rtn-bf16.jsonl");
        String[] r = mtbench(q, out, "--method", "rtn", "--wbits", "3", "--group", "128", "--intactkv", "prompt",
                "--kv-cache-dtype", "bf16");
        assertEquals("0", r[0], r[2]);
        assertTrue(r[2].contains("rtn w3g128 a16 kv16, intactkv prompt, KV cache bf16]"), r[2]);
        QuantizedModel qm = QuantizedModel.quantize(fp, QuantConfig.rtn(3, 128), null, (a, b) -> { });
        PrefixedModel run = new PrefixedModel(qm.model(), PrefixSpec.resolve("prompt", qm.twin(), tok));
        assertEquals(expected(run, List.of("What is a river?", "And a lake?"), 0.0, 0,
                intactkv.tensor.ElementDtype.BF16), turns(answers(out).get(0), 0));
    }

    /** --num-choices 2: choice i sampled with seed i (writing), both choices the greedy answer (coding). */
    @Test
    void choiceIUsesSeedI() throws Exception {
        Path q = questions("q2.jsonl", Q1, Q2);
        Path out = dir.resolve("a-choices.jsonl");
        String[] r = mtbench(q, out, "--num-choices", "2");
        assertEquals("0", r[0], r[2]);
        List<JsonObject> a = answers(out);
        List<String> t1 = List.of("Describe a small domesticated animal.", "Now in one sentence.");
        assertEquals(expected(t1, 0.7, 0), turns(a.get(0), 0));
        assertEquals(expected(t1, 0.7, 1), turns(a.get(0), 1));
        assertNotEquals(turns(a.get(0), 0), turns(a.get(0), 1), "seeds 0 and 1 draw different answers");
        assertEquals(1, a.get(0).getAsJsonArray("choices").get(1).getAsJsonObject().get("index").getAsInt());
        assertEquals(turns(a.get(1), 0), turns(a.get(1), 1), "greedy: every choice the same");
    }

    /**
     * Resumption: questions already in --out are skipped and their lines left byte for byte; a
     * last line cut short by an interrupt is removed, said, and its question answered again; a
     * file whose every question is answered loads no model.
     */
    @Test
    void resumesAndRepairsACutLastLine() throws Exception {
        Path out = dir.resolve("a-resume.jsonl");
        assertEquals("0", mtbench(questions("first.jsonl", Q1), out)[0]);
        byte[] first = Files.readAllBytes(out);
        Path all = questions("all.jsonl", Q1, Q2, Q3);
        String[] r = mtbench(all, out);
        assertEquals("0", r[0], r[2]);
        assertTrue(r[2].contains("[2 answers appended to " + out + " (1 were there)"), r[2]);
        byte[] three = Files.readAllBytes(out);
        assertTrue(Arrays.equals(first, Arrays.copyOf(three, first.length)), "the first answer's line is unchanged");
        List<JsonObject> a = answers(out);
        assertEquals(List.of("81", "121", "\"q-3\""), a.stream().map(x -> x.get("question_id").toString()).toList());

        // an interrupt in the middle of the last write: the line is cut short, without its newline
        String lines = new String(three, StandardCharsets.UTF_8);
        int lastStart = lines.lastIndexOf('\n', lines.length() - 2) + 1;
        String cut = lines.substring(0, lastStart + (lines.length() - lastStart) / 2);
        Files.writeString(out, cut);
        r = mtbench(all, out);
        assertEquals("0", r[0], r[2]);
        assertTrue(r[2].contains("note: " + out + ":3: the last line was cut short"), r[2]);
        assertTrue(r[2].contains("[1 answers appended to " + out + " (2 were there)"), r[2]);
        List<JsonObject> b = answers(out);
        assertEquals(3, b.size(), "every line whole again");
        assertEquals(a.get(2).get("answer_id"), b.get(2).get("answer_id"), "the same id for the question answered again");

        // nothing left to answer: no model work (no progress bar)
        r = mtbench(all, out);
        assertEquals("0", r[0], r[2]);
        assertTrue(r[2].contains("[all 3 questions of " + all + " are already answered in " + out + "]"), r[2]);
        assertTrue(r[3].isEmpty(), "no model loaded: " + r[3]);
    }

    /**
     * The bad input, each refused by file, line and field before any generation (no
     * progress bar, nothing written): a malformed line, a missing or empty turns, an empty turn, a
     * repeated question_id, --num-choices 0, a prompt longer than the model's context, and an
     * --out holding another model's answers or a line that is not an answer.
     */
    @Test
    void badQuestionFilesAreRefusedByLineAndField() throws Exception {
        Object[][] cases = {
            {new String[] {Q1, "{\"question_id\": 2, \"category\": \"math\", \"turns\": [\"a\"]"}, ":2: not valid JSON"},
            {new String[] {"{\"question_id\": 2, \"category\": \"math\"}"}, ":1: missing field 'turns'"},
            {new String[] {"{\"question_id\": 2, \"category\": \"math\", \"turns\": []}"}, ":1: field 'turns' is empty"},
            {new String[] {Q2, "{\"question_id\": 2, \"category\": \"math\", \"turns\": [\"a\", \" \"]}"},
                ":2: field 'turns[1]' is empty"},
            {new String[] {"{\"question_id\": 2, \"category\": \"math\", \"turns\": [\"a\", 3]}"},
                ":1: field 'turns[1]' must be a string"},
            {new String[] {Q1, Q2, Q1}, ":3: field 'question_id' 81 was already given on line 1"},
            {new String[] {"{\"question_id\": true, \"category\": \"math\", \"turns\": [\"a\"]}"},
                ":1: field 'question_id' must be an integer or a string"},
            {new String[] {"{\"question_id\": 7, \"turns\": [\"a\"]}"}, ":1: missing field 'category'"},
            {new String[] {"{\"question_id\": 7, \"category\": \"math\", \"turns\": [\"a\", \"" + "word ".repeat(3000)
                + "\"]}"}, ":1: field 'turns[1]': its prompt", "max_position_embeddings 2048"},
        };
        int k = 0;
        for (Object[] c : cases) {
            Path q = questions("bad" + k + ".jsonl", (String[]) c[0]);
            Path out = dir.resolve("bad-out" + k++ + ".jsonl");
            String[] r = mtbench(q, out);
            String[] named = Arrays.copyOfRange(c, 1, c.length, String[].class);
            assertRefused(r, named);
            assertTrue(r[2].contains(q.toString()), "names the file: " + r[2]);
            assertTrue(r[3].isEmpty(), "no model work: " + r[3]);
            assertFalse(Files.exists(out), "nothing written");
        }
        Path q = questions("ok.jsonl", Q1);
        assertRefused(mtbench(q, dir.resolve("x.jsonl"), "--num-choices", "0"), "--num-choices must be >= 1: 0");
        for (String[] c : new String[][] {{"0", "--max-new-tokens must be >= 1"}, {"100000", "--max-new-tokens 100000"
                + " is longer than the model's max_position_embeddings"}}) {
            assertRefused(BadInputTest.run("mtbench", "--model", IntactKvFidelityTest.MODEL.toString(), "--questions",
                    q.toString(), "--model-id", "tiny", "--out", dir.resolve("x.jsonl").toString(), "--max-new-tokens",
                    c[0]), c[1]);
        }
        assertRefused(mtbench(q, dir.resolve("x.jsonl"), "--context", "prompt"), "--context prompt is ppl's");
        assertFalse(Files.exists(dir.resolve("x.jsonl")));

        Path other = dir.resolve("other-model.jsonl");
        String line = "{\"question_id\": 81, \"answer_id\": \"x\", \"model_id\": \"big\", \"choices\": []}\n";
        Files.writeString(other, line);
        String[] r = mtbench(q, other);
        assertRefused(r, other + ":1: field 'model_id' is \"big\", not --model-id \"tiny\"");
        assertEquals(line, Files.readString(other), "left as it was");
        Path junk = dir.resolve("junk.jsonl");
        Files.writeString(junk, "hello\n");
        assertRefused(mtbench(q, junk), junk + ":1: not valid JSON", "--out must be an MT-Bench answer file");
        assertEquals("hello\n", Files.readString(junk));
    }

    /**
     * A second turn whose prompt, with the first answer, fills the model's positions (a copy of
     * the built-in model whose max_position_embeddings leaves two tokens past the shortest
     * second prompt): the check before generation passes, the run stops at that question with
     * one line naming file, line, turn and question, and no partial answer is written.
     */
    @Test
    void secondTurnThatFillsTheContextIsRefusedWithoutAHalfAnswer() throws Exception {
        List<String> turns = List.of("What is a river?", "And a lake?");
        int shortest = tok.encode(ChatTemplate.vicunaConversation(turns, List.of("")), true).length;
        Path model = dir.resolve("model-short");
        Files.createDirectories(model);
        for (String f : new String[] {"model.safetensors", "tokenizer.json"}) {
            Files.copy(IntactKvFidelityTest.MODEL.resolve(f), model.resolve(f));
        }
        JsonObject config = JsonParser.parseString(Files.readString(IntactKvFidelityTest.MODEL.resolve("config.json")))
                .getAsJsonObject();
        config.remove("intactkv_train_seqlen");
        config.addProperty("max_position_embeddings", shortest + 2);
        Files.writeString(model.resolve("config.json"), config.toString());
        Path q = questions("q-short.jsonl", Q2);
        Path out = dir.resolve("a-short.jsonl");
        String[] r = BadInputTest.run("mtbench", "--model", model.toString(), "--questions", q.toString(), "--model-id",
                "tiny", "--out", out.toString(), "--max-new-tokens", "10");
        assertRefused(r, q + ":1: turn 2 of question 121 is", "max_position_embeddings " + (shortest + 2),
                "lower --max-new-tokens");
        assertFalse(Files.exists(out), "no answer line, not even a partial one");
    }

    /** generation_config.json with a wrong type or range: refused by file and field before any generation. */
    @Test
    void badGenerationConfigIsRefusedByField() throws Exception {
        Path model = dir.resolve("model-genconf");
        Files.createDirectories(model);
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json"}) {
            Files.copy(IntactKvFidelityTest.MODEL.resolve(f), model.resolve(f));
        }
        Path q = questions("gc.jsonl", Q1);
        String[][] cases = {
            {"{\"top_p\": \"0.9\"}", "field 'top_p' must be a finite number"},
            {"{\"top_p\": 1.5}", "field 'top_p' = 1.5 must be in (0, 1]"},
            {"{\"temperature\": -0.5}", "field 'temperature' = -0.5 must be >= 0"},
            {"{\"eos_token_id\": [2, \"x\"]}", "field 'eos_token_id[1]' must be an integer"},
            {"{\"do_sample\": 1}", "field 'do_sample' must be true or false"},
        };
        for (String[] c : cases) {
            Files.writeString(model.resolve(GenerationConfig.FILE), c[0]);
            Path out = dir.resolve("gc-out.jsonl");
            String[] r = BadInputTest.run("mtbench", "--model", model.toString(), "--questions", q.toString(),
                    "--model-id", "tiny", "--out", out.toString());
            assertRefused(r, model.resolve(GenerationConfig.FILE) + ": " + c[1]);
            assertTrue(r[3].isEmpty(), "no model work: " + r[3]);
            assertFalse(Files.exists(out));
        }
    }
}
