package intactkv.model;

import com.google.gson.JsonElement;
import intactkv.model.io.FormatException;
import intactkv.model.io.JsonFields;

/**
 * What a {@code config.json} claims about the architecture, checked against what this
 * implementation computes, before any field is used. A checkpoint of another family (Mistral,
 * Qwen2, ...) often has the same tensor names and shapes as a LLaMA one and would otherwise run
 * as a plain LLaMA and print plausible, wrong numbers. So:
 * <ul>
 *   <li>{@code model_type} must be {@code llama}; when it is absent, {@code architectures} must
 *       name {@code LlamaForCausalLM} (the two ways Hugging Face identifies the family).</li>
 *   <li>Every field of Hugging Face's {@code LlamaConfig} (transformers'
 *       {@code configuration_llama.py}) that changes the computation and is not implemented is
 *       refused by name, with its value and why: {@code sliding_window} (non-null, unless
 *       {@code use_sliding_window} is false), {@code attention_bias: true}, {@code mlp_bias: true},
 *       {@code head_dim} other than hidden_size / num_attention_heads, {@code attention_dropout}
 *       other than 0, {@code partial_rotary_factor} other than 1, and {@code quantization_config}
 *       (packed integer weights). {@code hidden_act} and {@code rope_scaling} are checked where
 *       {@link LlamaConfig#read} reads them.</li>
 *   <li>{@code pretraining_tp} is accepted whatever its value: Hugging Face's
 *       {@code modeling_llama} then splits each linear's matrix into that many slices and adds the
 *       partial products, which is the same sum in another order (a rounding-level difference,
 *       below 1e-15 relative in double).</li>
 *   <li>Fields that do not change the computation are accepted: {@code initializer_range},
 *       {@code use_cache}, {@code pad_token_id}, {@code torch_dtype} (weights are computed in
 *       double whatever their dtype), {@code transformers_version}, and the generic
 *       {@code PretrainedConfig} keys.</li>
 * </ul>
 * Messages name config.json and the field, and say why.
 */
public final class ConfigClaims {
    /** The families this implementation computes exactly, as --help names them. */
    public static final String FAMILIES = "llama (LLaMA, LLaMA-2, LLaMA-3, Vicuna, TinyLlama)";

    private ConfigClaims() {
    }

    /**
     * Refuses a config of another family or with a field this implementation does not compute
     * (list above); {@code o} is the whole config.json, its source the file.
     */
    public static void check(JsonFields o) throws FormatException {
        check(o, false);
    }

    /**
     * {@link #check(JsonFields)}, except that with {@code quantizedWeights} a {@code quantization_config} is
     * accepted: the directory is read as a quantized model ({@code --quantized}), whose reader checks that field
     * and the packed tensors itself (quant's {@code HubQuantConfig}); the full-precision {@code --model} refuses it.
     */
    public static void check(JsonFields o, boolean quantizedWeights) throws FormatException {
        Object file = o.source();
        String implemented = "; this implementation computes only model_type " + FAMILIES;
        if (o.has("model_type")) {
            String type = o.string("model_type", null);
            if (!type.equals("llama")) {
                throw new FormatException(file, "model_type '" + type + "' is not implemented" + implemented);
            }
        } else if (!namesLlama(o)) {
            throw new FormatException(file, (o.has("architectures") ? "has no model_type, and architectures "
                    + o.required("architectures") + " does not say LlamaForCausalLM"
                    : "has neither model_type nor architectures, so it does not say which model it describes")
                    + implemented + " (add \"model_type\": \"llama\" if it is one)");
        }
        if (o.has("quantization_config") && !quantizedWeights) {
            JsonFields q = o.optionalObject("quantization_config");
            String method = q != null && q.has("quant_method") ? " (" + q.string("quant_method", "") + ")" : "";
            throw new FormatException(file, "quantization_config" + method + " says the weights are packed integers;"
                    + " this implementation reads full-precision weights (F64, F32, F16, BF16) and quantizes them"
                    + " itself: pass the original model as --model (a GPTQ or AWQ checkpoint goes to --quantized, beside"
                    + " it)");
        }
        boolean slidingOff = o.has("use_sliding_window") && !o.bool("use_sliding_window", true);
        if (o.has("sliding_window") && !slidingOff) {
            throw new FormatException(file, "sliding_window " + o.required("sliding_window") + " is not implemented"
                    + " (it limits attention to the last positions; a LLaMA model attends to all of them)");
        }
        if (o.bool("attention_bias", false)) {
            throw new FormatException(file, "attention_bias true is not implemented (LLaMA's q/k/v/o projections have"
                    + " no bias)");
        }
        if (o.bool("mlp_bias", false)) {
            throw new FormatException(file, "mlp_bias true is not implemented (LLaMA's gate/up/down projections have"
                    + " no bias)");
        }
        if (o.has("head_dim")) {
            int hidden = o.integer("hidden_size", null, 1, LlamaConfig.MAX_SIZE);
            int heads = o.integer("num_attention_heads", null, 1, LlamaConfig.MAX_SIZE);
            int headDim = o.integer("head_dim", null, 1, LlamaConfig.MAX_SIZE);
            if ((long) headDim * heads != hidden) {
                throw new FormatException(file, "head_dim " + headDim + " is not implemented: this implementation"
                        + " uses hidden_size / num_attention_heads = " + hidden + " / " + heads + " = "
                        + (hidden % heads == 0 ? String.valueOf(hidden / heads) : hidden + "/" + heads));
            }
        }
        if (o.has("attention_dropout") && o.number("attention_dropout", 0.0) != 0) {
            throw new FormatException(file, "attention_dropout " + o.required("attention_dropout")
                    + " is not implemented (this implementation has no dropout)");
        }
        if (o.has("partial_rotary_factor") && o.number("partial_rotary_factor", 1.0) != 1) {
            throw new FormatException(file, "partial_rotary_factor " + o.required("partial_rotary_factor")
                    + " is not implemented (LLaMA rotates the whole head dimension)");
        }
        if (o.has("pretraining_tp")) {
            o.integer("pretraining_tp", 1, 1, LlamaConfig.MAX_SIZE); // any value computes the same sums
        }
    }

    private static boolean namesLlama(JsonFields o) throws FormatException {
        if (!o.has("architectures") || !o.required("architectures").isJsonArray()) {
            return false;
        }
        for (JsonElement e : o.array("architectures")) {
            if (e.isJsonPrimitive() && e.getAsString().equals("LlamaForCausalLM")) {
                return true;
            }
        }
        return false;
    }
}
