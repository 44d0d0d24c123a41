package intactkv.eval;

import intactkv.model.text.Generator;
import intactkv.model.text.Sampler;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.Perplexity;
import intactkv.prefix.PrefixedModel;
import intactkv.tensor.ElementDtype;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.DoubleConsumer;
import java.util.function.ToDoubleFunction;

/**
 * A judge-free measure of what quantization does to generated text (issue 28, deliverable 4):
 * greedy continuations of held-out prompts by the full-precision model (the reference) and by a
 * quantized model, with or without IntactKV, compared prompt by prompt.
 *
 * <p>Prompts: the first {@code N} lines of the text with more than {@code K} words (words split at
 * white space), each cut to its first {@code K} words joined by one space, so that every prompt
 * stops inside its line; encoded with [BOS] first. Deterministic: no draw, no choice by result.
 *
 * <p>A continuation is the greedy tokens ({@link Sampler#greedy()}, at most {@code M}), followed by
 * [EOS] when the model chose it: stopping is a decision of the model, compared like any token.
 * Per prompt, against the reference continuation r and a candidate c:
 * <ul>
 *   <li>identical: 1 if c equals r token for token (and in length), else 0;</li>
 *   <li>agreed: the length of their common prefix, the tokens generated before the first
 *       divergence (r's length when identical; 0..M);</li>
 *   <li>ROUGE-L F1 over token ids, {@link RougeL} with r as the target.</li>
 * </ul>
 * Each is averaged over prompts with the standard error of the mean ({@link Perplexity#stderr});
 * the difference between two settings (with minus without IntactKV) is paired by prompt.
 */
public final class GenerationFidelity {
    private GenerationFidelity() {
    }

    /**
     * The measure's settings: {@code prompts} (N) prompts of {@code promptWords} (K) words, each
     * continued by at most {@code maxTokens} (M) tokens; all at least 1.
     */
    public record Settings(int prompts, int promptWords, int maxTokens) {
        public Settings {
            requirePositive("prompts", prompts);
            requirePositive("prompt words", promptWords);
            requirePositive("max tokens", maxTokens);
        }

        private static void requirePositive(String what, int v) {
            if (v < 1) {
                throw new IllegalArgumentException("generation fidelity: " + what + " must be >= 1, got " + v);
            }
        }
    }

    /** One prompt's comparison with the reference: identical (0/1), agreed tokens, ROUGE-L F1. */
    public record PromptScore(boolean identical, int agreed, double rougeL) {
    }

    /** A mean over prompts and its standard error (NaN for one prompt). */
    public record Stat(double mean, double stderr) {
        /** Whether {@code |mean| <= 2 stderr}: a difference the prompts cannot tell from zero (NaN counts as within). */
        public boolean withinTwoStderr() {
            return !(Math.abs(mean) > 2 * stderr);
        }
    }

    /** The three measures over prompts (means with standard errors). */
    public record Summary(int prompts, Stat identical, Stat agreed, Stat rougeL) {
    }

    /**
     * The prompts of {@code lines} (not modified), as the class comment defines them. Refuses,
     * naming {@code source}, text where fewer than N lines have more than K words.
     */
    public static List<String> prompts(List<String> lines, Settings s, String source) {
        List<String> out = new ArrayList<>();
        int longest = 0;
        int eligible = 0;
        for (String line : lines) {
            String t = line.strip();
            String[] w = t.isEmpty() ? new String[0] : t.split("\\s+");
            longest = Math.max(longest, w.length);
            if (w.length > s.promptWords()) {
                eligible++;
                if (out.size() < s.prompts()) {
                    out.add(String.join(" ", Arrays.copyOf(w, s.promptWords())));
                }
            }
        }
        if (eligible == 0) {
            throw new IllegalArgumentException("--prompt-words " + s.promptWords() + ": no line of " + source
                    + " has more than " + s.promptWords() + " words (the longest has " + longest + "); use fewer"
                    + " --prompt-words");
        }
        if (eligible < s.prompts()) {
            throw new IllegalArgumentException("--prompts " + s.prompts() + ": only " + eligible + " lines of " + source
                    + " have more than " + s.promptWords() + " words (--prompt-words); use --prompts " + eligible
                    + " or fewer, or fewer --prompt-words");
        }
        return out;
    }

    /** A generation as it is compared: its tokens, then {@code eos} if it stopped there. */
    public static int[] compared(Generator.Result r, int eos) {
        int[] t = r.tokens();
        if (!r.stopReason().equals("eos")) {
            return t;
        }
        int[] out = Arrays.copyOf(t, t.length + 1);
        out[t.length] = eos;
        return out;
    }

    /**
     * The greedy continuation of each prompt ({@code prompts}: token ids, [BOS] first; not
     * modified) by {@code run}, at most {@code maxTokens} tokens, as {@link #compared}. With an
     * IntactKV prefix the quantized model continues from the full-precision prefix exactly as
     * {@code ./intactkv generate --intactkv bos} ({@link PrefixedModel#generate}).
     * {@code progress} receives the share done after each prompt.
     */
    public static List<int[]> continuations(PrefixedModel run, Tokenizer tok, List<int[]> prompts, int maxTokens,
                                            DoubleConsumer progress) {
        return continuations(run, tok, prompts, maxTokens, ElementDtype.F64, progress);
    }

    /**
     * {@link #continuations(PrefixedModel, Tokenizer, List, int, DoubleConsumer)} with the KV cache held in
     * {@code cacheDtype} ({@link PrefixedModel#generate(Tokenizer, int[], int, Sampler, Generator.Stop, ElementDtype,
     * java.util.function.Consumer)}).
     */
    public static List<int[]> continuations(PrefixedModel run, Tokenizer tok, List<int[]> prompts, int maxTokens,
                                            ElementDtype cacheDtype, DoubleConsumer progress) {
        int eos = run.model().config().eosTokenId();
        List<int[]> out = new ArrayList<>();
        for (int[] p : prompts) {
            out.add(compared(run.generate(tok, p, maxTokens, Sampler.greedy(), Generator.Stop.DEFAULT, cacheDtype,
                    s -> { }), eos));
            progress.accept((double) out.size() / prompts.size());
        }
        return out;
    }

    /** The length of the common prefix of {@code a} and {@code b} (neither modified). */
    public static int agreed(int[] a, int[] b) {
        int n = Math.min(a.length, b.length);
        int i = 0;
        while (i < n && a[i] == b[i]) {
            i++;
        }
        return i;
    }

    /** One candidate continuation against the reference (neither modified). */
    public static PromptScore score(int[] reference, int[] candidate) {
        return new PromptScore(Arrays.equals(reference, candidate), agreed(reference, candidate),
                RougeL.score(reference, candidate).fmeasure());
    }

    /** Every prompt's score: {@code candidates.get(i)} against {@code references.get(i)}. */
    public static List<PromptScore> scores(List<int[]> references, List<int[]> candidates) {
        if (references.size() != candidates.size()) {
            throw new IllegalArgumentException("generation fidelity: " + references.size() + " references but "
                    + candidates.size() + " candidates");
        }
        List<PromptScore> out = new ArrayList<>();
        for (int i = 0; i < references.size(); i++) {
            out.add(score(references.get(i), candidates.get(i)));
        }
        return out;
    }

    /** Means and standard errors over prompts. */
    public static Summary summarize(List<PromptScore> scores) {
        return difference(null, scores);
    }

    /**
     * The paired differences {@code with - without}, prompt by prompt (the same prompts in the same
     * order), of identical, agreed and ROUGE-L, with their standard errors over prompts;
     * {@code without} null: the plain means of {@code with}.
     */
    public static Summary difference(List<PromptScore> without, List<PromptScore> with) {
        if (without != null && without.size() != with.size()) {
            throw new IllegalArgumentException("generation fidelity: paired scores need the same prompts, got "
                    + without.size() + " and " + with.size());
        }
        return new Summary(with.size(), stat(with, without, s -> s.identical() ? 1 : 0),
                stat(with, without, PromptScore::agreed), stat(with, without, PromptScore::rougeL));
    }

    /** Measure {@code f} of each prompt, less its value in {@code minus} when given; mean and standard error. */
    private static Stat stat(List<PromptScore> scores, List<PromptScore> minus, ToDoubleFunction<PromptScore> f) {
        double[] x = new double[scores.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = f.applyAsDouble(scores.get(i)) - (minus == null ? 0 : f.applyAsDouble(minus.get(i)));
        }
        return new Stat(Perplexity.mean(x), Perplexity.stderr(x));
    }
}
