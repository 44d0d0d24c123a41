package intactkv.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.io.CheckpointReader;
import intactkv.model.io.DType;
import intactkv.model.io.FormatException;
import intactkv.model.io.ReadAhead;
import intactkv.model.io.SafetensorsWriter;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LazyCheckpoint}: a layer read when it is reached is, tensor for tensor and bit for bit, the layer
 * {@link LlamaWeights#load} reads; the layers not reached hold nothing and refuse to be used; and what the headers
 * can show to be wrong with the last layer (a tensor missing, of the wrong shape, one extra) is refused by
 * {@link LazyCheckpoint#open}, before any weight is read, naming the file and the tensor.
 */
class LazyCheckpointTest {
    private static final LlamaConfig C = new LlamaConfig(16, 24, 2, 1, 3, 1e-5, 10000, 40, 64, false, 1, 2);

    @TempDir
    Path tmp;

    /** C's random weights written as BF16, each tensor through {@code edit(name, tensor)} (null leaves it out). */
    private Path write(String name, BiFunction<String, Tensor, Tensor> edit) throws IOException {
        Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
        LlamaWeights.random(C, 5, 0.3, true, false).forEachNamed((n, v) -> {
            Tensor t = edit.apply(n, v.data());
            if (t != null) {
                w.put(n, DType.BF16, t);
            }
        });
        w.write(dir.resolve(CheckpointReader.SINGLE));
        C.write(dir.resolve("config.json"), "bfloat16");
        return dir;
    }

    @Test
    void aLayerReadWhenReachedIsTheLayerLoadReads() throws IOException {
        Path dir = write("ok", (n, t) -> t);
        LlamaWeights whole = LlamaWeights.load(dir, false);
        try (LazyCheckpoint ckpt = LazyCheckpoint.open(dir)) {
            LlamaWeights skeleton = ckpt.skeleton();
            assertArrayEquals(whole.embed().data().data(), skeleton.embed().data().data());
            assertArrayEquals(whole.norm().data().data(), skeleton.norm().data().data());
            assertArrayEquals(whole.lmHead().data().data(), skeleton.lmHead().data().data());
            for (int l = 0; l < C.numHiddenLayers(); l++) {
                LlamaWeights reached = ckpt.reach(skeleton, l);
                LlamaWeights.Block got = reached.block(l);
                LlamaWeights.Block want = whole.block(l);
                assertArrayEquals(want.inputNorm().data().data(), got.inputNorm().data().data());
                assertArrayEquals(want.postNorm().data().data(), got.postNorm().data().data());
                for (int j = 0; j < 7; j++) {
                    Tensor a = want.linears().get(j).data();
                    Tensor b = got.linears().get(j).data();
                    assertEquals(a.storage().describe(), b.storage().describe(), "held in the file's dtype");
                    assertArrayEquals(a.data(), b.data(), "layer " + l + " linear " + j);
                }
                assertSame(got, ckpt.block(l, got), "a layer is read once");
                skeleton = reached;
            }
        }
    }

    @Test
    void aLayerNotReachedHoldsNothingAndRefusesToBeUsed() throws IOException {
        Path dir = write("ok", (n, t) -> t);
        try (LazyCheckpoint ckpt = LazyCheckpoint.open(dir)) {
            Tensor down = ckpt.skeleton().block(2).down().data();
            assertEquals(0, down.storage().bytes());
            assertEquals(LlamaWeights.expectedShape(C, "mlp.down_proj.weight"), down.shape());
            IllegalStateException e = assertThrows(IllegalStateException.class, down::data);
            assertTrue(e.getMessage().contains("model.layers.2.mlp.down_proj.weight"), e.getMessage());
        }
    }

    @Test
    void aMissingTensorOfTheLastLayerIsRefusedAtOpen() throws IOException {
        String last = "model.layers.2.mlp.down_proj.weight";
        Path dir = write("missing", (n, t) -> n.equals(last) ? null : t);
        FormatException e = assertThrows(FormatException.class, () -> LazyCheckpoint.open(dir));
        assertEquals(dir + ": checkpoint has no tensor '" + last + "' (expected shape (16, 24))", e.getMessage());
    }

    @Test
    void aMisshapenTensorOfTheLastLayerIsRefusedAtOpenNamingTheFile() throws IOException {
        String last = "model.layers.2.self_attn.k_proj.weight";
        Path dir = write("shape", (n, t) -> n.equals(last) ? Tensor.zeros(16, 16) : t);
        FormatException e = assertThrows(FormatException.class, () -> LazyCheckpoint.open(dir));
        assertEquals(dir.resolve(CheckpointReader.SINGLE) + ": tensor '" + last + "' has shape (16, 16), but config.json"
                + " implies (8, 16)", e.getMessage());
    }

    @Test
    void anUnusedTensorIsRefusedAtOpenAsLoadRefusesIt() throws IOException {
        Path dir = write("plain", (n, t) -> t);
        Path bias = tmp.resolve("bias");
        Files.createDirectories(bias);
        SafetensorsWriter w = new SafetensorsWriter();
        LlamaWeights.random(C, 5, 0.3, true, false).forEachNamed((n, v) -> w.put(n, DType.BF16, v.data()));
        w.put("model.layers.2.self_attn.q_proj.bias", DType.BF16, Tensor.zeros(16));
        w.write(bias.resolve(CheckpointReader.SINGLE));
        Files.copy(dir.resolve("config.json"), bias.resolve("config.json"));
        FormatException lazy = assertThrows(FormatException.class, () -> LazyCheckpoint.open(bias));
        FormatException whole = assertThrows(FormatException.class, () -> LlamaWeights.load(bias, false));
        assertEquals(whole.getMessage(), lazy.getMessage());
    }

    /** C's checkpoint with element 7 of tensor {@code bad} a NaN. */
    private Path withNan(String name, String bad) throws IOException {
        return write(name, (n, t) -> {
            if (n.equals(bad)) {
                t.data()[7] = Double.NaN;
            }
            return t;
        });
    }

    /** What only the data shows (a NaN) is found when its layer is read: the reader's message, file and tensor. */
    @Test
    void aNanInALaterLayerIsRefusedWhenThatLayerIsRead() throws IOException {
        String bad = "model.layers.1.mlp.up_proj.weight";
        Path dir = withNan("nan", bad);
        try (LazyCheckpoint ckpt = LazyCheckpoint.open(dir)) {
            LlamaWeights reached = ckpt.reach(ckpt.skeleton(), 0);
            UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> ckpt.reach(reached, 1));
            assertEquals(dir.resolve(CheckpointReader.SINGLE) + ": tensor '" + bad + "' element 7 (of shape (24, 16)) is NaN",
                    e.getCause().getMessage());
        }
    }

    /**
     * {@link LazyCheckpoint#checkFinite} finds that NaN before any layer is read, with the same message; a run
     * resuming after the bad layer does not look at it; progress reaches 1 only when everything was checked.
     */
    @Test
    void checkFiniteFindsANanInTheLastLayerBeforeAnyLayerIsRead() throws IOException {
        String bad = "model.layers.2.mlp.up_proj.weight";
        Path dir = withNan("nan-early", bad);
        try (LazyCheckpoint ckpt = LazyCheckpoint.open(dir)) {
            List<Double> seen = new ArrayList<>();
            IOException e = assertThrows(IOException.class, () -> ckpt.checkFinite(0, seen::add));
            assertEquals(dir.resolve(CheckpointReader.SINGLE) + ": tensor '" + bad + "' element 7 (of shape (24, 16)) is NaN",
                    e.getMessage());
            assertTrue(seen.get(seen.size() - 1) < 1, "stopped before the end: " + seen);
            seen.clear();
            ckpt.checkFinite(3, seen::add); // from layer 3: nothing left to check
            assertEquals(List.of(), seen);
        }
        Path good = write("finite", (n, t) -> t);
        try (LazyCheckpoint ckpt = LazyCheckpoint.open(good)) {
            List<Double> seen = new ArrayList<>();
            ckpt.checkFinite(1, seen::add);
            assertEquals(18, seen.size(), "nine tensors a layer, layers 1 and 2");
            assertEquals(1.0, seen.get(seen.size() - 1));
        }
    }

    @Test
    void readingALayerReadsTheNextOneAheadExactlyItsBytes() throws Exception {
        Path dir = write("ahead", (n, t) -> t);
        int layers = C.numHiddenLayers();
        try (LazyCheckpoint ckpt = LazyCheckpoint.open(dir); CheckpointReader r = CheckpointReader.open(dir)) {
            long[] bytes = new long[layers];
            for (String n : r.names()) {
                for (int l = 0; l < layers; l++) {
                    if (n.startsWith("model.layers." + l + ".")) {
                        bytes[l] += r.entry(n).end() - r.entry(n).begin();
                    }
                }
            }
            // each range is where its tensor's bytes are: its first BF16 element is the tensor's first element
            List<ReadAhead.Range> ranges = r.layerRanges(1);
            assertEquals(9, ranges.size(), "two norms and seven linears");
            byte[] file = Files.readAllBytes(dir.resolve(CheckpointReader.SINGLE));
            for (String n : r.names()) {
                if (n.startsWith("model.layers.1.")) {
                    ReadAhead.Range at = r.range(n);
                    assertTrue(ranges.contains(at), n);
                    assertEquals(r.entry(n).end() - r.entry(n).begin(), at.to() - at.from(), n);
                    int bits = (file[(int) at.from()] & 0xff) | (file[(int) at.from() + 1] & 0xff) << 8;
                    assertEquals(r.read(n).data()[0], (double) Float.intBitsToFloat(bits << 16), n);
                }
            }
            assertEquals(0, ckpt.bytesReadAhead(), "nothing is read ahead before a layer is read");
            ckpt.readBlock(0);
            ckpt.awaitReadAhead();
            assertEquals(bytes[1], ckpt.bytesReadAhead(), "reading layer 0 reads layer 1's bytes ahead");
            ckpt.readBlock(layers - 1);
            ckpt.awaitReadAhead();
            assertEquals(bytes[1], ckpt.bytesReadAhead(), "no layer after the last");
        }
    }
}
