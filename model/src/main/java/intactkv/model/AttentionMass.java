package intactkv.model;

import intactkv.autograd.GradMode;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * How much attention the first key positions receive: the pivot-token measure of the paper's
 * Figure 1, used by {@code ./intactkv analyze}, the demo and the trainer's validation (which is
 * why it lives in the model module, below the trainer and the IntactKV module).
 */
public final class AttentionMass {
    /** A head that gives at least this share of its attention to [BOS] counts as a sink head. */
    public static final double SINK_SHARE = 0.3;

    private AttentionMass() {
    }

    /** Attention probabilities of every layer on {@code ids}, each (1, h, T, T): one forward pass. */
    public static List<Tensor> attentions(LlamaModel m, int[] ids) {
        try (GradMode.Scope s = GradMode.noGrad()) {
            return m.forward(ids, null, new LlamaModel.Options(false, false, true, false)).attentions();
        }
    }

    /**
     * Mean attention probability that queries at positions {@code >= fromQuery} give to each
     * of the first {@code positions} keys: {@code [layer][head][key]}, from {@link #attentions}.
     */
    public static double[][][] onFirstKeys(List<Tensor> att, int positions, int fromQuery) {
        int h = att.get(0).dim(1);
        int t = att.get(0).dim(2);
        if (fromQuery >= t) {
            throw new IllegalArgumentException("the text has " + t + " tokens; attention is measured for queries"
                    + " from position " + fromQuery + " on (use a longer --text)");
        }
        int e = Math.min(positions, t);
        double[][][] out = new double[att.size()][h][e];
        for (int l = 0; l < att.size(); l++) {
            double[] a = att.get(l).data(); // (1, h, T, T)
            for (int head = 0; head < h; head++) {
                for (int q = fromQuery; q < t; q++) {
                    for (int k = 0; k < e; k++) {
                        out[l][head][k] += a[(head * t + q) * t + k] / (t - fromQuery);
                    }
                }
            }
        }
        return out;
    }

    /**
     * Attention by key token rather than key position: for each layer and head, the mean over
     * queries at positions {@code >= fromQuery} of the attention given to all keys holding token
     * id {@code v}, summed over those keys; {@code [layer][head]} maps token id to mass (each map
     * sums to 1). [BOS] at position 0 is counted under its id like any other token. A token that
     * soaks up a head's attention wherever it occurs (a separator, for example) shows up here
     * even where it is far from the first positions that {@link #onFirstKeys} looks at.
     */
    public static List<List<Map<Integer, Double>>> onKeyTokens(List<Tensor> att, int[] ids, int fromQuery) {
        int h = att.get(0).dim(1);
        int t = att.get(0).dim(2);
        if (t != ids.length || fromQuery >= t || fromQuery < 0) {
            throw new IllegalArgumentException("attention over " + t + " keys, " + ids.length + " token ids, queries"
                    + " from position " + fromQuery);
        }
        List<List<Map<Integer, Double>>> out = new ArrayList<>();
        for (Tensor layer : att) {
            double[] a = layer.data(); // (1, h, T, T)
            List<Map<Integer, Double>> heads = new ArrayList<>();
            for (int head = 0; head < h; head++) {
                Map<Integer, Double> byToken = new TreeMap<>();
                for (int q = fromQuery; q < t; q++) {
                    for (int k = 0; k <= q; k++) {
                        byToken.merge(ids[k], a[(head * t + q) * t + k] / (t - fromQuery), Double::sum);
                    }
                }
                heads.add(byToken);
            }
            out.add(heads);
        }
        return out;
    }

    /** The heads of one layer of {@link #onFirstKeys} that put at least {@link #SINK_SHARE} on [BOS]. */
    public static int sinkHeads(double[][] layer) {
        int n = 0;
        for (double[] head : layer) {
            n += head[0] >= SINK_SHARE ? 1 : 0;
        }
        return n;
    }
}
