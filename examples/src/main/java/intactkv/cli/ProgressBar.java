package intactkv.cli;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line progress bar on standard error for long jobs: stage, bar, percentage, an
 * optional message (loss), elapsed time and time left. Redrawn in place with a carriage
 * return at most every 200 ms; when standard error is not a terminal (CI logs), one line is
 * printed per 10 % instead.
 */
final class ProgressBar implements AutoCloseable {
    private static final int WIDTH = 30;
    private final PrintStream out;
    private final boolean terminal;
    private final long start = System.nanoTime();
    private long lastDraw;
    private int lastDecile = -1;
    private String lastLine = "";

    ProgressBar(PrintStream out) {
        this.out = out;
        this.terminal = System.console() != null;
    }

    ProgressBar() {
        this(System.err);
    }

    /** Shows {@code stage} at fraction {@code done} in [0, 1] with an optional {@code message}. */
    synchronized void update(String stage, double done, String message) {
        double f = Math.max(0, Math.min(1, done));
        long now = System.nanoTime();
        int decile = (int) (f * 10);
        if (terminal ? (now - lastDraw < 200_000_000L && f < 1) : decile == lastDecile) {
            return;
        }
        lastDraw = now;
        lastDecile = decile;
        double elapsed = (now - start) / 1e9;
        double left = f > 0 ? elapsed * (1 - f) / f : Double.NaN;
        int filled = (int) Math.round(f * WIDTH);
        String line = String.format(Locale.ROOT, "%-10s [%s%s] %3.0f%% %s elapsed %s, left %s", stage,
                "#".repeat(filled), ".".repeat(WIDTH - filled), 100 * f, message == null ? "" : message + " ",
                time(elapsed), Double.isNaN(left) ? "?" : time(left));
        lastLine = line;
        if (terminal) {
            out.print("\r" + line);
        } else {
            out.println(line);
        }
        out.flush();
    }

    void update(String stage, double done) {
        update(stage, done, null);
    }

    private static String time(double s) {
        return s < 60 ? String.format(Locale.ROOT, "%.0fs", s) : String.format(Locale.ROOT, "%dm%02ds", (int) s / 60, (int) s % 60);
    }

    @Override
    public synchronized void close() {
        if (terminal && !lastLine.isEmpty()) {
            out.println();
        }
    }
}
