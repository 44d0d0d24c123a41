package intactkv.cli;

import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * A one-line progress bar on standard error for long jobs: stage, bar, percentage (rounded
 * down, so 100 % means done), an optional message (loss), the stage's elapsed time and its time
 * left (estimated from the stage's own pace, not the whole command's).
 *
 * <p>Where it goes is decided by whether standard <em>error</em> is a terminal
 * ({@link #stderrIsTerminal}), not standard output: {@code > results.txt} in a terminal keeps the
 * live bar, and {@code 2> run.log} gets plain lines. On a terminal the bar is redrawn in place
 * with a carriage return at most every 200 ms and ends its line when the stage completes, so
 * results printed afterwards start on a line of their own. Otherwise (logs, CI) each stage prints
 * a first line at once and one line each time it passes a quarter (25, 50, 75 and 100 %),
 * never the same quarter twice.
 */
final class ProgressBar implements AutoCloseable {
    private static final int WIDTH = 30;
    /** The system property the launcher sets to 1 when standard error is a terminal ({@code [ -t 2 ]}), else 0. */
    static final String TTY_PROPERTY = "intactkv.stderr.tty";
    private final PrintStream out;
    private final boolean terminal;
    private final LongSupplier clock;
    private long start;
    private String stage;
    private long lastDraw;
    private int lastQuarter = -1;
    private boolean lineOpen;
    private double lastFraction;

    /** A bar on {@code out}, redrawn in place when {@code terminal}; {@code clock} gives nanoseconds (tests fix it). */
    ProgressBar(PrintStream out, boolean terminal, LongSupplier clock) {
        this.out = out;
        this.terminal = terminal;
        this.clock = clock;
        this.start = clock.getAsLong();
    }

    ProgressBar(PrintStream out, boolean terminal) {
        this(out, terminal, System::nanoTime);
    }

    ProgressBar() {
        this(System.err, stderrIsTerminal(System.getProperty(TTY_PROPERTY), System.console() != null));
    }

    /**
     * Whether standard error is a terminal. Java 17 cannot ask that of one stream, so the
     * {@code ./intactkv} launcher tests it ({@code [ -t 2 ]}) and passes {@code -D}{@value #TTY_PROPERTY}
     * = 1 or 0; without the property (a direct {@code java -jar}) the answer falls back to
     * whether the JVM has a console ({@code System.console()}: standard input and output are
     * both terminals), the best guess Java 17 has.
     */
    static boolean stderrIsTerminal(String property, boolean hasConsole) {
        if (property == null || property.isBlank()) {
            return hasConsole;
        }
        return property.strip().equals("1") || property.strip().equalsIgnoreCase("true");
    }

    /** Shows {@code stage} at fraction {@code done} in [0, 1] with an optional {@code message}. */
    synchronized void update(String stage, double done, String message) {
        double f = Math.max(0, Math.min(1, done));
        long now = clock.getAsLong();
        boolean first = false;
        if (!stage.equals(this.stage) || f < lastFraction) { // a new task (or the same one again): its own clock
            endLine();
            this.stage = stage;
            start = now;
            lastQuarter = -1;
            lastDraw = 0;
            first = true;
        }
        lastFraction = f;
        int quarter = f == 1 ? 4 : (int) (f * 4);
        boolean draw = terminal ? first || now - lastDraw >= 200_000_000L || (f == 1 && lastQuarter < 4)
                : first || quarter > lastQuarter;
        if (!draw) {
            return;
        }
        lastDraw = now;
        lastQuarter = Math.max(lastQuarter, quarter);
        double elapsed = (now - start) / 1e9;
        // no pace yet at the stage's first update (its clock starts there): the time left is unknown, not 0
        double left = f == 1 ? 0 : f > 0 && now > start ? elapsed * (1 - f) / f : Double.NaN;
        int filled = (int) Math.round(f * WIDTH);
        String line = String.format(Locale.ROOT, "%-10s [%s%s] %3d%% %selapsed %s, left %s", stage,
                "#".repeat(filled), ".".repeat(WIDTH - filled), (int) Math.floor(100 * f + 1e-9),
                message == null ? "" : message + " ", time(elapsed), Double.isNaN(left) ? "?" : time(left));
        if (terminal) {
            out.print("\r" + line + "\u001b[K");
            lineOpen = true;
            if (f == 1) {
                endLine();
            }
        } else {
            out.println(line);
        }
        out.flush();
    }

    private void endLine() {
        if (lineOpen) {
            out.println();
            lineOpen = false;
        }
    }

    void update(String stage, double done) {
        update(stage, done, null);
    }

    private static String time(double s) {
        return s < 60 ? String.format(Locale.ROOT, "%.0fs", s) : String.format(Locale.ROOT, "%dm%02ds", (int) s / 60, (int) s % 60);
    }

    @Override
    public synchronized void close() {
        endLine();
        out.flush();
    }
}
