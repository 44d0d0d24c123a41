package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.Value;
import intactkv.model.LlamaWeights;
import intactkv.model.io.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ModelQuantizer#quantizeReleasing} (issue 27: the {@code quantize} command hands its only reference to the
 * full-precision model over, so that each layer's full-precision linears can be collected once quantized) gives the
 * same weights as {@link ModelQuantizer#quantize}, bit for bit, for every method: the packed checkpoints both write
 * (with AWQ's scales file) are byte-identical, and the twin rebuilt from the released basis is the kept one.
 */
class QuantizeReleasingTest {
    @TempDir
    Path tmp;

    /** Every file {@link QuantizedModel#save} writes for {@code w} in {@code basis}, by name. */
    private Map<String, byte[]> written(LlamaWeights w, QuantConfig config, Basis basis, String name) throws IOException {
        Path dir = tmp.resolve(name);
        QuantizedModel.save(w, config, basis, dir, DType.BF16);
        Map<String, byte[]> files = new TreeMap<>();
        try (Stream<Path> list = Files.list(dir)) {
            for (Path f : list.toList()) {
                files.put(f.getFileName().toString(), Files.readAllBytes(f));
            }
        }
        return files;
    }

    private void sameAsQuantize(QuantConfig config, List<int[]> calib, boolean codes) throws IOException {
        ModelQuantizer.Quantized expected = ModelQuantizer.quantizeInBasis(ModelQuantizationTest.fp(), config, calib,
                ModelQuantizer.Progress.NONE);
        AtomicReference<LlamaWeights> fp = new AtomicReference<>(ModelQuantizationTest.fp());
        ModelQuantizer.Released got = ModelQuantizer.quantizeReleasingInBasis(fp, config, calib,
                ModelQuantizer.Progress.NONE);
        assertNull(fp.get(), "the weights were taken out of the holder");
        assertEquals(expected.basis().getClass(), got.basis().getClass());
        for (int l = 0; l < got.weights().blocks().size(); l++) {
            List<Value> lin = got.weights().block(l).linears();
            for (int j = 0; j < lin.size(); j++) {
                if (codes) {
                    assertInstanceOf(QuantCodes.class, lin.get(j).data().storage(), "layer " + l + " linear " + j);
                }
                assertArrayEquals(expected.weights().block(l).linears().get(j).data().data(), lin.get(j).data().data());
            }
        }
        String id = config.method().id();
        Map<String, byte[]> want = written(expected.weights(), config, expected.basis(), id + "-quantize");
        Map<String, byte[]> have = written(got.weights(), config, got.basis(), id + "-releasing");
        assertEquals(want.keySet(), have.keySet(), "the same files");
        for (String f : want.keySet()) {
            assertArrayEquals(want.get(f), have.get(f), f + " byte for byte");
        }
        // the twin rebuilt from the saved basis is the twin the keeping path returns (IntactKV's prefix comes from it)
        LlamaWeights original = ModelQuantizationTest.fp();
        LlamaWeights twinFromBasis = got.basis().twin(original).weights();
        for (int l = 0; l < original.blocks().size(); l++) {
            for (int j = 0; j < 7; j++) {
                assertArrayEquals(expected.twin().weights().block(l).linears().get(j).data().data(),
                        twinFromBasis.block(l).linears().get(j).data().data(), id + " twin layer " + l + " linear " + j);
            }
        }
    }

    @Test
    void rtnReleasingWritesTheSameCheckpoint() throws IOException {
        assertTrue(ModelQuantizer.releasesLayers(Method.RTN));
        sameAsQuantize(QuantConfig.rtn(3, 16), null, true);
    }

    @Test
    void gptqReleasingWritesTheSameCheckpoint() throws IOException {
        QuantConfig gptq = new QuantConfig(Method.GPTQ, WeightQuantizer.Spec.asym(3, 16), QuantConfig.OFF,
                QuantConfig.OFF, 0);
        assertTrue(ModelQuantizer.releasesLayers(Method.GPTQ));
        sameAsQuantize(gptq, ModelQuantizationTest.calib(4, 12), true);
    }

    /** AWQ: the scales file (the twin's basis) and the checkpoint are the same bytes. */
    @Test
    void awqReleasingWritesTheSameCheckpointAndScales() throws IOException {
        QuantConfig awq = new QuantConfig(Method.AWQ, WeightQuantizer.Spec.asym(3, 16), QuantConfig.OFF,
                QuantConfig.OFF, 0);
        assertTrue(ModelQuantizer.releasesLayers(Method.AWQ));
        sameAsQuantize(awq, ModelQuantizationTest.calib(3, 10), true);
    }

    /** OmniQuant keeps its trained straight-through weights as doubles (no codes), released all the same. */
    @Test
    void omniQuantReleasingWritesTheSameCheckpoint() throws IOException {
        QuantConfig lwc = new QuantConfig(Method.OMNIQUANT, WeightQuantizer.Spec.asym(3, 16), QuantConfig.OFF,
                QuantConfig.OFF, 0);
        assertTrue(ModelQuantizer.releasesLayers(Method.OMNIQUANT));
        sameAsQuantize(lwc, ModelQuantizationTest.calib(2, 8), false);
    }

    @Test
    void quaRotReleasingWritesTheSameCheckpoint() throws IOException {
        assertTrue(ModelQuantizer.releasesLayers(Method.QUAROT));
        sameAsQuantize(QuantConfig.w4a4kv4(), ModelQuantizationTest.calib(3, 10), true);
    }

    @Test
    void fullPrecisionHasNothingToRelease() {
        assertFalse(ModelQuantizer.releasesLayers(Method.NONE));
        AtomicReference<LlamaWeights> fp = new AtomicReference<>(ModelQuantizationTest.fp());
        LlamaWeights w = fp.get();
        assertEquals(w, ModelQuantizer.quantizeReleasing(fp, QuantConfig.fullPrecision(), null,
                ModelQuantizer.Progress.NONE), "full precision: the weights themselves");
        assertNull(fp.get());
    }
}
