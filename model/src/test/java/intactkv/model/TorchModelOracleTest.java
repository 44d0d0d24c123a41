package intactkv.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.GradMode;
import intactkv.model.io.SafetensorsReader;
import intactkv.tensor.Layout;
import intactkv.tensor.Tensor;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Agreement with the independent float64 LLaMA of {@code tools/oracle/model_fixtures.py} on
 * random checkpoints in HF layout: GQA (h_kv = 2 of 4 heads) with F32 weights, tied
 * embeddings with BF16 weights, multi-query attention with F16 weights in two shards.
 *
 * <p>Tolerance 1e-10 relative to each tensor's largest entry (the bound): both sides
 * compute in double; summation order and libm differ, which costs about 1e-15 relative per
 * operation over a few hundred operations.
 */
class TorchModelOracleTest {
    static final double REL = 1e-10;

    static Path fixture(String name) throws Exception {
        return Path.of(TorchModelOracleTest.class.getResource("/oracle/model/" + name).toURI());
    }

    static void assertClose(String what, Tensor expected, Tensor actual) {
        assertEquals(expected.shape(), actual.shape(), what);
        double worst = 0;
        for (int i = 0; i < expected.numel(); i++) {
            worst = Math.max(worst, Math.abs(expected.data()[i] - actual.data()[i]));
        }
        assertTrue(worst <= REL * expected.maxAbs(), what + ": max |java - torch| = " + worst
                + " vs scale " + expected.maxAbs());
    }

    @ParameterizedTest
    @ValueSource(strings = {"gqa_f32", "tied_bf16", "mqa_f16_sharded"})
    void logitsHiddenStatesAndCacheMatchTorch(String name) throws Exception {
        Path dir = fixture(name);
        LlamaModel model = new LlamaModel(LlamaWeights.load(dir, false));
        try (SafetensorsReader exp = SafetensorsReader.open(dir.resolve("expected.safetensors"));
             GradMode.Scope s = GradMode.noGrad()) {
            long[] raw = exp.readLongs("input_ids");
            int[] ids = java.util.Arrays.stream(raw).mapToInt(Math::toIntExact).toArray();
            LlamaModel.Output out = model.forward(ids, null, LlamaModel.Options.WITH_HIDDEN);
            int t = ids.length;
            int v = model.config().vocabSize();
            assertClose(name + " logits", exp.read("logits"), out.logits().data().reshape(t, v));
            for (int l = 0; l < model.config().numHiddenLayers(); l++) {
                assertClose(name + " hidden." + l, exp.read("hidden." + l),
                        out.hidden().get(l).data().reshape(t, model.config().hiddenSize()));
            }
            // the KV-cache path: tokens 4.. after the cache of tokens 0..3
            Tensor pastLogits = exp.read("past_logits");
            int p = t - pastLogits.dim(0);
            LlamaModel.Output head = model.forward(java.util.Arrays.copyOf(ids, p), null, LlamaModel.Options.LOGITS);
            LlamaModel.Output tail = model.forward(java.util.Arrays.copyOfRange(ids, p, t), head.present(),
                    LlamaModel.Options.LOGITS);
            assertClose(name + " logits with past", pastLogits, tail.logits().data().reshape(t - p, v));
            // and the two Java paths agree with each other
            Tensor full = out.logits().data().reshape(t, v);
            assertClose(name + " cache vs full", Layout.slice(full, 0, p, t), tail.logits().data().reshape(t - p, v));
        }
    }
}
