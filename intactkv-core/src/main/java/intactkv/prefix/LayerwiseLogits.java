package intactkv.prefix;

import intactkv.autograd.GradMode;
import intactkv.autograd.Value;
import intactkv.model.KvCache;
import intactkv.model.LlamaModel;
import intactkv.tensor.Layout;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.function.DoubleConsumer;

/**
 * The logits {@link PrefixedModel#forward} gives for each of many inputs, with one decoder layer in memory at a time:
 * what a layer-by-layer {@code eval} scores (multiple-choice continuations, MMLU's last position). The inputs go
 * through the layers {@link LayerwisePerplexity.Setup#windowsPerPass} at a time, as the windows of
 * {@link LayerwisePerplexity} do, each layer read from the checkpoint when the group reaches it; only each input's
 * hidden states (T x d doubles) are held between layers, and of the logits only the rows asked for are made, one
 * input at a time. The checkpoint is read once per group.
 *
 * <p>Bit for bit {@code PrefixedModel.forward(ids, LOGITS_ONLY).logits()} rows {@code [from, n)}: an input that starts
 * with the prefix's ids has them stripped and the rows of those positions are the prefix's own logits; any other input
 * runs whole with the prefix as the past; each layer is {@link LlamaModel#layer(int, Value, KvCache)}, the operations
 * {@code forward} runs for it; the final norm is per row and the LM head's GEMM sums each element in the same order
 * whatever the other rows ({@link LlamaModel#head}), so the rows asked for equal the whole input's.
 */
public final class LayerwiseLogits {
    private LayerwiseLogits() {
    }

    /** Receives input {@code i}'s logits rows {@code [from[i], n_i)}, (n_i - from[i], V), in input order. */
    @FunctionalInterface
    public interface Rows {
        void accept(int i, Tensor rows);
    }

    /**
     * Runs {@code inputs} through the model of {@code s} with {@code prefix} (null: none) and hands each one's logits
     * rows {@code [from[i], inputs[i].length)} to {@code out}; {@code progress} gets the fraction done (an input through
     * a layer, an input's rows made). A checkpoint read error is thrown as the reader's {@link IOException}.
     */
    public static void forEach(LayerwisePerplexity.Setup s, IntactKvPrefix prefix, List<int[]> inputs, int[] from,
                               Rows out, DoubleConsumer progress) throws IOException {
        int n = inputs.size();
        if (from.length != n) {
            throw new IllegalArgumentException(from.length + " first rows for " + n + " inputs");
        }
        for (int i = 0; i < n; i++) {
            int len = inputs.get(i).length;
            if (len == 0 || from[i] < 0 || from[i] >= len) {
                throw new IllegalArgumentException("input " + i + ": rows from " + from[i] + " of an input of " + len
                        + " tokens");
            }
        }
        if (prefix != null) {
            prefix.requireFits(s.skeleton().config(), "IntactKV prefix");
        }
        KvCache cache = prefix == null ? null : prefix.asCache(false);
        LlamaModel outer = new LlamaModel(s.skeleton());
        int layers = s.skeleton().config().numHiddenLayers();
        double units = (double) n * (layers + 1);
        long done = 0;
        try (GradMode.Scope g = GradMode.noGrad()) {
            for (int first = 0; first < n; first += s.windowsPerPass()) {
                int m = Math.min(s.windowsPerPass(), n - first);
                int[] stripped = new int[m];
                Value[] x = new Value[m];
                for (int k = 0; k < m; k++) {
                    int[] ids = inputs.get(first + k);
                    stripped[k] = prefix != null && prefix.isPrefixOf(ids) ? prefix.length() : 0;
                    if (stripped[k] < ids.length) { // an input that is the prefix itself runs nothing
                        x[k] = outer.embed(new int[][] {Arrays.copyOfRange(ids, stripped[k], ids.length)});
                    }
                }
                for (int l = 0; l < layers; l++) {
                    LayerwisePerplexity.ReadOnce fp = new LayerwisePerplexity.ReadOnce(s.layers(), l);
                    LlamaModel evaluated = s.evaluatedAt(l, fp);
                    for (int k = 0; k < m; k++) {
                        if (x[k] != null) {
                            x[k] = evaluated.layer(l, x[k], cache);
                        }
                    }
                    done += m;
                    progress.accept(done / units);
                }
                for (int k = 0; k < m; k++) { // each input's states replaced by its rows of logits, one at a time
                    int i = first + k;
                    out.accept(i, rows(outer, prefix, x[k], stripped[k], from[i], inputs.get(i).length));
                    x[k] = null;
                    done++;
                    progress.accept(done / units);
                }
            }
        }
    }

    /**
     * Rows {@code [from, n)} of the logits of an input of n tokens whose first {@code stripped} positions are the
     * prefix's ({@code prefix.logits()}) and the rest the model's, from the last layer's output {@code x}
     * (1, n - stripped, d; null when nothing was run).
     */
    private static Tensor rows(LlamaModel outer, IntactKvPrefix prefix, Value x, int stripped, int from, int n) {
        Tensor fromPrefix = from < stripped ? Layout.slice(prefix.logits(), 0, from, stripped) : null;
        if (x == null) {
            return fromPrefix;
        }
        int first = Math.max(from, stripped) - stripped; // the first computed row asked for
        Tensor last = outer.finalNorm(x).data();
        int d = last.dim(-1);
        int rows = n - stripped - first;
        double[] h = Arrays.copyOfRange(last.data(), first * d, (first + rows) * d);
        Tensor computed = outer.head(Value.constant(Tensor.wrap(h, rows, d))).data();
        return fromPrefix == null ? computed : Layout.concat(0, fromPrefix, computed);
    }
}
