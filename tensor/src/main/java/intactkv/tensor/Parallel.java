package intactkv.tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * The one place where this project runs work on several threads.
 *
 * <p>{@link #forRange} splits {@code [0, n)} into contiguous chunks, one per core: the calling
 * thread runs the first and {@code cores - 1} daemon worker threads the others. Callers only parallelise loops whose
 * iterations write disjoint outputs and whose per-element arithmetic does not depend on the chunking, so
 * results are bit-identical for any number of threads. A call made from inside a chunk runs
 * sequentially (no nested fan-out).
 *
 * <p>A worker that finishes its chunk waits for the next one by spinning for {@link #SPIN_NANOS} before it parks.
 * A parked thread takes 55-69 us on average to wake (tools/bench/ForkCost.java, 2026-12-07, against 10-16 us when
 * the calls come close together), and a decoding step hands out about 155 products with a few microseconds of
 * other work between them, so the worker that spins is there when the next product starts. One call at a time
 * uses these workers; a call made while another thread's call holds them (a background thread's work beside the
 * main thread's) goes to a {@link ForkJoinPool} of as many threads instead, as every call did before.
 */
public final class Parallel {
    private static final int THREADS = Math.max(1, Runtime.getRuntime().availableProcessors());
    /** How long an idle worker spins for its next chunk before it parks: 0.2 ms, a few decoding products. */
    static final long SPIN_NANOS = 200_000;
    private static final Worker[] WORKERS = startWorkers(THREADS - 1);
    /** Whether a call holds {@link #WORKERS}. */
    private static final AtomicBoolean HELD = new AtomicBoolean();
    /** The thread whose call holds the workers (a call it makes from its own chunk runs sequentially). */
    private static volatile Thread holder;
    /** For calls made while the workers are held by another thread's call. */
    private static final ForkJoinPool POOL = new ForkJoinPool(Math.max(1, THREADS - 1), pool -> {
        ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
        t.setName("intactkv-pool-" + t.getPoolIndex());
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
     * already on a worker. An exception of any chunk reaches the caller once every chunk has ended.
     */
    public static void forRange(int n, int minChunk, RangeBody body) {
        int chunks = Math.min(THREADS, Math.max(1, n / Math.max(1, minChunk)));
        Thread me = Thread.currentThread();
        if (chunks <= 1 || me instanceof Worker || me == holder || ForkJoinTask.inForkJoinPool()) {
            body.run(0, n);
            return;
        }
        if (!HELD.compareAndSet(false, true)) {
            onPool(n, chunks, body);
            return;
        }
        holder = me;
        try {
            for (int c = 1; c < chunks; c++) {
                WORKERS[c - 1].give(lo(n, c, chunks), lo(n, c + 1, chunks), body);
            }
            Throwable failure = null;
            try {
                body.run(0, lo(n, 1, chunks));
            } catch (RuntimeException | Error e) {
                failure = e;
            }
            for (int c = 1; c < chunks; c++) {
                Throwable t = WORKERS[c - 1].awaitChunk();
                if (failure == null) {
                    failure = t;
                }
            }
            rethrow(failure);
        } finally {
            holder = null;
            HELD.set(false);
        }
    }

    /** Where chunk c of {@code chunks} over {@code [0, n)} starts. */
    private static int lo(int n, int c, int chunks) {
        return (int) ((long) n * c / chunks);
    }

    /** {@link #forRange}'s chunks 1.. on the fork-join pool, chunk 0 on the calling thread. */
    private static void onPool(int n, int chunks, RangeBody body) {
        List<ForkJoinTask<?>> tasks = new ArrayList<>(chunks - 1);
        for (int c = 1; c < chunks; c++) {
            int lo = lo(n, c, chunks);
            int hi = lo(n, c + 1, chunks);
            tasks.add(POOL.submit(() -> body.run(lo, hi)));
        }
        RuntimeException failure = null;
        try {
            body.run(0, lo(n, 1, chunks));
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

    private static void rethrow(Throwable failure) {
        if (failure instanceof RuntimeException e) {
            throw e;
        }
        if (failure instanceof Error e) {
            throw e;
        }
    }

    private static Worker[] startWorkers(int count) {
        Worker[] workers = new Worker[count];
        for (int i = 0; i < count; i++) {
            workers[i] = new Worker(i);
            workers[i].start();
        }
        return workers;
    }

    /**
     * A thread that runs one chunk at a time. The hand-off: the caller writes the range, then the body (volatile);
     * the worker reads the body, then the range, runs it, records a failure, clears the body and sets {@code done}
     * (volatile), after which the caller reads the outputs. A worker about to park first says so ({@code parked},
     * volatile) and then looks for a body once more; the caller first publishes the body and then looks at
     * {@code parked}: one of the two sees the other's write, so no chunk waits for a wake-up that never comes.
     */
    private static final class Worker extends Thread {
        private int lo;
        private int hi;
        private volatile RangeBody body;
        private volatile boolean done = true;
        private volatile boolean parked;
        private volatile Throwable failure;

        Worker(int index) {
            super("intactkv-worker-" + index);
            setDaemon(true);
        }

        /** Hands this worker the chunk {@code [lo, hi)} of {@code b} (it has finished its previous one). */
        void give(int lo, int hi, RangeBody b) {
            this.lo = lo;
            this.hi = hi;
            failure = null;
            done = false;
            body = b;
            if (parked) {
                LockSupport.unpark(this);
            }
        }

        /** Waits until the chunk given last has ended; its failure, or null. Spins, then parks a little at a time. */
        Throwable awaitChunk() {
            long t0 = System.nanoTime();
            while (!done) {
                if (System.nanoTime() - t0 < SPIN_NANOS) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.parkNanos(20_000);
                }
            }
            return failure;
        }

        @Override
        public void run() {
            while (true) {
                RangeBody b = next();
                try {
                    b.run(lo, hi);
                } catch (RuntimeException | Error e) {
                    failure = e;
                }
                body = null;
                done = true;
            }
        }

        /** The next chunk's body: spun for {@link #SPIN_NANOS}, then parked for. */
        private RangeBody next() {
            long t0 = System.nanoTime();
            RangeBody b;
            while ((b = body) == null) {
                if (System.nanoTime() - t0 < SPIN_NANOS) {
                    Thread.onSpinWait();
                    continue;
                }
                parked = true;
                while ((b = body) == null) {
                    LockSupport.park(this);
                }
                parked = false;
                return b;
            }
            return b;
        }
    }
}
