package intactkv.figure;

import java.util.List;

/**
 * A numeric axis of a figure: its title (with any power of ten factored out of the labels), the
 * range drawn, linear or logarithmic, and the labelled ticks. The factories choose ranges a
 * reader can trust: a quantity compared by size starts at 0 ({@link #fromZero}), so a 31 % drop
 * looks like 31 %, not like 90 %.
 */
public record Axis(String title, double min, double max, boolean log, List<Tick> ticks) {
    public Axis {
        ticks = List.copyOf(ticks);
        if (!(max > min) || !Double.isFinite(min) || !Double.isFinite(max) || (log && !(min > 0))) {
            throw new IllegalArgumentException("axis '" + title + "': need min < max (and min > 0 on a log axis), got ["
                    + min + ", " + max + "]");
        }
    }

    /** Linear from 0 to a tick at or above {@code dataMax} plus 4 % headroom; at most {@code maxTicks} ticks. */
    public static Axis fromZero(String title, double dataMax, int maxTicks) {
        if (!(dataMax > 0) || !Double.isFinite(dataMax)) {
            Ticks.Scaled t = Ticks.linear(0, 1, maxTicks);
            return new Axis(title + t.titleSuffix(), 0, 1, false, t.ticks());
        }
        double step = Ticks.niceStep(dataMax * 1.04, maxTicks);
        double top = Math.ceil(dataMax * 1.04 / step - 1e-9) * step;
        Ticks.Scaled t = Ticks.linear(0, top, maxTicks);
        return new Axis(title + t.titleSuffix(), 0, top, false, t.ticks());
    }

    /** Linear over exactly {@code [min, max]}. */
    public static Axis fixed(String title, double min, double max, int maxTicks) {
        Ticks.Scaled t = Ticks.linear(min, max, maxTicks);
        return new Axis(title + t.titleSuffix(), min, max, false, t.ticks());
    }

    /** Integer positions {@code lo..hi} (sizes, layers), half a step of margin each side, thinned to {@code maxTicks}. */
    public static Axis integers(String title, int lo, int hi, int maxTicks) {
        return new Axis(title, lo - 0.5, hi + 0.5, false, Ticks.integers(lo, hi, maxTicks));
    }

    /** Logarithmic over the powers of ten that enclose {@code [dataMin, dataMax]} (both > 0). */
    public static Axis log(String title, double dataMin, double dataMax, int maxTicks) {
        double lo = Math.pow(10, Math.floor(Math.log10(dataMin)));
        double hi = Math.pow(10, Math.ceil(Math.log10(dataMax)));
        if (hi <= lo) {
            hi = lo * 10;
        }
        return new Axis(title, lo, hi, true, Ticks.decades(lo, hi, maxTicks));
    }

    /** Where {@code v} lies along the axis: 0 at {@link #min}, 1 at {@link #max} (log-aware, not clipped). */
    public double fraction(double v) {
        return log ? (Math.log10(v) - Math.log10(min)) / (Math.log10(max) - Math.log10(min)) : (v - min) / (max - min);
    }
}
