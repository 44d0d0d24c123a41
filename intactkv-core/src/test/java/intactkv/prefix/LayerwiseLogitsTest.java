package intactkv.prefix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.GradMode;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.ModelHooks;
import intactkv.quant.ModelQuantizer;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import intactkv.tensor.Layout;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link LayerwiseLogits} against {@link PrefixedModel#forward} on the whole model, at tolerance 0: the rows asked for
 * of every input, with and without an IntactKV prefix (stripped from inputs that start with it, the past of those
 * that do not), for full precision and RTN with run-time KV quantization, whatever the number of inputs a pass carries.
 */
class LayerwiseLogitsTest {
    private static final LlamaConfig C = new LlamaConfig(16, 32, 4, 2, 3, 1e-5, 10000, 40, 640, false, 1, 2);

    /** Inputs of different lengths, all starting with [BOS]; the rows asked for start anywhere in them. */
    private static final List<int[]> INPUTS = List.of(IntactKvTest.tokens(9, 1), IntactKvTest.tokens(23, 2),
            IntactKvTest.tokens(2, 3), IntactKvTest.tokens(14, 4), IntactKvTest.tokens(31, 5));
    private static final int[] FROM = {3, 22, 0, 13, 1};

    private static List<Tensor> layered(LayerwisePerplexity.Setup s, IntactKvPrefix prefix, List<int[]> inputs,
                                        int[] from) throws IOException {
        Tensor[] got = new Tensor[inputs.size()];
        List<Integer> order = new ArrayList<>();
        LayerwiseLogits.forEach(s, prefix, inputs, from, (i, rows) -> {
            got[i] = rows;
            order.add(i);
        }, d -> { });
        for (int i = 0; i < inputs.size(); i++) {
            assertEquals(i, order.get(i), "inputs are handed over in order");
        }
        return Arrays.asList(got);
    }

    private static void assertRowsOfForward(PrefixedModel whole, List<int[]> inputs, int[] from, List<Tensor> got,
                                            String name) {
        try (GradMode.Scope g = GradMode.noGrad()) {
            for (int i = 0; i < inputs.size(); i++) {
                int[] ids = inputs.get(i);
                Tensor all = whole.forward(ids, LlamaModel.Options.LOGITS_ONLY).logits();
                Tensor want = Layout.slice(all, 0, from[i], ids.length);
                assertArrayEquals(want.shape().dims(), got.get(i).shape().dims(), name + ", input " + i);
                assertArrayEquals(want.data(), got.get(i).data(), 0.0, name + ", input " + i);
            }
        }
    }

    @Test
    void fullPrecisionRowsAreTheWholeModelsForEveryGroupSize() throws IOException {
        LlamaWeights w = LlamaWeights.random(C, 51, 0.4, true, false);
        PrefixedModel whole = new PrefixedModel(new LlamaModel(w), null);
        for (int perPass : new int[] {1, 2, 5, 8}) {
            LayerwisePerplexity.Setup s = new LayerwisePerplexity.Setup(w, w::block,
                    LayerwisePerplexity.BlockMap.FULL_PRECISION, ModelHooks.NONE, perPass);
            assertRowsOfForward(whole, INPUTS, FROM, layered(s, null, INPUTS, FROM), perPass + " inputs a pass");
        }
    }

    /**
     * RTN W3 g8 with 4-bit KV quantization and IntactKV_[B]: the [BOS] of each input is stripped, its row of logits is
     * the prefix's; an input that is the prefix alone runs nothing; a prefix of three tokens that an input does not
     * start with is its past.
     */
    @Test
    void rtnWithAPrefixGivesPrefixedModelsRows() throws IOException {
        LlamaWeights w = LlamaWeights.random(C, 53, 0.4, true, false);
        QuantConfig config = QuantConfig.rtn(3, 8).withRuntime(null, 4);
        LlamaModel fp = new LlamaModel(w);
        LlamaModel q = QuantizedModel.quantize(w, config, null, (a, b) -> { }).model();
        LayerwisePerplexity.BlockMap rtn = (l, b) -> ModelQuantizer.rtnBlock(b.get(), l, config);
        List<int[]> inputs = new ArrayList<>(INPUTS);
        inputs.add(new int[] {C.bosTokenId()});
        int[] from = Arrays.copyOf(FROM, FROM.length + 1);
        IntactKvPrefix bos = IntactKvPrefix.bos(fp);
        IntactKvPrefix three = IntactKvPrefix.generate(fp, new int[] {1, 9, 14});
        assertTrue(!three.isPrefixOf(inputs.get(0)), "the three-token prefix is the inputs' past, not stripped");
        for (int perPass : new int[] {1, 4}) {
            LayerwisePerplexity.Setup s = new LayerwisePerplexity.Setup(w, w::block, rtn, QuantizedModel.hooks(C, config),
                    perPass);
            assertRowsOfForward(new PrefixedModel(q, bos), inputs, from, layered(s, bos, inputs, from),
                    "RTN + [B], " + perPass);
            assertRowsOfForward(new PrefixedModel(q, three), INPUTS, FROM, layered(s, three, INPUTS, FROM),
                    "RTN after three prefix tokens, " + perPass);
            assertRowsOfForward(new PrefixedModel(q, null), INPUTS, FROM, layered(s, null, INPUTS, FROM),
                    "RTN, " + perPass);
        }
    }

    @Test
    void rowsOutsideAnInputAreRefused() {
        LlamaWeights w = LlamaWeights.random(C, 55, 0.4, true, false);
        LayerwisePerplexity.Setup s = new LayerwisePerplexity.Setup(w, w::block,
                LayerwisePerplexity.BlockMap.FULL_PRECISION, ModelHooks.NONE, 2);
        IllegalArgumentException past = assertThrows(IllegalArgumentException.class,
                () -> LayerwiseLogits.forEach(s, null, INPUTS, new int[] {3, 23, 0, 13, 1}, (i, r) -> { }, d -> { }));
        assertEquals("input 1: rows from 23 of an input of 23 tokens", past.getMessage());
        IllegalArgumentException count = assertThrows(IllegalArgumentException.class,
                () -> LayerwiseLogits.forEach(s, null, INPUTS, new int[] {0}, (i, r) -> { }, d -> { }));
        assertEquals("1 first rows for 5 inputs", count.getMessage());
    }
}
