package intactkv.model;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import intactkv.model.io.AtomicFiles;
import intactkv.model.io.FormatException;
import intactkv.model.io.JsonFields;
import intactkv.model.io.JsonFile;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The shape and constants of a LLaMA model, as Hugging Face's {@code LlamaConfig} (the fields
 * of {@code config.json} this implementation uses). Validated on construction.
 *
 * @param hiddenSize            d
 * @param intermediateSize      d_ff
 * @param numAttentionHeads     h
 * @param numKeyValueHeads      h_kv (h_kv divides h; h_kv &lt; h is grouped-query attention)
 * @param numHiddenLayers       L
 * @param rmsNormEps            epsilon of every RMSNorm
 * @param ropeTheta             RoPE base (10000 for LLaMA/LLaMA-2)
 * @param vocabSize             V
 * @param maxPositionEmbeddings longest sequence the model supports
 * @param tieWordEmbeddings     whether the LM head reuses the embedding matrix
 * @param bosTokenId            [BOS] id
 * @param eosTokenId            [EOS] id
 * @param ropeScaling           LLaMA-3's RoPE frequency scaling, or null for none
 */
public record LlamaConfig(int hiddenSize, int intermediateSize, int numAttentionHeads, int numKeyValueHeads,
                          int numHiddenLayers, double rmsNormEps, double ropeTheta, int vocabSize,
                          int maxPositionEmbeddings, boolean tieWordEmbeddings, int bosTokenId, int eosTokenId,
                          RopeScaling ropeScaling) {
    /** A configuration without RoPE scaling (LLaMA, LLaMA-2, Vicuna, TinyLlama). */
    public LlamaConfig(int hiddenSize, int intermediateSize, int numAttentionHeads, int numKeyValueHeads,
                       int numHiddenLayers, double rmsNormEps, double ropeTheta, int vocabSize, int maxPositionEmbeddings,
                       boolean tieWordEmbeddings, int bosTokenId, int eosTokenId) {
        this(hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads, numHiddenLayers, rmsNormEps, ropeTheta,
                vocabSize, maxPositionEmbeddings, tieWordEmbeddings, bosTokenId, eosTokenId, null);
    }

    public LlamaConfig {
        requirePositive("hidden_size", hiddenSize);
        requirePositive("intermediate_size", intermediateSize);
        requirePositive("num_attention_heads", numAttentionHeads);
        requirePositive("num_key_value_heads", numKeyValueHeads);
        requirePositive("num_hidden_layers", numHiddenLayers);
        requirePositive("vocab_size", vocabSize);
        requirePositive("max_position_embeddings", maxPositionEmbeddings);
        if (hiddenSize % numAttentionHeads != 0) {
            throw new IllegalArgumentException("hidden_size " + hiddenSize + " is not divisible by num_attention_heads "
                    + numAttentionHeads);
        }
        if (numAttentionHeads % numKeyValueHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads " + numAttentionHeads
                    + " is not divisible by num_key_value_heads " + numKeyValueHeads);
        }
        if ((hiddenSize / numAttentionHeads) % 2 != 0) {
            throw new IllegalArgumentException("head dimension hidden_size / num_attention_heads = "
                    + hiddenSize / numAttentionHeads + " must be even for rotary embeddings");
        }
        if (!(rmsNormEps > 0) || !(ropeTheta > 0)) {
            throw new IllegalArgumentException("rms_norm_eps and rope_theta must be > 0, got " + rmsNormEps + ", "
                    + ropeTheta);
        }
        if (bosTokenId < 0 || bosTokenId >= vocabSize || eosTokenId < 0 || eosTokenId >= vocabSize) {
            throw new IllegalArgumentException("bos_token_id " + bosTokenId + " / eos_token_id " + eosTokenId
                    + " outside the vocabulary of " + vocabSize);
        }
    }

    private static void requirePositive(String field, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(field + " must be > 0, got " + v);
        }
    }

    /** d_h = d / h. */
    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    /** Query heads per key/value head, h / h_kv. */
    public int groups() {
        return numAttentionHeads / numKeyValueHeads;
    }

    /**
     * The first config.json field in which {@code other} differs from this config, as
     * {@code {field, this value, other value}}, or null when they are equal: what a message
     * names when two models must be the same (a quantized model and its full-precision one).
     * tie_word_embeddings comes last, so that a caller that allows untying sees the others first.
     */
    public String[] firstDifference(LlamaConfig other) {
        Object[][] fields = {{"hidden_size", hiddenSize, other.hiddenSize},
            {"intermediate_size", intermediateSize, other.intermediateSize},
            {"num_attention_heads", numAttentionHeads, other.numAttentionHeads},
            {"num_key_value_heads", numKeyValueHeads, other.numKeyValueHeads},
            {"num_hidden_layers", numHiddenLayers, other.numHiddenLayers}, {"vocab_size", vocabSize, other.vocabSize},
            {"rms_norm_eps", rmsNormEps, other.rmsNormEps}, {"rope_theta", ropeTheta, other.ropeTheta},
            {"rope_scaling", ropeScaling, other.ropeScaling},
            {"max_position_embeddings", maxPositionEmbeddings, other.maxPositionEmbeddings},
            {"bos_token_id", bosTokenId, other.bosTokenId}, {"eos_token_id", eosTokenId, other.eosTokenId},
            {"tie_word_embeddings", tieWordEmbeddings, other.tieWordEmbeddings}};
        for (Object[] f : fields) {
            if (!java.util.Objects.equals(f[1], f[2])) {
                return new String[] {(String) f[0], String.valueOf(f[1]), String.valueOf(f[2])};
            }
        }
        return null;
    }

    /** Number of parameters (embedding, L blocks, final norm, untied LM head). */
    public long parameterCount() {
        long d = hiddenSize;
        long kv = (long) numKeyValueHeads * headDim();
        long block = d * d * 2 + d * kv * 2 + 3L * d * intermediateSize + 2 * d;
        return (long) vocabSize * d * (tieWordEmbeddings ? 1 : 2) + numHiddenLayers * block + d;
    }

    /**
     * Reads {@code config.json}; errors ({@link FormatException}) name the file and the field.
     * Sizes are bounded before anything is allocated from them: {@link #MAX_SIZE} for the
     * dimensions and the vocabulary, {@link #MAX_LAYERS} layers. {@code FILE.gguf/config.json}
     * (what a caller that resolves config.json in a model directory asks for when {@code --model}
     * is a GGUF file) reads the GGUF file's metadata instead ({@link intactkv.model.gguf.GgufConfig}).
     */
    public static LlamaConfig read(Path file) throws IOException {
        return read(file, false);
    }

    /**
     * {@link #read(Path)}; with {@code quantizedWeights} a {@code quantization_config} (a GPTQ or AWQ checkpoint's)
     * is accepted instead of refused ({@link ConfigClaims#check(JsonFields, boolean)}).
     */
    public static LlamaConfig read(Path file, boolean quantizedWeights) throws IOException {
        Path parent = file.getParent();
        if (parent != null && intactkv.model.gguf.GgufFile.isGguf(parent)) {
            // "FILE.gguf/config.json": a caller written for a model directory was given a GGUF file
            return intactkv.model.gguf.GgufConfig.read(parent);
        }
        JsonFields o;
        try {
            o = JsonFile.read(file);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new java.nio.file.NoSuchFileException(file.toString(), null,
                    "no such file (a model directory needs config.json)");
        }
        ConfigClaims.check(o, quantizedWeights); // another family, or a field this implementation does not compute, is refused by name
        String act = o.string("hidden_act", "silu");
        if (!act.equals("silu")) {
            throw new FormatException(file, "hidden_act '" + act + "' is not supported (LLaMA uses silu)");
        }
        RopeScaling scaling = ropeScaling(o.optionalObject("rope_scaling"));
        int heads = o.integer("num_attention_heads", null, 1, MAX_SIZE);
        int eos = o.has("eos_token_id") && o.required("eos_token_id").isJsonArray()
                // some configs list several EOS ids; the first is the model's own
                ? (int) o.integerValue(firstOf(o, "eos_token_id"), "eos_token_id[0]", 0, MAX_SIZE)
                : o.integer("eos_token_id", 2, 0, MAX_SIZE);
        try {
            return new LlamaConfig(o.integer("hidden_size", null, 1, MAX_SIZE),
                    o.integer("intermediate_size", null, 1, MAX_SIZE), heads,
                    o.integer("num_key_value_heads", heads, 1, MAX_SIZE),
                    o.integer("num_hidden_layers", null, 1, MAX_LAYERS), o.number("rms_norm_eps", 1e-6),
                    o.number("rope_theta", 10000.0), o.integer("vocab_size", null, 1, MAX_SIZE),
                    o.integer("max_position_embeddings", 2048, 1, Integer.MAX_VALUE),
                    o.bool("tie_word_embeddings", false), o.integer("bos_token_id", 1, 0, MAX_SIZE), eos, scaling);
        } catch (IllegalArgumentException e) {
            throw new FormatException(file, e.getMessage(), e);
        }
    }

    /**
     * {@code rope_scaling}: null, type {@code default} (Hugging Face's name for no scaling), or
     * type {@code llama3}; others are refused by name.
     */
    private static RopeScaling ropeScaling(JsonFields r) throws FormatException {
        if (r == null) {
            return null;
        }
        String type = r.has("rope_type") ? r.string("rope_type", null) : r.string("type", "");
        if (type.equals("default")) {
            return null;
        }
        if (!type.equals("llama3")) {
            throw new FormatException(r.source(), "rope_scaling type '" + type + "' is not supported (only llama3;"
                    + " linear, dynamic, yarn and longrope scale positions differently)");
        }
        try {
            return new RopeScaling(r.number("factor", null), r.number("low_freq_factor", null),
                    r.number("high_freq_factor", null), r.integer("original_max_position_embeddings", null, 1,
                    Integer.MAX_VALUE));
        } catch (IllegalArgumentException e) {
            throw new FormatException(r.source(), e.getMessage(), e);
        }
    }

    /** Largest hidden size, FFN size, head count and vocabulary a config may give (2^24). */
    public static final int MAX_SIZE = 1 << 24;
    /** Largest number of layers a config may give. */
    public static final int MAX_LAYERS = 4096;

    private static com.google.gson.JsonElement firstOf(JsonFields o, String key) throws FormatException {
        com.google.gson.JsonArray a = o.array(key);
        if (a.isEmpty()) {
            throw new FormatException(o.source(), "field '" + key + "' is an empty list");
        }
        return a.get(0);
    }

    /** Writes this configuration as a Hugging Face {@code config.json} (atomically). */
    public void write(Path file, String torchDtype) throws IOException {
        JsonObject o = new JsonObject();
        com.google.gson.JsonArray arch = new com.google.gson.JsonArray();
        arch.add("LlamaForCausalLM");
        o.add("architectures", arch);
        o.addProperty("model_type", "llama");
        o.addProperty("hidden_act", "silu");
        o.addProperty("hidden_size", hiddenSize);
        o.addProperty("intermediate_size", intermediateSize);
        o.addProperty("num_attention_heads", numAttentionHeads);
        o.addProperty("num_key_value_heads", numKeyValueHeads);
        o.addProperty("num_hidden_layers", numHiddenLayers);
        o.addProperty("rms_norm_eps", rmsNormEps);
        o.addProperty("rope_theta", ropeTheta);
        o.addProperty("vocab_size", vocabSize);
        o.addProperty("max_position_embeddings", maxPositionEmbeddings);
        o.addProperty("tie_word_embeddings", tieWordEmbeddings);
        o.addProperty("bos_token_id", bosTokenId);
        o.addProperty("eos_token_id", eosTokenId);
        if (ropeScaling != null) {
            JsonObject r = new JsonObject();
            r.addProperty("rope_type", "llama3");
            r.addProperty("factor", ropeScaling.factor());
            r.addProperty("low_freq_factor", ropeScaling.lowFreqFactor());
            r.addProperty("high_freq_factor", ropeScaling.highFreqFactor());
            r.addProperty("original_max_position_embeddings", ropeScaling.originalMaxPositionEmbeddings());
            o.add("rope_scaling", r);
        }
        o.addProperty("torch_dtype", torchDtype);
        AtomicFiles.writeString(file, new GsonBuilder().setPrettyPrinting().create().toJson(o) + "\n");
    }
}
