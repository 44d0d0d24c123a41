package intactkv.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
