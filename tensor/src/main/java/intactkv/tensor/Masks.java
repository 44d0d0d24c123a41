package intactkv.tensor;

/**
 * Attention masks.
 *
 * <p>The causal mask for {@code T} new queries after {@code p} cached (past) positions has
 * shape {@code (T, p + T)}: query {@code t} (absolute position {@code p + t}) may attend to
 * keys {@code 0..p+t}. Allowed entries are 0, masked ones {@code -inf}, added to the attention
 * logits before the softmax (Hugging Face's additive mask with {@code -inf} in place of
 * {@code finfo.min}; both give an exact 0 after the softmax in double).
 */
public final class Masks {
    private Masks() {
    }

    /** Additive causal mask of shape {@code (T, p + T)}; see the class comment. */
    public static Tensor causal(int t, int past) {
        if (t < 0 || past < 0) {
            throw new IllegalArgumentException("causal mask: negative size T=" + t + ", p=" + past);
        }
        int keys = past + t;
        double[] m = new double[t * keys];
        for (int q = 0; q < t; q++) {
            for (int k = past + q + 1; k < keys; k++) {
                m[q * keys + k] = Double.NEGATIVE_INFINITY;
            }
        }
        return Tensor.wrap(m, t, keys);
    }

    /** Boolean form of {@link #causal}: 1 where query {@code q} may see key {@code k}, else 0. */
    public static Tensor causalAllowed(int t, int past) {
        return Elementwise.map(causal(t, past), v -> v == 0 ? 1.0 : 0.0);
    }
}
