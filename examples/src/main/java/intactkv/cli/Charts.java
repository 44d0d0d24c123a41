package intactkv.cli;

import intactkv.figure.Axis;
import intactkv.figure.ColourScale;
import intactkv.figure.HeatMap;
import intactkv.figure.LinePlot;
import intactkv.figure.Png;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The figures of analyze, demo and theory-report, built as figure models ({@link HeatMap},
 * {@link LinePlot}) that tests read, and saved as PNG files carrying the {@link Provenance} as
 * text chunks and as a footer line. Choices a reader relies on are made here, once:
 * attention and activation maps on a log colour scale (a linear one leaves all but the [BOS]
 * column white), row 0 at the top, the positions shown in the title; curves of a quantity
 * compared by size with the y axis from 0.
 */
final class Charts {
    /** Positions (rows) drawn at most in a heat map, so that every row, [BOS]'s included, is several pixels high. */
    static final int MAX_SHOWN = 64;
    /** Decades of the attention colour scale: probabilities from 10⁻³ to 1 (the uniform share of 64 keys is 0.016). */
    static final int ATTENTION_DECADES = 3;
    /** Decades of the activation colour scale: |h| down to 10⁻⁴ of the top decade, where a typical token's values lie. */
    static final int ACTIVATION_DECADES = 4;

    private Charts() {
    }

    /** "all 12" or "first 64 of 857": the part of {@code total} rows a figure shows. */
    static String shownOf(int shown, int total, String what) {
        return shown == total ? "all " + total + " " + what : "first " + shown + " of " + total + " " + what;
    }

    /**
     * The mean-over-heads attention map {@code att (T, T)} of a layer: the first
     * {@link #MAX_SHOWN} queries (rows, query 0 at the top) and keys (columns), the masked keys
     * after each query left grey, probabilities on a log colour scale.
     */
    static HeatMap attention(Tensor att, String title, Provenance p) {
        int t = att.dim(0);
        int shown = Math.min(t, MAX_SHOWN);
        double[][] v = new double[shown][shown];
        for (int i = 0; i < shown; i++) {
            for (int j = 0; j < shown; j++) {
                v[i][j] = j > i ? Double.NaN : att.get(i, j);
            }
        }
        return new HeatMap(new HeatMap.Spec(title + "\n" + shownOf(shown, t, "positions"),
                "key position", "query position (0 at the top)",
                v, ColourScale.log("attention probability", 1.0, ATTENTION_DECADES), p.footer()));
    }

    /**
     * The magnitudes |h| of a layer's output {@code hidden (T, d)}: the first {@link #MAX_SHOWN}
     * tokens (rows, [BOS] at the top), every channel (columns; combined by their maximum when
     * more than the plot's width), on a log colour scale from the largest shown value down
     * {@link #ACTIVATION_DECADES} decades.
     */
    static HeatMap activations(Tensor hidden, String title, Provenance p) {
        int t = hidden.dim(0);
        int d = hidden.dim(1);
        int shown = Math.min(t, MAX_SHOWN);
        double[][] v = new double[shown][d];
        double max = 0;
        for (int i = 0; i < shown; i++) {
            for (int c = 0; c < d; c++) {
                v[i][c] = Math.abs(hidden.get(i, c));
                max = Math.max(max, v[i][c]);
            }
        }
        return new HeatMap(new HeatMap.Spec(title + "\n" + shownOf(shown, t, "tokens") + ", all " + d + " channels",
                "channel", "token position (0 = [BOS], at the top)", v,
                ColourScale.log("|hidden state|", max, ACTIVATION_DECADES), p.footer()));
    }

    /**
     * Curves over integer x values (IntactKV sizes, layers): each series {x values, y values};
     * the y axis from 0 to above the largest value (or {@code [0, yMax]} when {@code yMax > 0}),
     * x ticks thinned to at most 12.
     */
    static LinePlot curves(String title, String xTitle, String yTitle, Map<String, double[][]> series, double yMax,
                           Provenance p) {
        int lo = Integer.MAX_VALUE;
        int hi = Integer.MIN_VALUE;
        double top = 0;
        List<LinePlot.Series> s = new ArrayList<>();
        for (Map.Entry<String, double[][]> e : series.entrySet()) {
            for (double x : e.getValue()[0]) {
                lo = Math.min(lo, (int) Math.floor(x));
                hi = Math.max(hi, (int) Math.ceil(x));
            }
            for (double y : e.getValue()[1]) {
                top = Math.max(top, Double.isFinite(y) ? y : 0);
            }
            s.add(new LinePlot.Series(e.getKey(), e.getValue()[0], e.getValue()[1],
                    LinePlot.PALETTE.get(s.size() % LinePlot.PALETTE.size()), LinePlot.Style.LINE_AND_MARKERS,
                    LinePlot.Marker.CIRCLE));
        }
        Axis y = yMax > 0 ? Axis.fixed(yTitle, 0, yMax, 6) : Axis.fromZero(yTitle, top, 7);
        return new LinePlot(new LinePlot.Spec(title, Axis.integers(xTitle, lo, Math.max(hi, lo + 1), 12), y, s,
                p.footer()));
    }

    /**
     * A log-log scatter of groups of points, each group a pair of series {bound, actual}: the
     * plain heads as filled circles and the same heads with IntactKV as hollow triangles, every
     * series its own colour; the line y = x in black.
     */
    static LinePlot boundScatter(String title, String xTitle, String yTitle, Map<String, double[][]> series,
                                 Provenance p) {
        double lo = Double.POSITIVE_INFINITY;
        double hi = 0;
        List<LinePlot.Series> s = new ArrayList<>();
        for (Map.Entry<String, double[][]> e : series.entrySet()) {
            for (double[] axis : e.getValue()) {
                for (double v : axis) {
                    if (v > 0 && Double.isFinite(v)) {
                        lo = Math.min(lo, v);
                        hi = Math.max(hi, v);
                    }
                }
            }
            boolean intact = e.getKey().contains("IntactKV");
            s.add(new LinePlot.Series(e.getKey(), e.getValue()[0], e.getValue()[1],
                    LinePlot.PALETTE.get(s.size() % (LinePlot.PALETTE.size() - 1)), LinePlot.Style.MARKERS,
                    intact ? LinePlot.Marker.TRIANGLE : LinePlot.Marker.CIRCLE));
        }
        if (!(hi > 0)) {
            lo = 1e-3;
            hi = 1;
        }
        s.add(new LinePlot.Series("y = x", new double[] {lo, hi}, new double[] {lo, hi},
                LinePlot.PALETTE.get(LinePlot.PALETTE.size() - 1), LinePlot.Style.LINE, LinePlot.Marker.CIRCLE));
        Axis x = Axis.log(xTitle, lo, hi, 10);
        Axis y = Axis.log(yTitle, lo, hi, 10);
        return new LinePlot(new LinePlot.Spec(title, x, y, s, p.footer()));
    }

    /** Renders {@code figure} into {@code file} with the provenance as PNG text. */
    static void save(Path file, HeatMap figure, Provenance p) throws IOException {
        Png.write(file, figure.render(), p.pngText(figure.spec().title().replace('\n', ' ')));
    }

    /** Renders {@code figure} into {@code file} with the provenance as PNG text. */
    static void save(Path file, LinePlot figure, Provenance p) throws IOException {
        Png.write(file, figure.render(), p.pngText(figure.spec().title().replace('\n', ' ')));
    }
}
