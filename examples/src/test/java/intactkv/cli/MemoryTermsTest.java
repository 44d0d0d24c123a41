package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.io.DType;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each named term of a {@link MemoryPlan} ({@link MemoryEstimate}) against a hand computation, for the built-in
 * model's config and LLaMA-2-7B's (config only: no weights are needed to test an estimate), and the
 * header-derived weight bytes ({@link WeightBytes}) against the same formula on the committed built-in checkpoint,
 * a packed quantized checkpoint and a 7B-shaped header.
 */
class MemoryTermsTest {
    /** LLaMA-2-7B's shape: d 4096, d_ff 11008, 32 heads, 32 layers, V 32000, untied. */
    static final LlamaConfig LLAMA7B = new LlamaConfig(4096, 11008, 32, 32, 32, 1e-5, 10000, 32000, 2048, false, 1, 2);
    /** The built-in model's shape (examples/default-model/config.json). */
    static final LlamaConfig BUILT_IN = new LlamaConfig(128, 384, 16, 16, 6, 1e-5, 10000, 1024, 2048, false, 1, 2);

    @TempDir
    Path tmp;

    @org.junit.jupiter.api.BeforeAll
    static void builtInModelHome() {
        // the repository root, as the launcher passes it (the tests run in the examples module's folder)
        System.setProperty("intactkv.home", Path.of("..").toAbsolutePath().normalize().toString());
    }

    @Test
    void linearParametersAndWeightsAsHeld() {
        // L (2 d^2 + 2 d kv + 3 d d_ff): 6 (2*128^2 + 2*128*128 + 3*128*384) = 6 * 212,992
        assertEquals(1_277_952L, MemoryEstimate.linearParams(BUILT_IN));
        // 32 (2*4096^2 + 2*4096^2 + 3*4096*11008) = 32 * 202,375,168
        assertEquals(6_476_005_376L, MemoryEstimate.linearParams(LLAMA7B));
        // F32: 4 (embed 1024*128 + head 1024*128 + linears) + 8 (13 norms of 128)
        assertEquals(4L * (262_144 + 1_277_952) + 8L * 13 * 128, MemoryEstimate.weightsAsHeld(BUILT_IN, DType.F32));
        assertEquals(6_173_696L, MemoryEstimate.weightsAsHeld(BUILT_IN, DType.F32));
        // BF16: 2 (2 * 32000*4096 + linears) + 8 (65 norms of 4096) = 13,476,298,752 + 2,129,920
        assertEquals(13_478_428_672L, MemoryEstimate.weightsAsHeld(LLAMA7B, DType.BF16));
        assertEquals(8L * 6_476_005_376L, MemoryEstimate.linearsInDouble(LLAMA7B));
    }

    @Test
    void quantizedCodes() {
        // at 8 bits the codes take a byte each: built-in, g 128: q k v o 128x128: 16,384 codes + 16*128*1 + 4*128 =
        // 18,944 each; gate, up 384x128: 49,152 + 16*384 + 512 = 55,808 each; down 128x384: 49,152 + 16*128*3 + 4*384
        // = 56,832; 6 layers
        assertEquals(6L * (4 * 18_944 + 2 * 55_808 + 56_832), MemoryEstimate.codes(BUILT_IN, 128, 8));
        // 7B, g 128: q k v o: 16,777,216 + 16*4096*32 + 4*4096 = 18,890,752; gate, up (11008, 4096):
        // 45,088,768 + 16*11008*32 + 16,384 = 50,741,248; down (4096, 11008): 45,088,768 + 16*4096*86 + 44,032
        assertEquals(32L * (4 * 18_890_752L + 2 * 50_741_248L + 50_768_896L), MemoryEstimate.codes(LLAMA7B, 128, 8));
        assertEquals(7_290_060_800L, MemoryEstimate.codes(LLAMA7B, 128, 8));
        // at 3 bits, 3/8 of a byte a code (every linear's codes fill whole 64-bit words here): 7B q k v o
        // 6,291,456 + 2,097,152 + 16,384 = 8,404,992; gate, up 16,908,288 + 5,636,096 + 16,384 = 22,560,768;
        // down 16,908,288 + 5,636,096 + 44,032 = 22,588,416
        assertEquals(32L * (4 * 8_404_992L + 2 * 22_560_768L + 22_588_416L), MemoryEstimate.codes(LLAMA7B, 128, 3));
        assertEquals(3_242_557_440L, MemoryEstimate.codes(LLAMA7B, 128, 3));
        // built-in at 3 bits: 6,144 + 2,048 + 512 = 8,704; 18,432 + 6,144 + 512 = 25,088; 18,432 + 6,144 + 1,536 = 26,112
        assertEquals(6L * (4 * 8_704 + 2 * 25_088 + 26_112), MemoryEstimate.codes(BUILT_IN, 128, 3));
        // a word only partly used is held whole: d 4, d_ff 3, per channel, 5 bits: q k v o 4x4 = 80 bits, two words,
        // 16 + 16*4 + 4*4 = 96; gate, up 3x4 = 60 bits, one word, 8 + 16*3 + 16 = 72; down 4x3: 8 + 16*4 + 4*3 = 84
        LlamaConfig tiny = new LlamaConfig(4, 3, 1, 1, 1, 1e-5, 10000, 8, 3, false, 1, 2);
        assertEquals(4 * 96 + 2 * 72 + 84, MemoryEstimate.codes(tiny, -1, 5));
        // per channel: one scale and zero a row
        assertEquals(6L * (4 * (16_384 + 16 * 128 + 512) + 2 * (49_152 + 16 * 384 + 512) + (49_152 + 16 * 128 + 1536)),
                MemoryEstimate.codes(BUILT_IN, -1, 8));
    }

    @Test
    void quantizationBuffers() {
        // the largest linear (d_ff x d) and its quantized values in double; GPTQ adds H, the damped copy factored in
        // place and the factor of H^-1, d_ff x d_ff each (Gptq.quantizeLayer while factoring)
        assertEquals(16L * 11008 * 4096, MemoryEstimate.quantizationBuffers(LLAMA7B, intactkv.quant.Method.RTN));
        assertEquals(16L * 11008 * 4096 + 24L * 11008 * 11008,
                MemoryEstimate.quantizationBuffers(LLAMA7B, intactkv.quant.Method.GPTQ));
        assertEquals(16L * 384 * 128, MemoryEstimate.quantizationBuffers(BUILT_IN, intactkv.quant.Method.AWQ));
        assertEquals(0, MemoryEstimate.quantizationBuffers(BUILT_IN, intactkv.quant.Method.NONE));
        MemoryPlan small = MemoryPlan.empty().plus("a", 1);
        MemoryPlan big = MemoryPlan.empty().plus("b", 2);
        assertEquals(big, MemoryPlan.larger(small, big));
        assertEquals(big, MemoryPlan.larger(big, small));
    }

    /**
     * Calibration activations (16 x 512 tokens of a 7B model): every sequence's layer input and output,
     * 2 d values a token, at 8 bytes (f64) or 4 (--calib-activations f32) for GPTQ, QuaRot and AWQ; AWQ's
     * recorded linear inputs (3 d + d_ff a token) and OmniQuant's inputs stay in double.
     */
    @Test
    void calibrationActivationsFollowTheirStore() {
        long io = 16L * 512 * 2 * 4096;
        assertEquals(8 * io, MemoryEstimate.quantization(LLAMA7B, intactkv.quant.Method.GPTQ, 16, 512, 8));
        assertEquals(4 * io, MemoryEstimate.quantization(LLAMA7B, intactkv.quant.Method.GPTQ, 16, 512, 4));
        assertEquals(4 * io, MemoryEstimate.quantization(LLAMA7B, intactkv.quant.Method.QUAROT, 16, 512, 4));
        assertEquals(8 * io, MemoryEstimate.quantization(LLAMA7B, intactkv.quant.Method.OMNIQUANT, 16, 512, 4));
        assertEquals(4 * io + 8L * 16 * 512 * (3 * 4096 + 11008),
                MemoryEstimate.quantization(LLAMA7B, intactkv.quant.Method.AWQ, 16, 512, 4));
        assertEquals(MemoryEstimate.quantization(LLAMA7B, intactkv.quant.Method.AWQ, 16, 512, 8),
                MemoryEstimate.quantization(LLAMA7B, intactkv.quant.Method.AWQ, 16, 512));
    }

    @Test
    void windowTerms() {
        assertEquals(8L * 32 * 512 * 512, MemoryEstimate.attention(LLAMA7B, 512, 0));
        assertEquals(8L * 16 * 255 * 256, MemoryEstimate.attention(BUILT_IN, 255, 1));
        // 6 T d + 3 T d_ff doubles
        assertEquals(8L * 512 * (6 * 4096 + 3 * 11008), MemoryEstimate.layerActivations(LLAMA7B, 512));
        assertEquals(8L * 512 * 32000, MemoryEstimate.logits(LLAMA7B, 512));
        // 2 L n h_kv d_h doubles: exactly 1 GiB for 7B at 512 positions
        assertEquals(1L << 30, MemoryEstimate.kvCache(LLAMA7B, 512));
        assertEquals(1L << 29, MemoryEstimate.kvCache(LLAMA7B, 512, intactkv.tensor.ElementDtype.F32));
        assertEquals(1L << 28, MemoryEstimate.kvCache(LLAMA7B, 512, intactkv.tensor.ElementDtype.BF16));
        assertEquals(8L * 2 * 6 * 256 * 16 * 8, MemoryEstimate.kvCache(BUILT_IN, 256));
        MemoryPlan p = MemoryEstimate.windowTerms(MemoryPlan.empty(), LLAMA7B, 512, 0, 2);
        assertEquals(67_108_864L + 235_929_600L + 1_073_741_824L + 2 * 131_072_000L, p.total());
        assertEquals(2 * 131_072_000L, p.bytes("logits (2 copies)"));
    }

    /**
     * A scoring pass (ppl, eval) holds one layer's keys and values, not every layer's, and no attention
     * probabilities: 7B at 2048 positions, 128 MiB against the 4 GiB of the whole cache and the 1 GiB of one layer's
     * probabilities; ppl holds a block of 256 rows of logits (two with KL), eval a whole item's.
     */
    @Test
    void scoringTerms() {
        // 2 n h_kv d_h doubles: 2 * 2048 * 32 * 128 * 8 = 128 MiB
        assertEquals(128L << 20, MemoryEstimate.layerKv(LLAMA7B, 2048));
        assertEquals(MemoryEstimate.kvCache(LLAMA7B, 2048), LLAMA7B.numHiddenLayers() * MemoryEstimate.layerKv(LLAMA7B, 2048));
        MemoryPlan p = MemoryEstimate.scoringTerms(MemoryPlan.empty(), LLAMA7B, 2048, 0, 2048, 2);
        // 2048 (6 * 4096 + 3 * 11008) doubles of activations + 128 MiB + 2 copies of 2048 x 32000 logits
        assertEquals(8L * 2048 * (6 * 4096 + 3 * 11008) + (128L << 20) + 2 * 8L * 2048 * 32000, p.total());
        assertEquals(128L << 20, p.bytes("one layer's keys and values"));
        assertEquals(2 * 524_288_000L, p.bytes("logits (2 copies)"));
        // the whole pass's terms hold 4 GiB of cache and 1 GiB of probabilities more
        assertEquals((4L << 30) - (128L << 20) + (1L << 30),
                MemoryEstimate.windowTerms(MemoryPlan.empty(), LLAMA7B, 2048, 0, 2).total() - p.total());
        // ppl: two blocks of 256 x 32000 doubles (65,536,000 bytes each) instead of two windows
        MemoryPlan ppl = MemoryEstimate.pplTerms(MemoryPlan.empty(), LLAMA7B, 2048, 2);
        assertEquals(2 * 65_536_000L, ppl.bytes("logits of 256 rows (2 copies)"));
        assertEquals(p.total() - 2 * 524_288_000L + 2 * 65_536_000L, ppl.total());
        // a window shorter than a block: its rows
        assertEquals(MemoryEstimate.logits(LLAMA7B, 100), MemoryEstimate.pplTerms(MemoryPlan.empty(), LLAMA7B, 100, 1)
                .bytes("logits"));
    }

    /**
     * ppl --layer-by-layer on the 7B shape (a sparse BF16 checkpoint): the weights it holds are the embeddings, head
     * and norms and one decoder layer, each from the header's bytes; the windows of a pass hold their hidden states.
     */
    @Test
    void layerByLayerTerms() throws Exception {
        Path dir = SparseCheckpoint.write(tmp.resolve("l7b-layered"), LLAMA7B);
        QuantOptions q = new QuantOptions();
        q.model = dir;
        MemoryPlan fp = q.layerwiseTerms(2048, 8, 1);
        // embedding and head 2 x 32000 x 4096 BF16 + the final norm's 4096 doubles
        assertEquals(2L * 2 * 32000 * 4096 + 4096L * 8, fp.bytes("embeddings, head and norm (BF16)"));
        // 2 d^2 + 2 d^2 (h_kv = h) + 3 d d_ff parameters of BF16 and two norms of d doubles: a 32nd of the layers
        assertEquals(2L * (4L * 4096 * 4096 + 3L * 4096 * 11008) + 2L * 4096 * 8, fp.bytes("one decoder layer (BF16)"));
        assertEquals(WeightBytes.of(dir).bytes(), fp.bytes("embeddings, head and norm (BF16)")
                + 32 * fp.bytes("one decoder layer (BF16)"));
        assertEquals(9L * 2048 * 4096 * 8, fp.bytes("hidden states of 8 + 1 windows"));
        assertEquals(MemoryEstimate.pplTerms(MemoryPlan.empty(), LLAMA7B, 2048, 1).total(),
                fp.total() - fp.bytes("embeddings, head and norm (BF16)") - fp.bytes("one decoder layer (BF16)")
                        - fp.bytes("hidden states of 8 + 1 windows"));
        q.method = "rtn";
        q.wbits = 3;
        q.group = 128;
        MemoryPlan rtn = q.layerwiseTerms(2048, 2, 2);
        assertEquals(MemoryEstimate.codes(LLAMA7B, 128, 3) / 32, rtn.bytes("one layer's quantized codes"));
        assertEquals(MemoryEstimate.quantizationBuffers(LLAMA7B, intactkv.quant.Method.RTN),
                rtn.bytes("one linear's quantization buffers"));
        assertEquals(2 * 3L * 2048 * 4096 * 8, rtn.bytes("hidden states of 2 + 1 windows (2 copies)"));
    }

    /**
     * {@code --method gguf}'s term is what its quantized model holds: every matrix llama.cpp quantizes in the type
     * the mix gives it (Q4_K_M on the built-in model: Q5_0 / Q6_K / Q8_0 blocks, at their bytes), summed over the
     * model's storages.
     */
    @Test
    void ggufsTermIsWhatItsQuantizedModelHolds() throws Exception {
        QuantOptions q = new QuantOptions();
        q.model = DefaultModel.dir();
        q.method = "gguf";
        q.ggufType = "Q4_K_M";
        LlamaWeights fp = LlamaWeights.load(DefaultModel.dir(), false);
        LlamaWeights quantized = intactkv.quant.GgufQuantizer.quantize(fp, intactkv.quant.GgufMix.parse("Q4_K_M"),
                intactkv.quant.ModelQuantizer.Progress.NONE);
        long[] held = {0};
        quantized.forEachNamed((n, v) -> held[0] += n.endsWith("norm.weight") ? 0 : v.data().storage().bytes());
        assertEquals(held[0], q.weightTerms(true).bytes("quantized codes"));
        assertTrue(held[0] < MemoryEstimate.weightsAsHeld(BUILT_IN, DType.F32) / 4, "blocks, not float32");
    }

    /**
     * QuaRot's dense matrices in double, by hand for LLaMA-2-7B (d 4096, d_ff 11008, h = h_kv = 32, d_h 128), and in
     * the plans that hold them: quantize (the rotation and the calibration forward's transforms), a whole QuaRot
     * model run on the fly (the rotation, the model's transforms and its twin's), a packed checkpoint layer by layer
     * (the model's transforms).
     */
    @Test
    void quaRotsDenseMatricesAreCounted() throws Exception {
        long transforms = 8L * (11008L * 11008 + 32 * 32 + 128 * 128);
        long rotation = 8L * (3L * 4096 * 4096 + 11008L * 11008 + 4096L * 4096);
        assertEquals(transforms, MemoryEstimate.quaRotTransforms(LLAMA7B));
        assertEquals(rotation, MemoryEstimate.quaRotRotation(LLAMA7B));
        String term = "QuaRot's rotation and online transforms (in double)";
        QuantOptions q = new QuantOptions();
        q.model = SparseCheckpoint.write(tmp.resolve("l7b-quarot"), LLAMA7B);
        q.method = "quarot";
        q.calibActivations = "f32";
        assertEquals(rotation + transforms, q.quantizeTerms(16, 512).bytes(term));
        assertEquals(rotation + 2 * transforms, q.weightTerms(true).bytes(term));
        q.method = "rtn";
        assertEquals(0, q.weightTerms(true).bytes(term), "no QuaRot, no term");
    }

    /** The header of the committed built-in checkpoint gives what the formula gives for F32. */
    @Test
    void headerBytesOfTheBuiltInModel() throws Exception {
        WeightBytes w = WeightBytes.of(DefaultModel.dir());
        assertEquals(MemoryEstimate.weightsAsHeld(BUILT_IN, DType.F32), w.bytes());
        assertEquals(DType.F32, w.dtype());
    }

    /** A 7B-shaped BF16 header (no data: a sparse file) gives the BF16 formula, read in milliseconds. */
    @Test
    void headerBytesOfA7bShapedCheckpoint() throws Exception {
        Path dir = SparseCheckpoint.write(tmp.resolve("l7b"), LLAMA7B);
        WeightBytes w = WeightBytes.of(dir);
        assertEquals(13_478_428_672L, w.bytes());
        assertEquals(2 * MemoryEstimate.linearParams(LLAMA7B), w.linears());
        assertEquals(DType.BF16, w.dtype());
        assertEquals(2 + 32 * 9 + 1, w.tensors());
    }

    /**
     * A GGUF file's header counts what its loaded model holds: F16 and BF16 matrices at 2 bytes an element, the
     * ggml block types and F32 dequantized at 4, vectors at 8 (the committed fixtures: all F32, and mixed types).
     */
    @Test
    void headerBytesOfAGgufFileAreWhatItsModelHolds() throws Exception {
        Path fixtures = Path.of("..", "model", "src", "test", "resources", "oracle", "gguf").toAbsolutePath();
        for (String name : new String[] {"gqa_f32.gguf", "gqa_mixed.gguf"}) {
            Path file = fixtures.resolve(name);
            long[] held = {0, 0};
            LlamaWeights.load(file, false).forEachNamed((n, v) -> {
                long b = v.data().storage() != null ? v.data().storage().bytes() : 8L * v.data().shape().numel();
                held[0] += b;
                held[1] += n.matches("model\\.layers\\.\\d+\\..*_proj\\.weight") ? b : 0;
            });
            assertEquals(held[0], WeightBytes.of(file).bytes(), name);
            assertEquals(held[1], WeightBytes.of(file).linears(), name);
            assertTrue(held[1] > 0, name);
        }
        assertEquals(DType.F32, WeightBytes.of(fixtures.resolve("gqa_f32.gguf")).dtype());
        assertEquals("F32", WeightBytes.of(fixtures.resolve("gqa_f32.gguf")).form());
    }

    /** A packed quantized checkpoint as loaded: codes at their bit width, scales and zeros in double, the rest as saved. */
    @Test
    void headerBytesOfAPackedCheckpoint() throws Exception {
        LlamaConfig c = new LlamaConfig(32, 64, 4, 2, 2, 1e-5, 10000, 50, 64, false, 1, 2);
        LlamaWeights fp = LlamaWeights.random(c, 3, 0.3, true, false);
        QuantizedModel q = QuantizedModel.quantize(fp, QuantConfig.rtn(3, 16), null, intactkv.quant.ModelQuantizer.Progress.NONE);
        Path dir = tmp.resolve("q");
        q.save(dir, DType.F64);
        long rest = MemoryEstimate.weightsAsHeld(c, DType.F64) - MemoryEstimate.linearsInDouble(c);
        assertEquals(rest + MemoryEstimate.codes(c, 16, 3), WeightBytes.of(dir).bytes());
    }

    @Test
    void aPlanNamesItsTermsAndTheWayOut() {
        MemoryPlan p = MemoryPlan.empty().plus("full-precision weights (BF16)", 3L << 40).plus("nothing", 0)
                .plus("KV cache", 1L << 30);
        assertEquals(2, p.terms().size(), "a zero term is left out");
        assertEquals((3L << 40) + (1L << 30), p.total());
        assertEquals("full-precision weights (BF16) 3072.0 GB + KV cache 1.0 GB", p.describe());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> p.require("--seqlen 512 with rtn and KL", "or add --no-kl (needs 2.0 GB)"));
        String m = e.getMessage();
        assertTrue(m.startsWith("--seqlen 512 with rtn and KL [full-precision weights (BF16) 3072.0 GB + KV cache"
                + " 1.0 GB] needs at least 3073.0 GB of memory, more than this Java's heap of "), m);
        assertTrue(m.contains("INTACTKV_JAVA_OPTS=-Xmx") && m.endsWith(", or add --no-kl (needs 2.0 GB), or ask for less"), m);
        assertThrows(IllegalArgumentException.class, () -> new MemoryPlan.Term("x", -1));
    }
}
