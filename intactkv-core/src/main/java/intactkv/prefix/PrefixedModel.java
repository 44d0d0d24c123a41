package intactkv.prefix;

import intactkv.autograd.Shaping;
import intactkv.autograd.Value;
import intactkv.model.KvCache;
import intactkv.model.LlamaModel;
import intactkv.tensor.Layout;
import intactkv.tensor.Tensor;
import java.util.Arrays;
import java.util.List;

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

    /** The hidden states of every layer, (T', d), for the positions the model computed. */
    public static List<Value> hiddenStates(Result r) {
        return r.output().hidden().stream().map(h -> Shaping.reshape(h, h.shape().dim(1), h.shape().dim(2))).toList();
    }
}
