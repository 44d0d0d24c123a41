package intactkv.prefix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.GradMode;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.io.SafetensorsReader;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import intactkv.tensor.Tensor;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Agreement with {@code tools/oracle/intactkv_fixtures.py} (float64 PyTorch) within 1e-10
 * relative: IntactKV_[B] and [P] caches, the RTN w3g16 model with and without the [P] prefix
 * and with a 4-bit KV cache (the prefix staying full precision), and the perplexity protocol
 * with and without IntactKV_[B]. Tolerance as in the model oracle test.
 */
class TorchIntactKvOracleTest {
    static void assertClose(String what, Tensor expected, Tensor actual) {
        assertEquals(expected.numel(), actual.numel(), what);
        double worst = 0;
        for (int i = 0; i < expected.numel(); i++) {
            worst = Math.max(worst, Math.abs(expected.data()[i] - actual.data()[i]));
        }
        assertTrue(worst <= 1e-10 * expected.maxAbs(), what + ": max |java - torch| = " + worst);
    }

    @Test
    void prefixesQuantizedRunsAndPerplexityMatchTorch() throws Exception {
        Path root = Path.of(getClass().getResource("/oracle").toURI());
        LlamaWeights w = LlamaWeights.load(root.resolve("gqa_f32"), false);
        LlamaModel fp = new LlamaModel(w);
        try (SafetensorsReader f = SafetensorsReader.open(root.resolve("intactkv.safetensors"));
             GradMode.Scope s = GradMode.noGrad()) {
            int[] promptIds = Arrays.stream(f.readLongs("prompt_ids")).mapToInt(Math::toIntExact).toArray();
            int[] x = Arrays.stream(f.readLongs("input_ids")).mapToInt(Math::toIntExact).toArray();
            IntactKvPrefix bos = IntactKvPrefix.bos(fp);
            IntactKvPrefix prompt = IntactKvPrefix.generate(fp, promptIds);
            for (int l = 0; l < w.config().numHiddenLayers(); l++) {
                assertClose("bos.k." + l, f.read("bos.k." + l), bos.keys().get(l));
                assertClose("bos.v." + l, f.read("bos.v." + l), bos.values().get(l));
                assertClose("prompt.k." + l, f.read("prompt.k." + l), prompt.keys().get(l));
                assertClose("prompt.v." + l, f.read("prompt.v." + l), prompt.values().get(l));
            }
            assertClose("prompt.logits", f.read("prompt.logits"), prompt.logits());
            QuantConfig rtn = QuantConfig.rtn(3, 16);
            LlamaModel q = QuantizedModel.quantize(w, rtn, null, (a, b) -> { }).model();
            LlamaModel qkv = QuantizedModel.quantize(w, rtn.withRuntime(null, 4), null, (a, b) -> { }).model();
            assertClose("q", f.read("q.logits"), new PrefixedModel(q, null).forward(x, LlamaModel.Options.LOGITS).logits());
            assertClose("q + [P]", f.read("q_prompt.logits"),
                    new PrefixedModel(q, prompt).forward(x, LlamaModel.Options.LOGITS).logits());
            assertClose("q + [P] + KV4", f.read("q_prompt_kv4.logits"),
                    new PrefixedModel(qkv, prompt).forward(x, LlamaModel.Options.LOGITS).logits());
            assertClose("q + KV4", f.read("q_kv4.logits"),
                    new PrefixedModel(qkv, null).forward(x, LlamaModel.Options.LOGITS).logits());
            int[] stream = Arrays.stream(f.readLongs("stream")).mapToInt(Math::toIntExact).toArray();
            double[] ppl = {
                Perplexity.evaluate(new PrefixedModel(fp, null), stream, 32, 1, d -> { }).ppl(),
                Perplexity.evaluate(new PrefixedModel(q, null), stream, 32, 1, d -> { }).ppl(),
                Perplexity.evaluate(new PrefixedModel(q, bos), stream, 32, 1, d -> { }).ppl(),
                Perplexity.evaluate(new PrefixedModel(qkv, null), stream, 32, 1, d -> { }).ppl(),
                Perplexity.evaluate(new PrefixedModel(qkv, bos), stream, 32, 1, d -> { }).ppl(),
            };
            assertClose("ppl", f.read("ppl"), Tensor.vector(ppl));
            assertArrayEquals(new int[] {1}, bos.ids());
        }
    }
}
