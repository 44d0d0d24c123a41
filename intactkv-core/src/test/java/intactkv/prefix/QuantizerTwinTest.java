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
}
