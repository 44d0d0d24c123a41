package intactkv.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.GradMode;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.text.Tokenizer;
import intactkv.train.BpeTrainer;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.PrefixedModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The official MMLU answer rule on a stub logits source worked by hand (the letter with the
 * largest logit wins, its softmax), the shortening of prompts that are too long, the letters'
 * tokens, and the whole path on a tiny random model against a forward pass computed here.
 */
class MmluOfficialTest {
    @TempDir
    static Path tmp;
    static Tokenizer tok;
    static LlamaModel model;

    @BeforeAll
    static void fixtures() throws Exception {
        // " A" .. " D" often enough that BPE merges each into one piece "▁A" .. "▁D", as in LLaMA's vocabulary
        List<String> text = List.of("The following are multiple choice questions (with answers) about anatomy",
                "Answer: A B C D", "which bone is in the arm", "one two three four", "virology and anatomy",
                "A A A A B B B B C C C C D D D D", "A B C D A B C D A B C D");
        Path f = tmp.resolve("tok.json");
        BpeTrainer.write(BpeTrainer.train(text, 300), f);
        tok = Tokenizer.load(f);
        LlamaConfig c = new LlamaConfig(16, 32, 2, 1, 2, 1e-5, 10000, tok.vocabSize(), 512, false, tok.bosId(),
                tok.eosId());
        model = new LlamaModel(LlamaWeights.random(c, 17, 0.3, true, false));
    }

    static MmluOfficial.Query query(int choices, int label) {
        return new MmluOfficial.Query("anatomy", "here", new int[] {1, 5, 6}, 0, choices, label);
    }

    @Test
    void theLetterWithTheLargestLogitWins() {
        int[] letters = {10, 11, 12, 13};
        double[] z = new double[20];
        Arrays.fill(z, 50); // other tokens, even larger ones, play no part
        z[10] = 1;
        z[11] = 3;
        z[12] = 2;
        z[13] = 0;
        MmluOfficial.LastLogits stub = ids -> z.clone();
        MmluOfficial.Answer a = MmluOfficial.answer(query(4, 1), letters, stub);
        assertEquals(1, a.predicted(), "B has the largest letter logit");
        assertTrue(a.correct());
        // softmax of (1, 3, 2, 0) by hand: e^{x-3} / (e^-2 + 1 + e^-1 + e^-3)
        double zsum = Math.exp(-2) + 1 + Math.exp(-1) + Math.exp(-3);
        double[] expected = {Math.exp(-2) / zsum, 1 / zsum, Math.exp(-1) / zsum, Math.exp(-3) / zsum};
        // a handful of exp and one division each: a few ulps
        assertArrayEquals(expected, a.probs(), 1e-15);
        assertEquals(1, MmluOfficial.answer(query(4, 2), letters, stub).predicted());
        assertTrue(!MmluOfficial.answer(query(4, 2), letters, stub).correct());
        // a two-choice item looks at A and B only
        z[12] = 9;
        assertEquals(1, MmluOfficial.answer(query(2, 0), letters, stub).predicted());
        assertEquals(2, MmluOfficial.answer(query(4, 0), letters, stub).predicted());
        // ties go to the first letter, as numpy.argmax
        z[10] = 9;
        assertEquals(0, MmluOfficial.answer(query(4, 0), letters, stub).predicted());
        z[13] = Double.NaN;
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> MmluOfficial.answer(query(4, 0), letters, stub));
        assertTrue(e.getMessage().contains("here") && e.getMessage().contains("letter D"), e.getMessage());
    }

    @Test
    void letterIdsAreTheLastTokenOfEachLetter() throws Exception {
        int[] ids = MmluOfficial.letterIds(tok, 4);
        for (int c = 0; c < 4; c++) {
            int[] withBos = tok.encode(String.valueOf((char) ('A' + c)), true);
            assertEquals(withBos[withBos.length - 1], ids[c], "tokenizer(letter).input_ids[-1]");
        }
        // a tokenizer without byte fallback maps every unknown letter to <unk>: refused
        String json = "{\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true},"
                + "{\"id\":1,\"content\":\"<s>\",\"special\":true},{\"id\":2,\"content\":\"</s>\",\"special\":true}],"
                + "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\u2581\"}]},"
                + "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"byte_fallback\":false,\"vocab\":"
                + "{\"<unk>\":0,\"<s>\":1,\"</s>\":2,\"\u2581\":3,\"a\":4},\"merges\":[]}}";
        Path f = tmp.resolve("nofallback.json");
        Files.writeString(f, json);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MmluOfficial.letterIds(Tokenizer.load(f), 4));
        assertTrue(e.getMessage().contains("letters A and B end in the same token"), e.getMessage());
    }

    @Test
    void shotsAreDroppedOneByOneUntilThePromptFits() {
        String s = "anatomy";
        List<McItem> dev = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            dev.add(MmluFormatTest.item("which bone is in the arm " + i + "?", i, s));
        }
        McItem test = MmluFormatTest.item("one two?", 1, s);
        MmluSplit split = new MmluSplit(List.of(new MmluSplit.Subject(s, dev, List.of(test), List.of("f:9"))));
        int[] len = new int[4];
        for (int k = 0; k <= 3; k++) {
            len[k] = tok.encode(MmluFormat.prompt(dev, test, k), false).length + 1;
        }
        assertTrue(len[0] < len[1] && len[1] < len[2] && len[2] < len[3]);
        MmluOfficial.Query fits = MmluOfficial.queries(split, 3, tok, ids -> ids.length, len[3]).get(0);
        assertEquals(3, fits.shots());
        assertEquals(tok.bosId(), fits.ids()[0]);
        assertArrayEquals(tok.encode(MmluFormat.prompt(dev, test, 3), false),
                Arrays.copyOfRange(fits.ids(), 1, fits.ids().length));
        // one token short of 3 shots: 2 shots; one short of 1 shot: 0 shots
        assertEquals(2, MmluOfficial.queries(split, 3, tok, ids -> ids.length, len[3] - 1).get(0).shots());
        MmluOfficial.Query zero = MmluOfficial.queries(split, 3, tok, ids -> ids.length, len[1] - 1).get(0);
        assertEquals(0, zero.shots());
        assertEquals(len[0], zero.ids().length);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MmluOfficial.queries(split, 3, tok, ids -> ids.length, len[0] - 1));
        assertTrue(e.getMessage().startsWith("f:9: the 0-shot prompt takes " + len[0] + " tokens"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> MmluOfficial.queries(split, 4, tok, ids -> ids.length,
                10_000));
        assertTrue(e.getMessage().contains("4 shots asked") && e.getMessage().contains("3 dev items"), e.getMessage());
        assertEquals(2048, MmluOfficial.maxLength(4096));
        assertEquals(512, MmluOfficial.maxLength(512));
    }

    @Test
    void positionsCountAPrefixThatIsNotReplaced() {
        assertEquals(5, MmluOfficial.positions(null, new int[] {1, 7, 7, 7, 7}));
        assertEquals(5, MmluOfficial.positions(new int[] {1}, new int[] {1, 7, 7, 7, 7}), "[BOS] is replaced");
        assertEquals(9, MmluOfficial.positions(new int[] {1, 9, 9, 9}, new int[] {1, 7, 7, 7, 7}), "[P] comes in front");
        assertEquals(5, MmluOfficial.positions(new int[] {1, 7}, new int[] {1, 7, 7, 7, 7}));
    }

    @Test
    void aTinyModelAnswersAsItsOwnForwardPass() {
        String s = "anatomy";
        List<McItem> dev = List.of(MmluFormatTest.item("which bone?", 2, s), MmluFormatTest.item("the arm?", 0, s));
        List<McItem> test = List.of(MmluFormatTest.item("one two?", 1, s), MmluFormatTest.item("three?", 3, s),
                MmluFormatTest.item("four?", 0, s));
        MmluSplit split = new MmluSplit(List.of(new MmluSplit.Subject(s, dev, test, List.of("a", "b", "c"))));
        int[] letters = MmluOfficial.letterIds(tok, 4);
        List<MmluOfficial.Query> qs = MmluOfficial.queries(split, 2, tok, ids -> ids.length, 512);
        List<MmluOfficial.Answer> plain = MmluOfficial.answerAll(qs, letters,
                MmluOfficial.lastLogits(new PrefixedModel(model, null)), d -> { });
        List<MmluOfficial.Answer> bos = MmluOfficial.answerAll(qs, letters,
                MmluOfficial.lastLogits(new PrefixedModel(model, IntactKvPrefix.bos(model))), d -> { });
        int v = model.config().vocabSize();
        for (int i = 0; i < qs.size(); i++) {
            int[] ids = qs.get(i).ids();
            double[] all;
            try (GradMode.Scope g = GradMode.noGrad()) {
                all = model.forward(ids, null, LlamaModel.Options.LOGITS).logits().data().data();
            }
            int best = 0;
            for (int c = 1; c < 4; c++) {
                if (all[(ids.length - 1) * v + letters[c]] > all[(ids.length - 1) * v + letters[best]]) {
                    best = c;
                }
            }
            assertEquals(best, plain.get(i).predicted(), "item " + i);
            assertEquals(test.get(i).label(), plain.get(i).label());
            // IntactKV_[B] from the model itself: its own [BOS] cache, the same answer to rounding
            assertEquals(plain.get(i).predicted(), bos.get(i).predicted());
            assertArrayEquals(plain.get(i).probs(), bos.get(i).probs(), 1e-12);
        }
    }

    /**
     * Where the letters are single tokens that the prompt's tokenization keeps apart, the
     * harness's log-likelihood of the continuation " A" is log softmax(z)["▁A"] at the same last
     * position, so the two protocols pick the same letter on the same prompt text and
     * ll_c - ll_0 = z_c - z_0: the protocols differ in the prompt (header, which shots, the length
     * rule) and in what they report, not in this step.
     */
    @Test
    void onTheSamePromptTheHarnessPicksTheSameLetter() {
        McItem x = MmluFormatTest.item("which bone is in the arm?", 2, "anatomy");
        String prompt = MmluFormat.prompt(List.of(), x, 0);
        int[] letters = MmluOfficial.letterIds(tok, 4);
        for (int c = 0; c < 4; c++) {
            int[][] pair = MultipleChoice.encodePair(tok, prompt, x.choices().get(c));
            assertArrayEquals(new int[] {letters[c]}, pair[1], "the continuation is the letter's own token");
        }
        PrefixedModel m = new PrefixedModel(model, null);
        MultipleChoice.ItemScore harness = MultipleChoice.score(m, tok, prompt, x);
        MmluSplit split = new MmluSplit(List.of(new MmluSplit.Subject("anatomy", List.of(), List.of(x), List.of("x"))));
        MmluOfficial.Query q = MmluOfficial.queries(split, 0, tok, ids -> ids.length, 512).get(0);
        double[] z = MmluOfficial.lastLogits(m).next(q.ids());
        assertEquals(harness.predicted(), MmluOfficial.answer(q, letters, ids -> z).predicted());
        for (int c = 1; c < 4; c++) {
            // differences of log-probabilities of order 10 against differences of logits: rounding only
            assertEquals(z[letters[c]] - z[letters[0]], harness.logLikelihood()[c] - harness.logLikelihood()[0], 1e-12);
        }
    }
}
