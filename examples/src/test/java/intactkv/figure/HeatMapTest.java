package intactkv.figure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.Rectangle;
import java.awt.image.BufferedImage;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Heat maps checked on the figure model and on the rendered pixels. */
class HeatMapTest {
    /** A causal attention pattern (rows = queries): row i spreads over keys 0..i, key 0 taking half; NaN above. */
    static double[][] causal(int n) {
        double[][] v = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                v[i][j] = j > i ? Double.NaN : i == 0 ? 1 : j == 0 ? 0.5 : 0.5 / i;
            }
        }
        return v;
    }

    static Color pixel(BufferedImage img, int x, int y) {
        return new Color(img.getRGB(x, y));
    }

    static Color centre(BufferedImage img, Rectangle r) {
        return pixel(img, r.x + r.width / 2, r.y + r.height / 2);
    }

    @Test
    void rowZeroIsAtTheTopAndTheMaskAboveTheDiagonal() {
        ColourScale scale = ColourScale.log("attention probability", 1, 3);
        HeatMap h = new HeatMap(new HeatMap.Spec("t", "key", "query", causal(6), scale, List.of("footer")));
        BufferedImage img = h.render();
        Rectangle plot = h.plotArea();
        Rectangle first = h.cell(0, 0);
        assertEquals(plot.x, first.x);
        assertEquals(plot.y, first.y, "query 0 is the top row");
        assertEquals(plot.y + plot.height, h.cell(5, 0).y + h.cell(5, 0).height, "the last query is the bottom row");
        assertEquals(scale.colour(1.0), centre(img, first), "query 0 gives key 0 all its attention");
        assertEquals(scale.colour(0.5), centre(img, h.cell(5, 0)));
        assertEquals(scale.colour(0.1), centre(img, h.cell(5, 5)));
        for (int i = 0; i < 6; i++) {
            for (int j = i + 1; j < 6; j++) {
                assertEquals(ColourScale.MASKED, centre(img, h.cell(i, j)), "masked (" + i + ", " + j + ") above the diagonal");
            }
        }
        assertNotEquals(ColourScale.MASKED, centre(img, h.cell(5, 0)));
    }

    /** A tick mark sits at the centre of the cell it labels (not half a cell off). */
    @Test
    void ticksAreAtCellCentres() {
        HeatMap h = new HeatMap(new HeatMap.Spec("t", "key", "query", causal(12), ColourScale.log("p", 1, 3), List.of()));
        BufferedImage img = h.render();
        Rectangle plot = h.plotArea();
        for (Tick t : h.rowTicks()) {
            Rectangle c = h.cell((int) t.value(), 0);
            int y = c.y + c.height / 2;
            assertTrue(dark(pixel(img, plot.x - 4, y)), "row tick " + t.label() + " at y " + y);
            assertTrue(!dark(pixel(img, plot.x - 4, c.y + 1)) || c.height < 4, "nothing at the cell's top edge");
        }
        for (Tick t : h.columnTicks()) {
            Rectangle c = h.cell(0, (int) t.value());
            assertTrue(dark(pixel(img, c.x + c.width / 2, plot.y + plot.height + 3)), "column tick " + t.label());
        }
    }

    static boolean dark(Color c) {
        return c.getRed() + c.getGreen() + c.getBlue() < 200;
    }

    /** The colour bar runs from the scale's top colour at its top edge to the bottom colour, and carries a title. */
    @Test
    void colourBarIsLabelledAndOrdered() {
        ColourScale scale = ColourScale.log("|hidden state|", 4.641388950194974, 4);
        assertEquals(10, scale.max(), 0);
        assertEquals(1e-3, scale.min(), 1e-18);
        assertTrue(scale.title().startsWith("|hidden state| (log scale"), scale.title());
        assertEquals(List.of("10⁻³", "10⁻²", "10⁻¹", "10⁰", "10¹"), scale.ticks().stream().map(Tick::label).toList());
        HeatMap h = new HeatMap(new HeatMap.Spec("t", "c", "r", new double[][] {{1e-5, 4.64}}, scale, List.of()));
        BufferedImage img = h.render();
        Rectangle bar = h.colourBar();
        assertEquals(ColourScale.at(1), pixel(img, bar.x + 5, bar.y), "top of the bar: the largest value's colour");
        assertEquals(ColourScale.at(0), pixel(img, bar.x + 5, bar.y + bar.height - 1));
        // a value below the floor takes the floor's colour, never an out-of-range one
        assertEquals(ColourScale.at(0), centre(img, h.cell(0, 0)));
    }

    /** A log scale shows the small values a linear one would paint white: 0.01 and 0.001 differ. */
    @Test
    void logScaleSeparatesSmallValues() {
        ColourScale log = ColourScale.log("p", 1, 3);
        assertEquals(1.0 / 3, log.fraction(0.01), 1e-12);
        assertNotEquals(log.colour(0.01), log.colour(0.001));
        ColourScale linear = ColourScale.linear("p", 0, 1);
        assertEquals(0.01, linear.fraction(0.01), 1e-12);
    }

    /** More columns than pixels: each drawn column is the largest of its block, so one outlier stays visible. */
    @Test
    void wideMapsKeepTheirOutliers() {
        int cols = 4096;
        double[][] v = new double[3][cols];
        Random r = new Random(7);
        for (double[] row : v) {
            for (int j = 0; j < cols; j++) {
                row[j] = 0.01 + 0.01 * r.nextDouble();
            }
        }
        v[0][3001] = 50; // the massive activation of [BOS] in one channel
        ColourScale scale = ColourScale.log("|h|", 50, 4);
        HeatMap h = new HeatMap(new HeatMap.Spec("t", "channel", "token", v, scale, List.of()));
        assertEquals(6, h.columnsPerCell());
        assertTrue(h.xTitle().contains("max over 6"), h.xTitle());
        assertTrue(h.plotArea().width <= HeatMap.MAX_PLOT_WIDTH);
        BufferedImage img = h.render();
        assertEquals(scale.colour(50), centre(img, h.cell(0, 3001)));
        assertNotEquals(scale.colour(50), centre(img, h.cell(1, 3001)));
    }

    /** Every row is at least several pixels high at the row counts the figures use. */
    @Test
    void rowsAreSeveralPixelsHigh() {
        HeatMap h = new HeatMap(new HeatMap.Spec("t", "c", "r", new double[64][128], ColourScale.linear("x", 0, 1),
                List.of()));
        assertEquals(10, h.cell(0, 0).height);
        assertThrows(IllegalArgumentException.class,
                () -> new HeatMap.Spec("t", "c", "r", new double[][] {{1, 2}, {3}}, ColourScale.linear("x", 0, 1), List.of()));
    }
}
