package intactkv.model.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.GradMode;
import intactkv.model.LlamaModel;
import intactkv.tensor.Layout;
import intactkv.tensor.Tensor;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The generator's stop conditions ({@link Generator.Stop}: a list of end-of-sequence ids, a stop
 * string) and the sequence it hands the sampler (the repetition penalty sees prompt and new
 * tokens), on the small random model of {@link GeneratorTest}.
 */
class GeneratorStopTest {
    static final int N = 24;

    /** The stop string ends generation at its first appearance, cut from the text and never streamed. */
    @Test
    void stopStringCutsTheTextAndIsNeverStreamed() throws Exception {
        Tokenizer tok = GeneratorTest.tokenizer();
        LlamaModel m = GeneratorTest.model(tok.vocabSize());
        int[] ids = tok.encode("kalo mine ruza");
        Generator g = new Generator(m, tok);
        // sampled (the random model's greedy choice is [EOS] at once): the first seed with enough text
        long seed = 0;
        Generator.Result free = g.generate(ids, N, new Sampler(1.0, 1.0, seed), t -> { });
        while (free.text().length() <= 6 && seed < 50) {
            free = g.generate(ids, N, new Sampler(1.0, 1.0, ++seed), t -> { });
        }
        String text = free.text();
        assertTrue(text.length() > 6, "enough text to pick a stop string from: '" + text + "'");
        String stop = text.substring(text.length() / 2, text.length() / 2 + 2);
        int at = text.indexOf(stop);
        assertTrue(at > 0, stop);
        StringBuilder streamed = new StringBuilder();
        Generator.Result r = g.generate(ids, null, N, new Sampler(1.0, 1.0, seed), new Generator.Stop(new int[0], stop),
                streamed::append);
        assertEquals("stop-string", r.stopReason());
        assertEquals(text.substring(0, at), r.text());
        assertEquals(r.text(), streamed.toString(), "streamed pieces add up to the cut text");
        assertFalse(streamed.toString().contains(stop));
        assertTrue(r.tokens().length <= free.tokens().length);
        assertArrayEquals(Arrays.copyOf(free.tokens(), r.tokens().length), r.tokens(), "the same seeded tokens up to the stop");
    }

    /** A given list of eos ids replaces the model's: generation stops at the first of them, excluded. */
    @Test
    void eosListStopsAtAnyOfItsIds() throws Exception {
        Tokenizer tok = GeneratorTest.tokenizer();
        LlamaModel m = GeneratorTest.model(tok.vocabSize());
        int[] ids = tok.encode("mine");
        Generator g = new Generator(m, tok);
        int[] free = g.generate(ids, N, Sampler.greedy(), t -> { }).tokens();
        int k = 1;
        while (k < free.length && contains(Arrays.copyOf(free, k), free[k])) {
            k++;
        }
        assertTrue(k < free.length, "a token not seen before: " + Arrays.toString(free));
        Generator.Result r = g.generate(ids, null, N, Sampler.greedy(), new Generator.Stop(new int[] {999_999, free[k]},
                null), t -> { });
        assertEquals("eos", r.stopReason());
        assertArrayEquals(Arrays.copyOf(free, k), r.tokens());
    }

    /**
     * Greedy with a repetition penalty: each token is the argmax of the penalised logits of the
     * whole sequence so far (prompt included), recomputed without the cache; and the penalty
     * changes what is generated (a test that could fail if the sequence never reached the sampler).
     */
    @Test
    void repetitionPenaltySeesPromptAndNewTokens() throws Exception {
        Tokenizer tok = GeneratorTest.tokenizer();
        LlamaModel m = GeneratorTest.model(tok.vocabSize());
        int[] prompt = tok.encode("kalo mine ruza kalo");
        GenerationConfig g = GenerationConfig.defaults().withRepetitionPenalty(3.0);
        Generator.Result r = new Generator(m, tok).generate(prompt, null, N, new Sampler(g, 0), Generator.Stop.DEFAULT,
                t -> { });
        int[] seq = prompt.clone();
        try (GradMode.Scope s = GradMode.noGrad()) {
            for (int step = 0; step < r.tokens().length; step++) {
                Tensor logits = m.forward(seq, null, LlamaModel.Options.LOGITS).logits().data().reshape(seq.length, -1);
                double[] last = Layout.slice(logits, 0, seq.length - 1, seq.length).data();
                double[] p = new Sampler(g, 0).distribution(last, seq);
                int next = 0;
                while (p[next] != 1.0) {
                    next++;
                }
                assertEquals(next, r.tokens()[step], "step " + step);
                seq = Arrays.copyOf(seq, seq.length + 1);
                seq[seq.length - 1] = next;
            }
        }
        int[] plain = new Generator(m, tok).generate(prompt, N, Sampler.greedy(), t -> { }).tokens();
        assertNotEquals(Arrays.toString(plain), Arrays.toString(r.tokens()), "the penalty changed nothing");
    }

    private static boolean contains(int[] a, int v) {
        return Arrays.stream(a).anyMatch(x -> x == v);
    }
}
