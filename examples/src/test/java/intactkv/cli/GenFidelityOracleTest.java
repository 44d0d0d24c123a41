package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import intactkv.eval.GenerationFidelity;
import intactkv.model.LlamaModel;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.PrefixedModel;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The continuations gen-fidelity and the demo compare are the naive oracle's: for the first
 * prompt of the WordNet test split (as the demo takes it), the full-precision model, RTN W3 g128
 * without and with IntactKV_[B], and a 4-bit KV cache with IntactKV_[B] each continue exactly as
 * running the model on the whole sequence so far at every step, the prefix as past and no cache,
 * and taking the argmax ({@link GenerateIntactKvOracleTest#naive}); [EOS], where the oracle stops,
 * is the continuation's last token.
 */
class GenFidelityOracleTest {
    static final int STEPS = 12;

    @BeforeAll
    static void load() throws Exception {
        GenerateIntactKvOracleTest.load();
    }

    /** The oracle's tokens, then [EOS] when it stopped before {@code STEPS}. */
    static int[] oracle(PrefixedModel run, int[] prompt) {
        int[] t = GenerateIntactKvOracleTest.naive(run, prompt, STEPS);
        if (t.length == STEPS) {
            return t;
        }
        int[] out = Arrays.copyOf(t, t.length + 1);
        out[t.length] = run.model().config().eosTokenId();
        return out;
    }

    @Test
    void continuationsAreTheNaiveOracle() throws Exception {
        List<int[]> prompts = GenFidelityTable.prompts(intactkv.train.WordNetCorpus.splits().test(),
                new GenerationFidelity.Settings(1, GenFidelityCommand.PROMPT_WORDS, STEPS),
                GenerateIntactKvOracleTest.tok, "test split");
        assertEquals(1, prompts.size());
        QuantizedModel rtn = QuantizedModel.quantize(GenerateIntactKvOracleTest.fp, QuantConfig.rtn(3, 128), null,
                (a, b) -> { });
        QuantizedModel kv4 = QuantizedModel.quantize(GenerateIntactKvOracleTest.fp, QuantConfig.kv4(), null,
                (a, b) -> { });
        PrefixedModel[] runs = {new PrefixedModel(new LlamaModel(GenerateIntactKvOracleTest.fp), null),
            new PrefixedModel(rtn.model(), null), new PrefixedModel(rtn.model(), IntactKvPrefix.bos(rtn.twin())),
            new PrefixedModel(kv4.model(), IntactKvPrefix.bos(kv4.twin()))};
        String[] names = {"fp", "rtn w3g128", "rtn w3g128 [B]", "kv4 [B]"};
        for (int i = 0; i < runs.length; i++) {
            int[] got = GenerationFidelity.continuations(runs[i], GenerateIntactKvOracleTest.tok, prompts, STEPS,
                    d -> { }).get(0);
            assertArrayEquals(oracle(runs[i], prompts.get(0)), got, names[i]);
        }
    }
}
