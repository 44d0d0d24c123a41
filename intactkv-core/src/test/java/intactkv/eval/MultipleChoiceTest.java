package intactkv.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.GradMode;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.io.FormatException;
import intactkv.model.text.Tokenizer;
import intactkv.train.BpeTrainer;
import intactkv.train.WordNetCorpus;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.PrefixedModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The multiple-choice scorer against a naive computation (one forward pass per continuation
 * token, probabilities from the last position), lm-evaluation-harness's pair encoding and
 * standard error by hand, and the JSONL checks by line.
 */
class MultipleChoiceTest {
    @TempDir
    static Path tmp;
    static Tokenizer tok;
    static LlamaModel model;

    @BeforeAll
    static void fixtures() throws Exception {
        List<String> text = List.of("the cat sat on the mat", "a dog ran after the ball", "Answer: A or B or C",
                "questions with answers about cats and dogs", "the end of a small corpus of our own");
        Path f = tmp.resolve("tok.json");
        BpeTrainer.write(BpeTrainer.train(text, 300), f);
        tok = Tokenizer.load(f);
        LlamaConfig c = new LlamaConfig(16, 32, 2, 1, 2, 1e-5, 10000, tok.vocabSize(), 256, false, tok.bosId(), tok.eosId());
        model = new LlamaModel(LlamaWeights.random(c, 11, 0.3, true, false));
    }

    /** log p(ids[t] | ids[..t]) for t >= from, each from its own forward pass over ids[..t]. */
    static double naive(LlamaModel m, int[] ids, int from) {
        double sum = 0;
        try (GradMode.Scope s = GradMode.noGrad()) {
            for (int t = from; t < ids.length; t++) {
                double[] logits = m.forward(java.util.Arrays.copyOf(ids, t), null, LlamaModel.Options.LOGITS).logits()
                        .data().data();
                int v = m.config().vocabSize();
                double z = 0;
                for (int j = 0; j < v; j++) {
                    z += Math.exp(logits[(t - 1) * v + j]);
                }
                sum += Math.log(Math.exp(logits[(t - 1) * v + ids[t]]) / z);
            }
        }
        return sum;
    }

    @Test
    void logLikelihoodsMatchOneForwardPassPerToken() {
        McItem item = new McItem("the cat sat", List.of(" on the mat", " after the ball", " A"), 0, "");
        MultipleChoice.ItemScore s = MultipleChoice.score(new PrefixedModel(model, null), tok, item.context(), item);
        for (int c = 0; c < 3; c++) {
            int[][] pair = MultipleChoice.encodePair(tok, item.context(), item.choices().get(c));
            int[] ids = new int[pair[0].length + pair[1].length];
            System.arraycopy(pair[0], 0, ids, 0, pair[0].length);
            System.arraycopy(pair[1], 0, ids, pair[0].length, pair[1].length);
            // sums of a few log-probabilities of order 1-10, computed two ways: agreement to rounding
            assertEquals(naive(model, ids, pair[0].length), s.logLikelihood()[c], 1e-10, "choice " + c);
            assertEquals(item.choices().get(c).length(), s.choiceBytes()[c]);
        }
        // IntactKV_[B] with the full-precision model's own [BOS] cache changes nothing
        MultipleChoice.ItemScore b = MultipleChoice.score(new PrefixedModel(model, IntactKvPrefix.bos(model)), tok,
                item.context(), item);
        assertArrayEquals(s.logLikelihood(), b.logLikelihood(), 1e-12);
    }

    /**
     * The inputs of {@link MultipleChoice#inputs} run layer by layer ({@code LayerwiseLogits}, two inputs a pass), each
     * scored from the rows its continuation reads, give {@link MultipleChoice#scoreAll}'s scores at tolerance 0, with
     * and without IntactKV_[B].
     */
    @Test
    void inputsRunLayerByLayerScoreAsTheWholeModel() throws Exception {
        List<McItem> items = List.of(new McItem("the cat sat", List.of(" on the mat", " after the ball", " A"), 0, ""),
                new McItem("a dog", List.of(" ran", " sat on the mat"), 1, ""),
                new McItem("Answer:", List.of(" A", " B", " C"), 2, ""));
        List<String> prompts = items.stream().map(McItem::context).toList();
        LlamaWeights w = model.weights();
        intactkv.prefix.LayerwisePerplexity.Setup s = new intactkv.prefix.LayerwisePerplexity.Setup(w, w::block,
                intactkv.prefix.LayerwisePerplexity.BlockMap.FULL_PRECISION, intactkv.model.ModelHooks.NONE, 2);
        for (IntactKvPrefix prefix : new IntactKvPrefix[] {null, IntactKvPrefix.bos(model)}) {
            List<MultipleChoice.ItemScore> want = MultipleChoice.scoreAll(new PrefixedModel(model, prefix), tok, items,
                    prompts, d -> { });
            MultipleChoice.Inputs in = MultipleChoice.inputs(tok, items, prompts);
            assertEquals(8, in.ids().size(), "one input per choice");
            int[] first = in.firstRows();
            double[] ll = new double[first.length];
            intactkv.prefix.LayerwiseLogits.forEach(s, prefix, in.ids(), first, (j, rows) -> ll[j] = MultipleChoice
                    .continuationLogLikelihood(rows, first[j], in.ids().get(j), in.contextLength()[j]), d -> { });
            List<MultipleChoice.ItemScore> got = MultipleChoice.fromLogLikelihoods(items, ll);
            for (int i = 0; i < items.size(); i++) {
                String name = (prefix == null ? "no prefix" : "[B]") + ", item " + i;
                assertArrayEquals(want.get(i).logLikelihood(), got.get(i).logLikelihood(), 0.0, name);
                assertArrayEquals(want.get(i).choiceBytes(), got.get(i).choiceBytes(), name);
                assertEquals(want.get(i).predicted(), got.get(i).predicted(), name);
                assertEquals(want.get(i).predictedNorm(), got.get(i).predictedNorm(), name);
            }
        }
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> MultipleChoice.fromLogLikelihoods(items, new double[7]));
        assertEquals("7 log-likelihoods for 8 choices", e.getMessage());
        // rows that do not cover the continuation: positions 3..4 cannot score tokens 3..5 (rows 2..4 needed)
        intactkv.tensor.Tensor two = intactkv.tensor.Tensor.zeros(2, model.config().vocabSize());
        IllegalArgumentException rows = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> MultipleChoice.continuationLogLikelihood(two, 3, new int[] {1, 5, 6, 7, 8, 9}, 3));
        assertEquals("multiple choice: logits of positions 3..4 cannot score tokens 3..5", rows.getMessage());
    }

    @Test
    void pairEncodingMovesTrailingSpaceToTheContinuation() {
        int[][] a = MultipleChoice.encodePair(tok, "the cat ", "sat");
        int[][] b = MultipleChoice.encodePair(tok, "the cat", " sat");
        assertArrayEquals(a[0], b[0]);
        assertArrayEquals(a[1], b[1]);
        assertEquals(tok.bosId(), a[0][0]);
        // the pair is the whole text tokenized once, [BOS] first
        int[] whole = tok.encode("the cat sat", false);
        int[] joined = new int[a[0].length + a[1].length];
        System.arraycopy(a[0], 0, joined, 0, a[0].length);
        System.arraycopy(a[1], 0, joined, a[0].length, a[1].length);
        assertEquals(whole.length + 1, joined.length);
        assertArrayEquals(whole, java.util.Arrays.copyOfRange(joined, 1, joined.length));
    }

    @Test
    void accuracyAndStandardErrorByHand() {
        // acc picks the highest sum, acc_norm the highest sum per byte: item 0 differs between them
        List<MultipleChoice.ItemScore> s = List.of(
                new MultipleChoice.ItemScore(new double[] {-4, -6}, new int[] {2, 6}, 0, 1, 1),
                new MultipleChoice.ItemScore(new double[] {-1, -2}, new int[] {1, 1}, 0, 0, 0),
                new MultipleChoice.ItemScore(new double[] {-3, -1}, new int[] {1, 1}, 1, 1, 1),
                new MultipleChoice.ItemScore(new double[] {-1, -1}, new int[] {1, 1}, 0, 0, 0));
        MultipleChoice.TaskResult r = MultipleChoice.aggregate("t", s);
        assertEquals(0.75, r.acc(), 0.0);
        // scores 0, 1, 1, 1: sample sd = 0.5, / sqrt(4) = 0.25
        assertEquals(0.25, r.accStderr(), 1e-15);
        assertEquals(1.0, r.accNorm(), 0.0);
        assertEquals(0.0, r.accNormStderr(), 0.0);
        assertTrue(Double.isNaN(MultipleChoice.aggregate("one", s.subList(0, 1)).accStderr()));
        // item 3 ties in both (-1 = -1, and per byte -1 = -1): decided by order, counted
        assertEquals(1, r.ties());
        assertEquals(1, r.tiesNorm());
        assertEquals(0, MultipleChoice.aggregate("three", s.subList(0, 3)).ties());
    }

    /**
     * Ties are counted per metric: acc ties where the sums are equal, acc_norm where the sums
     * per byte are; equal sums with different lengths are no acc_norm tie, and the reverse.
     */
    @Test
    void tiesAreCountedPerMetric() {
        MultipleChoice.ItemScore sumsTie = new MultipleChoice.ItemScore(new double[] {-6, -6, -9}, new int[] {2, 3, 3},
                0, 1, 0);
        assertTrue(sumsTie.ties());
        assertTrue(!sumsTie.tiesNorm(), "-6/2 = -3 is below -6/3 = -2: one best per byte");
        MultipleChoice.ItemScore perByteTie = new MultipleChoice.ItemScore(new double[] {-4, -8, -9},
                new int[] {2, 4, 1}, 0, 0, 0);
        assertTrue(!perByteTie.ties());
        assertTrue(perByteTie.tiesNorm(), "-4/2 = -8/4");
        MultipleChoice.TaskResult r = MultipleChoice.aggregate("t", List.of(sumsTie, perByteTie));
        assertEquals(1, r.ties());
        assertEquals(1, r.tiesNorm());
    }

    /** numpy.argmax's rule, which the harness applies to the scores: the first of equal maxima. */
    @Test
    void firstMaximumWinsAsNumpyArgmax() {
        assertEquals(1, MultipleChoice.firstMax(new double[] {-3, -1, -2, -1}));
        assertEquals(0, MultipleChoice.firstMax(new double[] {-1, -1}));
        assertEquals(2, MultipleChoice.firstMax(new double[] {Double.NEGATIVE_INFINITY, -5, 0}));
        assertEquals(0, MultipleChoice.firstMax(new double[] {7}));
    }

    /**
     * Identical choices are refused when the item is made: they always score the same and the
     * first would take the tie, so the item would be right whatever the model whenever its label
     * is the first copy (acc 1.0 on such items).
     */
    @Test
    void identicalChoicesAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new McItem("the", List.of(" cat", " dog", " cat"), 0, ""));
        assertTrue(e.getMessage().startsWith("choices 0 and 2 are identical (\" cat\")"), e.getMessage());
        // different strings are different choices, even when they differ in white space only
        assertEquals(2, new McItem("the", List.of(" cat", "cat"), 0, "").choices().size());
    }

    @Test
    void promptsHaveSeededShotsOfTheSameSubjectAndTheMmluHeader() {
        List<McItem> items = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            items.add(new McItem("Q" + i + "\nAnswer:", List.of(" A", " B"), i % 2, i < 4 ? "high_school_physics" : "law"));
        }
        MultipleChoice.Settings two = new MultipleChoice.Settings(2, 7, true);
        String p = MultipleChoice.prompt(items, 0, two);
        assertTrue(p.startsWith("The following are multiple choice questions (with answers) about high school physics.\n\n"),
                p);
        assertTrue(p.endsWith("Q0\nAnswer:"), p);
        assertEquals(p, MultipleChoice.prompt(items, 0, two), "deterministic for a fixed seed");
        int shots = 0;
        for (int j = 1; j < 6; j++) {
            if (p.contains("Q" + j + "\nAnswer:" + items.get(j).choices().get(items.get(j).label()) + "\n\n")) {
                shots++;
                assertTrue(j < 4, "shots come from the same subject");
            }
        }
        assertEquals(2, shots);
        assertEquals("Q4\nAnswer:", MultipleChoice.prompt(items, 4, new MultipleChoice.Settings(0, 7, false)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MultipleChoice.prompt(items, 4, new MultipleChoice.Settings(2, 7, false)));
        assertTrue(e.getMessage().contains("only 1 other items of subject 'law'"), e.getMessage());
    }

    @Test
    void jsonlItemsAreCheckedByLine() throws Exception {
        Path f = tmp.resolve("items.jsonl");
        String good = "{\"context\": \"the cat\", \"choices\": [\" sat\", \" ran\"], \"label\": 1}";
        Files.writeString(f, good + "\n\n" + good + "\n");
        McItem.Task t = McItem.readJsonl(f);
        assertEquals(2, t.items().size());
        assertEquals(f + ":3", t.where().get(1));
        assertEquals("items", t.name());
        String[][] bad = {{"{\"context\": \"x\", \"choices\": [\" a\", \" b\"], \"label\": 2}", "label 2 is outside 0..1"},
            {"{\"context\": \"x\", \"choices\": [\" a\"], \"label\": 0}", "at least 2 choices"},
            {"{\"context\": \"x\", \"choices\": [\" a\", \"\"], \"label\": 0}", "choice 1 is empty"},
            {"{\"context\": \"x\", \"choices\": [\" a\", \" b\", \" a\"], \"label\": 0}", "choices 0 and 2 are identical"},
            {"{\"context\": \"x\", \"choices\": \" a\", \"label\": 0}", "'choices' must be an array"},
            {"{\"context\": \"x\", \"choices\": [\" a\", 3], \"label\": 0}", "'choices[1]' must be a string"},
            {"{\"context\": \"x\", \"choices\": [\" a\", \" b\"]", "not valid JSON"}};
        for (String[] b : bad) {
            Files.writeString(f, good + "\n" + b[0] + "\n");
            FormatException e = assertThrows(FormatException.class, () -> McItem.readJsonl(f));
            assertTrue(e.getMessage().startsWith(f + ":2: ") && e.getMessage().contains(b[1]), e.getMessage());
        }
        Files.writeString(f, "\n");
        assertThrows(FormatException.class, () -> McItem.readJsonl(f));
        // a byte-order mark first (a Windows editor's) is not part of the first line's JSON
        Files.writeString(f, "\uFEFF" + good + "\n" + good + "\n");
        assertEquals(2, McItem.readJsonl(f).items().size());
    }

    @Test
    void glossCompletionIsDeterministicWithSamePartOfSpeechDistractors() {
        List<WordNetCorpus.Entry> e = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            e.add(new WordNetCorpus.Entry(i % 2 == 0 ? 'n' : 'v', "w" + i, "gloss number " + i + " has six words " + i));
        }
        e.add(new WordNetCorpus.Entry('n', "short", "too short"));
        List<McItem> a = GlossCompletion.items(e, 100, 5);
        assertEquals(a, GlossCompletion.items(e, 100, 5));
        assertNotEquals(a, GlossCompletion.items(e, 100, 6));
        assertEquals(12, a.size(), "the short gloss is left out");
        for (int i = 0; i < a.size(); i++) {
            McItem it = a.get(i);
            assertEquals(4, it.choices().size());
            assertEquals(4, it.choices().stream().distinct().count());
            assertTrue(it.choices().get(it.label()).endsWith(" " + i), "gold ending of gloss " + i);
            for (String c : it.choices()) {
                int j = Integer.parseInt(c.substring(c.lastIndexOf(' ') + 1));
                assertEquals(i % 2, j % 2, "same part of speech");
            }
            assertTrue(it.context().startsWith("gloss number " + i));
        }
    }
}
