package intactkv.tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;

/**
 * The one place where this project runs work on several threads.
 *
 * <p>{@link #forRange} splits {@code [0, n)} into contiguous chunks, one per core: the calling
 * thread runs the first and a pool of {@code cores - 1} daemon threads the others. Callers only parallelise loops whose iterations write
 * disjoint outputs and whose per-element arithmetic does not depend on the chunking, so
 * results are bit-identical for any number of threads. A call made from inside a chunk runs
 * sequentially (no nested fan-out).
 */
public final class Parallel {
    private static final int THREADS = Math.max(1, Runtime.getRuntime().availableProcessors());
    private static final ForkJoinPool POOL = new ForkJoinPool(Math.max(1, THREADS - 1), pool -> {
        ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
        t.setName("intactkv-worker-" + t.getPoolIndex());
        t.setDaemon(true);
        return t;
    }, null, false);

    private Parallel() {
    }

    /** A body run over the half-open range {@code [lo, hi)}. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int lo, int hi);
    }

    /** Number of worker threads (the number of available processors). */
    public static int threads() {
        return THREADS;
    }

    /**
     * Runs {@code body} over {@code [0, n)} in at most {@link #threads()} contiguous chunks of
     * at least {@code minChunk} iterations; sequentially when that gives one chunk or when
     * already on a worker.
     */
    public static void forRange(int n, int minChunk, RangeBody body) {
        int chunks = Math.min(THREADS, Math.max(1, n / Math.max(1, minChunk)));
        if (chunks <= 1 || ForkJoinTask.inForkJoinPool()) {
            body.run(0, n);
            return;
        }
        // Chunks 1.. go to the pool; the calling thread runs chunk 0 itself, then waits.
        List<ForkJoinTask<?>> tasks = new ArrayList<>(chunks - 1);
        for (int c = 1; c < chunks; c++) {
            int lo = (int) ((long) n * c / chunks);
            int hi = (int) ((long) n * (c + 1) / chunks);
            tasks.add(POOL.submit(() -> body.run(lo, hi)));
        }
        RuntimeException failure = null;
        try {
            body.run(0, (int) ((long) n / chunks));
        } catch (RuntimeException e) {
            failure = e;
        }
        for (ForkJoinTask<?> t : tasks) {
            try {
                t.join();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
