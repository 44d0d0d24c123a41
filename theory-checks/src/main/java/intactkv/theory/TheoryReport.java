package intactkv.theory;

import intactkv.autograd.Functional;
import intactkv.autograd.GradMode;
import intactkv.autograd.LinearAlgebra;
import intactkv.autograd.Shaping;
import intactkv.autograd.Value;
import intactkv.model.KvCache;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.Rope;
import intactkv.quant.DynamicQuantizer;
import intactkv.tensor.Layout;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Measured statistics of the bound (not claims): for a set of heads, the actual output error
 * and the bounds with and without an intact prefix of p tokens.
 */
public final class TheoryReport {
    private TheoryReport() {
    }

    /** One head measured without and with IntactKV. */
    public record Row(String group, String head, double attentionOnPrefix, AttentionErrorBound.Evaluation plain,
                      AttentionErrorBound.Evaluation intact) {
    }

    /** Summary of a group of rows (medians; {@code boundAFellFraction}: the share of heads whose bound A did not grow). */
    public record Summary(String group, int heads, double attentionOnPrefix, double actualPlain, double actualIntact,
                          double boundPlain, double boundIntact, double tightPlain, double tightnessB, double tightnessT,
                          double boundAFellFraction) {
    }

    /** {@code count} random heads (n tokens, d_h = d) with 4-bit per-token KV errors, sink or diffuse, p = 1. */
    public static List<Row> randomHeads(String group, int count, int n, int d, int bits, boolean sink, long seed) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            AttentionErrorBound.Head h = RandomHeads.generate(n, d, bits, false, sink, false, seed + i);
            rows.add(row(group, group + " #" + i, h, 1));
        }
        return rows;
    }

    static Row row(String group, String name, AttentionErrorBound.Head h, int p) {
        AttentionErrorBound.Evaluation plain = AttentionErrorBound.evaluate(h);
        AttentionErrorBound.Evaluation intact = AttentionErrorBound.evaluate(h.intact(p));
        double mass = 0;
        for (int i = 0; i < p; i++) {
            mass += plain.attention()[i];
        }
        return new Row(group, name, mass, plain, intact);
    }

    /**
     * Every head of every layer of {@code model} on {@code ids}: the query of the last token, the
     * full-precision cache as K and V, their errors those of {@code kv} (per token and head),
     * and an intact prefix of {@code p} tokens. The text must reach past the prefix ({@code T >= p + 1}):
     * with {@code T = p} the query would be a prefix token's and every key intact, so the report
     * would show a 100 % sink and no error by construction rather than by measurement.
     */
    public static List<Row> modelHeads(LlamaModel model, int[] ids, DynamicQuantizer kv, int p) {
        if (p < 1 || ids.length < p + 1) {
            throw new IllegalArgumentException("the model's heads are measured at the query of the last token with the"
                    + " first " + p + " kept intact, so the text needs at least " + (p + 1) + " tokens ([BOS] included),"
                    + " got " + ids.length);
        }
        LlamaConfig c = model.config();
        int t = ids.length;
        int dh = c.headDim();
        List<Row> rows = new ArrayList<>();
        try (GradMode.Scope s = GradMode.noGrad()) {
            KvCache cache = model.forward(ids, null, LlamaModel.Options.LOGITS).present();
            Value x = model.embed(new int[][] {ids});
            Tensor[] cs = new Rope(dh, c.ropeTheta()).tables(0, t);
            for (int l = 0; l < c.numHiddenLayers(); l++) {
                Value n = Functional.rmsNorm(x, model.weights().block(l).inputNorm(), c.rmsNormEps());
                Value q = LinearAlgebra.linear(n, model.weights().block(l).q());
                q = Shaping.permute(Shaping.reshape(q, 1, t, c.numAttentionHeads(), dh), 0, 2, 1, 3);
                Tensor qr = Functional.rope(q, cs[0], cs[1]).data(); // (1, h, T, d_h)
                Tensor k = cache.keys().get(l).data().reshape(c.numKeyValueHeads(), t, dh);
                Tensor v = cache.values().get(l).data().reshape(c.numKeyValueHeads(), t, dh);
                for (int head = 0; head < c.numAttentionHeads(); head++) {
                    int kvh = head / c.groups();
                    double[] qv = Arrays.copyOfRange(qr.data(), (head * t + t - 1) * dh, (head * t + t) * dh);
                    Tensor kh = Layout.slice(k, 0, kvh, kvh + 1).reshape(t, dh);
                    Tensor vh = Layout.slice(v, 0, kvh, kvh + 1).reshape(t, dh);
                    AttentionErrorBound.Head h = new AttentionErrorBound.Head(qv, kh, vh, new double[dh],
                            kv.apply(kh).sub(kh), kv.apply(vh).sub(vh));
                    rows.add(row("model", "layer " + l + " head " + head, h, p));
                }
                x = model.layer(l, x);
            }
        }
        return rows;
    }

    /** Medians of a group. */
    public static Summary summarize(String group, List<Row> rows) {
        double[] mass = new double[rows.size()];
        double[][] v = new double[7][rows.size()];
        int fell = 0;
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            mass[i] = r.attentionOnPrefix();
            v[0][i] = r.plain().actual();
            v[1][i] = r.intact().actual();
            v[2][i] = r.plain().boundB();
            v[3][i] = r.intact().boundB();
            v[4][i] = r.plain().boundT();
            v[5][i] = r.plain().actual() / r.plain().boundB();
            v[6][i] = r.plain().actual() / r.plain().boundT();
            if (r.intact().boundA() <= r.plain().boundA()) {
                fell++;
            }
        }
        return new Summary(group, rows.size(), median(mass), median(v[0]), median(v[1]), median(v[2]), median(v[3]),
                median(v[4]), median(v[5]), median(v[6]), (double) fell / rows.size());
    }

    static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        int n = s.length;
        return n == 0 ? Double.NaN : n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }
}
