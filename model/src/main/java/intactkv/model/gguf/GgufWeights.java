package intactkv.model.gguf;

import intactkv.autograd.Value;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.io.FormatException;
import intactkv.tensor.F32Storage;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A LLaMA GGUF file's tensors as {@link LlamaWeights} under their Hugging Face names
 * ({@link GgufNames}), dequantized exactly ({@link Dequantize}) and held as float32
 * ({@link F32Storage}: 4 bytes an element, read as double by the kernels, exactly), with
 * convert_hf_to_gguf.py's row permutation of q_proj and k_proj undone.
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
     * constants held as float32 (matrices) and doubles (norm vectors), or trainable double
     * parameters when {@code trainable}.
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
        float[] y = f.readFloats(t);
        for (int i = 0; i < y.length; i++) {
            if (!Float.isFinite(y[i])) {
                throw new FormatException(f.file(), "tensor '" + name + "' element " + i + " (of shape " + got + ", "
                        + t.type() + ") is " + y[i]);
            }
        }
        if (hf.endsWith("q_proj.weight")) {
            y = unpermute(y, c.numAttentionHeads(), c.hiddenSize());
        } else if (hf.endsWith("k_proj.weight")) {
            y = unpermute(y, c.numKeyValueHeads(), c.hiddenSize());
        }
        if (!trainable && want.rank() == 2) {
            return Value.constant(Tensor.stored(new F32Storage(y), want));
        }
        double[] d = new double[y.length];
        for (int i = 0; i < y.length; i++) {
            d[i] = y[i];
        }
        Tensor t2 = Tensor.wrap(d, want);
        return trainable ? Value.param(t2) : Value.constant(t2);
    }

    /**
     * Undoes convert_hf_to_gguf.py's {@code permute(W, n_head)} on a (n d_h, cols) row-major
     * matrix: HF row {@code h d_h + j d_h/2 + i} = GGUF row {@code h d_h + 2i + j}.
     */
    public static float[] unpermute(float[] g, int nHead, int cols) {
        int rows = g.length / cols;
        int dh = rows / nHead;
        int half = dh / 2;
        float[] out = new float[g.length];
        for (int h = 0; h < nHead; h++) {
            for (int i = 0; i < half; i++) {
                for (int j = 0; j < 2; j++) {
                    System.arraycopy(g, (h * dh + 2 * i + j) * cols, out, (h * dh + j * half + i) * cols, cols);
                }
            }
        }
        return out;
    }

    /** The Hugging Face shape of {@code hf} in config {@code c}. */
    static Shape expectedShape(LlamaConfig c, String hf) {
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
