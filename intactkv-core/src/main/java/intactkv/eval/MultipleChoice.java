package intactkv.eval;

import intactkv.autograd.GradMode;
import intactkv.model.LlamaModel;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.Perplexity;
import intactkv.prefix.PrefixedModel;
import intactkv.tensor.Tensor;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.DoubleConsumer;

/**
 * Log-likelihood multiple-choice scoring as EleutherAI's lm-evaluation-harness does it
 * ({@code lm_eval/api/model.py::TemplateLM._encode_pair}, {@code loglikelihood};
 * {@code lm_eval/api/metrics.py::mean_stderr}):
 * <pre>
 *   ll_c      = sum_j log p(cont_c[j] | [BOS] ctx cont_c[..j])     the choice's tokens given the prompt
 *   acc       = [argmax_c ll_c == label]                          (first maximum on ties)
 *   acc_norm  = [argmax_c ll_c / bytes(choice_c) == label]        bytes: the choice's UTF-8 length
 *   stderr    = sample standard deviation of the 0/1 scores / sqrt(n)
 * </pre>
 * Ties: the harness takes {@code np.argmax} of the scores ({@code lm_eval/api/task.py::
 * ConfigurableTask.process_results}, output type {@code multiple_choice}: {@code pred = np.argmax(lls)},
 * {@code pred_norm = np.argmax(lls / completion_len)}), and numpy's argmax returns the first of
 * equal maxima; {@link #firstMax} does the same. A tie decides an item by its choices' order, not
 * by the model, so the items where it happened are counted ({@link ItemScore#ties},
 * {@link TaskResult#ties}) and reported beside the accuracy. Identical choices, which always tie,
 * are refused when the item is made ({@link McItem}).
 * Tokenization follows {@code _encode_pair}: white space at the end of the context moves to the
 * front of the continuation, {@code context + continuation} is tokenized whole, and the
 * continuation's tokens are those after the context's own token count. The model runs through
 * {@link PrefixedModel}, so an IntactKV prefix replaces [BOS] (or comes first) as in perplexity.
 */
public final class MultipleChoice {
    private MultipleChoice() {
    }

    /** MMLU's header line, as in its lm-evaluation-harness task: subject with underscores as spaces. */
    public static String mmluHeader(String subject) {
        return "The following are multiple choice questions (with answers) about " + subject.replace('_', ' ') + ".\n\n";
    }

    /**
     * Prompt settings: {@code shots} examples put before each item (its context and right choice,
     * then a blank line), drawn with a fixed seed from the other items of the same subject; the
     * MMLU header first when {@code mmluHeader} and the item has a subject.
     */
    public record Settings(int shots, long seed, boolean mmluHeader) {
        public Settings {
            if (shots < 0) {
                throw new IllegalArgumentException("--shots must be >= 0: " + shots);
            }
        }
    }

    /** The log-likelihood of each choice and the predictions of one item. */
    public record ItemScore(double[] logLikelihood, int[] choiceBytes, int predicted, int predictedNorm, int label) {
        public boolean correct() {
            return predicted == label;
        }

        public boolean correctNorm() {
            return predictedNorm == label;
        }

        /** Whether another choice has exactly the predicted choice's log-likelihood (acc was decided by order). */
        public boolean ties() {
            for (int c = 0; c < logLikelihood.length; c++) {
                if (c != predicted && logLikelihood[c] == logLikelihood[predicted]) {
                    return true;
                }
            }
            return false;
        }

        /** As {@link #ties} for acc_norm: another choice has exactly the same log-likelihood per byte. */
        public boolean tiesNorm() {
            double best = logLikelihood[predictedNorm] / choiceBytes[predictedNorm];
            for (int c = 0; c < logLikelihood.length; c++) {
                if (c != predictedNorm && logLikelihood[c] / choiceBytes[c] == best) {
                    return true;
                }
            }
            return false;
        }
    }

    /**
     * Accuracy of one task with standard errors (NaN for a single item), and how many items were
     * decided by a tie (the first of equal maxima taken, {@link #firstMax}): {@code ties} for acc,
     * {@code tiesNorm} for acc_norm.
     */
    public record TaskResult(String task, int items, double acc, double accStderr, double accNorm,
                             double accNormStderr, int ties, int tiesNorm) {
    }

    /**
     * The index of the largest value, the first one among equal maxima: {@code np.argmax} as the
     * harness uses it (see the class comment). {@code values} must be non-empty and hold no NaN.
     */
    public static int firstMax(double[] values) {
        int best = 0;
        for (int c = 1; c < values.length; c++) {
            if (values[c] > values[best]) {
                best = c;
            }
        }
        return best;
    }

    /** The prompt (context with shots) of item {@code i}; see {@link Settings}. */
    public static String prompt(List<McItem> items, int i, Settings st) {
        McItem item = items.get(i);
        StringBuilder sb = new StringBuilder();
        if (st.mmluHeader() && !item.subject().isEmpty()) {
            sb.append(mmluHeader(item.subject()));
        }
        if (st.shots() > 0) {
            List<Integer> pool = new ArrayList<>();
            for (int j = 0; j < items.size(); j++) {
                if (j != i && items.get(j).subject().equals(item.subject())) {
                    pool.add(j);
                }
            }
            if (pool.size() < st.shots()) {
                throw new IllegalArgumentException("item " + i + ": " + st.shots() + " shots asked, but only " + pool.size()
                        + " other items" + (item.subject().isEmpty() ? "" : " of subject '" + item.subject() + "'"));
            }
            // a partial Fisher-Yates shuffle seeded by (seed, item): the same shots for a fixed seed
            Random rng = new Random(st.seed() * 0x9E3779B97F4A7C15L + i);
            for (int k = 0; k < st.shots(); k++) {
                int pick = k + rng.nextInt(pool.size() - k);
                int shot = pool.get(pick);
                pool.set(pick, pool.get(k));
                pool.set(k, shot);
                McItem s = items.get(shot);
                sb.append(s.context()).append(s.choices().get(s.label())).append("\n\n");
            }
        }
        return sb.append(item.context()).toString();
    }

    /**
     * {@code _encode_pair}: {context ids ([BOS] first), continuation ids}. Trailing white space of
     * the context moves to the continuation; the whole is tokenized once and split at the
     * context's token count.
     */
    public static int[][] encodePair(Tokenizer tok, String context, String continuation) {
        int keep = context.length();
        while (keep > 0 && Character.isWhitespace(context.charAt(keep - 1))) {
            keep--;
        }
        String ctx = context.substring(0, keep);
        String cont = context.substring(keep) + continuation;
        int[] whole = withBos(tok, tok.encode(ctx + cont, false));
        int n = withBos(tok, tok.encode(ctx, false)).length;
        if (n >= whole.length) {
            throw new IllegalArgumentException("the continuation '" + continuation + "' adds no token to its context");
        }
        return new int[][] {Arrays.copyOf(whole, n), Arrays.copyOfRange(whole, n, whole.length)};
    }

    private static int[] withBos(Tokenizer tok, int[] ids) {
        int[] out = new int[ids.length + 1];
        out[0] = tok.bosId();
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    /** The longest input (prompt and longest choice, in tokens) of an item, for the context-length check. */
    public static int longestInput(Tokenizer tok, String prompt, McItem item) {
        int longest = 0;
        for (String c : item.choices()) {
            int[][] p = encodePair(tok, prompt, c);
            longest = Math.max(longest, p[0].length + p[1].length);
        }
        return longest;
    }

    /** Scores one item: the log-likelihood of every choice after {@code prompt}. */
    public static ItemScore score(PrefixedModel model, Tokenizer tok, String prompt, McItem item) {
        int k = item.choices().size();
        double[] ll = new double[k];
        try (GradMode.Scope s = GradMode.noGrad()) {
            for (int c = 0; c < k; c++) {
                int[][] pair = encodePair(tok, prompt, item.choices().get(c));
                int[] ids = joined(pair);
                Tensor logits = model.forward(ids, LlamaModel.Options.LOGITS_ONLY).logits();
                ll[c] = continuationLogLikelihood(logits, 0, ids, pair[0].length);
            }
        }
        return itemScore(ll, item);
    }

    private static int[] joined(int[][] pair) {
        int[] ids = new int[pair[0].length + pair[1].length];
        System.arraycopy(pair[0], 0, ids, 0, pair[0].length);
        System.arraycopy(pair[1], 0, ids, pair[0].length, pair[1].length);
        return ids;
    }

    /** The predictions of {@code item} from its choices' log-likelihoods {@code ll}: acc's and acc_norm's argmax. */
    private static ItemScore itemScore(double[] ll, McItem item) {
        int k = ll.length;
        int[] bytes = new int[k];
        double[] perByte = new double[k];
        for (int c = 0; c < k; c++) {
            bytes[c] = item.choices().get(c).getBytes(StandardCharsets.UTF_8).length;
            perByte[c] = ll[c] / bytes[c];
        }
        return new ItemScore(ll, bytes, firstMax(ll), firstMax(perByte), item.label());
    }

    /**
     * {@code sum_{t >= from} log softmax(logits[t - 1])[ids[t]]}: the log-likelihood of tokens
     * {@code from..} of {@code ids} under the logits of positions {@code first, first + 1, ...} (rows of
     * {@code logits}, (rows, V); {@code first <= from - 1}), each term {@link Perplexity#nll}, the same
     * cross-entropy perplexity sums.
     */
    public static double continuationLogLikelihood(Tensor logits, int first, int[] ids, int from) {
        if (from < 1 || first > from - 1 || first < 0 || ids.length - 1 - first > logits.dim(0)) {
            throw new IllegalArgumentException("multiple choice: logits of positions " + first + ".."
                    + (first + logits.dim(0) - 1) + " cannot score tokens " + from + ".." + (ids.length - 1));
        }
        int v = logits.dim(1);
        double[] d = logits.data();
        double sum = 0;
        for (int t = from; t < ids.length; t++) {
            sum -= Perplexity.nll(d, (t - 1 - first) * v, v, ids[t]);
        }
        if (!Double.isFinite(sum)) {
            throw new IllegalStateException("multiple choice: a log-likelihood is " + sum
                    + " (a NaN or infinity in the model's logits)");
        }
        return sum;
    }

    /**
     * Scores item i after {@code prompts.get(i)} (from {@link #prompt}, checked by the caller) for
     * every item; {@code progress} gets the fraction done.
     */
    public static List<ItemScore> scoreAll(PrefixedModel model, Tokenizer tok, List<McItem> items, List<String> prompts,
                                           DoubleConsumer progress) {
        requireOnePromptEach(items, prompts);
        List<ItemScore> out = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            out.add(score(model, tok, prompts.get(i), items.get(i)));
            progress.accept((i + 1.0) / items.size());
        }
        return out;
    }

    private static void requireOnePromptEach(List<McItem> items, List<String> prompts) {
        if (prompts.size() != items.size()) {
            throw new IllegalArgumentException(prompts.size() + " prompts for " + items.size() + " items");
        }
    }

    /**
     * Every input {@link #scoreAll} runs, item by item and choice by choice: {@code ids.get(j)} is [BOS], the prompt
     * and the choice ({@link #encodePair}), whose continuation starts at position {@code contextLength[j]}.
     */
    public record Inputs(List<int[]> ids, int[] contextLength) {
        /** The first row of logits an input's log-likelihood reads: the position before its continuation. */
        public int[] firstRows() {
            int[] r = new int[contextLength.length];
            for (int j = 0; j < r.length; j++) {
                r[j] = contextLength[j] - 1;
            }
            return r;
        }
    }

    /** The inputs of every item's choices after {@code prompts.get(i)}, in the order {@link #fromLogLikelihoods} reads. */
    public static Inputs inputs(Tokenizer tok, List<McItem> items, List<String> prompts) {
        requireOnePromptEach(items, prompts);
        List<int[]> ids = new ArrayList<>();
        List<Integer> context = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            for (String choice : items.get(i).choices()) {
                int[][] pair = encodePair(tok, prompts.get(i), choice);
                ids.add(joined(pair));
                context.add(pair[0].length);
            }
        }
        return new Inputs(ids, context.stream().mapToInt(Integer::intValue).toArray());
    }

    /**
     * The scores of {@link #scoreAll} from the log-likelihood of every input of {@link #inputs} ({@code ll[j]}, the
     * items' choices in order), for a caller that runs the inputs itself (a layer-by-layer pass, which carries many
     * inputs through each layer).
     */
    public static List<ItemScore> fromLogLikelihoods(List<McItem> items, double[] ll) {
        int total = items.stream().mapToInt(it -> it.choices().size()).sum();
        if (ll.length != total) {
            throw new IllegalArgumentException(ll.length + " log-likelihoods for " + total + " choices");
        }
        List<ItemScore> out = new ArrayList<>();
        int j = 0;
        for (McItem item : items) {
            int k = item.choices().size();
            out.add(itemScore(Arrays.copyOfRange(ll, j, j + k), item));
            j += k;
        }
        return out;
    }

    /** acc and acc_norm with {@code mean_stderr}, and the items decided by a tie. */
    public static TaskResult aggregate(String task, List<ItemScore> scores) {
        double[] acc = scores.stream().mapToDouble(s -> s.correct() ? 1 : 0).toArray();
        double[] norm = scores.stream().mapToDouble(s -> s.correctNorm() ? 1 : 0).toArray();
        int ties = (int) scores.stream().filter(ItemScore::ties).count();
        int tiesNorm = (int) scores.stream().filter(ItemScore::tiesNorm).count();
        return new TaskResult(task, scores.size(), mean(acc), meanStderr(acc), mean(norm), meanStderr(norm), ties,
                tiesNorm);
    }

    static double mean(double[] x) {
        return intactkv.prefix.Perplexity.mean(x);
    }

    /** Sample standard deviation (n - 1) over sqrt(n), as lm-evaluation-harness's {@code mean_stderr}. */
    static double meanStderr(double[] x) {
        return intactkv.prefix.Perplexity.stderr(x);
    }
}
