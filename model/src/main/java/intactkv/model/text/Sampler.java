package intactkv.model.text;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Chooses the next token from the logits (V) of the last position, as Hugging Face transformers
 * 4.36.0's {@code generate} does with a {@link GenerationConfig}: the logits processors, then (when
 * sampling) the logits warpers, in the order {@code generation/utils.py::_get_logits_processor}
 * and {@code _get_logits_warper} build them, with {@code min_tokens_to_keep} 1 (one beam):
 * <ol>
 *   <li>repetition penalty ({@code logits_process.py::RepetitionPenaltyLogitsProcessor}), when not
 *       1: each distinct token id t of the sequence so far (prompt and generated tokens) gets
 *       {@code s_t * penalty} where {@code s_t < 0}, else {@code s_t / penalty};</li>
 *   <li>greedy ({@link GenerationConfig#greedy()}): the argmax of these scores, the lowest id on
 *       a tie ({@code torch.argmax}); nothing below applies;</li>
 *   <li>temperature ({@code TemperatureLogitsWarper}), when not 1: {@code s / T};</li>
 *   <li>top-k ({@code TopKLogitsWarper}), when not 0: k = min(max(k, 1), V); every token whose
 *       score is below the k-th largest score is removed (set to -inf), so ties with the k-th
 *       are all kept;</li>
 *   <li>top-p ({@code TopPLogitsWarper}), when below 1: the scores sorted ascending, their
 *       softmax accumulated from the smallest; a token whose cumulative probability is
 *       {@code <= 1 - top_p} is removed, the largest is always kept. That is: the smallest set of
 *       the most probable tokens whose mass is at least top_p stays;</li>
 *   <li>the draw: {@code softmax} of the scores (removed tokens probability 0), then one token.</li>
 * </ol>
 * {@link #distribution} is the probability vector of step 6 (one-hot at the argmax when greedy),
 * which {@code tools/oracle/sampling_fixture.py} checks against the warpers' definitions in PyTorch.
 *
 * <p>Seeding: the draw uses {@link SplittableRandom}{@code (seed)}, one uniform double u in
 * [0, 1) per token, and returns the first id (in id order) at which the cumulative probability
 * exceeds u. A fixed seed gives the same tokens on every run and machine; they are not the draws
 * of {@code torch.multinomial} under {@code torch.manual_seed} (a different generator), only the
 * same distribution. One sampler is one random stream: reused for a conversation's second turn,
 * it continues where the first stopped, as the official MT-Bench script's one
 * {@code torch.manual_seed(i)} per choice does.
 */
public final class Sampler {
    private final GenerationConfig config;
    private final SplittableRandom rng;

    /** Samples (or takes the argmax) as {@code config} says; {@code seed} seeds the draws. */
    public Sampler(GenerationConfig config, long seed) {
        this.config = config;
        this.rng = new SplittableRandom(seed);
    }

    /**
     * Temperature and nucleus only (no top-k, no repetition penalty): temperature 0 is greedy,
     * a positive temperature samples.
     *
     * @param temperature 0 for greedy, else &gt; 0; @param topP in (0, 1]; @param seed for the draws
     */
    public Sampler(double temperature, double topP, long seed) {
        this(checked(temperature, topP), seed);
    }

    private static GenerationConfig checked(double temperature, double topP) {
        if (!(temperature >= 0) || !(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("sampling needs temperature >= 0 and 0 < top-p <= 1, got temperature "
                    + temperature + ", top-p " + topP);
        }
        return new GenerationConfig(temperature > 0, temperature, 0, topP, 1.0, new int[0], null);
    }

    /** Greedy decoding. */
    public static Sampler greedy() {
        return new Sampler(0, 1, 0);
    }

    /** The settings this sampler applies. */
    public GenerationConfig config() {
        return config;
    }

    /** The next token id given the logits of the last position, with no earlier tokens (no repetition penalty). */
    public int next(double[] logits) {
        return next(logits, new int[0], 0);
    }

    /**
     * The next token id given the logits (V) of the last position and the sequence so far, its
     * first {@code count} entries of {@code previous} (prompt and generated tokens; not modified).
     */
    public int next(double[] logits, int[] previous, int count) {
        double[] s = penalized(logits, previous, count);
        if (config.greedy()) {
            return argmax(s);
        }
        double[] p = softmax(warped(s));
        double u = rng.nextDouble();
        double acc = 0;
        int last = -1;
        for (int i = 0; i < p.length; i++) {
            if (p[i] > 0) {
                acc += p[i];
                last = i;
                if (u < acc) {
                    return i;
                }
            }
        }
        return last; // u beyond the rounded total (1 - a few ulps): the last token with mass
    }

    /**
     * The probabilities (V) the next token is drawn from: the softmax of the processed and
     * warped scores, or one-hot at the argmax when greedy. {@code previous}: the sequence so far.
     */
    public double[] distribution(double[] logits, int[] previous) {
        double[] s = penalized(logits, previous, previous.length);
        if (config.greedy()) {
            double[] p = new double[s.length];
            p[argmax(s)] = 1;
            return p;
        }
        return softmax(warped(s));
    }

    /** Step 1: the repetition penalty on a copy of the logits. */
    double[] penalized(double[] logits, int[] previous, int count) {
        double[] s = logits.clone();
        double penalty = config.repetitionPenalty();
        if (penalty != 1.0) {
            boolean[] seen = new boolean[s.length];
            for (int i = 0; i < count; i++) {
                int t = previous[i];
                if (t < 0 || t >= s.length) {
                    throw new IllegalArgumentException("previous token id " + t + " is outside the vocabulary of "
                            + s.length);
                }
                if (!seen[t]) { // gather then scatter: a token repeated in the sequence is penalised once
                    seen[t] = true;
                    s[t] = s[t] < 0 ? s[t] * penalty : s[t] / penalty;
                }
            }
        }
        return s;
    }

    /** Steps 3 to 5 on {@code s} (modified and returned). */
    double[] warped(double[] s) {
        double t = config.temperature();
        if (t != 1.0) {
            for (int i = 0; i < s.length; i++) {
                s[i] /= t;
            }
        }
        if (config.topK() != 0) {
            int k = Math.min(Math.max(config.topK(), 1), s.length);
            double[] sorted = s.clone();
            Arrays.sort(sorted);
            double threshold = sorted[sorted.length - k];
            for (int i = 0; i < s.length; i++) {
                if (s[i] < threshold) {
                    s[i] = Double.NEGATIVE_INFINITY;
                }
            }
        }
        if (config.topP() < 1.0) {
            Integer[] order = new Integer[s.length];
            for (int i = 0; i < s.length; i++) {
                order[i] = i;
            }
            // ascending by score; equal scores by id, so the result does not depend on the sort
            Arrays.sort(order, (a, b) -> s[a] != s[b] ? Double.compare(s[a], s[b]) : Integer.compare(a, b));
            double[] sortedScores = new double[s.length];
            for (int i = 0; i < s.length; i++) {
                sortedScores[i] = s[order[i]];
            }
            double[] p = softmax(sortedScores);
            double cum = 0;
            double cut = 1 - config.topP();
            for (int i = 0; i < s.length - 1; i++) { // the last (largest) is always kept: min_tokens_to_keep 1
                cum += p[i];
                if (cum <= cut) {
                    s[order[i]] = Double.NEGATIVE_INFINITY;
                }
            }
        }
        return s;
    }

    /** softmax(s) = exp(s - max) / sum exp(s - max); -inf scores get probability 0. */
    static double[] softmax(double[] s) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : s) {
            max = Math.max(max, v);
        }
        double[] p = new double[s.length];
        double sum = 0;
        for (int i = 0; i < s.length; i++) {
            p[i] = s[i] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(s[i] - max);
            sum += p[i];
        }
        for (int i = 0; i < s.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    /** The first index of the largest value. */
    static int argmax(double[] s) {
        int best = 0;
        for (int i = 1; i < s.length; i++) {
            if (s[i] > s[best]) {
                best = i;
            }
        }
        return best;
    }
}
