package intactkv.cli;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line progress bar on standard error for long jobs: stage, bar, percentage, an
 * optional message (loss), the stage's elapsed time and its time left (estimated from the
 * stage's own pace, not the whole command's). On a terminal it is redrawn in place with a
 * carriage return at most every 200 ms and ends its line when the stage completes, so results
 * printed afterwards start on a line of their own. When standard error is not a terminal (CI
 * logs, files) it prints a few plain lines per stage: at 25 %, 50 % and 75 % if the stage has
 * run for at least {@value #QUIET_SECONDS} s, and when it completes.
 */
final class ProgressBar implements AutoCloseable {
    private static final int WIDTH = 30;
    static final int QUIET_SECONDS = 5;
    private final PrintStream out;
    private final boolean terminal;
    private long start = System.nanoTime();
    private String stage;
    private long lastDraw;
    private int lastQuarter = -1;
    private boolean lineOpen;
    private double lastFraction;

    ProgressBar(PrintStream out, boolean terminal) {
        this.out = out;
        this.terminal = terminal;
    }

    ProgressBar(PrintStream out) {
        this(out, System.console() != null);
    }

    ProgressBar() {
        this(System.err);
    }

    /** Shows {@code stage} at fraction {@code done} in [0, 1] with an optional {@code message}. */
    synchronized void update(String stage, double done, String message) {
        double f = Math.max(0, Math.min(1, done));
        long now = System.nanoTime();
        if (!stage.equals(this.stage) || f < lastFraction) { // a new task (or the same one again): its own clock
            endLine();
            this.stage = stage;
            start = now;
            lastQuarter = -1;
            lastDraw = 0;
        }
        lastFraction = f;
        double elapsed = (now - start) / 1e9;
        int quarter = (int) (f * 4);
        boolean draw = terminal ? now - lastDraw >= 200_000_000L || f == 1
                : f == 1 ? lastQuarter < 4 : quarter > lastQuarter && quarter > 0 && elapsed >= QUIET_SECONDS;
        if (!draw) {
            return;
        }
        lastDraw = now;
        lastQuarter = f == 1 ? 4 : quarter;
        double left = f > 0 ? elapsed * (1 - f) / f : Double.NaN;
        int filled = (int) Math.round(f * WIDTH);
        String line = String.format(Locale.ROOT, "%-10s [%s%s] %3.0f%% %s elapsed %s, left %s", stage,
                "#".repeat(filled), ".".repeat(WIDTH - filled), 100 * f, message == null ? "" : message + " ",
                time(elapsed), Double.isNaN(left) ? "?" : time(left));
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
