package intactkv.prefix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.LazyCheckpoint;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.ModelHooks;
import intactkv.model.io.CheckpointReader;
import intactkv.model.io.DType;
import intactkv.model.io.FormatException;
import intactkv.model.io.SafetensorsWriter;
import intactkv.quant.AwqScales;
import intactkv.quant.Basis;
import intactkv.quant.ModelQuantizer;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The layer-by-layer evaluation against the whole model's ({@link Perplexity#evaluate},
 * {@link Perplexity#evaluateAgainst}, {@link IntactKvPrefix#generate}), at tolerance 0: the same operations in the
 * same order, so the same bits, whatever the number of windows a pass carries.
 */
class LayerwisePerplexityTest {
    /** Three layers; windows of 300 tokens, so that each window is scored in two blocks of rows. */
    private static final LlamaConfig C = new LlamaConfig(16, 32, 4, 2, 3, 1e-5, 10000, 40, 640, false, 1, 2);
    private static final int T = 300;
    /** Three windows and a few tokens left over. */
    private static final int[] STREAM = IntactKvTest.tokens(3 * T + 11, 31);

    @TempDir
    Path tmp;

    /** A setup over whole weights in memory: the skeleton is the model itself, each layer its block. */
    private static LayerwisePerplexity.Setup inMemory(LlamaWeights w, LayerwisePerplexity.BlockMap map, ModelHooks hooks,
                                                      int perPass) {
        return new LayerwisePerplexity.Setup(w, w::block, map, hooks, perPass);
    }

    private static void assertSameResult(Perplexity.Result want, Perplexity.Result got, String name) {
        assertEquals(want.windows(), got.windows(), name);
        assertArrayEquals(want.windowNll(), got.windowNll(), 0.0, name + ": NLL of each window");
        if (want.windowKl() == null) {
            assertEquals(null, got.windowKl(), name);
        } else {
            assertArrayEquals(want.windowKl(), got.windowKl(), 0.0, name + ": KL of each window");
        }
        assertEquals(want.ppl(), got.ppl(), 0.0, name);
    }

    @Test
    void fullPrecisionEqualsTheWholeModelForEveryGroupSize() throws IOException {
        LlamaWeights w = LlamaWeights.random(C, 41, 0.4, true, false);
        Perplexity.Result want = Perplexity.evaluate(new PrefixedModel(new LlamaModel(w), null), STREAM, T, 1, d -> { });
        assertEquals(3, want.windows());
        for (int perPass : new int[] {1, 2, 3, 8}) {
            List<Double> seen = new ArrayList<>();
            Perplexity.Result got = LayerwisePerplexity.evaluate(inMemory(w, LayerwisePerplexity.BlockMap.FULL_PRECISION,
                    ModelHooks.NONE, perPass), null, false, STREAM, T, 1, seen::add);
            assertSameResult(want, got, perPass + " windows a pass");
            assertEquals(1.0, seen.get(seen.size() - 1), 1e-12, "progress ends at 1");
            for (int i = 1; i < seen.size(); i++) {
                assertTrue(seen.get(i) >= seen.get(i - 1), "progress never goes back");
            }
        }
    }

    @Test
    void aGeneratedPrefixIsTheWholeModelsPrefix() throws IOException {
        LlamaWeights w = LlamaWeights.random(C, 43, 0.4, true, false);
        int[] ids = {1, 7, 19, 4};
        IntactKvPrefix want = IntactKvPrefix.generate(new LlamaModel(w), ids);
        IntactKvPrefix got = LayerwisePerplexity.prefix(inMemory(w, LayerwisePerplexity.BlockMap.FULL_PRECISION,
                ModelHooks.NONE, 1), ids, d -> { });
        assertArrayEquals(want.ids(), got.ids());
        for (int l = 0; l < C.numHiddenLayers(); l++) {
            assertEquals(want.keys().get(l).shape(), got.keys().get(l).shape());
            assertArrayEquals(want.keys().get(l).data(), got.keys().get(l).data(), 0.0, "K of layer " + l);
            assertArrayEquals(want.values().get(l).data(), got.values().get(l).data(), 0.0, "V of layer " + l);
        }
        assertEquals(want.logits().shape(), got.logits().shape());
        assertArrayEquals(want.logits().data(), got.logits().data(), 0.0, "the prefix's logits");
    }

    /**
     * The prefix of an AWQ or QuaRot model comes from its twin ({@link Basis}): made a layer at a time from the
     * full-precision layers ({@link Basis#layered}), it is the whole twin's prefix, bit for bit, and not the
     * full-precision model's.
     */
    @Test
    void aPrefixFromAnAwqOrQuaRotTwinIsTheWholeTwinsPrefix() throws IOException {
        LlamaWeights w = LlamaWeights.random(C, 47, 0.4, true, false);
        java.util.Random r = new java.util.Random(5);
        List<double[]> qkv = new ArrayList<>();
        List<double[]> gateUp = new ArrayList<>();
        List<double[]> down = new ArrayList<>();
        for (int l = 0; l < C.numHiddenLayers(); l++) {
            qkv.add(r.doubles(C.hiddenSize(), 0.5, 2).toArray());
            gateUp.add(r.doubles(C.hiddenSize(), 0.5, 2).toArray());
            down.add(r.doubles(C.intermediateSize(), 0.5, 2).toArray());
        }
        // GQA (h_kv 2 < h 4): llm-awq has no v_proj -> o_proj group
        List<double[]> o = new ArrayList<>(java.util.Collections.nCopies(C.numHiddenLayers(), (double[]) null));
        int[] ids = {1, 7, 19, 4};
        IntactKvPrefix fp = IntactKvPrefix.generate(new LlamaModel(w), ids);
        for (Basis basis : new Basis[] {new Basis.AwqScaled(new AwqScales(qkv, o, gateUp, down)),
            new Basis.QuaRotRotated(7)}) {
            String name = basis.getClass().getSimpleName();
            IntactKvPrefix want = IntactKvPrefix.generate(basis.twin(w), ids);
            IntactKvPrefix got = LayerwisePerplexity.prefix(inMemory(w, LayerwisePerplexity.BlockMap.FULL_PRECISION,
                    ModelHooks.NONE, 1), basis.layered(C), ids, d -> { });
            for (int l = 0; l < C.numHiddenLayers(); l++) {
                assertArrayEquals(want.keys().get(l).data(), got.keys().get(l).data(), 0.0, name + ": K of layer " + l);
                assertArrayEquals(want.values().get(l).data(), got.values().get(l).data(), 0.0,
                        name + ": V of layer " + l);
            }
            assertArrayEquals(want.logits().data(), got.logits().data(), 0.0, name + ": the prefix's logits");
            assertTrue(!java.util.Arrays.equals(fp.keys().get(0).data(), got.keys().get(0).data()),
                    name + ": the twin's prefix, not the full-precision model's (QuaRot's keys are rotated; AWQ's"
                            + " scaled q, k, v weights round differently)");
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Basis.AwqFolded().layered(C));
        assertEquals(Basis.AwqFolded.WHY, e.getMessage());
    }

    /** RTN W3 g8 with 4-bit run-time KV quantization, IntactKV_[B] from the full-precision layers, KL to them. */
    @Test
    void rtnWithIntactKvAndKlEqualsTheWholeModels() throws IOException {
        LlamaWeights w = LlamaWeights.random(C, 47, 0.4, true, false);
        QuantConfig config = QuantConfig.rtn(3, 8).withRuntime(null, 4);
        LlamaModel fp = new LlamaModel(w);
        LlamaModel q = QuantizedModel.quantize(w, config, null, (a, b) -> { }).model();
        PrefixedModel reference = new PrefixedModel(fp, null);
        LayerwisePerplexity.BlockMap rtn = (l, b) -> ModelQuantizer.rtnBlock(b.get(), l, config);
        for (int perPass : new int[] {1, 2}) {
            LayerwisePerplexity.Setup s = inMemory(w, rtn, QuantizedModel.hooks(C, config), perPass);
            IntactKvPrefix bos = LayerwisePerplexity.prefix(s, new int[] {C.bosTokenId()}, d -> { });
            assertSameResult(Perplexity.evaluateAgainst(new PrefixedModel(q, null), reference, STREAM, T, 1, d -> { }),
                    LayerwisePerplexity.evaluate(s, null, true, STREAM, T, 1, d -> { }), "RTN, " + perPass);
            assertSameResult(Perplexity.evaluateAgainst(new PrefixedModel(q, IntactKvPrefix.bos(fp)), reference, STREAM,
                    T, 1, d -> { }), LayerwisePerplexity.evaluate(s, bos, true, STREAM, T, 1, d -> { }),
                    "RTN + [B], " + perPass);
            assertSameResult(Perplexity.evaluate(new PrefixedModel(q, IntactKvPrefix.bos(fp)), STREAM, T, 1, d -> { }),
                    LayerwisePerplexity.evaluate(s, bos, false, STREAM, T, 1, d -> { }), "RTN + [B] without KL");
        }
    }

    /** A longer prefix (three tokens in place of [BOS]) given to the evaluation rather than generated by it. */
    @Test
    void aGivenPrefixOfThreeTokensEqualsTheWholeModels() throws IOException {
        LlamaWeights w = LlamaWeights.random(C, 53, 0.4, true, false);
        LlamaModel fp = new LlamaModel(w);
        IntactKvPrefix p = IntactKvPrefix.firstTokens(fp, IntactKvTest.tokens(12, 9), 3);
        assertSameResult(Perplexity.evaluate(new PrefixedModel(fp, p), STREAM, T, 1, d -> { }),
                LayerwisePerplexity.evaluate(inMemory(w, LayerwisePerplexity.BlockMap.FULL_PRECISION, ModelHooks.NONE,
                        2), p, false, STREAM, T, 1, d -> { }), "a three-token prefix");
    }

    /** C's random weights written as a BF16 checkpoint, element 5 of tensor {@code nan} (null: none) a NaN. */
    private Path checkpoint(String name, String nan) throws IOException {
        Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        SafetensorsWriter out = new SafetensorsWriter().metadata("format", "pt");
        LlamaWeights.random(C, 59, 0.4, true, false).forEachNamed((n, v) -> {
            if (n.equals(nan)) {
                v.data().data()[5] = Double.NaN;
            }
            out.put(n, DType.BF16, v.data());
        });
        out.write(dir.resolve(CheckpointReader.SINGLE));
        C.write(dir.resolve("config.json"), "bfloat16");
        return dir;
    }

    /** From a BF16 checkpoint read one layer at a time ({@link LazyCheckpoint}), against the model loaded whole. */
    @Test
    void layersReadFromTheCheckpointGiveTheLoadedModelsNumbers() throws IOException {
        Path dir = checkpoint("bf16", null);
        QuantConfig config = QuantConfig.rtn(3, 8);
        LlamaWeights whole = LlamaWeights.load(dir, false);
        LlamaModel fp = new LlamaModel(whole);
        LlamaModel q = QuantizedModel.quantize(whole, config, null, (a, b) -> { }).model();
        Perplexity.Result want = Perplexity.evaluateAgainst(new PrefixedModel(q, IntactKvPrefix.bos(fp)),
                new PrefixedModel(fp, null), STREAM, T, 1, d -> { });
        try (LazyCheckpoint ckpt = LazyCheckpoint.open(dir)) {
            LayerwisePerplexity.Setup s = new LayerwisePerplexity.Setup(ckpt.skeleton(), ckpt::readBlock,
                    (l, b) -> ModelQuantizer.rtnBlock(b.get(), l, config), QuantizedModel.hooks(C, config), 2);
            IntactKvPrefix bos = LayerwisePerplexity.prefix(s, new int[] {1}, d -> { });
            assertSameResult(want, LayerwisePerplexity.evaluate(s, bos, true, STREAM, T, 1, d -> { }),
                    "lazy, RTN + [B]");
        }
    }

    /** A NaN in the last layer of the file: the pass that reaches it refuses, naming the file and the tensor. */
    @Test
    void aNanInALaterLayerIsRefusedNamingTheTensor() throws IOException {
        String bad = "model.layers.2.mlp.up_proj.weight";
        Path dir = checkpoint("nan", bad);
        try (LazyCheckpoint ckpt = LazyCheckpoint.open(dir)) {
            LayerwisePerplexity.Setup s = new LayerwisePerplexity.Setup(ckpt.skeleton(), ckpt::readBlock,
                    LayerwisePerplexity.BlockMap.FULL_PRECISION, ModelHooks.NONE, 3);
            FormatException e = assertThrows(FormatException.class, () -> LayerwisePerplexity.evaluate(s, null, false,
                    STREAM, T, 1, d -> { }));
            assertTrue(e.getMessage().contains(bad) && e.getMessage().contains(CheckpointReader.SINGLE),
                    e.getMessage());
        }
    }

    @Test
    void badSetupsAreRefused() {
        LlamaWeights w = LlamaWeights.random(C, 61, 0.4, true, false);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> inMemory(w,
                LayerwisePerplexity.BlockMap.FULL_PRECISION, ModelHooks.NONE, 0));
        assertEquals("windows per pass must be at least 1, got 0", e.getMessage());
        IllegalArgumentException rtn = assertThrows(IllegalArgumentException.class,
                () -> ModelQuantizer.rtnBlock(w.block(0), 0, QuantConfig.fullPrecision()));
        assertEquals("rtnBlock: the method is none, not rtn", rtn.getMessage());
    }
}
