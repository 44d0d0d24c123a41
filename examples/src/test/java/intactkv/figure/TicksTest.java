package intactkv.figure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Tick labels read the same along an axis, and stay few at any size. */
class TicksTest {
    /** The MSE axis of the issue (ticks that read .00095, .0009): one power of ten factored out, one decimal count. */
    @Test
    void smallValuesShareOneExponentAndOneFormat() {
        Ticks.Scaled t = Ticks.linear(0, 0.001, 7);
        assertEquals(-3, t.exponent());
        assertEquals(" (×10⁻³)", t.titleSuffix());
        List<String> labels = t.ticks().stream().map(Tick::label).toList();
        assertEquals(List.of("0.0", "0.2", "0.4", "0.6", "0.8", "1.0"), labels);
        Ticks.Scaled u = Ticks.linear(0.0006, 0.00096, 8); // the old axis range: step 1e-4, labels 6 7 8 9 (x 10^-4)
        assertEquals(-4, u.exponent());
        assertEquals(List.of("6", "7", "8", "9"), u.ticks().stream().map(Tick::label).toList());
        for (Tick k : Ticks.linear(0.0006, 0.00096, 15).ticks()) {
            assertTrue(k.label().matches("\\d\\.\\d"), k.label()); // 6.0, 6.5, ..., 9.5: one decimal each
            assertEquals(k.value() / 1e-4, Double.parseDouble(k.label()), 1e-9);
        }
    }

    @Test
    void ordinaryValuesNeedNoExponent() {
        Ticks.Scaled t = Ticks.linear(0, 1, 6);
        assertEquals(0, t.exponent());
        assertEquals(List.of("0.0", "0.2", "0.4", "0.6", "0.8", "1.0"), t.ticks().stream().map(Tick::label).toList());
        assertEquals(List.of("0", "5", "10", "15", "20"),
                Ticks.linear(0, 20, 6).ticks().stream().map(Tick::label).toList());
    }

    /** Integer axes (positions, IntactKV sizes) are thinned to at most the count asked, at 1-2-5 steps. */
    @Test
    void integerTicksAreThinnedAtAnySize() {
        for (int n : new int[] {1, 2, 9, 35, 64, 857, 4096, 100000}) {
            List<Tick> t = Ticks.integers(0, n - 1, 12);
            assertTrue(t.size() <= 12 && !t.isEmpty(), n + ": " + t.size());
            assertEquals(0, t.get(0).value());
            double step = t.size() > 1 ? t.get(1).value() - t.get(0).value() : 1;
            String s = Long.toString((long) step);
            assertTrue(s.matches("[125]0*"), n + ": step " + step);
        }
        assertEquals(List.of("0", "5", "10", "15", "20", "25", "30"),
                Ticks.integers(0, 34, 12).stream().map(Tick::label).toList());
    }

    @Test
    void logAxesAreLabelledByPowersOfTen() {
        List<Tick> t = Ticks.decades(1e-3, 10, 8);
        assertEquals(List.of("10⁻³", "10⁻²", "10⁻¹", "10⁰", "10¹"), t.stream().map(Tick::label).toList());
        assertTrue(Ticks.decades(1e-300, 1, 8).size() <= 8);
    }
}
