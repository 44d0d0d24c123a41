package intactkv.model.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import intactkv.autograd.Value;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.tensor.Bf16Storage;
import intactkv.tensor.ElementDtype;
import intactkv.tensor.F16Storage;
import intactkv.tensor.RowBlocks;
import intactkv.tensor.Tensor;
import intactkv.tensor.WeightStorage;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The committed Hugging Face test model oracle/model/gqa_f32 (4 heads, 2 KV heads), converted to
 * GGUF by tools/oracle/gguf_fixtures.py as convert_hf_to_gguf.py converts (Q/K rows permuted),
 * reads back as the same model: every tensor bit for bit, so the logits are bit for bit too;
 * and the mixed-type file (Q8_0, Q4_0, Q5_1, Q4_1, Q5_0, F16, BF16) reads as gguf-py's
 * dequantization with the permutation undone in numpy. No tolerance anywhere: the values are
 * the same floats.
 */
class GgufModelTest {
    static Path hfDir() throws Exception {
        return Path.of(GgufModelTest.class.getResource("/oracle/model/gqa_f32").toURI());
    }

    static void assertSameValues(String name, Tensor want, Tensor got) {
        assertEquals(want.shape(), got.shape(), name);
        double[] a = want.data();
        double[] b = got.data();
        for (int i = 0; i < a.length; i++) {
            if (Double.doubleToRawLongBits(a[i]) != Double.doubleToRawLongBits(b[i])) {
                fail(name + " element " + i + ": " + b[i] + " != " + a[i]);
            }
        }
    }

    @Test
    void f32GgufIsTheHuggingFaceModelBitForBit() throws Exception {
        Path gguf = GgufQuantTypesTest.fixture("gqa_f32.gguf");
        LlamaWeights hf = LlamaWeights.load(hfDir(), false);
        LlamaWeights g = LlamaWeights.load(gguf, false); // the hook: a GGUF file where a directory was
        LlamaConfig c = hf.config();
        assertEquals(c.hiddenSize(), g.config().hiddenSize());
        assertEquals(c.numKeyValueHeads(), g.config().numKeyValueHeads());
        assertEquals(c.rmsNormEps(), g.config().rmsNormEps(), 0.0); // float32 in GGUF, read as the shortest decimal that rounds to it: 1e-5 again
        Map<String, Value> want = new HashMap<>();
        hf.forEachNamed(want::put);
        int[] n = {0};
        g.forEachNamed((name, v) -> {
            assertSameValues(name, want.get(name).data(), v.data());
            n[0]++;
        });
        assertEquals(want.size(), n[0]);
        int[] ids = {1, 5, 9, 33, 2, 63, 17, 4};
        double[] a = new LlamaModel(hf).forward(ids, null, LlamaModel.Options.LOGITS).logits().data().data();
        double[] b = new LlamaModel(g).forward(ids, null, LlamaModel.Options.LOGITS).logits().data().data();
        for (int i = 0; i < a.length; i++) {
            assertEquals(Double.doubleToRawLongBits(a[i]), Double.doubleToRawLongBits(b[i]), "logit " + i);
        }
        assertEquals(LlamaConfig.read(hfDir().resolve("config.json")).numAttentionHeads(),
                LlamaConfig.read(gguf.resolve("config.json")).numAttentionHeads()); // the config.json hook
    }

    @Test
    void mixedTypesAreGgufPysDequantizationUnpermuted() throws Exception {
        LlamaWeights g = GgufWeights.load(GgufQuantTypesTest.fixture("gqa_mixed.gguf"), false);
        try (GgufFile expected = GgufFile.open(GgufQuantTypesTest.fixture("gqa_mixed.expected.gguf"))) {
            int[] n = {0};
            g.forEachNamed((name, v) -> {
                try {
                    GgufFile.TensorInfo t = expected.tensor(name);
                    float[] e = expected.readFloats(t);
                    double[] d = new double[e.length];
                    for (int i = 0; i < e.length; i++) {
                        d[i] = e[i];
                    }
                    assertSameValues(name, Tensor.wrap(d, t.shape()), v.data());
                    n[0]++;
                } catch (java.io.IOException ex) {
                    throw new AssertionError(ex);
                }
            });
            assertEquals(expected.tensors().size(), n[0]);
        }
    }

    /**
     * F16 and BF16 matrices (q_proj and k_proj permuted as in a converted file) are held in their dtype, 2 bytes an
     * element and row-interleaved, as the safetensors reader holds them, and give an F32 file of the same values'
     * tensors and logits bit for bit: a prompt, then one-row decoding steps through the cache (the kernels that read
     * the 16-bit patterns themselves).
     */
    @Test
    void halfMatricesAreHeldInTheirDtypeWithTheSameNumbers() throws Exception {
        for (int type : new int[] {1, 30}) {
            LlamaWeights half = GgufWeights.load(write(GgufBuilder.tinyLlama(7, null, type, false).build()), false);
            LlamaWeights f32 = GgufWeights.load(write(GgufBuilder.tinyLlama(7, null, type, true).build()), false);
            Map<String, Value> want = new HashMap<>();
            f32.forEachNamed(want::put);
            int[] matrices = {0};
            half.forEachNamed((name, v) -> {
                assertSameValues(name, want.get(name).data(), v.data());
                if (v.data().shape().rank() == 2) {
                    WeightStorage s = v.data().storage();
                    assertEquals(type == 1 ? F16Storage.class : Bf16Storage.class, s.getClass(), name);
                    assertEquals(RowBlocks.preferred(v.data().shape().dim(0), v.data().shape().dim(1),
                            type == 1 ? ElementDtype.F16 : ElementDtype.BF16), s.rowBlocks(), name);
                    matrices[0]++;
                }
            });
            assertEquals(9, matrices[0]); // embedding, seven linears, head
            LlamaModel a = new LlamaModel(f32);
            LlamaModel b = new LlamaModel(half);
            LlamaModel.Output oa = a.forward(new int[] {1, 4, 5, 3}, null, LlamaModel.Options.LOGITS);
            LlamaModel.Output ob = b.forward(new int[] {1, 4, 5, 3}, null, LlamaModel.Options.LOGITS);
            for (int step = 0; step < 3; step++) {
                assertBits(oa.logits().data().data(), ob.logits().data().data(), "type " + type + " step " + step);
                oa = a.forward(new int[] {2 + step}, oa.present(), LlamaModel.Options.LOGITS);
                ob = b.forward(new int[] {2 + step}, ob.present(), LlamaModel.Options.LOGITS);
            }
        }
    }

    private static void assertBits(double[] want, double[] got, String at) {
        assertEquals(want.length, got.length, at);
        for (int i = 0; i < want.length; i++) {
            assertEquals(Double.doubleToRawLongBits(want[i]), Double.doubleToRawLongBits(got[i]), at + " logit " + i);
        }
    }

    private static Path write(byte[] bytes) throws java.io.IOException {
        Path f = java.nio.file.Files.createTempFile("half", ".gguf");
        f.toFile().deleteOnExit();
        java.nio.file.Files.write(f, bytes);
        return f;
    }

    @Test
    void unpermuteInvertsConvertHfToGgufsPermute() {
        // permute(W, n): W.reshape(n, 2, dh/2, cols).swapaxes(1, 2): GGUF row h dh + 2i + j = HF row h dh + j dh/2 + i
        int heads = 2;
        int dh = 6;
        float[] g = new float[heads * dh];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < dh / 2; i++) {
                for (int j = 0; j < 2; j++) {
                    g[h * dh + 2 * i + j] = h * dh + j * (dh / 2) + i; // the HF row it came from
                }
            }
        }
        float[] hf = GgufWeights.unpermute(g, heads, 1);
        for (int r = 0; r < hf.length; r++) {
            assertEquals(r, hf[r], 0.0);
        }
    }

    @Test
    void tiedWhenThereIsNoOutputTensor() throws Exception {
        LlamaWeights g = LlamaWeights.load(GgufQuantTypesTest.fixture("gqa_f32.gguf"), true);
        assertTrue(!g.config().tieWordEmbeddings());
        assertTrue(g.lmHead() != g.embed());
        assertEquals(null, g.embed().data().storage()); // trainable: doubles, not float storage
        assertTrue(g.embed().requiresGrad());
    }
}
