package intactkv.model.text;

import intactkv.autograd.GradMode;
import intactkv.model.KvCache;
import intactkv.model.LlamaModel;
import intactkv.tensor.ElementDtype;
import intactkv.tensor.Layout;
import intactkv.tensor.Tensor;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Autoregressive generation with the KV cache: one forward pass over the prompt, then one
 * token at a time with the cache of everything before it, until [EOS] (or the ids of a
 * {@link Stop}), a stop string, a token limit or the model's maximum length. The stop reason is
 * {@code eos}, {@code stop-string}, {@code max-tokens} or {@code max-length}. Text is streamed to a consumer as soon as it is complete UTF-8.
 * The cache is given room for the prompt and every token the limit allows once, before decoding
 * ({@link KvCache#reserve}): memory is the cache of the longest sequence the call may reach, not a
 * buffer doubled towards max_position_embeddings beside the one it replaces.
 *
 * <p>The continuation's text is what decoding the prompt and the new tokens together adds after
 * the prompt's own decoded text ({@code decode(prompt + new)} minus {@code decode(prompt)}), not
 * the new tokens decoded alone: a SentencePiece decoder drops the leading space of the first
 * piece of what it decodes, so the continuation decoded alone would lose the space between the
 * prompt and its first word ("domesticated" + "to the back"); and a character whose bytes span
 * two tokens comes out whole.
 */
public final class Generator {
    private final LlamaModel model;
    private final Tokenizer tokenizer;
    private final ElementDtype cacheDtype;

    /** A generator whose KV cache holds doubles: every number as the model computes it. */
    public Generator(LlamaModel model, Tokenizer tokenizer) {
        this(model, tokenizer, ElementDtype.F64);
    }

    /**
     * A generator whose KV cache holds its keys and values in {@code cacheDtype} ({@link KvCache#empty(
     * intactkv.model.LlamaConfig, int, int, ElementDtype)}): each key and value is rounded to it when written into
     * the cache (the prompt's and every new token's as they are computed, so the prompt's own attention reads them
     * rounded too; a past's, such as IntactKV's prefix, when it is copied in), and attention widens them back
     * exactly. A past's last logits are used as given. F32 halves the cache, F16 and BF16 quarter it; the official
     * code holds its cache in its model's fp16.
     */
    public Generator(LlamaModel model, Tokenizer tokenizer, ElementDtype cacheDtype) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.cacheDtype = java.util.Objects.requireNonNull(cacheDtype, "cacheDtype");
    }

    /**
     * The generated token ids (without the prompt, [EOS] excluded), their text as it continues the
     * prompt's (see the class comment; special tokens skipped), and why generation stopped.
     */
    public record Result(int[] tokens, String text, String stopReason) {
    }

    /**
     * Continues {@code prompt} (token ids, [BOS] included if wanted) for at most
     * {@code maxTokens} tokens; {@code onText} receives each new piece of text.
     */
    public Result generate(int[] prompt, int maxTokens, Sampler sampler, Consumer<String> onText) {
        return generate(prompt, null, maxTokens, sampler, onText);
    }

    /**
     * A past that the prompt begins with, computed elsewhere: the keys and values of the prompt's
     * first {@code length} tokens (per layer (h_kv, p, d_h), p = length) and the logits
     * {@code (V)} of the last of them. The IntactKV prefix is one: computed by the
     * full-precision model, it is given to the (quantized) model this generator runs, which then
     * computes only the tokens after it (its run-time KV quantization applies to those only).
     */
    public record Past(int length, KvCache cache, double[] lastLogits) {
        public Past {
            if (length < 1 || cache.length() != length) {
                throw new IllegalArgumentException("generate: a past of " + length + " tokens needs a cache of that"
                        + " length, got " + cache.length());
            }
            lastLogits = lastLogits.clone();
        }

        @Override
        public double[] lastLogits() {
            return lastLogits.clone();
        }
    }

    /**
     * {@link #generate(int[], int, Sampler, Consumer)} after {@code past} (null: none): the
     * prompt's first {@code past.length()} tokens are not run; the model runs the rest with
     * {@code past} as its past key/values, and when nothing is left the first new token comes from
     * {@code past.lastLogits()}. The text is still the continuation of the whole prompt.
     */
    public Result generate(int[] prompt, Past past, int maxTokens, Sampler sampler, Consumer<String> onText) {
        return generate(prompt, past, maxTokens, sampler, Stop.DEFAULT, onText);
    }

    /**
     * When generation ends besides the token limit: the end-of-sequence ids (empty: the model's
     * config.json {@code eos_token_id} and the tokenizer's [EOS]; else exactly these, as
     * transformers takes {@code generation_config.eos_token_id}, an int or a list), and a stop
     * string (null: none) such as a chat template's turn separator. The stop string ends
     * generation as soon as the continuation's text contains it; the text is cut before it (the
     * tokens that spelled it stay in {@link Result#tokens()}), and streaming holds back any tail
     * that could be its start, so the stop string is never printed.
     */
    public record Stop(int[] eosIds, String stopString) {
        /** The model's own [EOS] ids, no stop string. */
        public static final Stop DEFAULT = new Stop(new int[0], null);

        public Stop {
            eosIds = eosIds.clone();
            if (stopString != null && stopString.isEmpty()) {
                throw new IllegalArgumentException("generate: an empty stop string would stop before any text");
            }
        }

        @Override
        public int[] eosIds() {
            return eosIds.clone();
        }
    }

    /**
     * {@link #generate(int[], Past, int, Sampler, Consumer)} with explicit stop conditions; the
     * sampler sees the sequence so far (prompt and new tokens) for its repetition penalty.
     */
    public Result generate(int[] prompt, Past past, int maxTokens, Sampler sampler, Stop stopAt,
                           Consumer<String> onText) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("generate: empty prompt");
        }
        int limit = model.config().maxPositionEmbeddings();
        if (prompt.length >= limit) {
            throw new IllegalArgumentException("generate: prompt of " + prompt.length
                    + " tokens leaves no room under max_position_embeddings " + limit);
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("generate: maxTokens must be >= 1, got " + maxTokens);
        }
        if (past != null) {
            past.cache().requireFits(model.config(), "generate: past key/values");
            if (past.length() > prompt.length || past.lastLogits.length != model.config().vocabSize()) {
                throw new IllegalArgumentException("generate: a past of " + past.length() + " tokens with "
                        + past.lastLogits.length + " logits does not fit a prompt of " + prompt.length
                        + " tokens and a vocabulary of " + model.config().vocabSize());
            }
        }
        // never more tokens than the positions left: a huge maxTokens must not size the buffer
        int[] out = new int[Math.min(maxTokens, limit - prompt.length)];
        int[] seq = Arrays.copyOf(prompt, prompt.length + out.length); // the sequence so far, for the penalty
        int[] eos = stopAt.eosIds().length > 0 ? stopAt.eosIds()
                : new int[] {model.config().eosTokenId(), tokenizer.eosId()};
        String stopString = stopAt.stopString();
        int n = 0;
        String before = tokenizer.decode(prompt, true);
        String printed = "";
        String stop = "max-tokens";
        try (GradMode.Scope s = GradMode.noGrad()) {
            KvCache cache;
            double[] last;
            // the positions the last decoding step holds, reserved once before the prompt runs (KvCache.empty,
            // KvCache.reserve): the prompt's keys and values are written into that cache and decoding continues
            // there, so the cache is never held twice nor doubled towards max_position_embeddings
            int rows = reservedRows(prompt.length, maxTokens, limit);
            if (past == null || past.length() < prompt.length) {
                int[] rest = past == null ? prompt : Arrays.copyOfRange(prompt, past.length(), prompt.length);
                KvCache room = past == null ? KvCache.empty(model.config(), rows, 1, cacheDtype)
                        : reserved(past.cache(), rows);
                LlamaModel.Output o = model.forward(rest, room, CACHE_AND_LAST);
                cache = o.present();
                last = lastLogits(model, o);
            } else {
                cache = reserved(past.cache(), rows);
                last = past.lastLogits;
            }
            int pos = prompt.length;
            while (n < maxTokens) {
                int v = last.length;
                int next = sampler.next(last, seq, prompt.length + n);
                if (next >= tokenizer.vocabSize()) {
                    // only where config.json's vocab_size has padding rows beyond the tokenizer (TokenizerFit)
                    throw new IllegalStateException("the model chose token id " + next + ", a padding row of"
                            + " config.json's vocab_size " + v + " that tokenizer.json (" + tokenizer.vocabSize()
                            + " tokens) has no text for; the weights and the tokenizer may not belong together");
                }
                if (contains(eos, next)) {
                    stop = "eos";
                    break;
                }
                seq[prompt.length + n] = next;
                out[n++] = next;
                String text = continuation(prompt, before, out, n);
                if (stopString != null && text.contains(stopString)) {
                    stop = "stop-string";
                    break;
                }
                String shown = stopString == null ? text : text.substring(0, text.length() - heldBack(text, stopString));
                if (!shown.endsWith("\uFFFD") && shown.startsWith(printed)) {
                    onText.accept(shown.substring(printed.length()));
                    printed = shown;
                }
                if (++pos >= limit) {
                    stop = "max-length";
                    break;
                }
                if (n == maxTokens) {
                    break;
                }
                LlamaModel.Output o = model.forward(new int[] {next}, cache, CACHE_AND_LAST);
                cache = o.present();
                last = lastLogits(model, o);
            }
        }
        int[] tokens = Arrays.copyOf(out, n);
        String text = continuation(prompt, before, out, n);
        if (stopString != null && text.contains(stopString)) {
            text = text.substring(0, text.indexOf(stopString));
        }
        if (text.length() > printed.length() && text.startsWith(printed)) {
            onText.accept(text.substring(printed.length()));
        }
        return new Result(tokens, text, stop);
    }

    /**
     * The positions a generation's cache holds at its last forward pass: the prompt and every new token but the
     * last (which is chosen, never run), at most {@code limit} - 1 (max_position_embeddings); what {@link #generate}
     * reserves, and what a memory plan counts.
     */
    public static int reservedRows(int promptLength, int maxTokens, int limit) {
        return promptLength + Math.min(maxTokens, limit - promptLength) - 1;
    }

    /**
     * {@code cache} with room for {@code rows} positions of one sequence in this generator's cache format, or itself
     * when it has no fewer and holds that format.
     */
    private KvCache reserved(KvCache cache, int rows) {
        return rows > cache.length() || cache.dtype() != cacheDtype
                ? cache.reserve(Math.max(rows, cache.length()), 1, cacheDtype) : cache;
    }

    private static boolean contains(int[] ids, int id) {
        for (int i : ids) {
            if (i == id) {
                return true;
            }
        }
        return false;
    }

    /** The length of the longest tail of {@code text} that is a proper start of {@code stop}: held back from streaming. */
    private static int heldBack(String text, String stop) {
        for (int k = Math.min(stop.length() - 1, text.length()); k > 0; k--) {
            if (text.endsWith(stop.substring(0, k))) {
                return k;
            }
        }
        return 0;
    }

    /**
     * A forward pass that keeps the present cache and makes no logits: {@link #lastLogits} makes the one row
     * generation reads, so a prompt of T tokens never holds T x V logits.
     */
    private static final LlamaModel.Options CACHE_AND_LAST = new LlamaModel.Options(false, false, false, true);

    /**
     * The logits (V) of the last position of a forward pass: the LM head on that position's final hidden state
     * ({@link LlamaModel#head}), the same bits as the last row of the whole pass's logits (the head's GEMM sums
     * each element in the same order whatever the other rows).
     */
    private static double[] lastLogits(LlamaModel model, LlamaModel.Output o) {
        Tensor hidden = o.last().data();
        int d = hidden.dim(-1);
        int t = hidden.dim(-2);
        return model.head(intactkv.autograd.Value.constant(Layout.slice(hidden.reshape(t, d), 0, t - 1, t)))
                .data().data();
    }

    /**
     * The text that {@code out[0..n)} adds after the prompt: the prompt and the new tokens decoded
     * together, less {@code before} (the prompt decoded alone), special tokens skipped. The prompt
     * is whole characters (it was encoded from text), so its decoded text is a prefix of the joint
     * decoding; should a tokenizer break that, the common prefix is cut instead.
     */
    private String continuation(int[] prompt, String before, int[] out, int n) {
        int[] all = Arrays.copyOf(prompt, prompt.length + n);
        System.arraycopy(out, 0, all, prompt.length, n);
        String whole = tokenizer.decode(all, true);
        if (whole.startsWith(before)) {
            return whole.substring(before.length());
        }
        int common = 0;
        while (common < before.length() && common < whole.length() && before.charAt(common) == whole.charAt(common)) {
            common++;
        }
        return whole.substring(common);
    }
}
