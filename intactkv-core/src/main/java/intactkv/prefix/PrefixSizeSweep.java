package intactkv.prefix;

import intactkv.autograd.GradMode;
import intactkv.autograd.Value;
import intactkv.model.LlamaModel;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The paper's Figure 2 with the official protocol ({@code intactkv_motivation.py::main}, run by
 * {@code scripts/visualization/motivation.sh} with {@code --intactkv_size 34}, the whole
 * IntactKV_[P] of LLaMA-2): for each IntactKV size k = 0..K the prefix is the first k tokens of
 * the [P] ids ({@code intactkv/utils.py::gen_vicuna_prompt_kv(intactkv_size=k)}; k = 0 is no
 * IntactKV, the quantized model computes every position), and on every calibration sample
 * ({@link ShareGptSelection}) the layer loss of {@code train_model.py::compute_ptq_loss} is taken
 * over the positions {@code t >= K} (the same positions for every k; all tokens there, not only
 * the assistant's):
 * <pre>
 *   loss_l(k) = mean over samples of 0.5 * mean_{t >= K, c} (h~_l^(k)[t, c] - h_l[t, c])^2
 *   total(k)  = sum_l loss_l(k),      lastLayer(k) = loss_{L-1}(k)
 * </pre>
 * The official logs both and plots the last layer. h_l is the full-precision model's layer
 * output on the whole sample; h~_l^(k) the quantized model's with the k-token prefix as past.
 *
 * <p>The official first stores every sample's full-precision activations and then loops over
 * k; this loops over samples outside and k inside (one sample's activations in memory) and adds
 * in the official order: a sample's total over layers in layer order, then the samples in order.
 */
public final class PrefixSizeSweep {
    private PrefixSizeSweep() {
    }

    /** The losses at one IntactKV size. */
    public record Point(int size, double total, double lastLayer) {
    }

    /** Progress: samples done, samples in all. */
    @FunctionalInterface
    public interface Listener {
        void sample(int done, int total);
    }

    /**
     * Refuses a sweep the samples cannot support: K outside 0..|promptIds|, a sample that does
     * not start with the first K prompt ids, or one with no position at or after K.
     */
    public static void check(int[] promptIds, int maxSize, List<int[]> samples) {
        if (maxSize < 0 || maxSize > promptIds.length) {
            throw new IllegalArgumentException("--max-prefix " + maxSize + " is outside 0.." + promptIds.length
                    + " (the IntactKV_[P] prompt has " + promptIds.length + " tokens, [BOS] included)");
        }
        for (int i = 0; i < samples.size(); i++) {
            int[] ids = samples.get(i);
            if (ids.length <= maxSize || !Arrays.equals(ids, 0, maxSize, promptIds, 0, maxSize)) {
                throw new IllegalArgumentException("sample " + i + " (" + ids.length + " tokens) does not start with"
                        + " the first " + maxSize + " prompt tokens followed by at least one more token");
            }
        }
    }

    /**
     * Runs the sweep; {@code reference} gives h_l (the full-precision model in the quantized
     * model's basis), {@code generator} the prefixes (usually the same model).
     */
    public static List<Point> run(LlamaModel reference, LlamaModel generator, LlamaModel quantized, int[] promptIds,
                                  int maxSize, List<int[]> samples, Listener listener) {
        check(promptIds, maxSize, samples);
        if (samples.isEmpty()) {
            throw new IllegalArgumentException("the sweep needs at least one sample");
        }
        List<IntactKvPrefix> prefixes = new ArrayList<>();
        for (int k = 0; k <= maxSize; k++) {
            prefixes.add(k == 0 ? null : IntactKvPrefix.firstTokens(generator, promptIds, k));
        }
        int layers = quantized.config().numHiddenLayers();
        double[] total = new double[maxSize + 1]; // sums over samples, in sample order, as sum(losses)
        double[] last = new double[maxSize + 1];
        try (GradMode.Scope g = GradMode.noGrad()) {
            for (int i = 0; i < samples.size(); i++) {
                int[] ids = samples.get(i);
                List<Tensor> ref = PivotAnalysis.hiddenStates(reference, ids);
                for (int k = 0; k <= maxSize; k++) {
                    List<Value> hs = new PrefixedModel(quantized, prefixes.get(k))
                            .forward(ids, LlamaModel.Options.WITH_HIDDEN).output().hidden();
                    double sampleTotal = 0; // the sample's loss summed over layers in layer order
                    double layerLoss = 0;
                    for (int l = 0; l < layers; l++) {
                        layerLoss = halfMse(hs.get(l).data().data(), k, ref.get(l), maxSize);
                        sampleTotal += layerLoss;
                    }
                    total[k] += sampleTotal;
                    last[k] += layerLoss;
                }
                listener.sample(i + 1, samples.size());
            }
        }
        List<Point> out = new ArrayList<>();
        for (int k = 0; k <= maxSize; k++) {
            out.add(new Point(k, total[k] / samples.size(), last[k] / samples.size()));
        }
        return out;
    }

    /**
     * {@code 0.5 * mean_{t >= from, c} (q[t - k, c] - ref[t, c])^2}: {@code q} holds the rows of
     * positions k..T-1 (the prefix's positions are not computed), {@code ref} (T, d) all of them.
     */
    static double halfMse(double[] q, int k, Tensor ref, int from) {
        int t = ref.dim(0);
        int d = ref.dim(1);
        double[] r = ref.data();
        double s = 0;
        for (int pos = from; pos < t; pos++) {
            int qRow = (pos - k) * d;
            int rRow = pos * d;
            for (int c = 0; c < d; c++) {
                double diff = q[qRow + c] - r[rRow + c];
                s += diff * diff;
            }
        }
        return 0.5 * s / ((double) (t - from) * d);
    }
}
