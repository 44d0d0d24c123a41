package intactkv.bench;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The scale sweep's PNG (docs/PERFORMANCE.md): prefill time and peak RSS against T, one line per
 * (implementation, model), log-log, from the CSV that {@code tools/bench/scale.sh} writes
 * ({@code impl,config,params,T,threads,prefill_s,peak_rss_mb}).
 *
 * <pre>  java -cp benchmarks/target/benchmarks.jar intactkv.bench.ScalePlot scale.csv time.png rss.png</pre>
 */
public final class ScalePlot {
    private ScalePlot() {
    }

    public static void main(String[] args) throws IOException {
        System.setProperty("java.awt.headless", "true");
        List<String> lines = Files.readAllLines(Path.of(args[0]));
        Map<String, List<double[]>> series = new LinkedHashMap<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",");
            series.computeIfAbsent(f[0] + " " + f[1], k -> new ArrayList<>())
                    .add(new double[] {Double.parseDouble(f[3]), Double.parseDouble(f[5]), Double.parseDouble(f[6])});
        }
        chart(series, 1, "Prefill time vs sequence length (1 thread, float64)", "seconds", Path.of(args[1]));
        chart(series, 2, "Peak resident memory of the prefill process vs sequence length", "peak RSS (MB)",
                Path.of(args[2]));
    }

    private static void chart(Map<String, List<double[]>> series, int col, String title, String yTitle, Path out)
            throws IOException {
        XYChart c = new XYChartBuilder().width(900).height(560).title(title).xAxisTitle("T (tokens)").yAxisTitle(yTitle)
                .build();
        c.getStyler().setXAxisLogarithmic(true);
        c.getStyler().setYAxisLogarithmic(true);
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        for (Map.Entry<String, List<double[]>> e : series.entrySet()) {
            double[] x = e.getValue().stream().mapToDouble(r -> r[0]).toArray();
            double[] y = e.getValue().stream().mapToDouble(r -> r[col]).toArray();
            c.addSeries(e.getKey(), x, y).setMarker(SeriesMarkers.CIRCLE);
        }
        Path tmp = out.resolveSibling("." + out.getFileName() + ".tmp");
        try (java.io.OutputStream os = Files.newOutputStream(tmp)) {
            BitmapEncoder.saveBitmap(c, os, BitmapEncoder.BitmapFormat.PNG);
        }
        Files.move(tmp, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }
}
