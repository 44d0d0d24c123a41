package intactkv.cli;

import intactkv.model.io.AtomicFiles;
import intactkv.tensor.Tensor;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.HeatMapChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** PNG charts (XChart, headless), written atomically: line charts and heat maps with titles, axis labels and legends. */
final class Charts {
    private Charts() {
    }

    static {
        System.setProperty("java.awt.headless", "true");
    }

    /** A line chart with one series per map entry: {x values, y values}. */
    static void line(Path file, String title, String xTitle, String yTitle, Map<String, double[][]> series, boolean logY)
            throws IOException {
        save(file, lineChart(title, xTitle, yTitle, series, logY));
    }

    /**
     * A line chart for small values: y tick labels in scientific notation ({@code yPattern}, a
     * {@link java.text.DecimalFormat} pattern such as {@code "0.00E0"}) and the legend inside
     * the plot, top right.
     */
    static void line(Path file, String title, String xTitle, String yTitle, Map<String, double[][]> series,
                     String yPattern) throws IOException {
        XYChart c = lineChart(title, xTitle, yTitle, series, false);
        c.getStyler().setYAxisDecimalPattern(yPattern);
        c.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideNE);
        save(file, c);
    }

    private static XYChart lineChart(String title, String xTitle, String yTitle, Map<String, double[][]> series,
                                     boolean logY) {
        XYChart c = new XYChartBuilder().width(900).height(540).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        c.getStyler().setYAxisLogarithmic(logY);
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        for (Map.Entry<String, double[][]> e : series.entrySet()) {
            c.addSeries(e.getKey(), e.getValue()[0], e.getValue()[1]).setMarker(SeriesMarkers.CIRCLE);
        }
        return c;
    }

    /** A log-log scatter chart with one series per map entry: {x values, y values}, and the line y = x. */
    static void scatter(Path file, String title, String xTitle, String yTitle, Map<String, double[][]> series)
            throws IOException {
        XYChart c = new XYChartBuilder().width(900).height(640).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        c.getStyler().setDefaultSeriesRenderStyle(org.knowm.xchart.XYSeries.XYSeriesRenderStyle.Scatter);
        c.getStyler().setXAxisLogarithmic(true);
        c.getStyler().setYAxisLogarithmic(true);
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        c.getStyler().setMarkerSize(5);
        double lo = Double.POSITIVE_INFINITY;
        double hi = 0;
        for (Map.Entry<String, double[][]> e : series.entrySet()) {
            c.addSeries(e.getKey(), e.getValue()[0], e.getValue()[1]);
            for (double v : e.getValue()[0]) {
                if (v > 0) {
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
            }
        }
        if (hi > 0) {
            c.addSeries("y = x", new double[] {lo, hi}, new double[] {lo, hi})
                    .setXYSeriesRenderStyle(org.knowm.xchart.XYSeries.XYSeriesRenderStyle.Line).setMarker(SeriesMarkers.NONE);
        }
        save(file, c);
    }

    /**
     * A heat map of {@code values (rows, cols)}: x = column index, y = row index (0 at the
     * bottom), numeric tick labels every {@link #tickStep} cells, and a colour bar on the right
     * whose values are rounded to 3 significant digits.
     */
    static void heat(Path file, String title, String xTitle, String yTitle, Tensor values) throws IOException {
        int rows = values.dim(0);
        int cols = values.dim(1);
        HeatMapChart c = new HeatMapChartBuilder().width(1000).height(640).title(title)
                .xAxisTitle(xTitle + " (0.." + (cols - 1) + ", left to right)")
                .yAxisTitle(yTitle + " (0.." + (rows - 1) + ", bottom to top)").build();
        c.getStyler().setShowValue(false);
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        c.getStyler().setRangeColors(new Color[] {new Color(255, 255, 255), new Color(255, 200, 0), new Color(200, 0, 0)});
        int xStep = tickStep(cols);
        int yStep = tickStep(rows);
        c.getStyler().setxAxisTickLabelsFormattingFunction(v -> label(v, xStep));
        c.getStyler().setyAxisTickLabelsFormattingFunction(v -> label(v, yStep));
        c.getStyler().setAxisTickLabelsFont(new java.awt.Font(java.awt.Font.SANS_SERIF, java.awt.Font.PLAIN, 10));
        c.getStyler().setLegendVisible(true);
        c.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideE);
        c.getStyler().setHeatMapDecimalValueFormatter(v -> String.format(java.util.Locale.ROOT, "%.3g", v));
        List<Number> x = new ArrayList<>();
        List<Number> y = new ArrayList<>();
        for (int j = 0; j < cols; j++) {
            x.add(j);
        }
        for (int i = 0; i < rows; i++) {
            y.add(i);
        }
        List<Number[]> cells = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                cells.add(new Number[] {j, i, values.get(i, j)});
            }
        }
        c.addSeries(title, x, y, cells);
        save(file, c);
    }

    /** A tick every 1, 2, 5, 10, 20, 50, ... cells, so that at most about 12 are labelled. */
    static int tickStep(int cells) {
        int[] base = {1, 2, 5};
        for (int scale = 1; ; scale *= 10) {
            for (int b : base) {
                if ((long) b * scale * 12 >= cells) {
                    return b * scale;
                }
            }
        }
    }

    private static String label(double v, int step) {
        long i = Math.round(v);
        return i % step == 0 ? Long.toString(i) : "";
    }

    private static void save(Path file, Chart<?, ?> chart) throws IOException {
        AtomicFiles.write(file, out -> BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG));
    }
}
