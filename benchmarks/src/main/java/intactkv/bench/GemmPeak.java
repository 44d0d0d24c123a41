package intactkv.bench;

import intactkv.tensor.Gemm;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Locale;
import java.util.Random;

/**
 * Square GEMM {@code C = A B} (n x n, double) through {@link Gemm#multiply}, timed two ways so that it
 * can be set against the FMA peak of {@link FmaPeak}: on one thread ({@code parallel = false}) by the
 * calling thread's CPU time, which other processes of a shared machine cannot inflate, and on all
 * cores by the wall clock. {@code tools/bench/gemm_torch.py} times OpenBLAS the same two ways.
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp benchmarks/target/benchmarks.jar intactkv.bench.GemmPeak 512 1024
 * </pre>
 * Prints one JSON line per n: GFLOP/s ({@code 2 n^3 / s}) of the best repetition of each way, and a hash of C's
 * bits, which a change of the kernel that keeps every summation order must leave unchanged. Each way warms up for
 * at least {@link #WARM_S} s and is then timed for at least {@link #TIMED_S} s (and 12 repetitions). Until
 * 2026-12-07 each way ran 20 repetitions at n = 1024, 14 of them timed: 0.3 s on two threads, so that one burst of
 * another tenant's load could cover every timed repetition of a round (session 23: two of 18 rounds at 0.89-0.90x
 * OpenBLAS, each the first of its run). {@code tools/bench/gemm_torch.py} times OpenBLAS in the same windows.
 *
 * <p>{@code GemmPeak --serve N one|all} warms up as a timed way runs ({@link #WARM_S} + {@link #TIMED_S} s), prints
 * {@code ready}, then runs one product for each line read from stdin and prints its seconds (the thread's CPU time
 * on one thread, the wall clock on all cores): {@code tools/bench/gemm_interleaved.py} alternates it product by
 * product with OpenBLAS and the FMA peak.
 */
public final class GemmPeak {
    /** Seconds of warm-up before a way is timed (its kernels compiled, its buffers touched). */
    static final double WARM_S = 1.0;
    /** Seconds of timed repetitions a way runs at least, of which the best counts. */
    static final double TIMED_S = 2.0;

    private GemmPeak() {
    }

    /** The fastest of {@code product} by {@code clock}: {@link BestTime} with {@link #WARM_S} and {@link #TIMED_S}. */
    static double best(Runnable product, java.util.function.LongSupplier clock) {
        return BestTime.seconds(product, clock, 0, WARM_S, 12, TIMED_S);
    }

    /** A and B, n x n, standard normal from seed 1, their elements drawn in turn (a[0], b[0], a[1], ...). */
    private static double[][] operands(int n) {
        Random r = new Random(1);
        double[] a = new double[n * n];
        double[] b = new double[n * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = r.nextGaussian();
            b[i] = r.nextGaussian();
        }
        return new double[][] {a, b};
    }

    /** One product of the matrices of {@link #operands} per line of stdin, its seconds printed. */
    private static void serve(int n, boolean parallel, ThreadMXBean mx) throws java.io.IOException {
        double[][] ab = operands(n);
        double[] a = ab[0];
        double[] b = ab[1];
        double[] c = new double[n * n];
        Runnable product = () -> Gemm.multiply(n, n, n, a, 0, false, b, 0, false, c, 0, parallel);
        java.util.function.LongSupplier clock = parallel ? System::nanoTime : mx::getCurrentThreadCpuTime;
        best(product, clock); // the warm-up: a timed way, its result unused
        System.out.println("ready");
        java.io.BufferedReader in = new java.io.BufferedReader(
                new java.io.InputStreamReader(System.in, java.nio.charset.StandardCharsets.UTF_8));
        while (in.readLine() != null) {
            long c0 = clock.getAsLong();
            product.run();
            long c1 = clock.getAsLong();
            System.out.println((c1 - c0) / 1e9);
        }
    }

    public static void main(String[] args) throws java.io.IOException {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        if (args.length > 0 && args[0].equals("--serve")) {
            if (args.length != 3 || !(args[2].equals("one") || args[2].equals("all"))) {
                throw new IllegalArgumentException("usage: GemmPeak --serve N one|all, got " + String.join(" ", args));
            }
            serve(Integer.parseInt(args[1]), args[2].equals("all"), mx);
            return;
        }
        for (String arg : args.length == 0 ? new String[] {"512", "1024"} : args) {
            int n = Integer.parseInt(arg);
            double[][] ab = operands(n);
            double[] a = ab[0];
            double[] b = ab[1];
            double[] c = new double[n * n];
            double bestCpu = best(() -> Gemm.multiply(n, n, n, a, 0, false, b, 0, false, c, 0, false),
                    () -> mx.getCurrentThreadCpuTime());
            double bestWall = best(() -> Gemm.multiply(n, n, n, a, 0, false, b, 0, false, c, 0, true),
                    System::nanoTime);
            long h = 0;
            for (double x : c) {
                h = h * 31 + Double.doubleToLongBits(x);
            }
            double flop = 2.0 * n * n * n;
            System.out.println(String.format(Locale.ROOT,
                    "{\"bench\": \"gemm\", \"n\": %d, \"gflops_1_cpu\": %.1f, \"gflops_all\": %.1f, \"cores\": %d,"
                            + " \"hash\": \"%016x\"}",
                    n, flop / bestCpu / 1e9, flop / bestWall / 1e9, Runtime.getRuntime().availableProcessors(), h));
        }
    }
}
