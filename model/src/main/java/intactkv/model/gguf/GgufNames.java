package intactkv.model.gguf;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * llama.cpp's tensor names of a LLaMA model and the Hugging Face names they come from
 * (gguf-py {@code tensor_mapping.py} / {@code constants.py} {@code MODEL_TENSORS[LLAMA]}):
 * <pre>
 *   token_embd.weight          model.embed_tokens.weight
 *   output_norm.weight         model.norm.weight
 *   output.weight              lm_head.weight (absent: tied to the embedding)
 *   blk.N.attn_norm.weight     model.layers.N.input_layernorm.weight
 *   blk.N.attn_q.weight        model.layers.N.self_attn.q_proj.weight   (rows permuted, see {@link GgufWeights})
 *   blk.N.attn_k.weight        model.layers.N.self_attn.k_proj.weight   (rows permuted)
 *   blk.N.attn_v.weight        model.layers.N.self_attn.v_proj.weight
 *   blk.N.attn_output.weight   model.layers.N.self_attn.o_proj.weight
 *   blk.N.ffn_norm.weight      model.layers.N.post_attention_layernorm.weight
 *   blk.N.ffn_gate.weight      model.layers.N.mlp.gate_proj.weight
 *   blk.N.ffn_up.weight        model.layers.N.mlp.up_proj.weight
 *   blk.N.ffn_down.weight      model.layers.N.mlp.down_proj.weight
 * </pre>
 */
public final class GgufNames {
    private static final Pattern BLOCK = Pattern.compile("blk\\.(0|[1-9][0-9]{0,5})\\.([a-z_]+)\\.weight");

    private GgufNames() {
    }

    /** The Hugging Face name of GGUF tensor {@code name}, or null when it is not a LLaMA tensor. */
    public static String toHf(String name) {
        switch (name) {
            case "token_embd.weight":
                return "model.embed_tokens.weight";
            case "output_norm.weight":
                return "model.norm.weight";
            case "output.weight":
                return "lm_head.weight";
            default:
                break;
        }
        Matcher m = BLOCK.matcher(name);
        if (!m.matches()) {
            return null;
        }
        String hf = switch (m.group(2)) {
            case "attn_norm" -> "input_layernorm";
            case "attn_q" -> "self_attn.q_proj";
            case "attn_k" -> "self_attn.k_proj";
            case "attn_v" -> "self_attn.v_proj";
            case "attn_output" -> "self_attn.o_proj";
            case "ffn_norm" -> "post_attention_layernorm";
            case "ffn_gate" -> "mlp.gate_proj";
            case "ffn_up" -> "mlp.up_proj";
            case "ffn_down" -> "mlp.down_proj";
            default -> null;
        };
        return hf == null ? null : "model.layers." + m.group(1) + "." + hf + ".weight";
    }

    /** The GGUF name of Hugging Face tensor {@code hf} (the inverse of {@link #toHf}), or null. */
    public static String fromHf(String hf) {
        switch (hf) {
            case "model.embed_tokens.weight":
                return "token_embd.weight";
            case "model.norm.weight":
                return "output_norm.weight";
            case "lm_head.weight":
                return "output.weight";
            default:
                break;
        }
        Matcher m = Pattern.compile("model\\.layers\\.([0-9]+)\\.([a-z_.]+)\\.weight").matcher(hf);
        if (!m.matches()) {
            return null;
        }
        String g = switch (m.group(2)) {
            case "input_layernorm" -> "attn_norm";
            case "self_attn.q_proj" -> "attn_q";
            case "self_attn.k_proj" -> "attn_k";
            case "self_attn.v_proj" -> "attn_v";
            case "self_attn.o_proj" -> "attn_output";
            case "post_attention_layernorm" -> "ffn_norm";
            case "mlp.gate_proj" -> "ffn_gate";
            case "mlp.up_proj" -> "ffn_up";
            case "mlp.down_proj" -> "ffn_down";
            default -> null;
        };
        return g == null ? null : "blk." + m.group(1) + "." + g + ".weight";
    }
}
