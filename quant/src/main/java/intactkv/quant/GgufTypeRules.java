package intactkv.quant;

import intactkv.model.LlamaConfig;
import intactkv.model.gguf.GgmlType;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The ggml type {@code llama-quantize} gives each tensor of a LLaMA model under a {@link GgufMix},
 * in GGUF names ({@code token_embd.weight}, {@code blk.N.attn_q.weight}, {@code output.weight}...),
 * for an F32 input, no importance matrix and no overrides.
 *
 * <p>Reference: llama.cpp src/llama-quant.cpp, reproduced here for a LLaMA-architecture model (one
 * expert, not Falcon):
 * <ul>
 *   <li>{@code tensor_allows_quantization}: only 2-D tensors whose name ends in {@code weight} and
 *       does not contain {@code _norm.weight}; the norms (1-D) stay F32.</li>
 *   <li>{@code llama_model_quantize_impl} visits the tensors in {@code weights_map} order
 *       ({@code weight_name_comparer}: non-block tensors first, then by layer, then by name), so the
 *       counters {@code i_attention_wv} and {@code i_ffn_down} equal the layer index;
 *       {@code n_attention_wv} counts the attn_v tensors (= layers); {@code has_tied_embeddings} is
 *       true when there is no {@code output.weight}.</li>
 *   <li>{@code llama_tensor_get_type_impl} (skipped for {@link GgufMix#pure()}): the output head,
 *       and the token embedding when tied, get Q8_0 when the row length is not a multiple of the
 *       default type's block, else Q6_K unless the default is Q8_0; attn_v, ffn_down and
 *       attn_output get more bits in some ftypes ({@code use_more_bits(i, n) = i < n/8 || i >= 7n/8 ||
 *       (i - n/8) % 3 == 2}); LLaMA-70B's attn_v (80 layers, grouped-query) Q3_K/Q4_K become Q5_K.</li>
 *   <li>{@code tensor_type_fallback}: a row length (ggml {@code ne[0]}, the input dimension) that is
 *       not a multiple of the type's block size: Q2_K, Q3_K to Q4_0; Q4_K to Q5_0; Q5_K to Q5_1;
 *       Q6_K to Q8_0; F16 if even that block of 32 does not divide the row.</li>
 * </ul>
 */
public final class GgufTypeRules {
    private GgufTypeRules() {
    }

    /**
     * Every tensor of a model of shape {@code c} in GGUF names, with the type {@code mix} gives it,
     * in llama-quantize's order. {@code output.weight} is absent when the model ties its head.
     */
    public static Map<String, GgmlType> assign(LlamaConfig c, GgufMix mix) {
        Map<String, GgmlType> out = new LinkedHashMap<>();
        int n = c.numHiddenLayers();
        int d = c.hiddenSize();
        boolean tied = c.tieWordEmbeddings();
        if (!tied) {
            out.put("output.weight", matrix(mix, Role.OUTPUT, d, 0, n, c, true));
        }
        out.put("output_norm.weight", GgmlType.F32);
        out.put("token_embd.weight", matrix(mix, Role.TOKEN_EMBD, d, 0, n, c, tied));
        for (int i = 0; i < n; i++) {
            String b = "blk." + i + ".";
            out.put(b + "attn_k.weight", matrix(mix, Role.OTHER, d, i, n, c, tied));
            out.put(b + "attn_norm.weight", GgmlType.F32);
            out.put(b + "attn_output.weight", matrix(mix, Role.ATTN_OUTPUT, c.numAttentionHeads() * c.headDim(), i, n, c, tied));
            out.put(b + "attn_q.weight", matrix(mix, Role.OTHER, d, i, n, c, tied));
            out.put(b + "attn_v.weight", matrix(mix, Role.ATTN_V, d, i, n, c, tied));
            out.put(b + "ffn_down.weight", matrix(mix, Role.FFN_DOWN, c.intermediateSize(), i, n, c, tied));
            out.put(b + "ffn_gate.weight", matrix(mix, Role.OTHER, d, i, n, c, tied));
            out.put(b + "ffn_norm.weight", GgmlType.F32);
            out.put(b + "ffn_up.weight", matrix(mix, Role.OTHER, d, i, n, c, tied));
        }
        return out;
    }

    /** The tensor categories whose rules differ ({@code tensor_get_category}); attn_q/k, ffn_gate/up have none here. */
    enum Role { OUTPUT, TOKEN_EMBD, ATTN_V, FFN_DOWN, ATTN_OUTPUT, OTHER }

    /**
     * The type of a matrix of role {@code role} with rows of {@code ne0} elements in layer {@code i} of {@code n}:
     * the ftype's rules, then the row-length fallback.
     */
    static GgmlType matrix(GgufMix mix, Role role, int ne0, int i, int n, LlamaConfig c, boolean tied) {
        GgmlType t = mix.pure() ? mix.defaultType() : rule(mix, role, ne0, i, n, c, tied);
        return fallback(t, ne0);
    }

    /** {@code llama_tensor_get_type_impl} for the ftypes of {@link GgufMix} on a LLaMA model without experts. */
    private static GgmlType rule(GgufMix mix, Role role, int ne0, int i, int n, LlamaConfig c, boolean tied) {
        GgmlType t = mix.defaultType();
        int gqa = c.numAttentionHeads() / c.numKeyValueHeads();
        if (role == Role.OUTPUT || tied && role == Role.TOKEN_EMBD) {
            if (ne0 % t.blockSize() != 0) {
                return GgmlType.Q8_0;
            }
            return t != GgmlType.Q8_0 ? GgmlType.Q6_K : t;
        }
        switch (role) {
            case ATTN_V -> {
                switch (mix) {
                    case Q2_K -> t = gqa >= 4 ? GgmlType.Q4_K : GgmlType.Q3_K;
                    case Q3_K_M -> t = i < 2 ? GgmlType.Q5_K : GgmlType.Q4_K;
                    case Q4_K_M, Q5_K_M -> t = useMoreBits(i, n) ? GgmlType.Q6_K : t;
                    case Q4_K_S -> t = i < 4 ? GgmlType.Q5_K : t;
                    default -> { }
                }
                // LLM_TYPE_70B: 80 layers with grouped-query attention (llama.cpp src/models/llama.cpp)
                if (n == 80 && c.numAttentionHeads() != c.numKeyValueHeads()
                        && (t == GgmlType.Q3_K || t == GgmlType.Q4_K)) {
                    t = GgmlType.Q5_K;
                }
            }
            case FFN_DOWN -> {
                switch (mix) {
                    case Q2_K -> t = GgmlType.Q3_K;
                    case Q3_K_M -> t = i < n / 16 ? GgmlType.Q5_K : GgmlType.Q4_K;
                    case Q4_K_M, Q5_K_M -> t = useMoreBits(i, n) ? GgmlType.Q6_K : t;
                    case Q4_K_S -> t = i < n / 8 ? GgmlType.Q5_K : t;
                    default -> { }
                }
            }
            case ATTN_OUTPUT -> {
                switch (mix) {
                    case Q2_K -> t = GgmlType.Q3_K;
                    case Q3_K_M -> t = GgmlType.Q4_K;
                    default -> { }
                }
            }
            default -> { }
        }
        return t;
    }

    /** llama-quant.cpp's {@code use_more_bits}: the first and last eighth of the layers and every third between. */
    static boolean useMoreBits(int i, int n) {
        return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
    }

    /**
     * {@code tensor_type_fallback}: {@code t} when its block divides the row length {@code ne0}, else the
     * 32-element type that replaces it, else F16.
     */
    static GgmlType fallback(GgmlType t, int ne0) {
        if (ne0 % t.blockSize() == 0) {
            return t;
        }
        GgmlType r = switch (t) {
            case Q2_K, Q3_K -> GgmlType.Q4_0;
            case Q4_K -> GgmlType.Q5_0;
            case Q5_K -> GgmlType.Q5_1;
            case Q6_K -> GgmlType.Q8_0;
            default -> t;
        };
        return ne0 % r.blockSize() == 0 ? r : GgmlType.F16;
    }
}
