package intactkv.figure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.Point;
import java.awt.image.BufferedImage;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Line and scatter plots checked on the figure model and on the rendered pixels. */
class LinePlotTest {
    /** The demo's MSE curve (RTN W3, IntactKV sizes 0..8): a 31 % drop must look like 31 %. */
    static final double[] MSE = {9.547e-4, 6.602e-4, 6.594e-4, 6.541e-4, 6.428e-4, 6.340e-4, 6.291e-4, 6.229e-4, 6.173e-4};

    static LinePlot mseCurve() {
        double[] x = new double[MSE.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = i;
        }
        Axis xa = Axis.integers("IntactKV size", 0, 8, 12);
        Axis ya = Axis.fromZero("MSE", 9.547e-4, 7);
        return new LinePlot(new LinePlot.Spec("t", xa, ya, List.of(new LinePlot.Series("RTN W3", x, MSE,
                LinePlot.PALETTE.get(0), LinePlot.Style.LINE_AND_MARKERS, LinePlot.Marker.CIRCLE)), List.of("f")));
    }

    @Test
    void yAxisStartsAtZeroAtTheBottomEdge() {
        LinePlot p = mseCurve();
        Axis y = p.spec().y();
        assertEquals(0, y.min());
        assertTrue(y.max() >= MSE[0] && y.max() < 1.2 * MSE[0], "headroom, not a new scale: " + y.max());
        assertEquals("0.0", y.ticks().get(0).label());
        assertTrue(y.title().endsWith("(×10⁻³)"), y.title());
        int decimals = y.ticks().get(0).label().length() - y.ticks().get(0).label().indexOf('.');
        for (Tick t : y.ticks()) {
            assertEquals(decimals, t.label().length() - t.label().indexOf('.'), "uniform labels: " + t.label());
        }
        assertEquals(p.plotArea().y + p.plotArea().height - 1, p.yPixel(0), "0 is the bottom pixel row");
        // the pixel heights are in proportion to the values: 0.6173 / 0.9547 of the height above 0
        double ratio = (double) (p.yPixel(0) - p.yPixel(MSE[8])) / (p.yPixel(0) - p.yPixel(MSE[0]));
        assertEquals(MSE[8] / MSE[0], ratio, 0.01);
        // and the zero tick is drawn there: the tick mark left of the plot at that row is dark
        BufferedImage img = p.render();
        Color tick = new Color(img.getRGB(p.plotArea().x - 3, p.yPixel(0)));
        assertTrue(tick.getRed() + tick.getGreen() + tick.getBlue() < 200, tick.toString());
    }

    /** Every point's centre pixel and the legend's marker have the series' own colour. */
    @Test
    void legendColoursMatchThePoints() {
        double[][] a = {{1e-2, 1e-1, 1}, {2e-3, 3e-2, 0.5}};
        double[][] b = {{2e-2, 2e-1, 2}, {1e-1, 1, 10}};
        List<LinePlot.Series> s = List.of(
                new LinePlot.Series("sink heads", a[0], a[1], LinePlot.PALETTE.get(0), LinePlot.Style.MARKERS,
                        LinePlot.Marker.CIRCLE),
                new LinePlot.Series("diffuse heads", b[0], b[1], LinePlot.PALETTE.get(1), LinePlot.Style.MARKERS,
                        LinePlot.Marker.CIRCLE));
        LinePlot p = new LinePlot(new LinePlot.Spec("t", Axis.log("B", 1e-3, 10, 10), Axis.log("actual", 1e-3, 10, 10), s,
                List.of()));
        BufferedImage img = p.render();
        for (int i = 0; i < s.size(); i++) {
            Color c = s.get(i).colour();
            Point legend = p.legendMarker(i);
            assertEquals(c, new Color(img.getRGB(legend.x, legend.y)), "legend of " + s.get(i).name());
            for (int k = 0; k < s.get(i).x().length; k++) {
                assertEquals(c, new Color(img.getRGB(p.xPixel(s.get(i).x()[k]), p.yPixel(s.get(i).y()[k]))),
                        s.get(i).name() + " point " + k);
            }
        }
    }

    /** A log axis cannot show 0: such points are left out and counted in the legend, not clamped to 1e-300. */
    @Test
    void pointsALogAxisCannotShowAreCounted() {
        LinePlot p = new LinePlot(new LinePlot.Spec("t", Axis.log("x", 1e-2, 1, 10), Axis.log("y", 1e-2, 1, 10),
                List.of(new LinePlot.Series("heads", new double[] {0.1, 0.2, 0.3}, new double[] {0.1, 0, -1},
                        Color.BLUE, LinePlot.Style.MARKERS, LinePlot.Marker.CIRCLE)), List.of()));
        assertEquals("heads (2 not drawn: <= 0 on a log axis)", p.legendLabel(0));
        assertEquals(1e-2, p.spec().y().min(), 1e-18);
        p.render();
    }

    /** Sizes 0..34 (the official Figure 2) and 0..857 are labelled sparsely enough to read. */
    @Test
    void integerXAxisIsThinned() {
        assertEquals(List.of("0", "5", "10", "15", "20", "25", "30"),
                Axis.integers("size", 0, 34, 12).ticks().stream().map(Tick::label).toList());
        assertTrue(Axis.integers("size", 0, 857, 12).ticks().size() <= 12);
        assertEquals(-0.5, Axis.integers("size", 0, 34, 12).min(), 0);
    }
}
