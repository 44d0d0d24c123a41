package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.Value;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.tensor.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Calibration activations held in F32 ({@link ActivationStore}, {@link LayerInputs}, {@link CalibrationSet}):
 * F64 leaves every quantizer's result bit-identical to a plain calibration list; F32 stores float-rounded
 * values and reads them back exactly, so a model whose recorded inputs are already floats quantizes to the
 * same bits under F32 and F64, and one whose inputs are not gives other weights.
 */
class CalibActivationsTest {
    private static final List<Method> METHODS = List.of(Method.GPTQ, Method.AWQ, Method.QUAROT);

    private static QuantConfig config(Method m) {
        return m == Method.QUAROT ? QuantConfig.w4a4kv4()
                : new QuantConfig(m, WeightQuantizer.Spec.asym(3, 16), QuantConfig.OFF, QuantConfig.OFF, 0);
    }

    private static void assertSameWeights(LlamaWeights expected, LlamaWeights got, String what) {
        for (int l = 0; l < expected.blocks().size(); l++) {
            for (int j = 0; j < 7; j++) {
                assertArrayEquals(expected.block(l).linears().get(j).data().data(),
                        got.block(l).linears().get(j).data().data(), what + ": layer " + l + " linear " + j);
            }
        }
    }

    private static boolean anyDifferent(LlamaWeights a, LlamaWeights b) {
        for (int l = 0; l < a.blocks().size(); l++) {
            for (int j = 0; j < 7; j++) {
                if (!Arrays.equals(a.block(l).linears().get(j).data().data(), b.block(l).linears().get(j).data().data())) {
                    return true;
                }
            }
        }
        return false;
    }

    private static LlamaWeights run(LlamaWeights fp, Method m, List<int[]> calib) {
        return ModelQuantizer.quantize(fp, config(m), calib, ModelQuantizer.Progress.NONE);
    }

    @Test
    void f64IsBitIdenticalToAPlainList() {
        List<int[]> calib = ModelQuantizationTest.calib(4, 12);
        for (Method m : METHODS) {
            assertSameWeights(run(ModelQuantizationTest.fp(), m, calib),
                    run(ModelQuantizationTest.fp(), m, CalibrationSet.of(calib, ActivationStore.F64)), m.id());
        }
    }

    /**
     * One layer whose inputs (the embeddings) are floats already: F32 storage rounds nothing the layer
     * reads, so the result is bit-identical to F64 (the layer's outputs, rounded, are not used again).
     * With embeddings that are not floats, F32 changes the weights: the option is in effect.
     */
    @Test
    void f32ReadsBackExactlyWhatItStored() {
        // d 160 > Gptq.BLOCK: the second block's group scales see the Hessian (the first block's come from W alone)
        LlamaConfig one = new LlamaConfig(160, 320, 4, 2, 1, 1e-5, 10000, 50, 64, false, 1, 2);
        LlamaWeights random = LlamaWeights.random(one, 9, 0.3, true, false);
        // the random draws may be floats already: divided by 3 they are not, rounded back they are
        double[] d = random.embed().data().data().clone();
        double[] e = new double[d.length];
        for (int i = 0; i < d.length; i++) {
            d[i] /= 3;
            e[i] = (float) d[i];
        }
        LlamaWeights drawn = new LlamaWeights(one, Value.constant(Tensor.wrap(d, random.embed().shape())),
                random.blocks(), random.norm(), random.lmHead());
        LlamaWeights floats = new LlamaWeights(one, Value.constant(Tensor.wrap(e, random.embed().shape())),
                random.blocks(), random.norm(), random.lmHead());
        List<int[]> calib = ModelQuantizationTest.calib(2, 8);
        List<int[]> f32 = CalibrationSet.of(calib, ActivationStore.F32);
        for (Method m : METHODS) {
            if (m == Method.QUAROT) {
                continue; // its rotation makes the first inputs non-floats again; it runs GPTQ's Gptq.sequential
            }
            assertSameWeights(run(floats, m, calib), run(floats, m, f32), m.id() + " on float inputs");
            assertTrue(anyDifferent(run(drawn, m, calib), run(drawn, m, f32)), m.id() + " on double inputs");
        }
    }

    @Test
    void layerInputsRoundToFloatAndWidenExactly() {
        Random rnd = new Random(5);
        double[] d = new double[2 * 3 * 4];
        for (int i = 0; i < d.length; i++) {
            d[i] = rnd.nextGaussian() * Math.pow(10, rnd.nextInt(7) - 3);
        }
        Value x = Value.constant(Tensor.wrap(d, 2, 3, 4));
        LayerInputs f64 = new LayerInputs(ActivationStore.F64);
        f64.add(x);
        assertSame(x, f64.get(0), "f64 keeps the value itself");
        LayerInputs f32 = new LayerInputs(ActivationStore.F32);
        f32.add(x);
        Value back = f32.get(0);
        assertEquals(x.shape(), back.shape());
        for (int i = 0; i < d.length; i++) {
            assertEquals((double) (float) d[i], back.data().data()[i], 0.0, "element " + i);
        }
        assertFalse(Arrays.equals(d, back.data().data()), "the draws are not all floats");
        assertEquals(1, f32.size());
    }

    @Test
    void storeParsesItsFlagSpellingAndNothingElse() {
        assertEquals(ActivationStore.F64, ActivationStore.parse("f64"));
        assertEquals(ActivationStore.F32, ActivationStore.parse("f32"));
        assertEquals(8, ActivationStore.F64.bytesPerValue());
        assertEquals(4, ActivationStore.F32.bytesPerValue());
        for (String bad : new String[] {"F32", "f16", "", "double"}) {
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> ActivationStore.parse(bad));
            assertEquals("must be f64 or f32, got '" + bad + "'", ex.getMessage());
        }
        assertEquals(ActivationStore.F64, CalibrationSet.storeOf(List.of(new int[] {1})));
        assertEquals(ActivationStore.F32, CalibrationSet.storeOf(CalibrationSet.of(List.of(new int[] {1}),
                ActivationStore.F32)));
    }
}
