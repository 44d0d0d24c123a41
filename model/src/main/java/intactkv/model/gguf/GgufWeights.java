package intactkv.model.gguf;

import intactkv.autograd.Value;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.io.FormatException;
import intactkv.tensor.Bf16Storage;
import intactkv.tensor.ElementDtype;
import intactkv.tensor.F16Storage;
import intactkv.tensor.F32Storage;
import intactkv.tensor.RowBlocks;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import intactkv.tensor.WeightStorage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A LLaMA GGUF file's tensors as {@link LlamaWeights} under their Hugging Face names
 * ({@link GgufNames}), with convert_hf_to_gguf.py's row permutation of q_proj and k_proj undone. An inference
 * model holds each F16 or BF16 matrix in its file's dtype ({@link F16Storage}, {@link Bf16Storage}: 2 bytes an
 * element, as the safetensors reader does) and an F32 one as float32 ({@link F32Storage}), row-interleaved
 * ({@link RowBlocks}) for the one-row product of decoding; a matrix of a block type (Q4_0 .. Q6_K) as the file's
 * blocks ({@link GgmlBlockStorage}), dequantized exactly by ggml's functions ({@link Dequantize}) where a kernel
 * reads it. All are read as double, exactly. A trainable model holds doubles.
 *
 * <p>The permutation: llama.cpp's RoPE rotates adjacent pairs (x[2i], x[2i+1]) where Hugging
 * Face's {@code rotate_half} rotates (x[i], x[i + d_h/2]); the converter therefore reorders the
 * rows of each head of W_q (with n = h heads) and W_k (n = h_kv) as
 * {@code W.reshape(n, 2, d_h/2, d).swapaxes(1, 2).reshape(n d_h, d)}
 * (convert_hf_to_gguf.py {@code LlamaModel.permute}), so GGUF row {@code hd d_h + 2i + j} is HF
 * row {@code hd d_h + j d_h/2 + i}. Reading inverts it, so the tensors equal the Hugging Face
 * ones and the project's rotate_half RoPE applies unchanged.
 *
 * <p>Checked, each refusal naming the file and the GGUF tensor: every tensor is a LLaMA tensor
 * this model uses (nothing ignored silently), is present, has the shape the metadata implies
 * (ggml dimensions reversed), and holds finite values (the first NaN or infinity named by
 * element, as {@code SafetensorsReader.readFinite} does).
 */
public final class GgufWeights {
    private GgufWeights() {
    }

    /**
     * Loads the model in GGUF file {@code file}: its config ({@link GgufConfig}) and weights,
     * constants (matrices in F16 or BF16 as in the file, others as float32; norm vectors as doubles), or trainable
     * double parameters when {@code trainable}.
     */
    public static LlamaWeights load(Path file, boolean trainable) throws IOException {
        try (GgufFile f = GgufFile.open(file)) {
            LlamaConfig c = GgufConfig.of(f);
            checkContents(f, c);
            Value embed = get(f, c, "model.embed_tokens.weight", trainable);
            List<LlamaWeights.Block> blocks = new ArrayList<>();
            for (int i = 0; i < c.numHiddenLayers(); i++) {
                List<Value> lin = new ArrayList<>();
                for (String s : LlamaWeights.LINEAR_NAMES) {
                    lin.add(get(f, c, LlamaWeights.blockName(i, s), trainable));
                }
                blocks.add(new LlamaWeights.Block(get(f, c, LlamaWeights.blockName(i, "input_layernorm"), trainable),
                        lin.get(0), lin.get(1), lin.get(2), lin.get(3),
                        get(f, c, LlamaWeights.blockName(i, "post_attention_layernorm"), trainable), lin.get(4),
                        lin.get(5), lin.get(6)));
            }
            Value norm = get(f, c, "model.norm.weight", trainable);
            Value head = c.tieWordEmbeddings() ? embed : get(f, c, "lm_head.weight", trainable);
            return new LlamaWeights(c, embed, blocks, norm, head);
        }
    }

    /** Every tensor of the file must be one this model uses: an unknown or extra tensor is refused by name. */
    private static void checkContents(GgufFile f, LlamaConfig c) throws FormatException {
        Set<String> want = new HashSet<>(List.of("model.embed_tokens.weight", "model.norm.weight"));
        if (!c.tieWordEmbeddings()) {
            want.add("lm_head.weight");
        }
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            want.add(LlamaWeights.blockName(i, "input_layernorm"));
            want.add(LlamaWeights.blockName(i, "post_attention_layernorm"));
            for (String s : LlamaWeights.LINEAR_NAMES) {
                want.add(LlamaWeights.blockName(i, s));
            }
        }
        for (GgufFile.TensorInfo t : f.tensors()) {
            String hf = GgufNames.toHf(t.name());
            if (hf == null || !want.contains(hf)) {
                throw new FormatException(f.file(), "tensor '" + t.name() + "' (data offset " + t.offset()
                        + ") is not a tensor of a LLaMA model of "
                        + c.numHiddenLayers() + " layers" + (c.tieWordEmbeddings() ? " with tied embeddings" : "")
                        + " (llama.cpp names: token_embd, blk.N.attn_q/k/v/output, attn_norm, ffn_gate/up/down,"
                        + " ffn_norm, output_norm, output)");
            }
        }
    }

    private static Value get(GgufFile f, LlamaConfig c, String hf, boolean trainable) throws IOException {
        String name = GgufNames.fromHf(hf);
        GgufFile.TensorInfo t = f.tensor(name);
        Shape want = expectedShape(c, hf);
        if (t == null) {
            throw new FormatException(f.file(), "no tensor '" + name + "' (" + hf + ", expected shape " + want + ")");
        }
        Shape got = Shape.of(t.shape());
        if (!got.equals(want)) {
            throw new FormatException(f.file(), "tensor '" + name + "' has shape " + got + " (ggml ne "
                    + java.util.Arrays.toString(t.ne()) + "), but the metadata implies " + want);
        }
        if (!trainable && want.rank() == 2) { // held as the file holds it (held): its bytes, checked first
            byte[] b = f.readBytes(t);
            int cols = want.dim(1);
            int rowBytes = (int) Dequantize.bytes(t.type(), cols);
            float[] row = new float[cols];
            for (int r = 0; r < want.dim(0); r++) {
                Dequantize.into(t.type(), ByteBuffer.wrap(b, r * rowBytes, rowBytes), row, 0, cols);
                requireFinite(f, t, got, row, (long) r * cols);
            }
            return Value.constant(Tensor.stored(held(t.type(), want.dim(0), cols, b, heads(c, hf)), want));
        }
        float[] y = f.readFloats(t);
        requireFinite(f, t, got, y, 0);
        int heads = heads(c, hf);
        if (heads > 0) {
            y = unpermute(y, heads, c.hiddenSize());
        }
        double[] d = new double[y.length];
        for (int i = 0; i < y.length; i++) {
            d[i] = y[i];
        }
        Tensor t2 = Tensor.wrap(d, want);
        return trainable ? Value.param(t2) : Value.constant(t2);
    }

    /**
     * Refuses the first infinity or NaN among {@code values}, elements {@code first ..} of tensor {@code t} in the
     * file's order, naming the tensor, the element, its shape and type.
     */
    private static void requireFinite(GgufFile f, GgufFile.TensorInfo t, Shape shape, float[] values, long first)
            throws FormatException {
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                throw new FormatException(f.file(), "tensor '" + t.name() + "' element " + (first + i) + " (of shape "
                        + shape + ", " + t.type() + ") is " + values[i]);
            }
        }
    }

    /**
     * The heads convert_hf_to_gguf.py permutes the rows of Hugging Face tensor {@code hf} by
     * ({@code LlamaModel.permute}): n_head for q_proj, n_head_kv for k_proj, else 0 (not permuted).
     */
    public static int heads(LlamaConfig c, String hf) {
        if (hf.endsWith(".self_attn.q_proj.weight")) {
            return c.numAttentionHeads();
        }
        if (hf.endsWith(".self_attn.k_proj.weight")) {
            return c.numKeyValueHeads();
        }
        return 0;
    }

    /**
     * A (rows, cols) matrix of ggml type {@code type} as an inference model holds it, from its bytes as a GGUF file
     * holds them ({@code bytes}: rows in the file's order, permuted by {@code heads} when that is not 0; whole rows,
     * so they are unpermuted as bytes): F16 and BF16 in their dtype ({@link F16Storage}, {@link Bf16Storage}: 2
     * bytes an element, as the safetensors reader holds them) and F32 as float32 ({@link F32Storage}), each
     * row-interleaved for the one-row product of decoding ({@link RowBlocks#preferred}); a block type as the bytes
     * themselves ({@link GgmlBlockStorage}), dequantized where a kernel reads it. Every form reads the values
     * {@link Dequantize} gives, widened to double exactly. {@code bytes} may be reused.
     */
    public static WeightStorage held(GgmlType type, int rows, int cols, byte[] bytes, int heads) {
        byte[] b = heads > 0 ? unpermute(bytes, heads, bytes.length / rows) : bytes;
        ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        switch (type) {
            case F16, BF16 -> {
                short[] h = new short[rows * cols];
                buf.asShortBuffer().get(h);
                if (type == GgmlType.F16) {
                    return F16Storage.interleaved(h, RowBlocks.preferred(rows, cols, ElementDtype.F16));
                }
                return Bf16Storage.interleaved(h, RowBlocks.preferred(rows, cols, ElementDtype.BF16));
            }
            case F32 -> {
                float[] y = new float[rows * cols];
                buf.asFloatBuffer().get(y);
                return F32Storage.interleaved(y, RowBlocks.preferred(rows, cols, ElementDtype.F32));
            }
            default -> {
                return new GgmlBlockStorage(type, rows, cols, b);
            }
        }
    }

    /** The bytes {@link #held} takes for {@code n} elements of {@code type} (not counting its arrays' headers). */
    public static long heldBytes(GgmlType type, long n) {
        return switch (type) {
            case F16, BF16 -> 2 * n;
            case F32 -> 4 * n;
            default -> Dequantize.bytes(type, n);
        };
    }

    /**
     * Undoes convert_hf_to_gguf.py's {@code permute(W, n_head)} on a (n d_h, cols) row-major
     * matrix: HF row {@code h d_h + j d_h/2 + i} = GGUF row {@code h d_h + 2i + j}.
     */
    public static float[] unpermute(float[] g, int nHead, int cols) {
        float[] out = new float[g.length];
        unpermuteRows(g, out, g.length / cols, nHead, cols);
        return out;
    }

    /** {@link #unpermute(float[], int, int)} for rows of ggml blocks, {@code rowBytes} bytes each. */
    public static byte[] unpermute(byte[] g, int nHead, int rowBytes) {
        byte[] out = new byte[g.length];
        unpermuteRows(g, out, g.length / rowBytes, nHead, rowBytes);
        return out;
    }

    /** The rows of {@code g} (an array of {@code rows} x {@code cols}) to {@code out} in Hugging Face order. */
    private static void unpermuteRows(Object g, Object out, int rows, int nHead, int cols) {
        int dh = rows / nHead;
        int half = dh / 2;
        for (int h = 0; h < nHead; h++) {
            for (int i = 0; i < half; i++) {
                for (int j = 0; j < 2; j++) {
                    System.arraycopy(g, (h * dh + 2 * i + j) * cols, out, (h * dh + j * half + i) * cols, cols);
                }
            }
        }
    }

    /** The Hugging Face shape of {@code hf} in config {@code c}. */
    public static Shape expectedShape(LlamaConfig c, String hf) {
        int d = c.hiddenSize();
        int kv = c.numKeyValueHeads() * c.headDim();
        if (hf.equals("model.embed_tokens.weight") || hf.equals("lm_head.weight")) {
            return Shape.of(c.vocabSize(), d);
        }
        if (hf.equals("model.norm.weight") || hf.endsWith("layernorm.weight")) {
            return Shape.of(d);
        }
        if (hf.endsWith("q_proj.weight") || hf.endsWith("o_proj.weight")) {
            return Shape.of(d, d);
        }
        if (hf.endsWith("k_proj.weight") || hf.endsWith("v_proj.weight")) {
            return Shape.of(kv, d);
        }
        if (hf.endsWith("down_proj.weight")) {
            return Shape.of(d, c.intermediateSize());
        }
        return Shape.of(c.intermediateSize(), d);
    }
}
