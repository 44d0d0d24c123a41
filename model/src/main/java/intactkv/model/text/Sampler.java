package intactkv.model.text;

import java.util.Arrays;
import java.util.Random;

/**
 * Chooses the next token from logits: greedy (temperature 0) or seeded sampling with
 * temperature and nucleus (top-p) filtering, as Hugging Face's {@code TemperatureLogitsWarper}
 * and {@code TopPLogitsWarper}: the smallest set of most probable tokens whose probabilities
 * sum to at least p is kept, then renormalised.
 */
public final class Sampler {
    private final double temperature;
    private final double topP;
    private final Random rng;

    /** @param temperature 0 for greedy, else &gt; 0; @param topP in (0, 1]; @param seed for the sampler's generator */
    public Sampler(double temperature, double topP, long seed) {
        if (!(temperature >= 0) || !(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("sampling needs temperature >= 0 and 0 < top-p <= 1, got temperature "
                    + temperature + ", top-p " + topP);
        }
        this.temperature = temperature;
        this.topP = topP;
        this.rng = new Random(seed);
    }

    /** Greedy decoding. */
    public static Sampler greedy() {
        return new Sampler(0, 1, 0);
    }

    /** The next token id given the logits of the last position. */
    public int next(double[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        if (temperature == 0) {
            return best;
        }
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.exp((logits[i] - logits[best]) / temperature);
            sum += p[i];
        }
        Integer[] order = new Integer[p.length];
        for (int i = 0; i < p.length; i++) {
            order[i] = i;
            p[i] /= sum;
        }
        Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]) != 0 ? Double.compare(p[b], p[a]) : a - b);
        double cum = 0;
        int keep = 0;
        while (keep < order.length && (keep == 0 || cum < topP)) {
            cum += p[order[keep]];
            keep++;
        }
        double u = rng.nextDouble() * cum;
        double acc = 0;
        for (int k = 0; k < keep; k++) {
            acc += p[order[k]];
            if (u < acc) {
                return order[k];
            }
        }
        return order[keep - 1];
    }
}
