package intactkv.quant;

import intactkv.autograd.Value;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.gguf.Dequantize;
import intactkv.model.gguf.GgmlQuantize;
import intactkv.model.gguf.GgmlType;
import intactkv.model.gguf.GgufNames;
import intactkv.model.gguf.GgufWeights;
import intactkv.tensor.HalfFloat;
import intactkv.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code --method gguf}: the weights a llama.cpp model quantized with {@code llama-quantize} holds, read
 * back. Every matrix {@code llama-quantize} quantizes (the seven decoder linears, the token embedding and
 * the output head; not the norms) is replaced by
 * <pre>
 *   W^ = unpermute(dequantize_t(quantize_t(permute(float32(W)))))
 * </pre>
 * with t the type {@link GgufTypeRules} assigns it: {@code float32} because llama-quantize reads the F32
 * GGUF that {@code convert_hf_to_gguf.py} writes; {@code permute} is that script's
 * {@code LlamaModel.permute} of attn_q (n_head) and attn_k (n_head_kv) rows, undone after
 * ({@link GgufWeights#unpermute}); quantize and dequantize are ggml's reference functions
 * ({@link GgmlQuantize#quantize}, {@link Dequantize#toFloats}). The permutation moves whole rows and
 * ggml's blocks run within a row (along {@code ne[0]}, the input dimension), so it changes nothing:
 * it is applied anyway, as the file holds it, and a test checks that the result is the same without it.
 *
 * <p>The result is held as llama.cpp's file would hold it ({@link #roundTrip}: a block type as its bytes, 0.56 bytes
 * an element for Q4_K, dequantized where read; exactly the dequantized values). The full-precision twin is the
 * original model ({@link Basis.Original}): IntactKV takes its prefix from it, as with RTN. A tied head (no
 * {@code output.weight} in the GGUF) is the quantized embedding, as llama.cpp runs it.
 */
public final class GgufQuantizer {
    private GgufQuantizer() {
    }

    /** {@link #quantizeReleasing} on a model the caller keeps ({@code fp} is not modified). */
    public static LlamaWeights quantize(LlamaWeights fp, GgufMix mix, ModelQuantizer.Progress progress) {
        return quantizeReleasing(new AtomicReference<>(fp), mix, progress);
    }

    /**
     * Quantizes the weights taken out of {@code fp} (left null), block after block, so that block l's
     * full-precision linears can be collected before block l + 1 is quantized; the embedding and the head last.
     */
    public static LlamaWeights quantizeReleasing(AtomicReference<LlamaWeights> fp, GgufMix mix,
                                                 ModelQuantizer.Progress progress) {
        LlamaConfig c = fp.get().config();
        Map<String, GgmlType> types = GgufTypeRules.assign(c, mix);
        LlamaWeights w = ModelQuantizer.mapLinears(fp, (hf, t) -> roundTrip(types.get(GgufNames.fromHf(hf)), t,
                GgufWeights.heads(c, hf)), (s, done) -> progress.update("gguf " + mix, done * c.numHiddenLayers()
                / (c.numHiddenLayers() + 1.0)));
        Value embed = Value.constant(roundTrip(types.get("token_embd.weight"), w.embed().data(), 0));
        Value head = c.tieWordEmbeddings() ? embed
                : Value.constant(roundTrip(types.get("output.weight"), w.lmHead().data(), 0));
        progress.update("gguf " + mix, 1.0);
        return new LlamaWeights(c, embed, w.blocks(), w.norm(), head);
    }

    /**
     * Refuses, before any model work, a {@code mix} that gives a tensor of a model of shape {@code c} a ggml type that
     * {@link GgmlQuantize} cannot quantize (yet), naming the types and tensors.
     */
    public static void requireQuantizable(LlamaConfig c, GgufMix mix) {
        Map<GgmlType, String> missing = new java.util.TreeMap<>();
        GgufTypeRules.assign(c, mix).forEach((name, t) -> {
            if (t != GgmlType.F32 && t != GgmlType.F16 && !GgmlQuantize.canQuantize(t)) {
                missing.putIfAbsent(t, name);
            }
        });
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("--method gguf --type " + mix + ": this build cannot quantize ggml type(s) "
                    + missing.keySet() + " that llama.cpp gives this model (e.g. " + missing.values().iterator().next()
                    + "; GgmlQuantize quantizes " + quantizable() + ")");
        }
    }

    /** The ggml types GgmlQuantize quantizes, for messages. */
    static String quantizable() {
        return java.util.Arrays.stream(GgmlType.values()).filter(GgmlQuantize::canQuantize).map(Enum::name)
                .collect(java.util.stream.Collectors.joining(", "));
    }

    /**
     * {@code w} (out, in) rounded to float32, its rows permuted as convert_hf_to_gguf.py permutes them when
     * {@code heads > 0}, quantized to {@code type} and dequantized by ggml's reference functions, the permutation
     * undone. F32 leaves the float32 values; F16 (llama.cpp's last fallback) rounds them to half precision.
     *
     * <p>Held as a GGUF file's matrix of that type is held ({@link GgufWeights#held}: a block type as its bytes, rows
     * unpermuted, dequantized where a kernel reads it; F16 as its patterns and F32 as floats, row-interleaved). The
     * values are the dequantized floats either way.
     *
     * @throws IllegalArgumentException naming the type when GgmlQuantize cannot quantize it yet
     */
    public static Tensor roundTrip(GgmlType type, Tensor w, int heads) {
        return Tensor.stored(GgufWeights.held(type, w.dim(0), w.dim(1), ggufBytes(type, w, heads), heads), w.shape());
    }

    /**
     * The bytes of {@code w} (out, in) in a GGUF file quantized to {@code type} (what llama-quantize writes from the
     * F32 GGUF): rounded to float32, rows permuted when {@code heads > 0}, then ggml's blocks row after row
     * ({@link GgmlQuantize#quantize}; F16 as ggml's {@code ggml_fp32_to_fp16}, round to nearest even).
     *
     * @throws IllegalArgumentException naming the type when GgmlQuantize cannot quantize it yet
     */
    public static byte[] ggufBytes(GgmlType type, Tensor w, int heads) {
        int rows = w.dim(0);
        int cols = w.dim(1);
        double[] d = w.data();
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        if (heads > 0) {
            f = permute(f, heads, cols);
        }
        if (type == GgmlType.F16) {
            ByteBuffer out = ByteBuffer.allocate(2 * f.length).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : f) {
                out.putShort(HalfFloat.toFp16Bits(v));
            }
            return out.array();
        }
        if (!GgmlQuantize.canQuantize(type)) {
            throw new IllegalArgumentException("--method gguf: ggml type " + type + " is not implemented in"
                    + " GgmlQuantize yet (needed here for a " + rows + " x " + cols + " matrix; it quantizes "
                    + quantizable() + ")");
        }
        return GgmlQuantize.quantize(type, f, rows, cols);
    }

    /**
     * convert_hf_to_gguf.py {@code LlamaModel.permute(W, n_head)} on a (n d_h, cols) row-major matrix:
     * {@code W.reshape(n_head, 2, d_h/2, cols).swapaxes(1, 2)}, so GGUF row {@code h d_h + 2i + j} is HF row
     * {@code h d_h + j d_h/2 + i} (the inverse of {@link GgufWeights#unpermute}).
     */
    static float[] permute(float[] w, int nHead, int cols) {
        int rows = w.length / cols;
        int dh = rows / nHead;
        int half = dh / 2;
        float[] out = new float[w.length];
        for (int h = 0; h < nHead; h++) {
            for (int i = 0; i < half; i++) {
                for (int j = 0; j < 2; j++) {
                    System.arraycopy(w, (h * dh + j * half + i) * cols, out, (h * dh + 2 * i + j) * cols, cols);
                }
            }
        }
        return out;
    }
}
