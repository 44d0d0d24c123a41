package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.io.CheckpointReader;
import intactkv.model.io.DType;
import intactkv.model.io.FormatException;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link QuantizedModel#openLayers}: a packed checkpoint read one decoder layer at a time holds the blocks that
 * {@link QuantizedModel#load} holds, bit for bit; what the headers show is refused at open, what only a layer's data
 * shows when that layer is read, with {@code load}'s message.
 */
class QuantizedLayersTest {
    /** Two layers, so that the last one is read after the first. */
    static final LlamaConfig C = new LlamaConfig(20, 30, 2, 2, 2, 1e-5, 10000, 20, 32, false, 1, 2);
    static final String LAST = "model.layers.1.mlp.down_proj";

    /** C's random full-precision weights; {@link #dir} holds their RTN W3 g10 KV4 checkpoint, written for each test. */
    final LlamaWeights fp = LlamaWeights.random(C, 7, 0.4, true, false);
    @TempDir
    Path dir;

    @BeforeEach
    void quantize() throws IOException {
        QuantizedModel.quantize(fp, QuantConfig.rtn(3, 10).withRuntime(null, 4), null, ModelQuantizer.Progress.NONE)
                .save(dir, DType.F64);
    }

    @Test
    void everyBlockIsTheLoadedModelsBlock() throws IOException {
        QuantizedModel whole = QuantizedModel.load(dir, fp, null, null);
        LlamaWeights w = whole.model().weights();
        try (QuantizedModel.Layers q = QuantizedModel.openLayers(dir, C, null, null)) {
            assertEquals(whole.config(), q.config());
            assertTrue(q.basis() instanceof Basis.Original);
            LlamaWeights skeleton = q.checkpoint().skeleton();
            assertArrayEquals(w.embed().data().data(), skeleton.embed().data().data());
            assertArrayEquals(w.lmHead().data().data(), skeleton.lmHead().data().data());
            for (int l = 0; l < C.numHiddenLayers(); l++) {
                LlamaWeights.Block got = q.block(l);
                for (int j = 0; j < 7; j++) {
                    Tensor a = w.block(l).linears().get(j).data();
                    Tensor b = got.linears().get(j).data();
                    assertTrue(b.storage() instanceof QuantCodes, "held as codes");
                    assertArrayEquals(a.data(), b.data(), 0.0, "layer " + l + " linear " + j);
                }
                assertArrayEquals(w.block(l).inputNorm().data().data(), got.inputNorm().data().data());
            }
        }
    }

    @Test
    void aNanScaleInTheLastLayerIsRefusedWhenItIsReadWithLoadsMessage() throws IOException {
        double[] s;
        try (CheckpointReader r = CheckpointReader.open(dir)) {
            s = r.read(LAST + ".scales").data();
        }
        s[2] = Double.NaN;
        int rows = C.hiddenSize();
        CheckpointRewrite.rewrite(dir, LAST + ".scales", w -> w.put(LAST + ".scales", DType.F64,
                Tensor.wrap(s, rows, s.length / rows)));
        FormatException whole = assertThrows(FormatException.class, () -> QuantizedModel.load(dir, fp, null, null));
        try (QuantizedModel.Layers q = QuantizedModel.openLayers(dir, C, null, null)) {
            q.block(0);
            FormatException lazy = assertThrows(FormatException.class, () -> q.block(1));
            assertEquals(whole.getMessage(), lazy.getMessage());
            assertTrue(lazy.getMessage().contains("tensor '" + LAST + ".scales' element 2 is NaN"), lazy.getMessage());
        }
    }

    @Test
    void theLastLayersMissingCodesAreRefusedAtOpenWithLoadsMessage() throws IOException {
        CheckpointRewrite.rewrite(dir, LAST + ".qcodes", w -> { });
        FormatException whole = assertThrows(FormatException.class, () -> QuantizedModel.load(dir, fp, null, null));
        FormatException lazy = assertThrows(FormatException.class, () -> QuantizedModel.openLayers(dir, C, null, null));
        assertEquals(whole.getMessage(), lazy.getMessage());
        assertTrue(lazy.getMessage().contains("'" + LAST + ".weight'"), lazy.getMessage());
    }

    @Test
    void anotherModelOrAnUnpackedCheckpointIsRefused() throws IOException {
        LlamaConfig other = new LlamaConfig(20, 30, 2, 2, 3, 1e-5, 10000, 20, 32, false, 1, 2);
        IOException e = assertThrows(IOException.class, () -> QuantizedModel.openLayers(dir, other, null, null));
        assertTrue(e.getMessage().startsWith("the quantized model was made from another model: num_hidden_layers"),
                e.getMessage());
        Path cfg = dir.resolve(QuantizedModel.CONFIG_FILE);
        Files.writeString(cfg, Files.readString(cfg).replace("\"weight_format\"", "\"weight_format_was\""));
        IllegalArgumentException u = assertThrows(IllegalArgumentException.class,
                () -> QuantizedModel.openLayers(dir, C, null, null));
        assertEquals(cfg + " has no \"weight_format\": \"packed\" (a dequantized checkpoint of an earlier version, read"
                + " whole); re-run quantize to read it one layer at a time", u.getMessage());
    }
}
