package intactkv.prefix;

import intactkv.autograd.GradMode;
import intactkv.autograd.Value;
import intactkv.model.LlamaModel;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Measurements of pivot tokens (the paper's Section 3 and Figures 1-2): how much attention
 * each early position receives, which hidden states carry massive activations, and how the
 * quantized model's last-layer error falls as the IntactKV prefix grows. The attention each
 * early position receives is {@link intactkv.model.AttentionMass}.
 */
public final class PivotAnalysis {
    private PivotAnalysis() {
    }

    /** One layer's attention probabilities {@code (1, h, T, T)} averaged over heads, (T, T). */
    public static Tensor meanAttentionMap(Tensor layerAttention) {
        int h = layerAttention.dim(1);
        int t = layerAttention.dim(2);
        double[] a = layerAttention.data();
        double[] out = new double[t * t];
        for (int head = 0; head < h; head++) {
            for (int i = 0; i < t * t; i++) {
                out[i] += a[head * t * t + i] / h;
            }
        }
        return Tensor.wrap(out, t, t);
    }

    /** Every layer's output (T, d) on {@code ids}. */
    public static List<Tensor> hiddenStates(LlamaModel m, int[] ids) {
        try (GradMode.Scope s = GradMode.noGrad()) {
            List<Tensor> out = new ArrayList<>();
            for (Value h : m.forward(ids, null, LlamaModel.Options.WITH_HIDDEN).hidden()) {
                out.add(h.data().reshape(ids.length, m.config().hiddenSize()));
            }
            return out;
        }
    }

    /** A large activation: layer, token position, channel, value, and |value| over the median token's max |h|. */
    public record Massive(int layer, int token, int channel, double value, double ratio) {
    }

    /**
     * For every layer the largest |h| of each token, compared with the median over tokens of
     * those maxima; returns the {@code top} entries with the largest ratio (one per layer and token).
     */
    public static List<Massive> massiveActivations(List<Tensor> hidden, int top) {
        List<Massive> all = new ArrayList<>();
        for (int l = 0; l < hidden.size(); l++) {
            Tensor h = hidden.get(l);
            int t = h.dim(0);
            int d = h.dim(1);
            double[] maxAbs = new double[t];
            int[] arg = new int[t];
            for (int i = 0; i < t; i++) {
                for (int c = 0; c < d; c++) {
                    double v = Math.abs(h.data()[i * d + c]);
                    if (v > maxAbs[i]) {
                        maxAbs[i] = v;
                        arg[i] = c;
                    }
                }
            }
            double[] sorted = maxAbs.clone();
            Arrays.sort(sorted);
            double median = t % 2 == 1 ? sorted[t / 2] : (sorted[t / 2 - 1] + sorted[t / 2]) / 2;
            for (int i = 0; i < t; i++) {
                all.add(new Massive(l, i, arg[i], h.data()[i * d + arg[i]], maxAbs[i] / median));
            }
        }
        all.sort(Comparator.comparingDouble(Massive::ratio).reversed());
        return all.subList(0, Math.min(top, all.size()));
    }

    /**
     * The paper's Figure 2: for IntactKV sizes k = 0..maxK, the mean squared error between the
     * quantized model's and the full-precision model's last-layer outputs on the positions
     * {@code >= maxK} of {@code ids} (the same positions for every k). k = 0 is no IntactKV.
     */
    public static double[] lastLayerMseBySize(LlamaModel fp, LlamaModel generator, LlamaModel quantized, int[] ids,
                                              int maxK) {
        if (maxK >= ids.length) {
            throw new IllegalArgumentException("IntactKV sizes up to " + maxK + " need a text longer than " + maxK
                    + " tokens, got " + ids.length);
        }
        List<Tensor> ref = hiddenStates(fp, ids);
        Tensor last = ref.get(ref.size() - 1);
        int d = last.dim(1);
        double[] out = new double[maxK + 1];
        try (GradMode.Scope s = GradMode.noGrad()) {
            for (int k = 0; k <= maxK; k++) {
                IntactKvPrefix p = k == 0 ? null : IntactKvPrefix.firstTokens(generator, ids, k);
                PrefixedModel.Result r = new PrefixedModel(quantized, p).forward(ids, LlamaModel.Options.WITH_HIDDEN);
                List<Value> hs = r.output().hidden();
                Tensor q = hs.get(hs.size() - 1).data();
                double sum = 0;
                for (int t = maxK; t < ids.length; t++) {
                    int qt = t - k;
                    for (int c = 0; c < d; c++) {
                        double diff = q.data()[qt * d + c] - last.data()[t * d + c];
                        sum += diff * diff;
                    }
                }
                out[k] = sum / ((double) (ids.length - maxK) * d);
            }
        }
        return out;
    }
}
