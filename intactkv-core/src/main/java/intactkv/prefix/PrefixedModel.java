package intactkv.prefix;

import intactkv.autograd.Shaping;
import intactkv.autograd.Value;
import intactkv.model.KvCache;
import intactkv.model.LlamaModel;
import intactkv.model.text.Generator;
import intactkv.model.text.Sampler;
import intactkv.model.text.Tokenizer;
import intactkv.tensor.ElementDtype;
import intactkv.tensor.Layout;
import intactkv.tensor.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * A (quantized) model run with an IntactKV prefix, as the official
 * {@code inference_model.py::IntactKVLlamaForCausalLM} (batch size 1):
 * <ul>
 *   <li>the prefix keys and values are the past; positions continue after them;</li>
 *   <li>an input that starts with the prefix ids has them stripped, and the logits of those
 *       positions are the prefix's full-precision logits, so the output covers every input
 *       position as without IntactKV;</li>
 *   <li>an input that does not start with them gets the prefix as context in front, and the
 *       output covers the input positions;</li>
 *   <li>run-time KV quantization (a hook of the quantized model) applies to the new tokens
 *       only: the prefix stays in full precision.</li>
 * </ul>
 * Without a prefix ({@code null}) the model runs on the input as given; the evaluation
 * protocol puts [BOS] first, so the baseline computes the [BOS] keys and values itself.
 */
public final class PrefixedModel {
    private final LlamaModel model;
    private final IntactKvPrefix prefix;
    private final KvCache cache;

    /** {@code prefix} may be null (no IntactKV). */
    public PrefixedModel(LlamaModel model, IntactKvPrefix prefix) {
        this(model, prefix, prefix == null ? null : prefix.asCache(false));
    }

    /** With an explicit (possibly trainable) cache for the prefix. */
    public PrefixedModel(LlamaModel model, IntactKvPrefix prefix, KvCache cache) {
        this.model = model;
        this.prefix = prefix;
        this.cache = cache;
        if (prefix != null) {
            prefix.requireFits(model.config(), "IntactKV prefix");
        }
    }

    public LlamaModel model() {
        return model;
    }

    public IntactKvPrefix prefix() {
        return prefix;
    }

    /** The result of a forward pass over an input of length n. */
    public record Result(Tensor logits, LlamaModel.Output output, int stripped) {
        /** Logits (n, V) of every input position. */
        @Override
        public Tensor logits() {
            return logits;
        }
    }

    /** Runs the model on {@code ids}; see the class comment. */
    public Result forward(int[] ids, LlamaModel.Options opt) {
        int v = model.config().vocabSize();
        if (prefix == null) {
            LlamaModel.Output o = model.forward(ids, null, opt);
            return new Result(o.logits().data().reshape(ids.length, v), o, 0);
        }
        boolean strip = prefix.isPrefixOf(ids);
        int p = prefix.length();
        int[] rest = strip ? Arrays.copyOfRange(ids, p, ids.length) : ids;
        if (rest.length == 0) {
            return new Result(prefix.logits(), null, p);
        }
        LlamaModel.Output o = model.forward(rest, cache, opt);
        Tensor computed = o.logits().data().reshape(rest.length, v);
        Tensor logits = strip ? Layout.concat(0, prefix.logits(), computed) : computed;
        return new Result(logits, o, strip ? p : 0);
    }

    /**
     * The model's forward pass over the n tokens {@code rest} that follow the prefix, the prefix's keys and values the
     * past: what {@link #forward} computes for an input that starts with the prefix, without the prefix's rows of
     * logits joined in front (a (p + n, V) copy). {@code Perplexity} scores these rows in place. Refused without a
     * prefix.
     */
    public LlamaModel.Output afterPrefix(int[] rest, LlamaModel.Options opt) {
        if (prefix == null) {
            throw new IllegalStateException("afterPrefix: this model has no prefix");
        }
        if (rest.length == 0) {
            throw new IllegalArgumentException("afterPrefix: no tokens after the prefix");
        }
        return model.forward(rest, cache, opt);
    }

    /**
     * Generates a continuation of {@code ids} with this model and prefix, as
     * {@link Generator#generate(int[], Generator.Past, int, Sampler, Consumer)}: without a prefix
     * the model runs the whole prompt; with one, {@code ids} must start with the prefix's ids
     * (refused otherwise: the prefix would be context the prompt does not contain), the prefix
     * keys and values are the past, the model runs the tokens after them and then decodes with its
     * own cache after the prefix. A quantized model's run-time KV quantization thus applies to the
     * new tokens only, and the first new token of a prompt that is the prefix alone comes from the
     * prefix's full-precision logits. Greedy, the result is the argmax of {@link #forward} on the
     * whole sequence so far at each step, without a cache.
     */
    public Generator.Result generate(Tokenizer tok, int[] ids, int maxTokens, Sampler sampler,
                                     Consumer<String> onText) {
        return generate(tok, ids, maxTokens, sampler, Generator.Stop.DEFAULT, onText);
    }

    /**
     * {@link #generate(Tokenizer, int[], int, Sampler, Consumer)} with explicit end-of-sequence
     * ids and stop string ({@link Generator.Stop}).
     */
    public Generator.Result generate(Tokenizer tok, int[] ids, int maxTokens, Sampler sampler, Generator.Stop stop,
                                     Consumer<String> onText) {
        return generate(tok, ids, maxTokens, sampler, stop, ElementDtype.F64, onText);
    }

    /**
     * {@link #generate(Tokenizer, int[], int, Sampler, Generator.Stop, Consumer)} with the KV cache held in
     * {@code cacheDtype} ({@link Generator#Generator(LlamaModel, Tokenizer, ElementDtype)}): the prefix's keys and
     * values are rounded to it when they are copied into the generation's cache, its last logits are the
     * full-precision model's as computed.
     */
    public Generator.Result generate(Tokenizer tok, int[] ids, int maxTokens, Sampler sampler, Generator.Stop stop,
                                     ElementDtype cacheDtype, Consumer<String> onText) {
        Generator g = new Generator(model, tok, cacheDtype);
        if (prefix == null) {
            return g.generate(ids, null, maxTokens, sampler, stop, onText);
        }
        if (!prefix.isPrefixOf(ids)) {
            throw new IllegalArgumentException("generate: the prompt's " + ids.length + " tokens do not begin with the"
                    + " IntactKV prefix's " + prefix.length() + " tokens " + Arrays.toString(Arrays.copyOf(prefix.ids(),
                    Math.min(prefix.length(), 8))) + (prefix.length() > 8 ? "..." : ""));
        }
        int p = prefix.length();
        double[] last = Layout.slice(prefix.logits(), 0, p - 1, p).data();
        return g.generate(ids, new Generator.Past(p, cache, last), maxTokens, sampler, stop, onText);
    }

    /** The hidden states of every layer, (T', d), for the positions the model computed. */
    public static List<Value> hiddenStates(Result r) {
        return r.output().hidden().stream().map(h -> Shaping.reshape(h, h.shape().dim(1), h.shape().dim(2))).toList();
    }
}
