package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.GradMode;
import intactkv.model.KvCache;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.text.ChatTemplate;
import intactkv.model.text.Generator;
import intactkv.model.text.Sampler;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.PrefixSpec;
import intactkv.prefix.PrefixedModel;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Issue 28, deliverable 1: generation with a quantized model and IntactKV is the naive oracle.
 * Greedy decoding with the KV cache after the full-precision prefix
 * ({@link PrefixedModel#generate}) gives exactly the tokens of running the quantized model, at
 * every step, on the whole sequence so far with the prefix as past and no cache of its own
 * ({@link PrefixedModel#forward}, what {@code ppl} scores), then taking the argmax of the last
 * logits. Checked on the built-in model (which has pivot tokens) for RTN W3 g128, a 4-bit KV
 * cache (the prefix stays exact, the new tokens' keys and values are quantized) and QuaRot W4A4KV4,
 * each with IntactKV_[B], IntactKV_[P] (the --chat template) and none.
 */
class GenerateIntactKvOracleTest {
    static LlamaWeights fp;
    static Tokenizer tok;
    /** New tokens per generation: enough to pass through several decoding steps with the cache. */
    static final int STEPS = 10;

    @BeforeAll
    static void load() throws Exception {
        fp = LlamaWeights.load(IntactKvFidelityTest.MODEL, false);
        tok = Tokenizer.load(IntactKvFidelityTest.MODEL.resolve("tokenizer.json"));
    }

    static Stream<Arguments> models() {
        return Stream.of(Arguments.of("rtn w3g128", QuantConfig.rtn(3, 128)),
                Arguments.of("fp kv4", QuantConfig.fullPrecision().withRuntime(null, 4)),
                Arguments.of("quarot w4a4kv4", QuantConfig.w4a4kv4()));
    }

    /** Two 64-token windows of test-split glosses: QuaRot's GPTQ needs calibration (any will do here), RTN ignores it. */
    static List<int[]> calibration() throws java.io.IOException {
        List<String> docs = intactkv.train.WordNetCorpus.splits().test().subList(0, 60);
        int[] text = intactkv.prefix.Perplexity.tokenize(tok, docs);
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            out.add(Arrays.copyOfRange(text, 200 + 64 * i, 264 + 64 * i));
        }
        return out;
    }

    /** The naive oracle: at each step the whole sequence so far, prefix as past, no cache; argmax of the last logits. */
    static int[] naive(PrefixedModel run, int[] prompt, int steps) {
        int[] seq = prompt.clone();
        int v = fp.config().vocabSize();
        try (GradMode.Scope s = GradMode.noGrad()) {
            for (int i = 0; i < steps; i++) {
                Tensor logits = run.forward(seq, LlamaModel.Options.LOGITS).logits();
                double[] last = Arrays.copyOfRange(logits.data(), (seq.length - 1) * v, seq.length * v);
                int next = Sampler.greedy().next(last);
                if (next == fp.config().eosTokenId()) {
                    break;
                }
                seq = Arrays.copyOf(seq, seq.length + 1);
                seq[seq.length - 1] = next;
            }
        }
        return Arrays.copyOfRange(seq, prompt.length, seq.length);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void greedyGenerationWithIntactKvIsTheNaiveOracle(String name, QuantConfig config) throws Exception {
        QuantizedModel q = QuantizedModel.quantize(fp, config, config.method().needsCalibration() ? calibration() : null,
                (a, b) -> { });
        String question = "a small domesticated";
        int[] plain = tok.encode(question, true);
        int[] chat = tok.encode(ChatTemplate.vicunaPrompt(question), true);
        int bos = fp.config().bosTokenId();
        // [BOS] alone: with IntactKV_[B] nothing is left for the quantized model before the first new token
        Object[][] cases = {{"none", plain}, {"bos", plain}, {"bos", new int[] {bos}}, {"none", chat}, {"prompt", chat}};
        for (Object[] c : cases) {
            String which = (String) c[0];
            int[] ids = (int[]) c[1];
            IntactKvPrefix prefix = PrefixSpec.resolve(which, q.twin(), tok);
            PrefixedModel run = new PrefixedModel(q.model(), prefix);
            Generator.Result got = run.generate(tok, ids, STEPS, Sampler.greedy(), s -> { });
            int[] want = naive(run, ids, STEPS);
            assertArrayEquals(want, got.tokens(), name + ", --intactkv " + which + ", prompt of " + ids.length + " tokens");
            assertTrue(got.tokens().length > 0, "something was generated");
        }
    }

    /**
     * With a 4-bit KV cache the prefix stays exact and only the new tokens' keys and values are
     * quantized: the cache the quantized model returns after the prompt's tokens (what decoding
     * continues from) holds the full-precision [BOS] row bit for bit, and every new row of a head
     * takes at most 2^4 distinct values (asymmetric per-(token, head) quantization: 16 levels).
     */
    @Test
    void withAKv4CacheThePrefixStaysExactAndNewTokensAreQuantized() {
        QuantizedModel q = QuantizedModel.quantize(fp, QuantConfig.fullPrecision().withRuntime(null, 4), null,
                (a, b) -> { });
        IntactKvPrefix bos = IntactKvPrefix.bos(q.twin());
        int[] rest = Arrays.copyOfRange(tok.encode("a small domesticated", true), 1, 4);
        int hkv = fp.config().numKeyValueHeads();
        int dh = fp.config().headDim();
        try (GradMode.Scope s = GradMode.noGrad()) {
            KvCache present = q.model().forward(rest, bos.asCache(false), LlamaModel.Options.LOGITS).present();
            for (int l = 0; l < present.layers(); l++) {
                for (boolean key : new boolean[] {true, false}) {
                    double[] got = (key ? present.keys() : present.values()).get(l).data().data();
                    double[] exact = (key ? bos.keys() : bos.values()).get(l).data();
                    int p = 1 + rest.length;
                    for (int h = 0; h < hkv; h++) {
                        double[] row0 = Arrays.copyOfRange(got, h * p * dh, h * p * dh + dh);
                        assertArrayEquals(Arrays.copyOfRange(exact, h * dh, h * dh + dh), row0, 0.0,
                                "layer " + l + " head " + h + (key ? " K" : " V") + " of [BOS]");
                        for (int t = 1; t < p; t++) {
                            int from = (h * p + t) * dh;
                            long levels = Arrays.stream(Arrays.copyOfRange(got, from, from + dh)).distinct().count();
                            assertTrue(levels <= 16, "layer " + l + " head " + h + " token " + t + ": " + levels
                                    + " distinct values in a 4-bit row");
                        }
                    }
                }
            }
        }
    }
}
