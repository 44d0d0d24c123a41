package intactkv.model;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import intactkv.model.io.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
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
 */
public record LlamaConfig(int hiddenSize, int intermediateSize, int numAttentionHeads, int numKeyValueHeads,
                          int numHiddenLayers, double rmsNormEps, double ropeTheta, int vocabSize,
                          int maxPositionEmbeddings, boolean tieWordEmbeddings, int bosTokenId, int eosTokenId) {
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
            throw new IllegalArgumentException("head dimension " + hiddenSize / numAttentionHeads
                    + " must be even for rotary embeddings");
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

    /** Number of parameters (embedding, L blocks, final norm, untied LM head). */
    public long parameterCount() {
        long d = hiddenSize;
        long kv = (long) numKeyValueHeads * headDim();
        long block = d * d * 2 + d * kv * 2 + 3L * d * intermediateSize + 2 * d;
        return (long) vocabSize * d * (tieWordEmbeddings ? 1 : 2) + numHiddenLayers * block + d;
    }

    /** Reads {@code config.json}; errors name the file and the field. */
    public static LlamaConfig read(Path file) throws IOException {
        JsonObject o;
        try {
            JsonElement e = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8));
            if (!e.isJsonObject()) {
                throw new IOException(file + ": not a JSON object");
            }
            o = e.getAsJsonObject();
        } catch (JsonParseException e) {
            throw new IOException(file + ": not valid JSON: " + e.getMessage(), e);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IOException(file + ": no such file (a model directory needs config.json)", e);
        }
        try {
            if (o.has("hidden_act") && !o.get("hidden_act").getAsString().equals("silu")) {
                throw new IOException(file + ": hidden_act '" + o.get("hidden_act").getAsString()
                        + "' is not supported (LLaMA uses silu)");
            }
            if (o.has("rope_scaling") && !o.get("rope_scaling").isJsonNull()) {
                throw new IOException(file + ": rope_scaling " + o.get("rope_scaling") + " is not supported");
            }
            int heads = intField(o, file, "num_attention_heads", null);
            return new LlamaConfig(intField(o, file, "hidden_size", null), intField(o, file, "intermediate_size", null),
                    heads, intField(o, file, "num_key_value_heads", heads), intField(o, file, "num_hidden_layers", null),
                    o.has("rms_norm_eps") ? o.get("rms_norm_eps").getAsDouble() : 1e-6,
                    o.has("rope_theta") ? o.get("rope_theta").getAsDouble() : 10000.0,
                    intField(o, file, "vocab_size", null), intField(o, file, "max_position_embeddings", 2048),
                    o.has("tie_word_embeddings") && o.get("tie_word_embeddings").getAsBoolean(),
                    intField(o, file, "bos_token_id", 1), intField(o, file, "eos_token_id", 2));
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        } catch (IllegalStateException | ClassCastException | UnsupportedOperationException e) {
            throw new IOException(file + ": a field has the wrong type: " + e.getMessage(), e);
        }
    }

    private static int intField(JsonObject o, Path file, String name, Integer dflt) throws IOException {
        JsonElement e = o.get(name);
        if (e == null || e.isJsonNull()) {
            if (dflt == null) {
                throw new IOException(file + ": missing field '" + name + "'");
            }
            return dflt;
        }
        if (e.isJsonArray()) { // some configs list several EOS ids; the first is the model's own
            return e.getAsJsonArray().get(0).getAsInt();
        }
        double v = e.getAsDouble();
        if (v != Math.rint(v) || Math.abs(v) > Integer.MAX_VALUE) {
            throw new IOException(file + ": field '" + name + "' must be an integer, got " + e);
        }
        return (int) v;
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
        o.addProperty("torch_dtype", torchDtype);
        AtomicFiles.writeString(file, new GsonBuilder().setPrettyPrinting().create().toJson(o) + "\n");
    }
}
