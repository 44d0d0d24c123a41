package intactkv.model.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.io.FormatException;
import intactkv.model.text.GgufVocab;
import intactkv.model.text.Tokenizer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each kind of bad GGUF file is refused with one {@link FormatException} that starts with the
 * file and names the field, tensor or byte position (the rows of docs/FORMATS.md ("GGUF in")'s table).
 */
class GgufBadInputTest {
    @TempDir
    Path tmp;

    private Path write(byte[] bytes) throws Exception {
        Path f = tmp.resolve("m.gguf");
        Files.write(f, bytes);
        return f;
    }

    /** Loading weights and vocabulary of {@code bytes} fails with a message holding every fragment. */
    private String refused(byte[] bytes, String... fragments) throws Exception {
        Path f = write(bytes);
        FormatException e = assertThrows(FormatException.class, () -> {
            GgufWeights.load(f, false);
            GgufVocab.load(f);
        });
        String m = e.getMessage();
        assertTrue(m.startsWith(f + ": "), m);
        for (String s : fragments) {
            assertTrue(m.contains(s), "'" + s + "' not in: " + m);
        }
        return m;
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void theValidTinyModelLoadsAndRuns() throws Exception {
        Path f = write(GgufBuilder.tinyLlama(1, null).build());
        LlamaWeights w = GgufWeights.load(f, false);
        assertEquals(2, w.config().numAttentionHeads());
        assertEquals(1, w.config().numKeyValueHeads());
        assertEquals(1e-5, w.config().rmsNormEps(), 0.0);
        Tokenizer tok = GgufVocab.load(f);
        assertEquals(5, tok.encode("a", false)[0]); // "\u2581a", merged by its score
        double[] logits = new LlamaModel(w).forward(new int[] {1, 3}, null, LlamaModel.Options.LOGITS).logits().data()
                .data();
        assertEquals(12, logits.length);
        for (double x : logits) {
            assertTrue(Double.isFinite(x));
        }
    }

    @Test
    void badMagic() throws Exception {
        GgufBuilder b = GgufBuilder.tinyLlama(1, null);
        b.magic = new byte[] {'G', 'G', 'M', 'L'};
        refused(b.build(), "not a GGUF file: the magic at byte 0 is 47 47 4d 4c");
    }

    @Test
    void unknownVersion() throws Exception {
        for (int v : new int[] {1, 4}) {
            GgufBuilder b = GgufBuilder.tinyLlama(1, null);
            b.version = v;
            refused(b.build(), "GGUF version " + v + " at byte 4 is not supported");
        }
    }

    @Test
    void stringLengthPastTheFile() throws Exception {
        GgufBuilder b = new GgufBuilder().raw("general.name", 8, le(8).putLong(1L << 40).array());
        refused(b.build(), "metadata key 'general.name' at byte", "has length 1099511627776, past the end of the file");
    }

    @Test
    void arrayCountPastTheFile() throws Exception {
        GgufBuilder b = new GgufBuilder().raw("tokenizer.ggml.tokens", 9, le(12).putInt(8).putLong(1L << 33).array());
        refused(b.build(), "metadata key 'tokenizer.ggml.tokens' has an array count 8589934592", "past the end");
    }

    @Test
    void tensorOffsetPastTheEndOrMisaligned() throws Exception {
        refused(GgufBuilder.tinyLlama(1, null).offset(1L << 20).build(), "tensor 'output.weight' has offset 1048576",
                "past the end of the data section");
        refused(GgufBuilder.tinyLlama(1, null).offset(8).build(), "tensor 'output.weight' has offset 8, which is not a"
                + " multiple of the alignment 32");
    }

    @Test
    void unknownAndUnsupportedGgmlTypes() throws Exception {
        refused(new GgufBuilder().tensor("token_embd.weight", new long[] {32}, 99, new byte[32]).build(),
                "tensor 'token_embd.weight' has ggml type 99, which is not a ggml type this reader knows");
        refused(new GgufBuilder().tensor("token_embd.weight", new long[] {256}, 16, new byte[66]).build(),
                "tensor 'token_embd.weight' has ggml type IQ2_XXS (16), which is not supported");
    }

    @Test
    void dimensionsThatOverflowOrAreTooMany() throws Exception {
        refused(new GgufBuilder().tensor("t", new long[] {1L << 20, 1L << 20}, 0, new byte[0]).build(),
                "tensor 't' has dimension ne[1] = 1048576, and its element count overflows 2^31 - 1");
        refused(new GgufBuilder().tensor("t", new long[] {1, 1, 1, 1, 1}, 0, new byte[4]).build(),
                "tensor 't' has 5 dimensions");
        refused(new GgufBuilder().tensor("t", new long[] {-3}, 0, new byte[4]).build(), "ne[0] = 18446744073709551613");
        refused(new GgufBuilder().tensor("t", new long[] {48}, 2, new byte[27]).build(),
                "tensor 't' has rows of ne[0] = 48 elements, not a multiple of Q4_0's block of 32");
    }

    @Test
    void keyGivenTwiceAndBadAlignment() throws Exception {
        refused(GgufBuilder.tinyLlama(1, null).u32("llama.block_count", 2).build(),
                "metadata key 'llama.block_count' at byte", "is given twice");
        refused(GgufBuilder.tinyLlama(1, null).u32("general.alignment", 24).build(),
                "metadata key 'general.alignment' = 24 is not a power of two");
    }

    @Test
    void modelsThisProjectWouldComputeWronglyAreRefusedByName() throws Exception {
        refused(new GgufBuilder().str("general.architecture", "qwen2").strings("tokenizer.ggml.tokens", "a").build(),
                "metadata key 'general.architecture' is 'qwen2'; only llama");
        refused(GgufBuilder.tinyLlama(1, null).str("llama.rope.scaling.type", "linear").build(),
                "metadata key 'llama.rope.scaling.type' is 'linear'");
        refused(GgufBuilder.tinyLlama(1, null).u32("llama.expert_count", 8).build(), "'llama.expert_count' = 8");
        GgufBuilder rot = GgufBuilder.tinyLlama(1, null);
        rot.f32Tensor("rope_freqs.weight", new java.util.Random(1), 2);
        refused(rot.build(), "tensor 'rope_freqs.weight'");
    }

    @Test
    void missingExtraMisshapenOrNonFiniteTensors() throws Exception {
        refused(GgufBuilder.tinyLlama(1, "blk.0.ffn_up.weight").build(), "no tensor 'blk.0.ffn_up.weight'");
        GgufBuilder extra = GgufBuilder.tinyLlama(1, null);
        extra.f32Tensor("blk.1.attn_q.weight", new java.util.Random(1), 8, 8);
        refused(extra.build(), "tensor 'blk.1.attn_q.weight' (data offset ", ") is not a tensor of a LLaMA model of 1 layers");
        GgufBuilder shape = GgufBuilder.tinyLlama(1, "blk.0.ffn_down.weight");
        shape.f32Tensor("blk.0.ffn_down.weight", new java.util.Random(1), 16, 8);
        refused(shape.build(), "tensor 'blk.0.ffn_down.weight' has shape (16, 8)", "implies (8, 16)");
        GgufBuilder nan = GgufBuilder.tinyLlama(1, "output.weight");
        ByteBuffer b = le(4 * 48);
        b.putFloat(0, Float.NaN);
        nan.tensor("output.weight", new long[] {8, 6}, 0, b.array());
        refused(nan.build(), "tensor 'output.weight' element 0", "is NaN");
        // F16 and BF16 matrices are held in their dtype, not read through floats: checked all the same
        GgufBuilder inf = GgufBuilder.tinyLlama(1, "blk.0.attn_q.weight");
        ByteBuffer h = le(2 * 64);
        h.putShort(2 * 37, (short) 0xfc00); // F16 -infinity
        inf.tensor("blk.0.attn_q.weight", new long[] {8, 8}, 1, h.array());
        refused(inf.build(), "tensor 'blk.0.attn_q.weight' element 37 (of shape (8, 8), F16) is -Infinity");
        GgufBuilder bnan = GgufBuilder.tinyLlama(1, "blk.0.ffn_up.weight");
        ByteBuffer g = le(2 * 128);
        g.putShort(2 * 100, (short) 0x7fc1); // a BF16 NaN
        bnan.tensor("blk.0.ffn_up.weight", new long[] {8, 16}, 30, g.array());
        refused(bnan.build(), "tensor 'blk.0.ffn_up.weight' element 100 (of shape (16, 8), BF16) is NaN");
        // a block type is held as its bytes and dequantized where read: its values are checked at loading all the
        // same (here the committed mixed fixture with the FP16 scale of q_proj's (Q8_0) third block made infinite)
        Path mixed = GgufQuantTypesTest.fixture("gqa_mixed.gguf");
        byte[] bytes = Files.readAllBytes(mixed);
        try (GgufFile f = GgufFile.open(mixed)) {
            GgufFile.TensorInfo q = f.tensor("blk.0.attn_q.weight");
            int at = (int) (f.dataStart() + q.offset() + 2 * GgmlType.Q8_0.typeSize());
            bytes[at] = 0x00;
            bytes[at + 1] = 0x7c; // FP16 +infinity, little-endian
        }
        refused(bytes, "tensor 'blk.0.attn_q.weight' element 64 (of shape (32, 32), Q8_0) is Infinity");
    }

    @Test
    void vocabularyProblems() throws Exception {
        Path f = write(new GgufBuilder().str("tokenizer.ggml.model", "bert").strings("tokenizer.ggml.tokens", "a")
                .build());
        FormatException e = assertThrows(FormatException.class, () -> GgufVocab.load(f));
        assertTrue(e.getMessage().contains("metadata key 'tokenizer.ggml.model' is 'bert'"), e.getMessage());
        Path g = write(new GgufBuilder().str("tokenizer.ggml.model", "gpt2").str("tokenizer.ggml.pre", "qwen2")
                .strings("tokenizer.ggml.tokens", "a").build());
        e = assertThrows(FormatException.class, () -> GgufVocab.load(g));
        assertTrue(e.getMessage().contains("metadata key 'tokenizer.ggml.pre' is 'qwen2'"), e.getMessage());
        Path h = write(new GgufBuilder().str("tokenizer.ggml.model", "llama").strings("tokenizer.ggml.tokens", "a", "a")
                .build());
        e = assertThrows(FormatException.class, () -> GgufVocab.load(h));
        assertTrue(e.getMessage().contains("has token 'a' twice, at ids 0 and 1"), e.getMessage());
    }
}
