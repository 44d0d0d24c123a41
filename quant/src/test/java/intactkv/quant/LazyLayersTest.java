package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.LayerSource;
import intactkv.model.LazyCheckpoint;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.io.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ModelQuantizer#quantizeLazily} (issue 27 item 3: a checkpoint's decoder layers read from the file one at a
 * time, when the layer-wise driver reaches them) writes the same checkpoint, byte for byte (tolerance 0), as
 * {@link ModelQuantizer#quantizeReleasingInBasis} on the model loaded whole from the same file, for every method it
 * takes: RTN, GPTQ, AWQ, OmniQuant and QuaRot (which rotates each block as it is read). The checkpoints are small
 * random ones written in BF16 and F32, so the weights are read exactly as {@code quantize} reads a real one.
 */
class LazyLayersTest {
    @TempDir
    Path tmp;

    /** {@link ModelQuantizationTest#fp()} written to {@code tmp/name} as {@code dtype}. */
    private Path checkpoint(LlamaWeights w, DType dtype, String name) throws IOException {
        Path dir = tmp.resolve(name);
        w.save(dir, dtype);
        return dir;
    }

    /** Every file {@link QuantizedModel#save} writes for {@code r}, by name. */
    private Map<String, byte[]> written(ModelQuantizer.Released r, QuantConfig config, String name) throws IOException {
        Path dir = tmp.resolve(name);
        QuantizedModel.save(r.weights(), config, r.basis(), dir, DType.BF16);
        Map<String, byte[]> files = new TreeMap<>();
        try (Stream<Path> list = Files.list(dir)) {
            for (Path f : list.toList()) {
                files.put(f.getFileName().toString(), Files.readAllBytes(f));
            }
        }
        return files;
    }

    private void sameAsWhole(Path dir, QuantConfig config, List<int[]> calib) throws IOException {
        AtomicReference<LlamaWeights> whole = new AtomicReference<>(LlamaWeights.load(dir, false));
        ModelQuantizer.Released want = ModelQuantizer.quantizeReleasingInBasis(whole, config, calib,
                ModelQuantizer.Progress.NONE);
        ModelQuantizer.Released got;
        try (LazyCheckpoint ckpt = LazyCheckpoint.open(dir)) {
            got = ModelQuantizer.quantizeLazily(ckpt, config, calib, ModelQuantizer.Progress.NONE);
        }
        assertEquals(want.basis().getClass(), got.basis().getClass());
        String id = config.method().id() + "-" + dir.getFileName();
        Map<String, byte[]> a = written(want, config, id + "-whole");
        Map<String, byte[]> b = written(got, config, id + "-lazy");
        assertEquals(a.keySet(), b.keySet(), "the same files");
        for (String f : a.keySet()) {
            assertArrayEquals(a.get(f), b.get(f), id + ": " + f + " byte for byte");
        }
    }

    private static QuantConfig config(Method m) {
        return new QuantConfig(m, WeightQuantizer.Spec.asym(3, 16), QuantConfig.OFF, QuantConfig.OFF, 0);
    }

    @Test
    void rtnFromTheFileLayerByLayer() throws IOException {
        sameAsWhole(checkpoint(ModelQuantizationTest.fp(), DType.BF16, "bf16"), QuantConfig.rtn(3, 16), null);
    }

    @Test
    void gptqFromTheFileLayerByLayer() throws IOException {
        List<int[]> calib = ModelQuantizationTest.calib(4, 12);
        sameAsWhole(checkpoint(ModelQuantizationTest.fp(), DType.BF16, "bf16"), config(Method.GPTQ), calib);
        sameAsWhole(checkpoint(ModelQuantizationTest.fp(), DType.F32, "f32"), config(Method.GPTQ), calib);
    }

    @Test
    void awqFromTheFileLayerByLayer() throws IOException {
        sameAsWhole(checkpoint(ModelQuantizationTest.fp(), DType.BF16, "bf16"), config(Method.AWQ),
                ModelQuantizationTest.calib(3, 10));
    }

    @Test
    void omniQuantFromTheFileLayerByLayer() throws IOException {
        sameAsWhole(checkpoint(ModelQuantizationTest.fp(), DType.BF16, "bf16"), config(Method.OMNIQUANT),
                ModelQuantizationTest.calib(2, 8));
    }

    /** QuaRot rotates each block when it is read; untied and tied embeddings (the head is the rotated embedding). */
    @Test
    void quaRotRotatesEachLayerAsItIsRead() throws IOException {
        List<int[]> calib = ModelQuantizationTest.calib(3, 10);
        sameAsWhole(checkpoint(ModelQuantizationTest.fp(), DType.BF16, "bf16"), QuantConfig.w4a4kv4(), calib);
        LlamaConfig tied = new LlamaConfig(32, 64, 4, 2, 2, 1e-5, 10000, 50, 64, true, 1, 2);
        sameAsWhole(checkpoint(LlamaWeights.random(tied, 4, 0.3, true, false), DType.F32, "tied"),
                QuantConfig.w4a4kv4(), calib);
    }

    /**
     * The driver asks for each layer once, in order, and layer l is asked for while every layer above it is still
     * unread: the layers not yet reached take no memory.
     */
    @Test
    void eachLayerIsReadOnceInOrderWhenReached() throws IOException {
        Path dir = checkpoint(ModelQuantizationTest.fp(), DType.BF16, "bf16");
        List<Integer> asked = new ArrayList<>();
        try (LazyCheckpoint ckpt = LazyCheckpoint.open(dir)) {
            LlamaWeights skeleton = ckpt.skeleton();
            for (LlamaWeights.Block b : skeleton.blocks()) {
                for (var v : b.linears()) {
                    assertEquals(0, v.data().storage().bytes(), "a layer not read holds nothing");
                }
            }
            AtomicReference<LlamaWeights> holder = new AtomicReference<>(skeleton);
            LayerSource recording = (l, held) -> {
                asked.add(l);
                if (l + 1 < ModelQuantizationTest.C.numHiddenLayers()) {
                    assertEquals("unread", held.q().data().storage().describe());
                }
                return ckpt.block(l, held);
            };
            LlamaWeights q = Gptq.quantizeModel(holder, config(Method.GPTQ), ModelQuantizationTest.calib(2, 8),
                    ModelQuantizer.Progress.NONE, recording, null);
            for (LlamaWeights.Block b : q.blocks()) {
                for (var v : b.linears()) {
                    assertTrue(v.data().storage() instanceof QuantCodes, "every layer quantized");
                }
            }
        }
        assertEquals(List.of(0, 1), asked);
    }

    @Test
    void fullPrecisionAndGgufAreNotReadLayerByLayer() throws IOException {
        assertFalse(ModelQuantizer.readsLayersLazily(Method.NONE));
        assertFalse(ModelQuantizer.readsLayersLazily(Method.GGUF));
        Path dir = checkpoint(ModelQuantizationTest.fp(), DType.BF16, "bf16");
        try (LazyCheckpoint ckpt = LazyCheckpoint.open(dir)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () ->
                    ModelQuantizer.quantizeLazily(ckpt, QuantConfig.fullPrecision(), null, ModelQuantizer.Progress.NONE));
            assertTrue(e.getMessage().contains("none"), e.getMessage());
        }
    }
}
