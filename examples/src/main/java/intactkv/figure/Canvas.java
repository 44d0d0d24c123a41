package intactkv.figure;

import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.image.BufferedImage;
import java.util.List;

/**
 * The drawing surface shared by the figures: a white RGB image with anti-aliased text, the
 * fonts, and text placement (centred, right-aligned, rotated, shortened to a width). The
 * provenance footer is drawn here too, in small grey type along the bottom edge.
 */
final class Canvas {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    static final Font TITLE = new Font(Font.SANS_SERIF, Font.BOLD, 16);
    static final Font AXIS = new Font(Font.SANS_SERIF, Font.PLAIN, 13);
    static final Font TICK = new Font(Font.SANS_SERIF, Font.PLAIN, 11);
    static final Font FOOTER = new Font(Font.SANS_SERIF, Font.PLAIN, 10);
    /** Height in pixels of one footer line. */
    static final int FOOTER_LINE = 13;
    static final Color INK = new Color(30, 30, 30);
    static final Color GRID = new Color(225, 225, 225);
    static final Color FOOTER_INK = new Color(110, 110, 110);

    final BufferedImage image;
    final Graphics2D g;

    Canvas(int width, int height) {
        image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        g = image.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_FRACTIONALMETRICS, RenderingHints.VALUE_FRACTIONALMETRICS_ON);
        g.setColor(INK);
    }

    /** Width of {@code s} in {@code font}. */
    int width(Font font, String s) {
        return g.getFontMetrics(font).stringWidth(s);
    }

    /** Draws {@code s} centred horizontally on {@code cx} with its baseline at {@code y}. */
    void centred(Font font, String s, double cx, int y) {
        g.setFont(font);
        g.drawString(s, (float) (cx - width(font, s) / 2.0), y);
    }

    /** Draws {@code s} right-aligned at {@code x}, vertically centred on {@code cy}. */
    void rightAligned(Font font, String s, int x, double cy) {
        g.setFont(font);
        FontMetrics fm = g.getFontMetrics(font);
        g.drawString(s, x - fm.stringWidth(s), (float) (cy + (fm.getAscent() - fm.getDescent()) / 2.0));
    }

    /** Draws {@code s} left-aligned at {@code x}, vertically centred on {@code cy}. */
    void leftAligned(Font font, String s, int x, double cy) {
        g.setFont(font);
        FontMetrics fm = g.getFontMetrics(font);
        g.drawString(s, x, (float) (cy + (fm.getAscent() - fm.getDescent()) / 2.0));
    }

    /** Draws {@code s} rotated a quarter turn anticlockwise (read bottom to top), centred on (x, cy). */
    void vertical(Font font, String s, int x, double cy) {
        AffineTransform saved = g.getTransform();
        g.setFont(font);
        g.translate(x, cy);
        g.rotate(-Math.PI / 2);
        g.drawString(s, -width(font, s) / 2f, 0);
        g.setTransform(saved);
    }

    /** The title, one line per {@code \n}, centred on {@code cx} from the top edge; returns the y below it. */
    int title(String title, double cx) {
        int y = 24;
        for (String line : title.split("\n")) {
            centred(TITLE, line, cx, y);
            y += 20;
        }
        return y;
    }

    /** The footer lines along the bottom edge, each shortened with "…" to fit the image width. */
    void footer(List<String> lines) {
        g.setColor(FOOTER_INK);
        int y = image.getHeight() - 6 - FOOTER_LINE * (lines.size() - 1);
        for (String line : lines) {
            g.setFont(FOOTER);
            g.drawString(fit(FOOTER, line, image.getWidth() - 16), 8, y);
            y += FOOTER_LINE;
        }
        g.setColor(INK);
    }

    /** {@code s}, cut and ended with "…" where it is wider than {@code max} pixels. */
    String fit(Font font, String s, int max) {
        if (width(font, s) <= max) {
            return s;
        }
        int n = s.length();
        while (n > 0 && width(font, s.substring(0, n) + "…") > max) {
            n--;
        }
        return s.substring(0, n) + "…";
    }

    /** Number of title lines. */
    static int titleLines(String title) {
        return title.split("\n").length;
    }
}
