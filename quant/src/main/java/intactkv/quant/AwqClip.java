package intactkv.quant;

import intactkv.tensor.Tensor;

/**
 * AWQ's weight clipping search for one linear layer W (out, in) with inputs X (N, in), in
 * groups of g inputs per output row (the quantization groups). For every row r and group G:
 * <pre>
 *   m0 = max_{i in G} |W[r, i]|
 *   for k = 0 .. 9:  m_k = m0 (1 - k/20)
 *                    err_k = mean_t ( sum_{i in G} X[t, i] Q(clamp(W[r, i], -m_k, m_k)) - sum_{i in G} X[t, i] W[r, i] )^2
 *   max_val[r, G] = m_k with the smallest err_k (the first on ties; strict &lt; as upstream)
 * </pre>
 * where Q is RTN ({@link WeightQuantizer}) of the group and t runs over the sampled tokens
 * {@code X[0::N/512]} (every (N div 512)-th token from the first; all tokens when N &lt; 512,
 * where upstream's slice step would be 0 and fail).
 *
 * <p>Reference: {@code llm_awq/quantize/auto_clip.py::auto_clip_layer} (n_grid 20,
 * max_shrink 0.5, n_sample_token 512) and {@code apply_clip}.
 */
final class AwqClip {
    static final int GRID = 20;
    static final double MAX_SHRINK = 0.5;
    static final int SAMPLE_TOKENS = 512;

    private AwqClip() {
    }

    /**
     * The best clip value per row and group.
     *
     * @param w     weights (out, in), not modified
     * @param x     inputs (N, in) of the layer (already divided by AWQ's scales), not modified
     * @param spec  weight format (bits, group g)
     * @param layer names the layer in errors
     * @return max_val (out, in / g)
     */
    static Tensor search(Tensor w, Tensor x, WeightQuantizer.Spec spec, String layer) {
        int out = w.dim(0);
        int in = w.dim(1);
        if (x.dim(1) != in) {
            throw new IllegalArgumentException(layer + ": clip inputs have " + x.dim(1) + " channels, the layer " + in);
        }
        int g = spec.groupFor(in, layer);
        int groups = in / g;
        // input_feat[:, 0::n_token // n_sample_token]
        int step = Math.max(1, x.dim(0) / SAMPLE_TOKENS);
        int n = (x.dim(0) + step - 1) / step;
        double[] xs = new double[n * in];
        for (int t = 0; t < n; t++) {
            System.arraycopy(x.data(), t * step * in, xs, t * in, in);
        }
        double[] wd = w.data();
        double[] best = new double[out * groups];
        double[] cur = new double[g];
        double[] q = new double[g];
        double[] orgOut = new double[n];
        for (int r = 0; r < out; r++) {
            for (int gi = 0; gi < groups; gi++) {
                int g0 = gi * g;
                int off = r * in + g0;
                double maxAbs = 0;
                for (int i = 0; i < g; i++) {
                    maxAbs = Math.max(maxAbs, Math.abs(wd[off + i]));
                }
                for (int t = 0; t < n; t++) {
                    orgOut[t] = dot(xs, t * in + g0, wd, off, g);
                }
                double bestErr = Double.POSITIVE_INFINITY;
                double bestMax = maxAbs;
                for (int k = 0; k < (int) (MAX_SHRINK * GRID); k++) {
                    double mv = maxAbs * (1 - (double) k / GRID);
                    for (int i = 0; i < g; i++) {
                        cur[i] = Math.min(Math.max(wd[off + i], -mv), mv);
                    }
                    WeightQuantizer.quantizeGroup(cur, q, 0, g, spec, layer);
                    double err = 0;
                    for (int t = 0; t < n; t++) {
                        double e = dot(xs, t * in + g0, q, 0, g) - orgOut[t];
                        err += e * e;
                    }
                    err /= n;
                    if (err < bestErr) {
                        bestErr = err;
                        bestMax = mv;
                    }
                }
                best[r * groups + gi] = bestMax;
            }
        }
        return Tensor.wrap(best, out, groups);
    }

    private static double dot(double[] a, int ao, double[] b, int bo, int n) {
        double acc = 0;
        for (int i = 0; i < n; i++) {
            acc += a[ao + i] * b[bo + i];
        }
        return acc;
    }

    /**
     * {@code apply_clip}: W[r, i] clamped to [-max_val[r, G(i)], max_val[r, G(i)]]; a new tensor,
     * {@code w} not modified.
     */
    static Tensor apply(Tensor w, Tensor maxVal) {
        int out = w.dim(0);
        int in = w.dim(1);
        int groups = maxVal.dim(1);
        if (maxVal.dim(0) != out || in % groups != 0) {
            throw new IllegalArgumentException("clip values of shape " + maxVal.shape() + " do not fit weights "
                    + w.shape());
        }
        int g = in / groups;
        double[] wd = w.data();
        double[] m = maxVal.data();
        double[] res = new double[wd.length];
        for (int r = 0; r < out; r++) {
            for (int i = 0; i < in; i++) {
                double mv = m[r * groups + i / g];
                res[r * in + i] = Math.min(Math.max(wd[r * in + i], -mv), mv);
            }
        }
        return Tensor.wrap(res, w.shape());
    }
}
