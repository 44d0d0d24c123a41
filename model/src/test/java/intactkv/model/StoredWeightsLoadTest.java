package intactkv.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import intactkv.autograd.GradMode;
import intactkv.model.io.CheckpointReader;
import intactkv.model.io.DType;
import intactkv.model.io.FormatException;
import intactkv.model.io.SafetensorsWriter;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint loaded for inference keeps its matrices in the file's dtype and gives the same
 * logits, bit for bit (tolerance 0), as the same checkpoint read as doubles (loaded trainable), in
 * a whole-sequence forward pass (the GEMM) and in decoding one token at a time (the one-row product).
 * The matrices are held row-interleaved (RowBlocks): with d = 32, d_ff = 600 and V = 40 the decode product
 * meets full groups of 8 blocks, partial groups and (with 8 lanes) a partial block.
 */
class StoredWeightsLoadTest {
    /** d_ff = 600 takes down_proj's one-row product past one conversion chunk (512 columns). */
    static final LlamaConfig C = new LlamaConfig(32, 600, 4, 2, 2, 1e-5, 10000, 40, 64, false, 1, 2);

    @TempDir
    Path tmp;

    @Test
    void storedWeightsGiveTheSameLogitsAsDoubles() throws IOException {
        LlamaWeights w = LlamaWeights.random(C, 11, 0.3, true, false);
        for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            Path dir = tmp.resolve(dtype.name());
            w.save(dir, dtype);
            LlamaWeights stored = LlamaWeights.load(dir, false);
            LlamaWeights dense = LlamaWeights.load(dir, true);
            assertNotNull(stored.embed().data().storage(), dtype + " embedding kept in the file's dtype");
            assertNotNull(stored.block(0).q().data().storage(), dtype + " q_proj kept in the file's dtype");
            assertNotNull(stored.block(0).q().data().storage().rowBlocks(),
                    dtype + " matrices are held row-interleaved (the decode product's layout)");
            assertNotNull(stored.embed().data().storage().rowBlocks(), dtype + " the embedding too (the LM head)");
            assertNull(stored.block(0).inputNorm().data().storage(), "norm vectors are doubles");
            assertNull(dense.block(0).q().data().storage(), "trainable weights are doubles");
            int[] ids = {1, 5, 7, 3, 39, 0, 12};
            try (GradMode.Scope s = GradMode.noGrad()) {
                LlamaModel a = new LlamaModel(dense);
                LlamaModel b = new LlamaModel(stored);
                assertArrayEquals(logits(a, ids, null), logits(b, ids, null), 0.0, dtype + " prefill");
                KvCache pa = a.forward(ids, null, LlamaModel.Options.LOGITS).present();
                KvCache pb = b.forward(ids, null, LlamaModel.Options.LOGITS).present();
                for (int next : new int[] {4, 17}) {
                    LlamaModel.Output oa = a.forward(new int[] {next}, pa, LlamaModel.Options.LOGITS);
                    LlamaModel.Output ob = b.forward(new int[] {next}, pb, LlamaModel.Options.LOGITS);
                    assertArrayEquals(oa.logits().data().data(), ob.logits().data().data(), 0.0, dtype + " decode");
                    pa = oa.present();
                    pb = ob.present();
                }
            }
        }
    }

    private static double[] logits(LlamaModel m, int[] ids, KvCache past) {
        return m.forward(ids, past, LlamaModel.Options.LOGITS).logits().data().data();
    }

    @Test
    void nonFiniteStoredElementsAreRefusedByName() throws IOException {
        for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            double[] v = {0.5, -2, Double.POSITIVE_INFINITY, 1, 3, 4};
            Path dir = tmp.resolve("bad" + dtype);
            java.nio.file.Files.createDirectories(dir);
            new SafetensorsWriter().put("w", dtype, Tensor.of(v, 2, 3)).write(dir.resolve(CheckpointReader.SINGLE));
            try (CheckpointReader r = CheckpointReader.open(dir)) {
                FormatException e = assertThrows(FormatException.class, () -> r.readStored("w"));
                assertEquals(dir.resolve(CheckpointReader.SINGLE) + ": tensor 'w' element 2 (of shape (2, 3)) is Infinity",
                        e.getMessage());
            }
        }
    }

    /**
     * {@link CheckpointReader#checkFinite} (what a layer-by-layer run checks before its first layer) refuses what
     * reading refuses, with the same message, in every float dtype: a NaN or infinity placed just after its 4 MiB
     * read chunk's end (element (4 MiB / bytes) + 1, so a chunk boundary is crossed and the element index counts
     * the chunks before it) and at the last element; a finite tensor and an integer one pass.
     */
    @Test
    void checkFiniteRefusesWhatReadingRefusesWithTheSameMessage() throws IOException {
        for (DType dtype : new DType[] {DType.F64, DType.F32, DType.BF16, DType.F16}) {
            int chunk = (1 << 22) / dtype.bytes();
            int n = chunk + 5;
            for (int at : new int[] {chunk + 1, n - 1}) {
                for (double bad : new double[] {Double.NaN, Double.NEGATIVE_INFINITY}) {
                    double[] v = new double[n];
                    for (int i = 0; i < n; i++) {
                        v[i] = (i % 7) * 0.25 - 0.5;
                    }
                    v[at] = bad;
                    Path dir = tmp.resolve("chk" + dtype + at + bad);
                    java.nio.file.Files.createDirectories(dir);
                    new SafetensorsWriter().put("w", dtype, Tensor.of(v, 1, n)).put("ok", dtype, Tensor.of(new double[] {
                        1, -2, 3}, 3)).put("ids", DType.I64, Tensor.of(new double[] {1, 2}, 2))
                            .write(dir.resolve(CheckpointReader.SINGLE));
                    try (CheckpointReader r = CheckpointReader.open(dir)) {
                        FormatException e = assertThrows(FormatException.class, () -> r.checkFinite("w"));
                        FormatException read = assertThrows(FormatException.class,
                                () -> r.readStored("w")); // F64: readStored reads through readFinite
                        assertEquals(read.getMessage(), e.getMessage(), dtype + " at " + at);
                        assertEquals(dir.resolve(CheckpointReader.SINGLE) + ": tensor 'w' element " + at + " (of shape (1, "
                                + n + ")) is " + bad, e.getMessage());
                        r.checkFinite("ok");
                        r.checkFinite("ids");
                    }
                }
            }
        }
    }
}
