package intactkv.figure;

import java.awt.Color;
import java.awt.Rectangle;
import java.awt.image.BufferedImage;
import java.util.List;

/**
 * A heat map of {@code values[row][col]} as a figure model and its rendering. Row 0 is at the
 * top and column 0 at the left, so an attention map (rows = queries, columns = keys) shows the
 * causal triangle as it is written: query 0 top-left, the masked part above the diagonal. Every
 * cell is a whole number of pixels, and a tick sits at the centre of the cell it labels. When
 * there are more columns than {@link #MAX_PLOT_WIDTH} pixels, each drawn column is the
 * <em>largest</em> value of a block of consecutive columns (an outlier channel stays visible);
 * the x-axis title says how many. NaN marks a masked cell, drawn in {@link ColourScale#MASKED}
 * and named beside the colour bar. The colour bar carries the scale's title and its ticks.
 */
public final class HeatMap {
    /** Largest plot area, in pixels. */
    public static final int MAX_PLOT_WIDTH = 800;
    public static final int MAX_PLOT_HEIGHT = 640;
    private static final int LEFT = 84;
    private static final int BAR_GAP = 26;
    private static final int BAR_WIDTH = 22;
    private static final int RIGHT = 150;
    private static final int BOTTOM = 64;

    /** What to draw: {@code values} is (rows, cols), NaN for masked cells; footer lines go along the bottom edge. */
    public record Spec(String title, String xTitle, String yTitle, double[][] values, ColourScale scale, List<String> footer) {
        public Spec {
            footer = List.copyOf(footer);
            if (values.length == 0 || values[0].length == 0) {
                throw new IllegalArgumentException("heat map '" + title + "' has no cells");
            }
            for (double[] row : values) {
                if (row.length != values[0].length) {
                    throw new IllegalArgumentException("heat map '" + title + "': rows of different lengths "
                            + values[0].length + " and " + row.length);
                }
            }
        }
    }

    private final Spec spec;
    private final int bin;
    private final int shownCols;
    private final int cellW;
    private final int cellH;
    private final Rectangle plot;
    private final int width;
    private final int height;

    public HeatMap(Spec spec) {
        this.spec = spec;
        int rows = spec.values().length;
        int cols = spec.values()[0].length;
        bin = (cols + MAX_PLOT_WIDTH - 1) / MAX_PLOT_WIDTH;
        shownCols = (cols + bin - 1) / bin;
        cellW = Math.max(1, Math.min(40, MAX_PLOT_WIDTH / shownCols));
        cellH = Math.max(1, Math.min(40, MAX_PLOT_HEIGHT / rows));
        int top = 16 + 20 * Canvas.titleLines(spec.title()) + 10;
        plot = new Rectangle(LEFT, top, shownCols * cellW, rows * cellH);
        width = Math.max(LEFT + plot.width + RIGHT, 560);
        height = top + Math.max(plot.height, 240) + BOTTOM + Canvas.FOOTER_LINE * spec.footer().size() + 6;
    }

    public Spec spec() {
        return spec;
    }

    /** The pixel rectangle of the cells. */
    public Rectangle plotArea() {
        return new Rectangle(plot);
    }

    /** How many consecutive columns each drawn column shows (their maximum); 1 when every column has its own. */
    public int columnsPerCell() {
        return bin;
    }

    /** The pixels of data cell (row, col); with {@link #columnsPerCell} > 1, of the drawn column that holds col. */
    public Rectangle cell(int row, int col) {
        return new Rectangle(plot.x + (col / bin) * cellW, plot.y + row * cellH, cellW, cellH);
    }

    /** The x-axis title as drawn: the spec's, plus the block size when columns are combined. */
    public String xTitle() {
        return bin == 1 ? spec.xTitle() : spec.xTitle() + " (each drawn column: max over " + bin + " consecutive)";
    }

    /** Row ticks (data row indices), at most 12 of them. */
    public List<Tick> rowTicks() {
        return Ticks.integers(0, spec.values().length - 1, 12);
    }

    /** Column ticks (data column indices), at most 12 of them. */
    public List<Tick> columnTicks() {
        return Ticks.integers(0, spec.values()[0].length - 1, 12);
    }

    /** The pixel rectangle of the colour bar (top = the scale's maximum). */
    public Rectangle colourBar() {
        int h = Math.max(plot.height, 240);
        return new Rectangle(plot.x + plot.width + BAR_GAP, plot.y, BAR_WIDTH, h - (hasMasked() ? 30 : 0));
    }

    /** The value drawn in column block {@code c} of {@code row}: the largest non-NaN value, NaN when all are masked. */
    double shown(int row, int c) {
        double[] r = spec.values()[row];
        double best = Double.NaN;
        for (int j = c * bin; j < Math.min(r.length, (c + 1) * bin); j++) {
            if (!Double.isNaN(r[j]) && (Double.isNaN(best) || r[j] > best)) {
                best = r[j];
            }
        }
        return best;
    }

    private boolean hasMasked() {
        for (double[] r : spec.values()) {
            for (double v : r) {
                if (Double.isNaN(v)) {
                    return true;
                }
            }
        }
        return false;
    }

    public BufferedImage render() {
        Canvas cv = new Canvas(width, height);
        ColourScale scale = spec.scale();
        cv.title(spec.title(), plot.x + plot.width / 2.0);
        for (int i = 0; i < spec.values().length; i++) {
            for (int c = 0; c < shownCols; c++) {
                cv.g.setColor(scale.colour(shown(i, c)));
                cv.g.fillRect(plot.x + c * cellW, plot.y + i * cellH, cellW, cellH);
            }
        }
        cv.g.setColor(Canvas.INK);
        cv.g.drawRect(plot.x - 1, plot.y - 1, plot.width + 1, plot.height + 1);
        for (Tick t : columnTicks()) {
            int x = cell(0, (int) t.value()).x + cellW / 2;
            cv.g.drawLine(x, plot.y + plot.height + 1, x, plot.y + plot.height + 5);
            cv.centred(Canvas.TICK, t.label(), x, plot.y + plot.height + 18);
        }
        for (Tick t : rowTicks()) {
            int y = cell((int) t.value(), 0).y + cellH / 2;
            cv.g.drawLine(plot.x - 6, y, plot.x - 2, y);
            cv.rightAligned(Canvas.TICK, t.label(), plot.x - 9, y);
        }
        cv.centred(Canvas.AXIS, xTitle(), plot.x + plot.width / 2.0, plot.y + plot.height + 40);
        cv.vertical(Canvas.AXIS, spec.yTitle(), 22, plot.y + plot.height / 2.0);
        drawColourBar(cv);
        cv.footer(spec.footer());
        return cv.image;
    }

    private void drawColourBar(Canvas cv) {
        ColourScale scale = spec.scale();
        Rectangle bar = colourBar();
        for (int y = 0; y < bar.height; y++) {
            cv.g.setColor(ColourScale.at(1 - (double) y / Math.max(1, bar.height - 1)));
            cv.g.drawLine(bar.x, bar.y + y, bar.x + bar.width - 1, bar.y + y);
        }
        cv.g.setColor(Canvas.INK);
        cv.g.drawRect(bar.x - 1, bar.y - 1, bar.width + 1, bar.height + 1);
        int labelRight = bar.x + bar.width + 6;
        int widest = 0;
        for (Tick t : scale.ticks()) {
            int y = bar.y + (int) Math.round((1 - scale.fraction(t.value())) * (bar.height - 1));
            cv.g.drawLine(bar.x + bar.width, y, bar.x + bar.width + 3, y);
            cv.leftAligned(Canvas.TICK, t.label(), labelRight, y);
            widest = Math.max(widest, cv.width(Canvas.TICK, t.label()));
        }
        cv.vertical(Canvas.AXIS, cv.fit(Canvas.AXIS, scale.title(), Math.max(plot.height, 240)),
                labelRight + widest + 18, bar.y + bar.height / 2.0);
        if (hasMasked()) {
            int y = bar.y + bar.height + 14;
            cv.g.setColor(ColourScale.MASKED);
            cv.g.fillRect(bar.x, y, bar.width, 12);
            cv.g.setColor(Canvas.INK);
            cv.g.drawRect(bar.x - 1, y - 1, bar.width + 1, 13);
            cv.leftAligned(Canvas.TICK, "masked", labelRight, y + 6);
        }
    }
}
