package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.GradMode;
import intactkv.autograd.Value;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.io.DType;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Quantized weights kept as codes ({@link QuantCodes}) are the fake-quantized doubles, and a packed
 * checkpoint ({@link PackedCheckpoint}) loads back to the same logits as quantizing on the fly, bit for
 * bit (tolerance 0 everywhere), on the built-in model for RTN, GPTQ, AWQ and QuaRot.
 */
class PackedCheckpointTest {
    static final Path MODEL = Path.of("..", "examples", "default-model");

    @TempDir
    Path tmp;

    private static List<int[]> calib(int vocab, int n, int t) {
        Random rng = new Random(11);
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] s = new int[t];
            for (int j = 0; j < t; j++) {
                s[j] = 3 + rng.nextInt(vocab - 3);
            }
            out.add(s);
        }
        return out;
    }

    private static double[] logits(LlamaModel m, int[] ids) {
        try (GradMode.Scope s = GradMode.noGrad()) {
            return m.forward(ids, null, LlamaModel.Options.LOGITS).logits().data().data();
        }
    }

    /** The same weights with every tensor as plain doubles: what the quantizers returned before codes. */
    private static LlamaWeights dense(LlamaWeights w) {
        List<LlamaWeights.Block> blocks = new ArrayList<>();
        for (LlamaWeights.Block b : w.blocks()) {
            List<Value> lin = new ArrayList<>();
            for (Value v : b.linears()) {
                lin.add(Value.constant(Tensor.wrap(v.data().data(), v.shape())));
            }
            blocks.add(b.withLinears(lin));
        }
        return new LlamaWeights(w.config(), w.embed(), blocks, w.norm(), w.lmHead());
    }

    @Test
    void packedCheckpointsGiveTheLogitsOfQuantizingOnTheFly() throws IOException {
        LlamaWeights fp = LlamaWeights.load(MODEL, false);
        List<int[]> cal = calib(fp.config().vocabSize(), 2, 16);
        int[] ids = calib(fp.config().vocabSize(), 1, 40).get(0);
        ids[0] = fp.config().bosTokenId();
        List<QuantConfig> configs = List.of(QuantConfig.w3g128(),
                new QuantConfig(Method.GPTQ, WeightQuantizer.Spec.asym(3, 128), QuantConfig.OFF, QuantConfig.OFF, 0),
                new QuantConfig(Method.AWQ, WeightQuantizer.Spec.asym(3, 128), QuantConfig.OFF, QuantConfig.OFF, 0),
                new QuantConfig(Method.RTN, new WeightQuantizer.Spec(4, 64, true), QuantConfig.OFF, QuantConfig.OFF, 0));
        for (QuantConfig config : configs) {
            roundTrip(fp, config, cal, ids);
        }
    }

    /**
     * QuaRot (weights quantized in the rotated basis by GPTQ, per channel, symmetric) on the small random
     * model of {@link ModelQuantizationTest}: on the built-in model it also holds, but takes 20 s.
     */
    @Test
    void packedQuaRotGivesTheLogitsOfQuantizingOnTheFly() throws IOException {
        LlamaWeights fp = ModelQuantizationTest.fp();
        roundTrip(fp, QuantConfig.w4a4kv4(), ModelQuantizationTest.calib(4, 16), new int[] {1, 5, 9, 33, 2, 17, 40});
    }

    private void roundTrip(LlamaWeights fp, QuantConfig config, List<int[]> cal, int[] ids) throws IOException {
        QuantizedModel q = QuantizedModel.quantize(fp, config, cal, ModelQuantizer.Progress.NONE);
        for (Value v : q.model().weights().block(fp.config().numHiddenLayers() - 1).linears()) {
            assertInstanceOf(QuantCodes.class, v.data().storage(), config.label() + ": kept as codes");
        }
        double[] want = logits(q.model(), ids);
        assertArrayEquals(logits(new LlamaModel(dense(q.model().weights()), q.model().hooks()), ids), want, 0.0,
                config.label() + ": the kernels on codes and on their doubles agree");
        Path dir = tmp.resolve(config.method().id() + config.weight().bits() + config.weight().symmetric());
        q.save(dir, DType.F64);
        QuantizedModel back = QuantizedModel.load(dir, fp, null, null);
        assertInstanceOf(QuantCodes.class, back.model().weights().block(0).q().data().storage());
        assertArrayEquals(want, logits(back.model(), ids), 0.0, config.label() + ": loaded packed checkpoint");
        assertArrayEquals(logits(q.twin(), ids), logits(back.twin(), ids), 0.0, config.label() + ": twin");
    }

    /** RTN's codes are exactly the fake-quantized doubles of {@link FakeQuant#quantize}, asymmetric and symmetric. */
    @Test
    void codesAreTheFakeQuantizedValues() {
        Tensor w = intactkv.tensor.Init.normal(new Random(4), 0.7, 24, 64);
        for (WeightQuantizer.Spec spec : List.of(WeightQuantizer.Spec.asym(3, 16), new WeightQuantizer.Spec(4, -1, true),
                WeightQuantizer.Spec.asym(8, 32), new WeightQuantizer.Spec(12, 64, false))) {
            Tensor q = WeightQuantizer.quantize(w, spec, "w");
            assertInstanceOf(QuantCodes.class, q.storage(), spec.toString());
            assertArrayEquals(WeightQuantizer.fakeQuantize(w, spec, "w").data(), q.data(), 0.0, spec.toString());
        }
    }

    @Test
    void packedIsSmallAndOldDequantizedCheckpointsStillLoad() throws IOException {
        LlamaWeights fp = LlamaWeights.load(MODEL, false);
        QuantizedModel q = QuantizedModel.quantize(fp, QuantConfig.w3g128(), null, ModelQuantizer.Progress.NONE);
        Path packed = tmp.resolve("packed");
        q.save(packed, DType.F32);
        // the dequantized F64 form written before packing, without weight_format
        Path old = tmp.resolve("old");
        q.model().weights().save(old, DType.F64);
        q.config().write(old.resolve(QuantizedModel.CONFIG_FILE));
        long linears = 0;
        for (Value v : q.model().weights().block(0).linears()) {
            linears += v.data().numel();
        }
        long params = linears * 6;
        long packedBytes = Files.size(packed.resolve("model.safetensors"));
        long oldBytes = Files.size(old.resolve("model.safetensors"));
        // embeddings and LM head as F32 (2 x 1024 x 128 x 4 bytes), the linears at 3 bits plus 16 bytes of
        // scale and zero per group of 128, headers and norms: well under half the F64 linears alone
        long embeddings = 2L * 1024 * 128 * 4;
        assertTrue(packedBytes - embeddings < params * 3 / 8 + params / 128 * 16 + 60_000,
                packedBytes + " bytes packed");
        assertTrue(oldBytes > params * 8, oldBytes + " bytes dequantized");
        int[] ids = {1, 40, 7, 300, 12, 999, 5};
        QuantizedModel fromOld = QuantizedModel.load(old, fp, null, null);
        assertNull(fromOld.model().weights().block(0).q().data().storage(), "old checkpoints load as doubles");
        assertArrayEquals(logits(q.model(), ids), logits(fromOld.model(), ids), 0.0);
        assertArrayEquals(logits(q.model(), ids), logits(QuantizedModel.load(packed, fp, null, null).model(), ids), 0.0);
    }
}
