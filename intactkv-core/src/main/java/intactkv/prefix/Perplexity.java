package intactkv.prefix;

import intactkv.autograd.GradMode;
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
        return logits(model, window(tokens, i, seqlen, bos));
    }

    /** The logits (T, V) of {@code model} on window {@code w} (its [BOS] replaced by the prefix, if any). */
    private static Tensor logits(PrefixedModel model, int[] w) {
        int seqlen = w.length;
        IntactKvPrefix prefix = model.prefix();
        try (GradMode.Scope s = GradMode.noGrad()) {
            if (prefix == null) {
                return model.forward(w, LlamaModel.Options.LOGITS_ONLY).logits();
            }
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
        int n = requireWindows(tokens.length, seqlen, model.prefix() == null ? 0 : model.prefix().length());
        java.util.List<Tensor> out = new java.util.ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(windowLogits(model, tokens, i, seqlen, bos));
            progress.accept((i + 1.0) / n);
        }
        return out;
    }

    /**
     * Evaluates {@code model} on {@code tokens} in windows of {@code seqlen}, and, with a
     * {@code reference} (null: none), the KL divergence {@code KL(P_ref || P_model)} at every
     * scored position (the same positions as the cross-entropy), averaged per window.
     */
    public static Result evaluate(PrefixedModel model, Reference reference, int[] tokens, int seqlen, int bos,
                                  DoubleConsumer progress) {
        IntactKvPrefix prefix = model.prefix();
        int n = requireWindows(tokens.length, seqlen, prefix == null ? 0 : prefix.length());
        double sum = 0;
        double[] nll = new double[n];
        double[] kl = reference == null ? null : new double[n];
        try (GradMode.Scope s = GradMode.noGrad()) {
            for (int i = 0; i < n; i++) {
                int[] w = window(tokens, i, seqlen, bos);
                Tensor logits = logits(model, w);
                double loss = windowLoss(logits, w);
                if (!Double.isFinite(loss)) {
                    throw new IllegalStateException("perplexity: the loss of window " + i + " (tokens " + i * seqlen + ".."
                            + ((i + 1) * seqlen - 1) + ") is " + loss + "; first non-finite logit at window position "
                            + firstNonFinite(logits) + " (a NaN or infinity in the weights, the prefix or the quantizer)");
                }
                sum += loss;
                nll[i] = loss;
                if (reference != null) {
                    kl[i] = windowKl(reference.logits(i), logits);
                }
                progress.accept((i + 1.0) / n);
            }
        }
        double mean = sum / n;
        return new Result(Math.exp(mean), mean, n, seqlen, (long) n * (seqlen - 2), nll, kl);
    }

    /**
     * {@code KL(p || q) = sum_j p_j (log p_j - log q_j)} of one row of reference logits
     * {@code a = ref[off ..]} and model logits {@code b = d[off ..]}, both through a log-softmax
     * with the maximum subtracted first; 0 for identical rows, never negative beyond rounding.
     */
    public static double kl(double[] ref, double[] d, int off, int v) {
        double lzA = logSumExp(ref, off, v);
        double lzB = logSumExp(d, off, v);
        double s = 0;
        for (int j = 0; j < v; j++) {
            double la = ref[off + j] - lzA;
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

    /** Mean KL over the scored positions 1..T-2 of a window (the rows whose predictions the cross-entropy scores). */
    static double windowKl(Tensor ref, Tensor logits) {
        if (!ref.shape().equals(logits.shape())) {
            throw new IllegalArgumentException("KL: reference logits " + ref.shape() + " and model logits "
                    + logits.shape() + " differ in shape");
        }
        int t = logits.dim(0);
        int v = logits.dim(1);
        double sum = 0;
        for (int i = 1; i < t - 1; i++) {
            sum += kl(ref.data(), logits.data(), i * v, v);
        }
        return sum / (t - 2);
    }

    /**
     * The cross-entropy {@code max + log(sum_j exp(x_j - max)) - x_target} of one row of logits
     * {@code x = d[off .. off + v)}: what every scored position of perplexity and of multiple
     * choice adds up (the maximum subtracted first, the exponentials summed in vocabulary order).
     */
    public static double nll(double[] d, int off, int v, int target) {
        return logSumExp(d, off, v) - d[off + target];
    }

    /** The first row of {@code logits} (T, V) holding a NaN or infinity, or -1. */
    static int firstNonFinite(Tensor logits) {
        int v = logits.dim(1);
        double[] d = logits.data();
        for (int i = 0; i < d.length; i++) {
            if (!Double.isFinite(d[i])) {
                return i / v;
            }
        }
        return -1;
    }

    /** Mean cross-entropy of positions 1..T-2 predicting tokens 2..T-1 (logits (T, V)). */
    static double windowLoss(Tensor logits, int[] w) {
        int v = logits.dim(1);
        double[] d = logits.data();
        double sum = 0;
        for (int t = 1; t < w.length - 1; t++) {
            sum += nll(d, t * v, v, w[t + 1]);
        }
        return sum / (w.length - 2);
    }
}
