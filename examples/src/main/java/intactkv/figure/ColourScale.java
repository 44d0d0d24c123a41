package intactkv.figure;

import java.awt.Color;
import java.util.List;

/**
 * The colour scale of a heat map: values in {@code [min, max]} mapped, linearly or by their
 * logarithm, onto the viridis colour map (dark blue-violet for small, yellow for large: ordered
 * in lightness, so it also reads in grey and for colour-blind readers). Values outside the range
 * are drawn in the end colour; NaN marks a masked cell (drawn {@link #MASKED}). The title labels
 * the colour bar and says what the scale is.
 */
public record ColourScale(String title, double min, double max, boolean log, List<Tick> ticks) {
    /** Colour of masked cells (NaN): the causal mask's upper triangle, for example. */
    public static final Color MASKED = new Color(235, 235, 235);

    /** Viridis sampled at 9 equally spaced points (matplotlib's table), interpolated linearly between them. */
    private static final int[][] VIRIDIS = {
        {68, 1, 84}, {71, 44, 122}, {59, 81, 139}, {44, 113, 142}, {33, 144, 141},
        {39, 173, 129}, {92, 200, 99}, {170, 220, 50}, {253, 231, 37}};

    public ColourScale {
        ticks = List.copyOf(ticks);
        if (!(max > min) || (log && !(min > 0)) || !Double.isFinite(max)) {
            throw new IllegalArgumentException("colour scale '" + title + "': need min < max (min > 0 when log), got ["
                    + min + ", " + max + "]");
        }
    }

    /**
     * A log scale over {@code decades} powers of ten, from the power of ten at or above
     * {@code dataMax} down: what a quantity spanning orders of magnitude (attention
     * probabilities, |activations|) needs for anything but its largest values to be visible. The
     * title says so and names the floor below which values share the lowest colour.
     */
    public static ColourScale log(String quantity, double dataMax, int decades) {
        double top = dataMax > 0 && Double.isFinite(dataMax) ? dataMax : 1;
        int e = (int) Math.ceil(Math.log10(top) - 1e-9);
        double hi = Math.pow(10, e);
        double lo = Math.pow(10, e - decades);
        String floor = Ticks.power(e - decades);
        return new ColourScale(quantity + " (log scale; values < " + floor + " shown as " + floor + ")", lo, hi, true,
                Ticks.decades(lo, hi, 8));
    }

    /** A linear scale over {@code [min, max]}. */
    public static ColourScale linear(String quantity, double min, double max) {
        Ticks.Scaled t = Ticks.linear(min, max, 6);
        return new ColourScale(quantity + t.titleSuffix(), min, max, false, t.ticks());
    }

    /** Position of {@code v} on the scale, clipped to [0, 1]. */
    public double fraction(double v) {
        double f = log ? (Math.log10(Math.max(v, min)) - Math.log10(min)) / (Math.log10(max) - Math.log10(min))
                : (v - min) / (max - min);
        return Math.min(1, Math.max(0, f));
    }

    /** The colour of {@code v}; {@link #MASKED} for NaN. */
    public Color colour(double v) {
        if (Double.isNaN(v)) {
            return MASKED;
        }
        return at(fraction(v));
    }

    /** The colour map at {@code f} in [0, 1]. */
    static Color at(double f) {
        double x = f * (VIRIDIS.length - 1);
        int i = Math.min(VIRIDIS.length - 2, (int) Math.floor(x));
        double w = x - i;
        int[] a = VIRIDIS[i];
        int[] b = VIRIDIS[i + 1];
        return new Color((int) Math.round(a[0] + w * (b[0] - a[0])), (int) Math.round(a[1] + w * (b[1] - a[1])),
                (int) Math.round(a[2] + w * (b[2] - a[2])));
    }
}
