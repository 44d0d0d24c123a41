package intactkv.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Locale;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The machine's memory bandwidth as Java reaches it, on arrays far larger than the caches: a
 * streaming read of doubles (vector sum, four accumulators), a streaming read of shorts (what
 * decoding reads: BF16 weights), a copy and a STREAM-style triad {@code a = b + s c}, each on 1
 * thread and on all cores (contiguous slices, one per thread). Bytes are counted as STREAM counts
 * them: read 1 array, copy 2 (read + write), triad 3; the write-allocate read of the destination is
 * not counted, so copy and triad understate the traffic the memory system carries.
 *
 * <p>This is the ceiling decoding is measured against: a one-row product reads every weight once,
 * so tokens/s x bytes of weights per token cannot exceed the read bandwidth.
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -Xmx3g -cp benchmarks/target/benchmarks.jar \
 *       intactkv.bench.MemoryBandwidth [MB]
 * </pre>
 * MB (default 1024) is the size of each array of the read tests; copy and triad use arrays of
 * MB / 2, the read of shorts an array of MB. Needs about 2 x MB of heap. Prints one JSON line of GB/s (1e9
 * bytes), best of five rounds, by the wall clock and ({@code _cpu}) by each thread's CPU time.
 */
public final class MemoryBandwidth {
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> H = ShortVector.SPECIES_PREFERRED;

    private MemoryBandwidth() {
    }

    /** One of the streaming kernels, over elements {@code [lo, hi)}; returns a value to keep alive. */
    private interface Kernel {
        double run(int lo, int hi);
    }

    static double sumDoubles(double[] x, int lo, int hi) {
        DoubleVector s0 = DoubleVector.zero(D);
        DoubleVector s1 = DoubleVector.zero(D);
        DoubleVector s2 = DoubleVector.zero(D);
        DoubleVector s3 = DoubleVector.zero(D);
        int l = D.length();
        int i = lo;
        for (; i + 4 * l <= hi; i += 4 * l) {
            s0 = s0.add(DoubleVector.fromArray(D, x, i));
            s1 = s1.add(DoubleVector.fromArray(D, x, i + l));
            s2 = s2.add(DoubleVector.fromArray(D, x, i + 2 * l));
            s3 = s3.add(DoubleVector.fromArray(D, x, i + 3 * l));
        }
        double s = s0.add(s1).add(s2).add(s3).reduceLanes(VectorOperators.ADD);
        for (; i < hi; i++) {
            s += x[i];
        }
        return s;
    }

    static double sumShorts(short[] x, int lo, int hi) {
        ShortVector s0 = ShortVector.zero(H);
        ShortVector s1 = ShortVector.zero(H);
        int l = H.length();
        int i = lo;
        for (; i + 2 * l <= hi; i += 2 * l) { // wrapping short sums: only the reads matter
            s0 = s0.add(ShortVector.fromArray(H, x, i));
            s1 = s1.add(ShortVector.fromArray(H, x, i + l));
        }
        return s0.add(s1).reduceLanes(VectorOperators.ADD) + (i < hi ? x[i] : 0);
    }

    static double copy(double[] src, double[] dst, int lo, int hi) {
        int l = D.length();
        int i = lo;
        for (; i + l <= hi; i += l) {
            DoubleVector.fromArray(D, src, i).intoArray(dst, i);
        }
        for (; i < hi; i++) {
            dst[i] = src[i];
        }
        return dst[lo];
    }

    static double triad(double[] a, double[] b, double[] c, double s, int lo, int hi) {
        int l = D.length();
        int i = lo;
        for (; i + l <= hi; i += l) {
            DoubleVector.fromArray(D, c, i).fma(DoubleVector.broadcast(D, s), DoubleVector.fromArray(D, b, i)).intoArray(a, i);
        }
        for (; i < hi; i++) {
            a[i] = Math.fma(c[i], s, b[i]);
        }
        return a[lo];
    }

    /**
     * Best of {@code rounds} rounds of {@code kernel} over n elements split into {@code threads} slices:
     * {@code [0]} GB/s by the wall clock; {@code [1]} by each thread's CPU time (the sum over the threads of
     * their slice's bytes / their CPU seconds), which leaves out the time the scheduler gave to other
     * processes of a shared machine, though not their share of the memory bus.
     */
    private static double[] measure(int n, double bytes, int threads, int rounds, Kernel kernel)
            throws InterruptedException {
        double best = 0;
        double bestCpu = 0;
        double[] sink = new double[threads];
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        for (int r = 0; r < rounds; r++) {
            Thread[] ts = new Thread[threads];
            double[] cpu = new double[threads];
            for (int t = 0; t < threads; t++) {
                int id = t;
                int lo = (int) ((long) n * t / threads);
                int hi = (int) ((long) n * (t + 1) / threads);
                ts[t] = new Thread(() -> {
                    long c0 = mx.getCurrentThreadCpuTime();
                    sink[id] += kernel.run(lo, hi);
                    cpu[id] = (mx.getCurrentThreadCpuTime() - c0) / 1e9;
                });
            }
            long t0 = System.nanoTime();
            for (Thread t : ts) {
                t.start();
            }
            for (Thread t : ts) {
                t.join();
            }
            best = Math.max(best, bytes / ((System.nanoTime() - t0) / 1e9) / 1e9);
            double sum = 0;
            for (double c : cpu) {
                sum += bytes / threads / c / 1e9;
            }
            bestCpu = Math.max(bestCpu, sum);
        }
        if (Double.isInfinite(java.util.Arrays.stream(sink).sum())) {
            throw new IllegalStateException("unexpected infinite sum");
        }
        return new double[] {best, bestCpu};
    }

    /** Formats "name_1", "name_all" by wall clock and "name_1_cpu", "name_all_cpu" by CPU time. */
    private static String fields(String name, double[] one, double[] all) {
        return String.format(Locale.ROOT, ", \"%s_1\": %.1f, \"%s_all\": %.1f, \"%s_1_cpu\": %.1f, \"%s_all_cpu\": %.1f",
                name, one[0], name, all[0], name, one[1], name, all[1]);
    }

    /** Copy and triad on arrays of half of x's length; x's first half is their destination. */
    private static String copyAndTriad(double[] x, int cores) throws InterruptedException {
        int half = x.length / 2;
        double[] b = java.util.Arrays.copyOf(x, half);
        double[] c = java.util.Arrays.copyOfRange(x, half, 2 * half);
        Kernel cp = (lo, hi) -> copy(b, x, lo, hi);
        Kernel tr = (lo, hi) -> triad(x, b, c, 3.0, lo, hi);
        measure(half, 16.0 * half, cores, 1, cp);
        measure(half, 24.0 * half, cores, 1, tr);
        return fields("copy", measure(half, 16.0 * half, 1, 5, cp), measure(half, 16.0 * half, cores, 5, cp))
                + fields("triad", measure(half, 24.0 * half, 1, 5, tr), measure(half, 24.0 * half, cores, 5, tr));
    }

    public static void main(String[] args) throws InterruptedException {
        long mb = args.length > 0 ? Long.parseLong(args[0]) : 1024;
        if (mb < 64 || mb > 8192) {
            throw new IllegalArgumentException("MB = " + mb + ": give 64..8192 (arrays must be far larger than the caches)");
        }
        int cores = Runtime.getRuntime().availableProcessors();
        java.util.Random rng = new java.util.Random(1);
        int nd = (int) (mb * (1 << 20) / 8);
        double[] x = new double[nd];
        for (int i = 0; i < nd; i++) {
            x[i] = rng.nextDouble();
        }
        StringBuilder json = new StringBuilder(String.format(Locale.ROOT,
                "{\"bench\": \"memory_bandwidth\", \"mb\": %d, \"cores\": %d", mb, cores));
        Kernel readD = (lo, hi) -> sumDoubles(x, lo, hi);
        measure(nd, 8.0 * nd, cores, 1, readD); // warm-up: compiles the kernels, touches every page
        json.append(fields("read_f64", measure(nd, 8.0 * nd, 1, 5, readD), measure(nd, 8.0 * nd, cores, 5, readD)));
        json.append(copyAndTriad(x, cores));
        int nh = (int) (mb * (1 << 20) / 2);
        short[] h = new short[nh];
        for (int i = 0; i < nh; i++) {
            h[i] = (short) rng.nextInt();
        }
        Kernel readH = (lo, hi) -> sumShorts(h, lo, hi);
        measure(nh, 2.0 * nh, cores, 1, readH);
        json.append(fields("read_i16", measure(nh, 2.0 * nh, 1, 5, readH), measure(nh, 2.0 * nh, cores, 5, readH)))
                .append('}');
        System.out.println(json);
    }
}
