package intactkv.prefix;

import static org.junit.jupiter.api.Assertions.assertEquals;

import intactkv.autograd.GradMode;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.quant.DynamicQuantizer;
import intactkv.quant.Method;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import intactkv.quant.WeightQuantizer;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The one rule of combining IntactKV with a quantizer ({@link intactkv.quant.Basis}), for every
 * method: the full-precision twin computes the original model's function. (That IntactKV_[B]
 * from the twin never moves 8-bit logits away from full precision is checked on the built-in
 * model, which has pivot tokens, in the examples module's IntactKvFidelityTest: on a random model
 * without a sink the [BOS] entry is one key among many and removing its error can go either way.)
 */
class QuantizerTwinTest {
    /** d 16, d_ff 32, 4 heads of 4, 2 KV heads (GQA), 2 layers: powers of two, as QuaRot's Hadamards need. */
    static final LlamaConfig C = new LlamaConfig(16, 32, 4, 2, 2, 1e-5, 10000, 40, 128, false, 1, 2);

    static int[] tokens(int n, long seed) {
        Random r = new Random(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = 3 + r.nextInt(C.vocabSize() - 3);
        }
        return t;
    }

    static List<int[]> calibration() {
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            out.add(tokens(24, 100 + i));
        }
        return out;
    }

    static QuantConfig eightBit(Method m) {
        return switch (m) {
            case NONE -> QuantConfig.fullPrecision().withRuntime(null, 8);
            case GGUF -> QuantConfig.gguf(intactkv.quant.GgufMix.Q8_0); // llama.cpp's 8-bit type
            case QUAROT -> new QuantConfig(m, new WeightQuantizer.Spec(8, -1, true), new DynamicQuantizer(8, true, 0.9, 0),
                    new DynamicQuantizer(8, false, 0.95, 0), 42);
            default -> new QuantConfig(m, WeightQuantizer.Spec.asym(8, 8), QuantConfig.OFF, QuantConfig.OFF, 42);
        };
    }

    static Tensor logits(LlamaModel m, intactkv.prefix.IntactKvPrefix p, int[] x) {
        try (GradMode.Scope s = GradMode.noGrad()) {
            return new PrefixedModel(m, p).forward(x, LlamaModel.Options.LOGITS).logits();
        }
    }

    static double distance(Tensor a, Tensor b) {
        double s = 0;
        for (int i = 0; i < a.numel(); i++) {
            double d = a.data()[i] - b.data()[i];
            s += d * d;
        }
        return Math.sqrt(s);
    }

    @ParameterizedTest
    @EnumSource(Method.class)
    void theTwinComputesTheOriginalFunction(Method m) {
        LlamaWeights fp = LlamaWeights.random(C, 5, 0.4, true, false);
        QuantizedModel q = QuantizedModel.quantize(fp, eightBit(m), calibration(), (a, b) -> { });
        int[] x = tokens(16, 7);
        x[0] = C.bosTokenId();
        Tensor want = logits(new LlamaModel(fp), null, x);
        Tensor got = logits(q.twin(), null, x);
        // the twin is the same function up to rounding: rotations and scalings of O(10) products of
        // O(1) values, so 1e-10 relative to the largest logit leaves a factor of ~1e4 over double rounding
        double tol = 1e-10 * want.maxAbs();
        for (int i = 0; i < want.numel(); i++) {
            assertEquals(want.data()[i], got.data()[i], tol, m + " twin logit " + i);
        }
    }

    @org.junit.jupiter.api.io.TempDir
    java.nio.file.Path tmp;

    /**
     * A saved AWQ model carries its scales ({@code awq_scales.safetensors}), so the twin, and the
     * IntactKV prefix, of the loaded model are those of the model quantized on the fly, bit for bit;
     * without the file, loading names it.
     */
    @org.junit.jupiter.api.Test
    void aSavedAwqModelRebuildsItsTwin() throws Exception {
        // h_kv = h, so AWQ's v_proj -> o_proj group runs and the twin's V differs from the original's
        LlamaConfig mha = new LlamaConfig(16, 32, 4, 4, 2, 1e-5, 10000, 40, 128, false, 1, 2);
        LlamaWeights fp = LlamaWeights.random(mha, 8, 0.4, true, false);
        QuantizedModel q = QuantizedModel.quantize(fp, new QuantConfig(Method.AWQ, WeightQuantizer.Spec.asym(3, 8),
                QuantConfig.OFF, QuantConfig.OFF, 42), calibration(), (a, b) -> { });
        java.nio.file.Path dir = tmp.resolve("awq");
        java.nio.file.Files.createDirectories(dir);
        q.save(dir, intactkv.model.io.DType.F64);
        QuantizedModel loaded = QuantizedModel.load(dir, fp, null, null);
        org.junit.jupiter.api.Assertions.assertTrue(loaded.basis() instanceof intactkv.quant.Basis.AwqScaled,
                loaded.basis().toString());
        IntactKvPrefix a = IntactKvPrefix.bos(q.twin());
        IntactKvPrefix b = IntactKvPrefix.bos(loaded.twin());
        for (int l = 0; l < C.numHiddenLayers(); l++) {
            org.junit.jupiter.api.Assertions.assertArrayEquals(a.values().get(l).data(), b.values().get(l).data(), 0.0);
            org.junit.jupiter.api.Assertions.assertArrayEquals(a.keys().get(l).data(), b.keys().get(l).data(), 0.0);
        }
        java.nio.file.Files.delete(dir.resolve(intactkv.quant.Basis.AwqScaled.FILE));
        java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                () -> QuantizedModel.load(dir, fp, null, null));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("awq_scales.safetensors"), e.getMessage());
    }

    /**
     * GPTQ's activation ordering makes its groups sets of columns in the Hessian's order, so a saved
     * GPTQ model has more than 2^b values in some block of g consecutive columns; loading accepts it
     * (it was refused before issue 25's calibration work found it) and gives the same logits.
     */
    @org.junit.jupiter.api.Test
    void aSavedGptqModelWithActivationOrderingLoads() throws Exception {
        LlamaWeights fp = LlamaWeights.random(C, 9, 0.4, true, false);
        QuantizedModel q = QuantizedModel.quantize(fp, new QuantConfig(Method.GPTQ, WeightQuantizer.Spec.asym(2, 8),
                QuantConfig.OFF, QuantConfig.OFF, 42), calibration(), (a, b) -> { });
        java.nio.file.Path dir = tmp.resolve("gptq");
        java.nio.file.Files.createDirectories(dir);
        q.save(dir, intactkv.model.io.DType.F64);
        QuantizedModel loaded = QuantizedModel.load(dir, fp, null, null);
        int[] x = tokens(12, 3);
        org.junit.jupiter.api.Assertions.assertArrayEquals(logits(q.model(), null, x).data(),
                logits(loaded.model(), null, x).data(), 0.0);
    }
}
