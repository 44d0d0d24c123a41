package intactkv.model.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.GradMode;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.tensor.Reduce;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class GeneratorTest {
    static Tokenizer tokenizer() throws Exception {
        return Tokenizer.load(Path.of(GeneratorTest.class.getResource("/oracle/tokenizer/tokenizer.json").toURI()));
    }

    static LlamaModel model(int vocab) {
        LlamaConfig c = new LlamaConfig(16, 24, 4, 2, 2, 1e-5, 10000, vocab, 64, false, 1, 2);
        return new LlamaModel(LlamaWeights.random(c, 11, 0.4, true, false));
    }

    /** Greedy decoding with the KV cache equals recomputing the whole sequence at every step. */
    @Test
    void cachedGreedyEqualsFullRecomputation() throws Exception {
        Tokenizer tok = tokenizer();
        LlamaModel m = model(tok.vocabSize());
        int[] prompt = tok.encode("kalo mine ruza");
        StringBuilder streamed = new StringBuilder();
        Generator.Result r = new Generator(m, tok).generate(prompt, 12, Sampler.greedy(), streamed::append);
        int[] seq = prompt.clone();
        try (GradMode.Scope s = GradMode.noGrad()) {
            for (int step = 0; step < r.tokens().length; step++) {
                var logits = m.forward(seq, null, LlamaModel.Options.LOGITS).logits().data().reshape(seq.length, -1);
                int next = Reduce.argmaxLastAxis(logits)[seq.length - 1];
                assertEquals(next, r.tokens()[step], "step " + step);
                seq = Arrays.copyOf(seq, seq.length + 1);
                seq[seq.length - 1] = next;
            }
        }
        assertEquals(r.text(), streamed.toString(), "streamed pieces add up to the text");
        assertTrue(r.stopReason().equals("eos") || r.tokens().length == 12);
    }

    /**
     * The continuation is what the new tokens add to the prompt's decoded text, decoded together
     * with it: the leading space of a "▁word" piece after the prompt is kept (decoded alone, the
     * SentencePiece rule drops it), and streaming adds up to the same text.
     */
    @Test
    void continuationIsDecodedAfterThePrompt() throws Exception {
        Tokenizer tok = tokenizer();
        LlamaModel m = model(tok.vocabSize());
        int spaced = 0;
        for (int seed = 0; seed < 40; seed++) { // sampled, so that some continuations start with a ▁ piece
            String prompt = new String[] {"kalo mine ruza", "mine", "ruza kalo", "a"}[seed % 4];
            int[] ids = tok.encode(prompt);
            StringBuilder streamed = new StringBuilder();
            Generator.Result r = new Generator(m, tok).generate(ids, 6, new Sampler(1.0, 1.0, seed), streamed::append);
            int[] all = Arrays.copyOf(ids, ids.length + r.tokens().length);
            System.arraycopy(r.tokens(), 0, all, ids.length, r.tokens().length);
            String before = tok.decode(ids, true);
            String whole = tok.decode(all, true);
            assertTrue(whole.startsWith(before), whole);
            assertEquals(whole.substring(before.length()), r.text(), prompt);
            assertEquals(r.text(), streamed.toString(), "streamed pieces add up to the text");
            if (r.tokens().length > 0 && tok.piece(r.tokens()[0]).startsWith(Tokenizer.SPACE)) {
                assertTrue(r.text().startsWith(" "), "a ▁ piece after the prompt keeps its space: '" + r.text() + "'");
                spaced++;
            }
        }
        assertTrue(spaced > 0, "at least one prompt continues with a ▁ piece, so the space rule was exercised");
    }

    /** A token limit far beyond the model's positions stops at max-length without sizing anything by it. */
    @Test
    void hugeTokenLimitStopsAtTheModelsLength() throws Exception {
        Tokenizer tok = tokenizer();
        LlamaModel m = model(tok.vocabSize());
        int[] ids = tok.encode("kalo");
        Generator.Result r = new Generator(m, tok).generate(ids, Integer.MAX_VALUE, new Sampler(1.0, 1.0, 3), t -> { });
        // an [EOS] drawn first would end it earlier; seed 3 does not draw it on this model
        assertEquals("max-length", r.stopReason());
        assertEquals(m.config().maxPositionEmbeddings() - ids.length, r.tokens().length);
    }

    @Test
    void seededSamplingIsReproducibleAndTopPRestricts() {
        double[] logits = {0.0, 3.0, 2.9, -5.0};
        Sampler a = new Sampler(1.0, 1.0, 42);
        Sampler b = new Sampler(1.0, 1.0, 42);
        int[] sa = new int[50];
        int[] sb = new int[50];
        for (int i = 0; i < 50; i++) {
            sa[i] = a.next(logits);
            sb[i] = b.next(logits);
        }
        assertArrayEquals(sa, sb);
        // p(1) = 0.50, p(2) = 0.46: top-p 0.9 keeps only tokens 1 and 2
        Sampler nucleus = new Sampler(1.0, 0.9, 7);
        int[] counts = new int[4];
        for (int i = 0; i < 2000; i++) {
            counts[nucleus.next(logits)]++;
        }
        assertEquals(0, counts[0] + counts[3]);
        assertTrue(counts[1] > 900 && counts[2] > 800, Arrays.toString(counts));
        assertEquals(1, Sampler.greedy().next(logits));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(-1, 1, 0));
    }

    @Test
    void vicunaTemplate() {
        assertEquals(ChatTemplate.VICUNA_SYSTEM + " USER: Hi ASSISTANT:", ChatTemplate.vicunaPrompt("Hi"));
        assertTrue(ChatTemplate.vicunaPrompt("Hi").startsWith(ChatTemplate.vicunaPrefix()));
    }

    /**
     * A generator whose KV cache holds F16 or BF16 writes what a generator with a double cache writes for the model
     * whose new keys and values are rounded to that format before they are cached, token for token, greedy and
     * sampled, without and with a past (a prefix of the prompt computed elsewhere, rounded for the double generator,
     * rounded by the narrow one as it copies it in, with the past's own last logits).
     */
    @Test
    void aNarrowCacheGeneratesAsTheModelWithRoundedKeysAndValues() throws Exception {
        Tokenizer tok = tokenizer();
        LlamaModel m = model(tok.vocabSize());
        int[] prompt = tok.encode("kalo mine ruza kalo");
        int differ = 0; // sequences where the rounding changed a token: the comparison is not vacuous
        for (intactkv.tensor.ElementDtype d : new intactkv.tensor.ElementDtype[] {intactkv.tensor.ElementDtype.F16,
                intactkv.tensor.ElementDtype.BF16}) {
            LlamaModel hooked = m.withHooks(new intactkv.model.ModelHooks() {
                @Override
                public intactkv.autograd.Value newKeys(int layer, intactkv.autograd.Value k) {
                    return intactkv.autograd.Value.constant(intactkv.tensor.Elementwise.map(k.data(), d::round));
                }

                @Override
                public intactkv.autograd.Value newValues(int layer, intactkv.autograd.Value v) {
                    return intactkv.autograd.Value.constant(intactkv.tensor.Elementwise.map(v.data(), d::round));
                }
            });
            for (int seed = -1; seed < 3; seed++) {
                Sampler sampler = seed < 0 ? Sampler.greedy() : new Sampler(1.0, 1.0, seed);
                Sampler again = seed < 0 ? Sampler.greedy() : new Sampler(1.0, 1.0, seed);
                Generator.Result narrow = new Generator(m, tok, d).generate(prompt, 10, sampler, s -> { });
                Generator.Result exact = new Generator(hooked, tok).generate(prompt, 10, again, s -> { });
                assertArrayEquals(exact.tokens(), narrow.tokens(), d + " seed " + seed);
                Sampler third = seed < 0 ? Sampler.greedy() : new Sampler(1.0, 1.0, seed);
                differ += Arrays.equals(new Generator(m, tok).generate(prompt, 10, third, s -> { }).tokens(),
                        narrow.tokens()) ? 0 : 1;
            }
            // a past of the prompt's first 2 tokens, from the unrounded model (as IntactKV's full-precision prefix)
            intactkv.model.KvCache past;
            double[] last;
            try (GradMode.Scope s = GradMode.noGrad()) {
                LlamaModel.Output o = m.forward(Arrays.copyOf(prompt, 2), null, LlamaModel.Options.LOGITS);
                past = o.present();
                last = Arrays.copyOfRange(o.logits().data().data(), tok.vocabSize(), 2 * tok.vocabSize());
            }
            java.util.function.UnaryOperator<java.util.List<intactkv.autograd.Value>> round = xs -> xs.stream()
                    .map(x -> intactkv.autograd.Value.constant(intactkv.tensor.Elementwise.map(x.data(), d::round)))
                    .toList();
            intactkv.model.KvCache rounded = new intactkv.model.KvCache(round.apply(past.keys()),
                    round.apply(past.values()));
            Generator.Result narrow = new Generator(m, tok, d).generate(prompt, new Generator.Past(2, past, last), 10,
                    Sampler.greedy(), s -> { });
            Generator.Result exact = new Generator(hooked, tok).generate(prompt, new Generator.Past(2, rounded, last),
                    10, Sampler.greedy(), s -> { });
            assertArrayEquals(exact.tokens(), narrow.tokens(), d + " after a past");
            // a past that is the whole prompt: the first token from its logits, the rest after its rounded rows
            narrow = new Generator(m, tok, d).generate(Arrays.copyOf(prompt, 2), new Generator.Past(2, past, last), 10,
                    Sampler.greedy(), s -> { });
            exact = new Generator(hooked, tok).generate(Arrays.copyOf(prompt, 2), new Generator.Past(2, rounded, last),
                    10, Sampler.greedy(), s -> { });
            assertArrayEquals(exact.tokens(), narrow.tokens(), d + " after a past that is the whole prompt");
        }
        assertTrue(differ > 0, "no sequence changed with the cache's format");
    }
}
