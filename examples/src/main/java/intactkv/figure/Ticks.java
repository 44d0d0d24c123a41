package intactkv.figure;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Tick positions and labels that read the same along an axis: "nice" steps (1, 2 or 5 times a
 * power of ten), every label of an axis with the same number of decimals, and, for values below
 * 0.01 or from 10^5 on, one power of ten taken out of all labels and named once in the axis title
 * (so {@code 0.00095, 0.0009} become {@code 9.5, 9.0} with "×10⁻⁴" in the title).
 */
public final class Ticks {
    private Ticks() {
    }

    /** Ticks of a linear axis and the power of ten factored out of their labels (0: none). */
    public record Scaled(List<Tick> ticks, int exponent) {
        /** The suffix for the axis title, e.g. {@code " (×10⁻⁴)"}, or "" when nothing is factored out. */
        public String titleSuffix() {
            return exponent == 0 ? "" : " (×" + power(exponent) + ")";
        }
    }

    /** The smallest step of 1, 2 or 5 times a power of ten that covers {@code range} in at most {@code maxCount} ticks. */
    static double niceStep(double range, int maxCount) {
        if (!(range > 0) || maxCount < 2) {
            throw new IllegalArgumentException("tick range must be > 0 and at most >= 2 ticks: " + range + ", " + maxCount);
        }
        double raw = range / (maxCount - 1);
        double p = Math.pow(10, Math.floor(Math.log10(raw)));
        for (double m : new double[] {1, 2, 5, 10}) {
            if (m * p >= raw * (1 - 1e-12)) {
                return m * p;
            }
        }
        return 10 * p;
    }

    /**
     * Ticks at multiples of a nice step inside {@code [min, max]}, at most {@code maxCount} of them,
     * labelled with a common number of decimals after factoring out {@link Scaled#exponent}.
     */
    public static Scaled linear(double min, double max, int maxCount) {
        double step = niceStep(max - min, maxCount);
        long first = (long) Math.ceil(min / step - 1e-9);
        long last = (long) Math.floor(max / step + 1e-9);
        double largest = Math.max(Math.abs(first * step), Math.abs(last * step));
        int exponent = largest > 0 && (largest < 1e-2 || largest >= 1e5) ? (int) Math.floor(Math.log10(largest)) : 0;
        double scale = Math.pow(10, exponent);
        int decimals = Math.max(0, (int) -Math.floor(Math.log10(step / scale) + 1e-9));
        List<Tick> ticks = new ArrayList<>();
        for (long i = first; i <= last; i++) {
            double v = i * step;
            ticks.add(new Tick(v, fixed(v / scale, decimals)));
        }
        return new Scaled(ticks, exponent);
    }

    /** Integer ticks in {@code [lo, hi]} every 1, 2, 5, 10, 20, ... so that at most {@code maxCount} are labelled. */
    public static List<Tick> integers(int lo, int hi, int maxCount) {
        int step = hi > lo ? (int) Math.max(1, Math.round(niceStep(hi - lo, maxCount))) : 1;
        List<Tick> ticks = new ArrayList<>();
        for (long v = (long) Math.ceil((double) lo / step) * step; v <= hi; v += step) {
            ticks.add(new Tick(v, Long.toString(v)));
        }
        return ticks;
    }

    /** A tick at every power of ten in {@code [min, max]} (min > 0), labelled 10⁻³, 10⁰, ...; every other one when many. */
    public static List<Tick> decades(double min, double max, int maxCount) {
        if (!(min > 0) || !(max > min)) {
            throw new IllegalArgumentException("a log axis needs 0 < min < max: " + min + ", " + max);
        }
        int lo = (int) Math.ceil(Math.log10(min) - 1e-9);
        int hi = (int) Math.floor(Math.log10(max) + 1e-9);
        int every = Math.max(1, (int) Math.ceil((hi - lo + 1) / (double) maxCount));
        List<Tick> ticks = new ArrayList<>();
        for (int e = lo; e <= hi; e++) {
            if (Math.floorMod(e, every) == 0) {
                ticks.add(new Tick(Math.pow(10, e), power(e)));
            }
        }
        return ticks;
    }

    /** {@code v} with exactly {@code decimals} decimals, "-0" written as "0". */
    static String fixed(double v, int decimals) {
        String s = String.format(Locale.ROOT, "%." + decimals + "f", v);
        return s.matches("-0(\\.0*)?") ? s.substring(1) : s;
    }

    /** 10 to the power {@code e} with superscript digits: {@code 10⁻⁴}. */
    static String power(int e) {
        String sup = "⁰¹²³⁴⁵⁶⁷⁸⁹";
        StringBuilder sb = new StringBuilder("10");
        if (e < 0) {
            sb.append('⁻');
        }
        for (char c : Integer.toString(Math.abs(e)).toCharArray()) {
            sb.append(sup.charAt(c - '0'));
        }
        return sb.toString();
    }
}
