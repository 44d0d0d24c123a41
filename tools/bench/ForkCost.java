// The round trip of Parallel.forRange over two chunks with trivial bodies, after a gap of work on the calling
// thread alone (0, 20, 100, 300, 1000 microseconds): what one hand-off to the worker costs when the worker has
// parked in between, as between the one-row products of a decoding step (about 155 a TinyLlama token).
//
//   mvn -B -q -o install -DskipTests -pl tensor
//   java -cp tensor/target/classes tools/bench/ForkCost.java
//
import intactkv.tensor.Parallel;
import java.util.Locale;

/** Round trip of Parallel.forRange(2 chunks, trivial bodies) after a gap of caller-only work of G microseconds. */
public class ForkCost {
    static volatile double sink;
    static void spin(long nanos) {
        long t0 = System.nanoTime();
        double s = 0;
        while (System.nanoTime() - t0 < nanos) { s += Math.sqrt(s + 1); }
        sink = s;
    }
    public static void main(String[] a) {
        for (long gapUs : new long[] {0, 20, 100, 300, 1000}) {
            long best = Long.MAX_VALUE, sum = 0; int n = 2000;
            for (int i = 0; i < n + 200; i++) {
                spin(gapUs * 1000);
                long t0 = System.nanoTime();
                Parallel.forRange(2, 1, (lo, hi) -> { sink = lo; });
                long dt = System.nanoTime() - t0;
                if (i >= 200) { best = Math.min(best, dt); sum += dt; }
            }
            System.out.printf(Locale.ROOT, "gap %5d us: fork-join best %.1f us, mean %.1f us%n", gapUs, best / 1e3, sum / 1e3 / n);
        }
    }
}
