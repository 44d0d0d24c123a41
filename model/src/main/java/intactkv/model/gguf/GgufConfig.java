package intactkv.model.gguf;

import intactkv.model.LlamaConfig;
import intactkv.model.io.FormatException;
import java.io.IOException;

/**
 * A GGUF file's {@code llama.*} metadata as a {@link LlamaConfig} (the keys convert_hf_to_gguf.py
 * writes from a Hugging Face config.json; gguf-py {@code constants.py} {@code Keys.LLM},
 * {@code Keys.Attention}, {@code Keys.Rope}):
 * <pre>
 *   llama.embedding_length                  hidden_size
 *   llama.feed_forward_length               intermediate_size
 *   llama.attention.head_count              num_attention_heads
 *   llama.attention.head_count_kv           num_key_value_heads (absent: = head_count)
 *   llama.block_count                       num_hidden_layers
 *   llama.attention.layer_norm_rms_epsilon  rms_norm_eps
 *   llama.rope.freq_base                    rope_theta (absent: 10000, as llama.cpp)
 *   llama.context_length                    max_position_embeddings
 *   tokenizer.ggml.tokens (its length)      vocab_size (llama.vocab_size, when present, must agree)
 *   tokenizer.ggml.bos_token_id / eos       bos_token_id / eos_token_id (absent: 1 / 2)
 *   no tensor output.weight                 tie_word_embeddings
 * </pre>
 * Refused by name, since this project would compute another model: {@code general.architecture}
 * other than llama, {@code llama.rope.dimension_count}, {@code attention.key_length} or
 * {@code value_length} other than the head dimension (partial rotary, odd heads), any RoPE
 * scaling type but none ({@code llama.rope.scaling.type}, and LLaMA-3.1's frequency factors
 * stored as tensor {@code rope_freqs.weight}), and experts ({@code llama.expert_count} &gt; 0: Mixtral).
 */
public final class GgufConfig {
    private GgufConfig() {
    }

    /** The configuration of open file {@code f}; errors name the file and the metadata key. */
    public static LlamaConfig of(GgufFile f) throws IOException {
        GgufMeta m = new GgufMeta(f);
        String arch = m.string("general.architecture", null);
        if (!arch.equals("llama")) {
            throw new FormatException(f.file(), "metadata key 'general.architecture' is '" + arch + "'; only llama"
                    + " (LLaMA, LLaMA-2/3, Vicuna, TinyLlama...) is supported");
        }
        long max = LlamaConfig.MAX_SIZE;
        if (m.integer("llama.expert_count", 0L, 0, max) > 0) {
            throw new FormatException(f.file(), "metadata key 'llama.expert_count' = "
                    + m.integer("llama.expert_count", 0L, 0, max) + ": mixture-of-experts models are not supported");
        }
        int d = (int) m.integer("llama.embedding_length", null, 1, max);
        int heads = (int) m.integer("llama.attention.head_count", null, 1, max);
        int kvHeads = (int) m.integer("llama.attention.head_count_kv", (long) heads, 1, max);
        String scaling = m.string("llama.rope.scaling.type", "none");
        if (!scaling.equals("none")) {
            throw new FormatException(f.file(), "metadata key 'llama.rope.scaling.type' is '" + scaling + "'; only"
                    + " none is supported (linear, yarn and longrope scale positions differently)");
        }
        if (f.tensor("rope_freqs.weight") != null) {
            throw new FormatException(f.file(), "tensor 'rope_freqs.weight' (LLaMA-3.1's RoPE frequency factors) is"
                    + " not supported; use the Hugging Face checkpoint, whose rope_scaling the project reads");
        }
        String[] tokens = m.array("tokenizer.ggml.tokens", String[].class, "strings", true);
        int vocab = tokens.length;
        if (m.has("llama.vocab_size") && m.integer("llama.vocab_size", null, 1, max) != vocab) {
            throw new FormatException(f.file(), "metadata key 'llama.vocab_size' = " + m.integer("llama.vocab_size",
                    null, 1, max) + " disagrees with the " + vocab + " tokens of 'tokenizer.ggml.tokens'");
        }
        LlamaConfig c;
        try {
            c = new LlamaConfig(d, (int) m.integer("llama.feed_forward_length", null, 1, max), heads, kvHeads,
                    (int) m.integer("llama.block_count", null, 1, LlamaConfig.MAX_LAYERS),
                    m.positive("llama.attention.layer_norm_rms_epsilon", null), m.positive("llama.rope.freq_base",
                    10000.0), vocab, (int) m.integer("llama.context_length", null, 1, Integer.MAX_VALUE),
                    f.tensor("output.weight") == null,
                    (int) m.integer("tokenizer.ggml.bos_token_id", 1L, 0, vocab - 1L),
                    (int) m.integer("tokenizer.ggml.eos_token_id", 2L, 0, vocab - 1L));
        } catch (IllegalArgumentException e) {
            throw new FormatException(f.file(), ggufNames(e.getMessage()), e);
        }
        for (String key : new String[] {"llama.rope.dimension_count", "llama.attention.key_length",
            "llama.attention.value_length"}) {
            if (m.has(key) && m.integer(key, null, 1, max) != c.headDim()) {
                throw new FormatException(f.file(), "metadata key '" + key + "' = " + m.integer(key, null, 1, max)
                        + " is not the head dimension embedding_length / head_count = " + c.headDim()
                        + " (not supported)");
            }
        }
        return c;
    }

    /** The config.json field names in a {@link LlamaConfig} message replaced by the GGUF keys they come from. */
    private static String ggufNames(String m) {
        String[][] map = {{"hidden_size", "'llama.embedding_length'"},
            {"intermediate_size", "'llama.feed_forward_length'"}, {"num_attention_heads", "'llama.attention.head_count'"},
            {"num_key_value_heads", "'llama.attention.head_count_kv'"}, {"num_hidden_layers", "'llama.block_count'"},
            {"rms_norm_eps", "'llama.attention.layer_norm_rms_epsilon'"}, {"rope_theta", "'llama.rope.freq_base'"},
            {"max_position_embeddings", "'llama.context_length'"}, {"bos_token_id", "'tokenizer.ggml.bos_token_id'"},
            {"eos_token_id", "'tokenizer.ggml.eos_token_id'"}, {"vocab_size", "'tokenizer.ggml.tokens' length"}};
        for (String[] r : map) {
            m = m.replace(r[0], r[1]);
        }
        return "metadata " + m;
    }

    /** {@link #of} for the file at {@code file}. */
    public static LlamaConfig read(java.nio.file.Path file) throws IOException {
        try (GgufFile f = GgufFile.open(file)) {
            return of(f);
        }
    }
}
