package intactkv.prefix;

import intactkv.autograd.GradMode;
import intactkv.autograd.Value;
import intactkv.model.LlamaModel;
import intactkv.model.text.Tokenizer;
import intactkv.tensor.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.function.DoubleConsumer;

/**
 * Perplexity exactly as the official {@code eval_utils/ppl.py::ppl_eval}: the documents are
 * joined with {@code "\n\n"} and tokenized whole (with [BOS] first); the tokens are cut into
 * {@code n = floor(N / T)} non-overlapping windows of T; the first token of each window is
 * overwritten with [BOS]; the prediction made at [BOS] is not scored, so each window scores
 * the T - 2 predictions of tokens 2..T-1; and
 * <pre>
 *   PPL = exp( (1/n) sum_windows mean_t CE(logits_t, token_{t+1}) )
 * </pre>
 * With IntactKV the window's [BOS] is replaced by the prefix: the model sees the prefix ids
 * followed by tokens 1..T-1 of the window, {@link PrefixedModel} strips the prefix and supplies
 * its full-precision logits, and the last T rows of logits line up with the window (row 0, the
 * prefix's last position, predicts token 1 and is not scored). For IntactKV_[B] (p = 1) this
 * is exactly the official {@code IntactKVLlamaForCausalLM} on a window starting with [BOS].
 */
public final class Perplexity {
    private Perplexity() {
    }

    /**
     * The outcome of an evaluation.
     *
     * @param windowNll mean cross-entropy of each window
     * @param windowKl  mean KL divergence to the reference of each window, or null without a reference
     */
    public record Result(double ppl, double meanNll, int windows, int seqlen, long scoredTokens, double[] windowNll,
                         double[] windowKl) {
        /** Mean per scored token of KL(P_ref || P_model), windows weighted equally; NaN without a reference. */
        public double kl() {
            return windowKl == null ? Double.NaN : mean(windowKl);
        }

        /** Standard error of {@link #kl()} over windows (sample standard deviation / sqrt(n)); NaN without a reference or with one window. */
        public double klStderr() {
            return windowKl == null ? Double.NaN : stderr(windowKl);
        }
    }

    /** The reference logits (T, V) of window {@code i} (a full-precision model on the same window). */
    @FunctionalInterface
    public interface Reference {
        Tensor logits(int window);
    }

    /** Mean of xs ({@link java.util.stream.DoubleStream#sum}, compensated). */
    public static double mean(double[] xs) {
        return Arrays.stream(xs).sum() / xs.length;
    }

    /**
     * Standard error of the mean of xs: sample standard deviation (n - 1) over sqrt(n), as
     * lm-evaluation-harness's {@code mean_stderr}; NaN for n &lt; 2. The one definition for
     * perplexity's KL and multiple-choice accuracy.
     */
    public static double stderr(double[] xs) {
        int n = xs.length;
        if (n < 2) {
            return Double.NaN;
        }
        double m = mean(xs);
        double ss = 0;
        for (double x : xs) {
            ss += (x - m) * (x - m);
        }
        return Math.sqrt(ss / (n - 1)) / Math.sqrt(n);
    }

    /** The evaluation tokens of a list of documents (lines of a data file). */
    public static int[] tokenize(Tokenizer tok, List<String> documents) {
        return tok.encode(String.join("\n\n", documents), true);
    }

    /**
     * Checks that {@code tokens} hold at least one window of {@code seqlen} (at least 3) and that a
     * prefix of {@code prefixLength} tokens fits in it; returns the number of windows. Commands call
     * it before any quantization, so a bad --seqlen fails in a second, not after GPTQ.
     */
    public static int requireWindows(int tokens, int seqlen, int prefixLength) {
        if (seqlen < 3) {
            throw new IllegalArgumentException("--seqlen must be at least 3 (two positions are never scored), got " + seqlen);
        }
        if (prefixLength >= seqlen) {
            throw new IllegalArgumentException("the IntactKV prefix has " + prefixLength
                    + " tokens, not less than --seqlen " + seqlen);
        }
        int n = tokens / seqlen;
        if (n == 0) {
            throw new IllegalArgumentException("the data has " + tokens + " tokens, fewer than one window of --seqlen "
                    + seqlen);
        }
        return n;
    }

    /** Evaluates {@code model} on {@code tokens} in windows of {@code seqlen}; {@code progress} gets the fraction done. */
    public static Result evaluate(PrefixedModel model, int[] tokens, int seqlen, int bos, DoubleConsumer progress) {
        return evaluate(model, null, tokens, seqlen, bos, progress);
    }

    /** Window {@code i} of {@code tokens}, its first token overwritten with [BOS]. */
    static int[] window(int[] tokens, int i, int seqlen, int bos) {
        int[] w = Arrays.copyOfRange(tokens, i * seqlen, (i + 1) * seqlen);
        w[0] = bos;
        return w;
    }

    /**
     * The logits (T, V) of {@code model} on window {@code i}: with a prefix, the model sees the
     * prefix ids followed by tokens 1..T-1 of the window, and the rows from the prefix's last
     * position on line up with the window (see the class comment).
     */
    public static Tensor windowLogits(PrefixedModel model, int[] tokens, int i, int seqlen, int bos) {
        int[] w = window(tokens, i, seqlen, bos);
        IntactKvPrefix prefix = model.prefix();
        try (GradMode.Scope s = GradMode.noGrad()) {
            if (prefix == null) {
                return model.forward(w, LlamaModel.Options.LOGITS_ONLY).logits();
            }
            // the prefix ids, then the window after its [BOS]: PrefixedModel joins the prefix's logits in front
            int p = prefix.length();
            int[] input = new int[p + seqlen - 1];
            System.arraycopy(prefix.ids(), 0, input, 0, p);
            System.arraycopy(w, 1, input, p, seqlen - 1);
            Tensor all = model.forward(input, LlamaModel.Options.LOGITS_ONLY).logits();
            return intactkv.tensor.Layout.slice(all, 0, p - 1, p - 1 + seqlen);
        }
    }

    /** The logits of {@code model} on every window, kept for a {@link Reference} evaluated against many models. */
    public static java.util.List<Tensor> allWindowLogits(PrefixedModel model, int[] tokens, int seqlen, int bos,
                                                         DoubleConsumer progress) {
        int n = requireWindows(tokens.length, seqlen, prefixLength(model));
        java.util.List<Tensor> out = new java.util.ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(windowLogits(model, tokens, i, seqlen, bos));
            progress.accept((i + 1.0) / n);
        }
        return out;
    }

    /** Window rows whose logits are made and scored at once: (256, V) doubles, 262 MB for LLaMA-3-8B's V 128256. */
    public static final int ROW_BLOCK = 256;

    /** The logits of some rows of a window: window row r at {@code off + (r - from) * v} of {@code data}. */
    record Block(double[] data, int off, int from, int v) {
        int offset(int row) {
            return off + (row - from) * v;
        }
    }

    /** A window's logits, a block of rows at a time. */
    @FunctionalInterface
    interface WindowRows {
        /** The logits of window rows {@code from .. to - 1}. */
        Block rows(int from, int to);
    }

    /** A model's rows (the evaluated model's or the KL reference's) on window {@code i}, whose tokens are {@code w}. */
    @FunctionalInterface
    interface ModelRows {
        WindowRows of(int i, int[] w);
    }

    /** The rows of a whole (T, V) logits tensor (a {@link Reference}'s), read in place. */
    private static WindowRows whole(Tensor logits, int seqlen) {
        if (logits.rank() != 2 || logits.dim(0) != seqlen) {
            throw new IllegalArgumentException("KL: reference logits " + logits.shape() + " are not (" + seqlen
                    + ", V) for a window of " + seqlen);
        }
        return (from, to) -> new Block(logits.data(), from * logits.dim(1), from, logits.dim(1));
    }

    /**
     * The rows of {@code model}'s logits on window {@code w}, made a block at a time from the final hidden states:
     * the forward pass stops after the last norm ({@code last}, T x d), and each block of rows goes through
     * {@link LlamaModel#head}, the product the forward pass's logits come from. The GEMM sums every element in the
     * same order whatever the rows around it ({@code VectorGemm}: {@code c = fma(a_ik, b_kj, c)} for k in order;
     * the one-row products sum as it does), so a block's logits equal the whole window's rows to the last bit, and
     * a window holds (ROW_BLOCK, V) logits instead of (T, V): with KL two of them, where the whole windows were
     * 2 x 2.1 GB for LLaMA-3-8B at T = 2048. With a prefix the model sees the prefix as its past and computes rows
     * 1..T-1 only (row 0, the prefix's last position, predicts token 1, which is never scored).
     */
    private static WindowRows computed(PrefixedModel model, int[] w) {
        LlamaModel.Options hiddenOnly = new LlamaModel.Options(false, false, false, false);
        boolean prefixed = model.prefix() != null;
        Tensor last = prefixed ? model.afterPrefix(Arrays.copyOfRange(w, 1, w.length), hiddenOnly).last().data()
                : model.model().forward(w, null, hiddenOnly).last().data();
        return rows(model.model(), last, prefixed ? 1 : 0);
    }

    /**
     * The rows of a window whose final hidden states ({@link LlamaModel.Output#last()}) are {@code last (1, T - first,
     * d)}, window row r at row r - first: each block of rows through {@code model}'s LM head ({@link LlamaModel#head}).
     */
    static WindowRows rows(LlamaModel model, Tensor last, int first) {
        int d = last.dim(-1);
        return (from, to) -> {
            double[] x = Arrays.copyOfRange(last.data(), (from - first) * d, (to - first) * d);
            Tensor logits = model.head(Value.constant(Tensor.wrap(x, to - from, d))).data();
            return new Block(logits.data(), 0, from, logits.dim(1));
        };
    }

    /**
     * Evaluates {@code model} on {@code tokens} in windows of {@code seqlen}, and, with a
     * {@code reference} (null: none), the KL divergence {@code KL(P_ref || P_model)} at every
     * scored position (the same positions as the cross-entropy), averaged per window.
     */
    public static Result evaluate(PrefixedModel model, Reference reference, int[] tokens, int seqlen, int bos,
                                  DoubleConsumer progress) {
        return score((i, w) -> computed(model, w), prefixLength(model),
                reference == null ? null : (i, w) -> whole(reference.logits(i), seqlen), tokens, seqlen, bos, progress);
    }

    /**
     * {@link #evaluate(PrefixedModel, Reference, int[], int, int, DoubleConsumer)} with the KL reference's logits made
     * by the model {@code reference} (the full-precision one) on the same windows, a block of rows at a time beside
     * the model's: neither model's (T, V) logits are held.
     */
    public static Result evaluateAgainst(PrefixedModel model, PrefixedModel reference, int[] tokens, int seqlen,
                                         int bos, DoubleConsumer progress) {
        return score((i, w) -> computed(model, w), prefixLength(model), (i, w) -> computed(reference, w), tokens,
                seqlen, bos, progress);
    }

    private static int prefixLength(PrefixedModel model) {
        return model.prefix() == null ? 0 : model.prefix().length();
    }

    /**
     * The evaluation: each window's NLL and, with a reference (null: none), KL, summed over the scored rows in order.
     * {@code model} is asked for windows 0, 1, ... in order, each once, and {@code reference} for each right after;
     * {@code prefixLength}: the tokens in place of each window's [BOS] (0: none).
     */
    static Result score(ModelRows model, int prefixLength, ModelRows reference, int[] tokens, int seqlen, int bos,
                        DoubleConsumer progress) {
        int n = requireWindows(tokens.length, seqlen, prefixLength);
        double sum = 0;
        double[] nll = new double[n];
        double[] kl = reference == null ? null : new double[n];
        try (GradMode.Scope s = GradMode.noGrad()) {
            for (int i = 0; i < n; i++) {
                int[] w = window(tokens, i, seqlen, bos);
                WindowRows rows = model.of(i, w);
                WindowRows ref = reference == null ? null : reference.of(i, w);
                // positions 1..T-2 predict tokens 2..T-1; each sum runs over them in order
                double loss = 0;
                double divergence = 0;
                int nonFinite = -1;
                for (int from = 1; from < seqlen - 1; from += ROW_BLOCK) {
                    int to = Math.min(seqlen - 1, from + ROW_BLOCK);
                    Block b = rows.rows(from, to);
                    Block a = ref == null ? null : ref.rows(from, to);
                    if (a != null && a.v() != b.v()) {
                        throw new IllegalArgumentException("KL: the reference's logits have " + a.v()
                                + " entries a row, the model's " + b.v());
                    }
                    for (int t = from; t < to; t++) {
                        loss += nll(b.data(), b.offset(t), b.v(), w[t + 1]);
                        if (nonFinite < 0 && !finite(b.data(), b.offset(t), b.v())) {
                            nonFinite = t;
                        }
                        if (a != null) {
                            divergence += kl(a.data(), a.offset(t), b.data(), b.offset(t), b.v());
                        }
                    }
                }
                loss /= seqlen - 2;
                if (!Double.isFinite(loss)) {
                    throw new IllegalStateException("perplexity: the loss of window " + i + " (tokens " + i * seqlen + ".."
                            + ((i + 1) * seqlen - 1) + ") is " + loss + "; first non-finite logit at window position "
                            + nonFinite + " (a NaN or infinity in the weights, the prefix or the quantizer)");
                }
                sum += loss;
                nll[i] = loss;
                if (kl != null) {
                    kl[i] = divergence / (seqlen - 2);
                }
                progress.accept((i + 1.0) / n);
            }
        }
        double mean = sum / n;
        return new Result(Math.exp(mean), mean, n, seqlen, (long) n * (seqlen - 2), nll, kl);
    }

    /** Whether {@code d[off .. off + v)} holds no NaN or infinity. */
    private static boolean finite(double[] d, int off, int v) {
        for (int j = 0; j < v; j++) {
            if (!Double.isFinite(d[off + j])) {
                return false;
            }
        }
        return true;
    }

    /**
     * {@code KL(p || q) = sum_j p_j (log p_j - log q_j)} of one row of reference logits
     * {@code a = ref[off ..]} and model logits {@code b = d[off ..]}, both through a log-softmax
     * with the maximum subtracted first; 0 for identical rows, never negative beyond rounding.
     */
    public static double kl(double[] ref, double[] d, int off, int v) {
        return kl(ref, off, d, off, v);
    }

    /** {@link #kl(double[], double[], int, int)} of rows at different offsets: {@code ref[refOff ..]}, {@code d[off ..]}. */
    private static double kl(double[] ref, int refOff, double[] d, int off, int v) {
        double lzA = logSumExp(ref, refOff, v);
        double lzB = logSumExp(d, off, v);
        double s = 0;
        for (int j = 0; j < v; j++) {
            double la = ref[refOff + j] - lzA;
            double lb = d[off + j] - lzB;
            s += Math.exp(la) * (la - lb);
        }
        return s;
    }

    /** {@code max + log(sum_j exp(x_j - max))} of {@code x = d[off .. off + v)}, summed in vocabulary order. */
    private static double logSumExp(double[] d, int off, int v) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < v; j++) {
            max = Math.max(max, d[off + j]);
        }
        double z = 0;
        for (int j = 0; j < v; j++) {
            z += Math.exp(d[off + j] - max);
        }
        return max + Math.log(z);
    }


    /**
     * The cross-entropy {@code max + log(sum_j exp(x_j - max)) - x_target} of one row of logits
     * {@code x = d[off .. off + v)}: what every scored position of perplexity and of multiple
     * choice adds up (the maximum subtracted first, the exponentials summed in vocabulary order).
     */
    public static double nll(double[] d, int off, int v, int target) {
        return logSumExp(d, off, v) - d[off + target];
    }


}
