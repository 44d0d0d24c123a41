package intactkv.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class ParallelTest {
    @Test
    void everyIndexRunsExactlyOnce() {
        for (int n : new int[] {0, 1, 2, 7, 1000}) {
            AtomicIntegerArray hits = new AtomicIntegerArray(n);
            Parallel.forRange(n, 1, (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    hits.incrementAndGet(i);
                }
            });
            for (int i = 0; i < n; i++) {
                assertEquals(1, hits.get(i), "index " + i + " of " + n);
            }
        }
    }

    /** Counts how often each index of [0, n) is run by one call. */
    private static AtomicIntegerArray run(int n) {
        AtomicIntegerArray hits = new AtomicIntegerArray(n);
        Parallel.forRange(n, 1, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                hits.incrementAndGet(i);
            }
        });
        return hits;
    }

    private static void assertOnce(AtomicIntegerArray hits, String what) {
        for (int i = 0; i < hits.length(); i++) {
            assertEquals(1, hits.get(i), what + ": index " + i);
        }
    }

    /**
     * Calls with gaps shorter and longer than the workers' spin ({@link Parallel#SPIN_NANOS}), so that each worker
     * is found spinning or parked: every call ends (a hand-off lost between the worker's last look and its park would
     * hang here, and the timeout fails it) and runs every index once.
     */
    @Test
    void handOffsToSpinningAndParkedWorkersAllEnd() {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            long[] gaps = {0, 1_000, 50_000, 150_000, 250_000, 1_000_000};
            for (int i = 0; i < 600; i++) {
                long t0 = System.nanoTime();
                while (System.nanoTime() - t0 < gaps[i % gaps.length]) {
                    Thread.onSpinWait();
                }
                assertOnce(run(64 + i % 7), "call " + i);
            }
        });
    }

    /**
     * Calls from several threads at once (one holds the workers, the others run on the fork-join pool) and calls
     * made from inside a chunk (sequential, whichever thread runs the chunk) each run every index once.
     */
    @Test
    void concurrentAndNestedCallsRunEveryIndexOnce() throws Exception {
        List<Thread> threads = new ArrayList<>();
        List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int t = 0; t < 4; t++) {
            Thread th = new Thread(() -> {
                try {
                    for (int i = 0; i < 300; i++) {
                        assertOnce(run(100 + i % 13), "concurrent call " + i);
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            });
            threads.add(th);
            th.start();
        }
        for (Thread th : threads) {
            th.join(60_000);
            assertTrue(!th.isAlive(), "a concurrent caller did not finish");
        }
        assertEquals(List.of(), failures);

        AtomicIntegerArray inner = new AtomicIntegerArray(50 * 40);
        Parallel.forRange(50, 1, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                int row = i;
                Parallel.forRange(40, 1, (a, b) -> {
                    for (int j = a; j < b; j++) {
                        inner.incrementAndGet(row * 40 + j);
                    }
                });
            }
        });
        assertOnce(inner, "nested");
    }

    /** An Error thrown in the last chunk (a worker's, on two cores) reaches the caller as it is; the next call runs. */
    @Test
    void anErrorInAWorkersChunkReachesTheCallerAndTheWorkersGoOn() {
        AssertionError e = assertThrows(AssertionError.class, () -> Parallel.forRange(100, 1, (lo, hi) -> {
            if (hi == 100) {
                throw new AssertionError("worker chunk failed");
            }
        }));
        assertEquals("worker chunk failed", e.getMessage());
        assertOnce(run(1000), "the call after");
    }

    @Test
    void exceptionsReachTheCaller() {
        // the last chunk fails, whichever thread runs it (a pool task's exception may come back rewrapped)
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Parallel.forRange(100, 1,
                (lo, hi) -> {
                    if (hi == 100) {
                        throw new IllegalStateException("last chunk failed");
                    }
                }));
        assertTrue(e.getMessage().contains("last chunk failed"), e.getMessage());
    }
}
