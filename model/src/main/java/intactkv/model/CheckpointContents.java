package intactkv.model;

import intactkv.model.io.CheckpointReader;
import intactkv.model.io.DType;
import intactkv.model.io.FormatException;
import intactkv.model.io.SafetensorsReader;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every tensor of a checkpoint is one this implementation reads, a known parameter-free buffer
 * that agrees with the config, or it is refused by name. A tensor that is silently left out
 * means the file describes a different computation than the one run: a {@code q_proj.bias}
 * (Qwen2-style attention bias), a layer beyond {@code num_hidden_layers} (a config that lost
 * layers), packed integer weights ({@code qweight}, {@code qzeros}, {@code scales}).
 *
 * <p>Accepted besides the weights {@link LlamaWeights} reads:
 * <ul>
 *   <li>{@code model.layers.N.self_attn.rotary_emb.inv_freq} (older LLaMA checkpoints, saved
 *       before Hugging Face made the buffer non-persistent) and {@code model.rotary_emb.inv_freq}:
 *       RoPE's frequencies, shape (d_h / 2), checked element by element against the ones
 *       rope_theta, the head dimension and rope_scaling give ({@link Rope#invFreq}), within
 *       {@link #invFreqTolerance}.</li>
 *   <li>{@code lm_head.weight} of a tied model ({@code tie_word_embeddings: true}) when it equals
 *       {@code model.embed_tokens.weight} element for element (some exporters write the shared
 *       matrix twice); a different one is refused, since the config says it is not used.</li>
 * </ul>
 */
public final class CheckpointContents {
    private static final Pattern LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)");
    private static final String INV_FREQ = "self_attn.rotary_emb.inv_freq";

    private CheckpointContents() {
    }

    /**
     * Refuses the first tensor of {@code r} (the checkpoint in {@code dir}) that a LLaMA model of
     * config {@code c} does not use; reads only the buffers it checks (inv_freq, a tied lm_head).
     */
    public static void check(Path dir, LlamaConfig c, CheckpointReader r) throws IOException {
        check(dir, c, r, n -> null);
    }

    /**
     * {@link #check(Path, LlamaConfig, CheckpointReader)} for a checkpoint whose weights may be
     * stored in parts ({@link LlamaWeights.StoredForm}): {@code partOf} maps a part's name to the
     * weight it belongs to (null for a plain tensor), and that weight is checked in its place.
     */
    public static void check(Path dir, LlamaConfig c, CheckpointReader r,
                             java.util.function.UnaryOperator<String> partOf) throws IOException {
        Set<String> used = new HashSet<>(List.of("model.embed_tokens.weight", "model.norm.weight"));
        if (!c.tieWordEmbeddings()) {
            used.add("lm_head.weight");
        }
        List<String> names = r.names();
        int firstExtraLayer = Integer.MAX_VALUE;
        String firstExtraName = null;
        int lastLayer = -1;
        for (String name : names) {
            Matcher m = LAYER.matcher(name);
            if (m.matches() && m.group(1).length() < 10) {
                int layer = Integer.parseInt(m.group(1));
                lastLayer = Math.max(lastLayer, layer);
                if (layer >= c.numHiddenLayers() && (layer < firstExtraLayer
                        || layer == firstExtraLayer && name.compareTo(firstExtraName) < 0)) {
                    firstExtraLayer = layer;
                    firstExtraName = name;
                }
            }
        }
        if (firstExtraName != null) {
            throw new FormatException(dir, "tensor '" + firstExtraName + "' is not used: config.json says"
                    + " num_hidden_layers " + c.numHiddenLayers() + " (layers 0.." + (c.numHiddenLayers() - 1)
                    + "), but the weights have layers up to " + lastLayer + "; layer " + firstExtraLayer
                    + " is the first not used (fix num_hidden_layers, or use the config that came with the weights)");
        }
        for (String file : names) {
            String whole = partOf.apply(file);
            String name = whole != null ? whole : file;
            if (used.contains(name)) {
                continue;
            }
            Matcher m = LAYER.matcher(name);
            String suffix = m.matches() ? m.group(2) : null;
            if (suffix != null && suffix.endsWith(".weight")
                    && (LlamaWeights.LINEAR_NAMES.contains(suffix.substring(0, suffix.length() - 7))
                    || suffix.equals("input_layernorm.weight") || suffix.equals("post_attention_layernorm.weight"))) {
                continue; // read, and its shape checked, by LlamaWeights.load
            }
            if (INV_FREQ.equals(suffix) || name.equals("model.rotary_emb.inv_freq")) {
                checkInvFreq(dir, c, r, name);
            } else if (name.equals("lm_head.weight")) {
                checkTiedHead(dir, r);
            } else {
                throw new FormatException(dir, "tensor '" + name + "' is not used by a LLaMA model" + why(suffix, name)
                        + "; this implementation computes only model_type " + ConfigClaims.FAMILIES);
            }
        }
    }

    /** Why a tensor the model does not read is there, in words a user can act on. */
    private static String why(String suffix, String name) {
        if (suffix != null && suffix.startsWith("self_attn.") && suffix.endsWith(".bias")) {
            return " (attention_bias is not supported)";
        }
        if (suffix != null && suffix.startsWith("mlp.") && suffix.endsWith(".bias")) {
            return " (mlp_bias is not supported)";
        }
        if (name.endsWith(".qweight") || name.endsWith(".qzeros") || name.endsWith(".scales") || name.endsWith(".g_idx")) {
            return " (packed quantized weights; pass the full-precision model, this implementation quantizes it"
                    + " itself)";
        }
        return " (it belongs to another architecture, or to a part LLaMA does not have)";
    }

    /** A tied model's extra lm_head.weight must be the embedding itself. */
    private static void checkTiedHead(Path dir, CheckpointReader r) throws IOException {
        String embed = "model.embed_tokens.weight";
        if (!r.contains(embed) || !r.entry(embed).shape().equals(r.entry("lm_head.weight").shape())
                || !java.util.Arrays.equals(r.read(embed).data(), r.read("lm_head.weight").data())) {
            throw new FormatException(dir, "tensor 'lm_head.weight' is not used: config.json says"
                    + " tie_word_embeddings true (the LM head is model.embed_tokens.weight), and this lm_head.weight"
                    + " differs from it; set tie_word_embeddings false if the model has its own head");
        }
    }

    /** RoPE's inverse frequencies saved by older checkpoints must be the ones the config gives. */
    private static void checkInvFreq(Path dir, LlamaConfig c, CheckpointReader r, String name) throws IOException {
        SafetensorsReader.Entry e = r.entry(name);
        double[] want = new Rope(c.headDim(), c.ropeTheta(), c.ropeScaling()).invFreq();
        if (e.shape().rank() != 1 || e.shape().dim(0) != want.length) {
            throw new FormatException(dir, "tensor '" + name + "' has shape " + e.shape() + ", but config.json's head"
                    + " dimension " + c.headDim() + " gives " + want.length + " RoPE frequencies, shape "
                    + intactkv.tensor.Shape.of(want.length));
        }
        double[] got = r.read(name).data();
        for (int i = 0; i < want.length; i++) {
            if (!(Math.abs(got[i] - want[i]) <= invFreqTolerance(e.dtype(), want[i]))) {
                throw new FormatException(dir, String.format(Locale.ROOT, "tensor '%s' element %d is %.9g, but"
                        + " config.json (rope_theta %s, head dimension %d%s) gives %.9g: the weights were trained with"
                        + " other RoPE frequencies", name, i, got[i], c.ropeTheta(), c.headDim(),
                        c.ropeScaling() == null ? "" : ", rope_scaling llama3", want[i]));
            }
        }
    }

    /**
     * How far a stored inv_freq may be from the exact value. Hugging Face computes it in float32
     * ({@code 1 / theta ** (arange(0, d_h, 2).float() / d_h)}): the exponent's rounding (relative
     * 2^-24) times ln(theta) (at most 13.2 for theta = 5e5), the power's and the division's
     * rounding add up to below 1.1e-6 relative, bounded here by 2e-6. Then it is stored in the
     * file's dtype: half a unit in the last place, relative 2^-24 (F32), 2^-11 (F16), 2^-8
     * (BF16), taken twice to cover a conversion through float32; F16 also has subnormals below
     * 6.1e-5 (absolute spacing 2^-24), which LLaMA-3's small frequencies reach.
     */
    static double invFreqTolerance(DType dtype, double value) {
        double rel = switch (dtype) {
            case F16 -> 2 * 0x1p-11;
            case BF16 -> 2 * 0x1p-8;
            case F32 -> 2 * 0x1p-24;
            default -> 0;
        };
        double abs = dtype == DType.F16 ? 0x1p-24 : 0;
        return (rel + 2e-6) * Math.abs(value) + abs;
    }
}
