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
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ModelQuantizer#quantizeReleasing} (issue 27: the {@code quantize} command hands its only reference to the
 * full-precision model over, so that each layer's full-precision linears can be collected once quantized) gives the
 * same weights as {@link ModelQuantizer#quantize}, bit for bit: the packed checkpoints both write are byte-identical.
 */
class QuantizeReleasingTest {
    @TempDir
    Path tmp;

    private byte[] written(LlamaWeights w, QuantConfig config, String name) throws IOException {
        Path dir = tmp.resolve(name);
        QuantizedModel.save(w, config, new Basis.Original(), dir, DType.BF16);
        return Files.readAllBytes(dir.resolve("model.safetensors"));
    }

    private void sameAsQuantize(QuantConfig config, List<int[]> calib) throws IOException {
        LlamaWeights expected = ModelQuantizer.quantize(ModelQuantizationTest.fp(), config, calib,
                ModelQuantizer.Progress.NONE);
        AtomicReference<LlamaWeights> fp = new AtomicReference<>(ModelQuantizationTest.fp());
        LlamaWeights got = ModelQuantizer.quantizeReleasing(fp, config, calib, ModelQuantizer.Progress.NONE);
        assertNull(fp.get(), "the weights were taken out of the holder");
        for (int l = 0; l < got.blocks().size(); l++) {
            List<Value> lin = got.block(l).linears();
            for (int j = 0; j < lin.size(); j++) {
                assertInstanceOf(QuantCodes.class, lin.get(j).data().storage(), "layer " + l + " linear " + j);
                assertArrayEquals(expected.block(l).linears().get(j).data().data(), lin.get(j).data().data());
            }
        }
        String id = config.method().id();
        assertArrayEquals(written(expected, config, id + "-quantize"), written(got, config, id + "-releasing"));
    }

    @Test
    void rtnReleasingWritesTheSameCheckpoint() throws IOException {
        assertTrue(ModelQuantizer.releasesLayers(Method.RTN));
        sameAsQuantize(QuantConfig.rtn(3, 16), null);
    }

    @Test
    void gptqReleasingWritesTheSameCheckpoint() throws IOException {
        QuantConfig gptq = new QuantConfig(Method.GPTQ, WeightQuantizer.Spec.asym(3, 16), QuantConfig.OFF,
                QuantConfig.OFF, 0);
        assertTrue(ModelQuantizer.releasesLayers(Method.GPTQ));
        sameAsQuantize(gptq, ModelQuantizationTest.calib(4, 12));
    }

    @Test
    void otherMethodsAreNotReleasedLayerByLayer() {
        for (Method m : new Method[] {Method.NONE, Method.AWQ, Method.OMNIQUANT, Method.QUAROT}) {
            assertFalse(ModelQuantizer.releasesLayers(m), m.id());
        }
        AtomicReference<LlamaWeights> fp = new AtomicReference<>(ModelQuantizationTest.fp());
        LlamaWeights w = fp.get();
        assertEquals(w, ModelQuantizer.quantizeReleasing(fp, QuantConfig.fullPrecision(), null,
                ModelQuantizer.Progress.NONE), "full precision: the weights themselves");
        assertNull(fp.get());
    }
}
