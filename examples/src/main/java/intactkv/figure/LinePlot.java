package intactkv.figure;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.Point;
import java.awt.Rectangle;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;

/**
 * Line and scatter plots as a figure model and its rendering: axes from {@link Axis} (so a
 * quantity compared by size starts at 0 and every tick label has the same format), one colour
 * and marker per series, and a legend beside the plot that draws each series with its own
 * colour, marker and line, so legend and points cannot disagree. Points that a log axis cannot
 * show (values <= 0) are left out and counted in the series' legend entry.
 */
public final class LinePlot {
    /** How a series is drawn. */
    public enum Style { LINE_AND_MARKERS, MARKERS, LINE }

    /** Marker shapes: filled circle, hollow triangle (for a second series of the same colour). */
    public enum Marker { CIRCLE, TRIANGLE }

    /** One series: points (x[i], y[i]) in one colour. */
    public record Series(String name, double[] x, double[] y, Color colour, Style style, Marker marker) {
        public Series {
            if (x.length != y.length) {
                throw new IllegalArgumentException("series '" + name + "': " + x.length + " x values, " + y.length
                        + " y values");
            }
        }
    }

    /** What to draw; footer lines go along the bottom edge. */
    public record Spec(String title, Axis x, Axis y, List<Series> series, List<String> footer) {
        public Spec {
            series = List.copyOf(series);
            footer = List.copyOf(footer);
        }
    }

    /** Okabe-Ito colours (distinguishable with colour-blindness), in the order series take them. */
    public static final List<Color> PALETTE = List.of(new Color(0, 114, 178), new Color(213, 94, 0),
            new Color(0, 158, 115), new Color(204, 121, 167), new Color(230, 159, 0), new Color(86, 180, 233),
            new Color(0, 0, 0));

    private static final int LEFT = 96;
    private static final int PLOT_W = 640;
    private static final int PLOT_H = 420;
    private static final int BOTTOM = 64;
    private static final int MARKER = 4;

    private final Spec spec;
    private final Rectangle plot;
    private final int legendX;
    private final int width;
    private final int height;

    public LinePlot(Spec spec) {
        this.spec = spec;
        int top = 16 + 20 * Canvas.titleLines(spec.title()) + 14;
        plot = new Rectangle(LEFT, top, PLOT_W, PLOT_H);
        legendX = plot.x + plot.width + 24;
        Canvas probe = new Canvas(1, 1);
        int legendW = 0;
        for (int i = 0; i < spec.series().size(); i++) {
            legendW = Math.max(legendW, probe.width(Canvas.TICK, legendLabel(i)));
        }
        width = legendX + 34 + Math.min(legendW, 300) + 16;
        height = top + PLOT_H + BOTTOM + Canvas.FOOTER_LINE * spec.footer().size() + 6;
    }

    public Spec spec() {
        return spec;
    }

    /** The pixel rectangle of the plot area: x.min at its left edge, y.min at its bottom edge. */
    public Rectangle plotArea() {
        return new Rectangle(plot);
    }

    /** The pixel column of data value {@code x}. */
    public int xPixel(double x) {
        return plot.x + (int) Math.round(spec.x().fraction(x) * (plot.width - 1));
    }

    /** The pixel row of data value {@code y}. */
    public int yPixel(double y) {
        return plot.y + plot.height - 1 - (int) Math.round(spec.y().fraction(y) * (plot.height - 1));
    }

    /** The centre of series {@code i}'s marker in the legend. */
    public Point legendMarker(int i) {
        return new Point(legendX + 14, plot.y + 12 + 20 * i);
    }

    /** Series {@code i}'s legend text: its name, and how many points a log axis left out. */
    public String legendLabel(int i) {
        int hidden = 0;
        Series s = spec.series().get(i);
        for (int k = 0; k < s.x().length; k++) {
            hidden += drawable(s.x()[k], s.y()[k]) ? 0 : 1;
        }
        return hidden == 0 ? s.name() : s.name() + " (" + hidden + " not drawn: <= 0 on a log axis)";
    }

    private boolean drawable(double x, double y) {
        return Double.isFinite(x) && Double.isFinite(y) && (!spec.x().log() || x > 0) && (!spec.y().log() || y > 0);
    }

    public BufferedImage render() {
        Canvas cv = new Canvas(width, height);
        Graphics2D g = cv.g;
        cv.title(spec.title(), plot.x + plot.width / 2.0);
        g.setColor(Canvas.GRID);
        for (Tick t : spec.x().ticks()) {
            g.drawLine(xPixel(t.value()), plot.y, xPixel(t.value()), plot.y + plot.height - 1);
        }
        for (Tick t : spec.y().ticks()) {
            g.drawLine(plot.x, yPixel(t.value()), plot.x + plot.width - 1, yPixel(t.value()));
        }
        g.setColor(Canvas.INK);
        g.drawRect(plot.x - 1, plot.y - 1, plot.width + 1, plot.height + 1);
        for (Tick t : spec.x().ticks()) {
            int x = xPixel(t.value());
            g.drawLine(x, plot.y + plot.height, x, plot.y + plot.height + 4);
            cv.centred(Canvas.TICK, t.label(), x, plot.y + plot.height + 18);
        }
        for (Tick t : spec.y().ticks()) {
            int y = yPixel(t.value());
            g.drawLine(plot.x - 5, y, plot.x - 1, y);
            cv.rightAligned(Canvas.TICK, t.label(), plot.x - 8, y);
        }
        cv.centred(Canvas.AXIS, spec.x().title(), plot.x + plot.width / 2.0, plot.y + plot.height + 42);
        cv.vertical(Canvas.AXIS, spec.y().title(), 20, plot.y + plot.height / 2.0);
        g.setClip(plot);
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        for (Series s : spec.series()) {
            drawSeries(g, s);
        }
        g.setClip(null);
        for (int i = 0; i < spec.series().size(); i++) {
            Series s = spec.series().get(i);
            Point p = legendMarker(i);
            g.setColor(s.colour());
            if (s.style() != Style.MARKERS) {
                g.setStroke(new BasicStroke(2f));
                g.drawLine(p.x - 12, p.y, p.x + 12, p.y);
                g.setStroke(new BasicStroke(1f));
            }
            if (s.style() != Style.LINE) {
                marker(g, s, p.x, p.y);
            }
            g.setColor(Canvas.INK);
            cv.leftAligned(Canvas.TICK, cv.fit(Canvas.TICK, legendLabel(i), 300), p.x + 20, p.y);
        }
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_OFF);
        cv.footer(spec.footer());
        return cv.image;
    }

    private void drawSeries(Graphics2D g, Series s) {
        g.setColor(s.colour());
        List<Point> pts = new ArrayList<>();
        for (int k = 0; k < s.x().length; k++) {
            if (drawable(s.x()[k], s.y()[k])) {
                pts.add(new Point(xPixel(s.x()[k]), yPixel(s.y()[k])));
            }
        }
        if (s.style() != Style.MARKERS && pts.size() > 1) {
            Path2D.Double path = new Path2D.Double();
            path.moveTo(pts.get(0).x, pts.get(0).y);
            for (Point p : pts.subList(1, pts.size())) {
                path.lineTo(p.x, p.y);
            }
            g.setStroke(new BasicStroke(2f));
            g.draw(path);
            g.setStroke(new BasicStroke(1f));
        }
        if (s.style() != Style.LINE) {
            for (Point p : pts) {
                marker(g, s, p.x, p.y);
            }
        }
    }

    /** A marker centred on (x, y); a filled circle's centre pixel is exactly the series colour. */
    private static void marker(Graphics2D g, Series s, int x, int y) {
        if (s.marker() == Marker.CIRCLE) {
            g.fillOval(x - MARKER, y - MARKER, 2 * MARKER + 1, 2 * MARKER + 1);
        } else {
            Path2D.Double t = new Path2D.Double();
            t.moveTo(x, y - MARKER - 1);
            t.lineTo(x + MARKER + 1, y + MARKER);
            t.lineTo(x - MARKER - 1, y + MARKER);
            t.closePath();
            g.setStroke(new BasicStroke(1.5f));
            g.draw(t);
            g.setStroke(new BasicStroke(1f));
        }
    }
}
