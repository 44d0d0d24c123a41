package intactkv.bench;

import java.util.function.LongSupplier;

/**
 * The shortest time of a repeated piece of work, after a warm-up, by a given clock: the warm-up runs at least
 * {@code warmCalls} calls and {@code warmS} seconds of wall time (the kernels compiled by C2, the buffers touched),
 * then at least {@code timedCalls} calls and {@code timedS} seconds are timed one by one. A window of seconds rather
 * than a count keeps a short call from being timed before C2 has compiled it, and gives a burst of another tenant's
 * load on a shared machine room to pass (docs/PERFORMANCE.md, sessions 22 and 23). Used by {@link GemmPeak} and
 * {@link GemvStored}.
 */
final class BestTime {
    private BestTime() {
    }

    /** Seconds of the fastest timed call of {@code work}, by {@code clock} (nanoseconds). */
    static double seconds(Runnable work, LongSupplier clock, int warmCalls, double warmS, int timedCalls,
                          double timedS) {
        long w0 = System.nanoTime();
        for (int it = 0; it < warmCalls || System.nanoTime() - w0 < warmS * 1e9; it++) {
            work.run();
        }
        double best = Double.POSITIVE_INFINITY;
        long t0 = System.nanoTime();
        for (int it = 0; it < timedCalls || System.nanoTime() - t0 < timedS * 1e9; it++) {
            long c0 = clock.getAsLong();
            work.run();
            best = Math.min(best, (clock.getAsLong() - c0) / 1e9);
        }
        return best;
    }
}
