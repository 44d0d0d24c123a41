package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.io.FormatException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LayerCheckpoint}: a GPTQ or QuaRot run stopped after any layer and resumed from its work directory gives
 * the weights of a run without stops, bit for bit (tolerance 0: both parts of the saved state are exact), with
 * activations held in double and in float; a directory of another run is refused naming the field that differs.
 */
class LayerCheckpointTest {
    /** Three layers, so that a run can stop after the first and after the second; GQA as in TinyLlama. */
    static final LlamaConfig C = new LlamaConfig(32, 64, 4, 2, 3, 1e-5, 10000, 50, 64, false, 1, 2);
    private static final Map<String, String> MODEL = Map.of("model", "random seed 9");

    @TempDir
    Path tmp;

    private static LlamaWeights fp() {
        return LlamaWeights.random(C, 9, 0.3, true, false);
    }

    /** The calibration sequences of {@link ModelQuantizationTest} (the same vocabulary of 50). */
    private static List<int[]> calib(int n, int t, int seed) {
        return ModelQuantizationTest.calib(n, t, seed);
    }

    private static QuantConfig gptq(int bits) {
        return new QuantConfig(Method.GPTQ, WeightQuantizer.Spec.asym(bits, 16), QuantConfig.OFF, QuantConfig.OFF, 0);
    }

    /** Thrown by the progress callback to stop a run, as Ctrl-C or a time limit would, after a layer. */
    private static final class Stop extends RuntimeException {
        Stop() {
            super("stopped", null, false, false);
        }
    }

    private static LlamaWeights run(QuantConfig config, List<int[]> calib, LayerCheckpoint saved, int stopAfter) {
        ModelQuantizer.Progress p = (stage, done) -> {
            if (stopAfter > 0 && done >= stopAfter / (double) C.numHiddenLayers() - 1e-12) {
                throw new Stop();
            }
        };
        return ModelQuantizer.quantizeReleasingInBasis(new AtomicReference<>(fp()), config, calib, p, saved).weights();
    }

    private static void assertSameLinears(LlamaWeights want, LlamaWeights got) {
        for (int l = 0; l < C.numHiddenLayers(); l++) {
            for (int j = 0; j < LlamaWeights.LINEAR_NAMES.size(); j++) {
                assertArrayEquals(want.block(l).linears().get(j).data().data(),
                        got.block(l).linears().get(j).data().data(), "layer " + l + " " + LlamaWeights.LINEAR_NAMES.get(j));
            }
        }
    }

    /** Stop after layer {@code stops[0]}, resume, stop after {@code stops[1]}, ..., then finish: equal to no stops. */
    private void resumedEqualsUninterrupted(QuantConfig config, List<int[]> calib, int... stops) throws IOException {
        LlamaWeights want = ModelQuantizer.quantizeReleasingInBasis(new AtomicReference<>(fp()), config, calib,
                ModelQuantizer.Progress.NONE).weights();
        Path dir = tmp.resolve("work-" + config.method().id() + "-" + stops.length);
        for (int stop : stops) {
            LayerCheckpoint saved = LayerCheckpoint.open(dir, MODEL, config, calib, C.numHiddenLayers());
            assertThrows(Stop.class, () -> run(config, calib, saved, stop));
            assertEquals(stop, LayerCheckpoint.open(dir, MODEL, config, calib, C.numHiddenLayers()).layersDone(),
                    "state.json records the finished layers");
        }
        LayerCheckpoint saved = LayerCheckpoint.open(dir, MODEL, config, calib, C.numHiddenLayers());
        assertSameLinears(want, run(config, calib, saved, 0));
        assertEquals(C.numHiddenLayers(), saved.layersDone());
        try (var files = Files.list(dir)) {
            assertEquals(List.of("inputs-3.safetensors"), files.map(f -> f.getFileName().toString())
                    .filter(f -> f.startsWith("inputs-")).toList(), "only the latest inputs are kept");
        }
    }

    @Test
    void gptqResumedAfterEachLayerEqualsARunWithoutStops() throws IOException {
        resumedEqualsUninterrupted(gptq(3), calib(3, 10, 3), 1, 2);
    }

    @Test
    void gptqResumedWithFloatActivationsEqualsARunWithoutStops() throws IOException {
        List<int[]> f32 = CalibrationSet.of(calib(3, 10, 3), ActivationStore.F32);
        resumedEqualsUninterrupted(gptq(4), f32, 2);
    }

    @Test
    void quaRotResumedEqualsARunWithoutStops() throws IOException {
        resumedEqualsUninterrupted(QuantConfig.w4a4kv4(), calib(2, 8, 5), 1);
    }

    /**
     * The saved state alone, read back: inputs in double keep every bit (values a float cannot hold), inputs in
     * float keep the floats, and the quantized linears keep their codes, scales and zeros.
     */
    @Test
    void savedInputsAndLinearsReadBackExactly() throws IOException {
        List<int[]> calib = calib(2, 8, 3);
        LlamaWeights q = ModelQuantizer.quantize(fp(), gptq(3), calib, ModelQuantizer.Progress.NONE);
        Random rng = new Random(11);
        for (ActivationStore store : ActivationStore.values()) {
            LayerInputs inputs = new LayerInputs(store);
            for (int n = 0; n < calib.size(); n++) {
                double[] x = new double[calib.get(n).length * C.hiddenSize()];
                for (int i = 0; i < x.length; i++) {
                    x[i] = rng.nextGaussian() * Math.exp(20 * rng.nextGaussian()); // wide exponents, full mantissas
                }
                inputs.add(intactkv.autograd.Value.constant(intactkv.tensor.Tensor.wrap(x,
                        intactkv.tensor.Shape.of(1, calib.get(n).length, C.hiddenSize()))));
            }
            List<int[]> run = CalibrationSet.of(calib, store);
            Path dir = tmp.resolve("roundtrip-" + store);
            LayerCheckpoint saved = LayerCheckpoint.open(dir, MODEL, gptq(3), run, C.numHiddenLayers());
            saved.save(0, q.block(0).linears(), inputs);
            LayerCheckpoint back = LayerCheckpoint.open(dir, MODEL, gptq(3), run, C.numHiddenLayers());
            List<intactkv.autograd.Value> read = back.inputs(store);
            for (int n = 0; n < inputs.size(); n++) {
                assertArrayEquals(inputs.get(n).data().data(), read.get(n).data().data(), store + " input " + n);
                assertEquals(inputs.get(n).shape(), read.get(n).shape());
            }
            List<intactkv.tensor.Shape> shapes = q.block(0).linears().stream().map(intactkv.autograd.Value::shape).toList();
            List<intactkv.tensor.Tensor> lin = back.layer(0, shapes);
            for (int j = 0; j < lin.size(); j++) {
                assertTrue(lin.get(j).storage() instanceof QuantCodes, "codes, not doubles");
                assertArrayEquals(q.block(0).linears().get(j).data().data(), lin.get(j).data(), "linear " + j);
            }
        }
    }

    @Test
    void anotherRunsDirectoryIsRefusedNamingTheField() throws IOException {
        Path dir = tmp.resolve("work");
        List<int[]> calib = calib(2, 8, 3);
        LayerCheckpoint saved = LayerCheckpoint.open(dir, MODEL, gptq(3), calib, C.numHiddenLayers());
        assertThrows(Stop.class, () -> run(gptq(3), calib, saved, 1));

        FormatException bits = assertThrows(FormatException.class,
                () -> LayerCheckpoint.open(dir, MODEL, gptq(4), calib, C.numHiddenLayers()));
        assertTrue(bits.getMessage().contains("field 'fingerprint.quant_config'"), bits.getMessage());
        assertTrue(bits.getMessage().contains("state.json"), bits.getMessage());

        FormatException data = assertThrows(FormatException.class,
                () -> LayerCheckpoint.open(dir, MODEL, gptq(3), calib(2, 8, 4), C.numHiddenLayers()));
        assertTrue(data.getMessage().contains("field 'fingerprint.calibration_sha256'"), data.getMessage());

        FormatException model = assertThrows(FormatException.class,
                () -> LayerCheckpoint.open(dir, Map.of("model", "another"), gptq(3), calib, C.numHiddenLayers()));
        assertTrue(model.getMessage().contains("field 'fingerprint.model'"), model.getMessage());

        List<int[]> asFloats = CalibrationSet.of(calib, ActivationStore.F32);
        FormatException store = assertThrows(FormatException.class,
                () -> LayerCheckpoint.open(dir, MODEL, gptq(3), asFloats, C.numHiddenLayers()));
        assertTrue(store.getMessage().contains("field 'fingerprint.activations'"), store.getMessage());
    }

    @Test
    void methodsWithoutLayerStateAreRefused() throws IOException {
        assertFalse(ModelQuantizer.resumes(Method.AWQ));
        assertTrue(ModelQuantizer.resumes(Method.GPTQ) && ModelQuantizer.resumes(Method.QUAROT));
        QuantConfig awq = new QuantConfig(Method.AWQ, WeightQuantizer.Spec.asym(3, 16), QuantConfig.OFF, QuantConfig.OFF, 0);
        LayerCheckpoint saved = LayerCheckpoint.open(tmp.resolve("awq"), MODEL, awq, calib(2, 8, 3), C.numHiddenLayers());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> run(awq, calib(2, 8, 3), saved, 0));
        assertTrue(e.getMessage().contains("gptq and quarot"), e.getMessage());
    }

    @Test
    void aFileInPlaceOfTheDirectoryIsRefused() throws IOException {
        Path file = Files.writeString(tmp.resolve("not-a-dir"), "x");
        IOException e = assertThrows(IOException.class,
                () -> LayerCheckpoint.open(file, MODEL, gptq(3), calib(2, 8, 3), C.numHiddenLayers()));
        assertTrue(e.getMessage().contains("not a directory"), e.getMessage());
    }

    @Test
    void theModelFingerprintChangesWithTheHeaders() throws IOException {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        intactkv.model.io.DType dt = intactkv.model.io.DType.F32;
        LlamaWeights w = fp();
        QuantizedModel.save(w, QuantConfig.fullPrecision(), new Basis.Original(), a, dt);
        QuantizedModel.save(w, QuantConfig.fullPrecision(), new Basis.Original(), b, intactkv.model.io.DType.F64);
        assertEquals(LayerCheckpoint.modelFingerprint(a), LayerCheckpoint.modelFingerprint(a));
        assertFalse(LayerCheckpoint.modelFingerprint(a).get("model_headers_sha256")
                .equals(LayerCheckpoint.modelFingerprint(b).get("model_headers_sha256")), "F32 and F64 headers differ");
    }
}
