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
 * Prints one JSON line per n: GFLOP/s ({@code 2 n^3 / s}) of the best repetition of each way (the first
 * third of the repetitions are warm-up), and a hash of C's bits, which a change of the kernel that keeps
 * every summation order must leave unchanged.
 */
public final class GemmPeak {
    private GemmPeak() {
    }

    public static void main(String[] args) {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        for (String arg : args.length == 0 ? new String[] {"512", "1024"} : args) {
            int n = Integer.parseInt(arg);
            Random r = new Random(1);
            double[] a = new double[n * n];
            double[] b = new double[n * n];
            double[] c = new double[n * n];
            for (int i = 0; i < a.length; i++) {
                a[i] = r.nextGaussian();
                b[i] = r.nextGaussian();
            }
            // about 3 s of work per way at 15 GFLOP/s, at least 12 repetitions
            int reps = (int) Math.max(12, 4.5e10 / (2.0 * n * n * n));
            double bestCpu = Double.POSITIVE_INFINITY;
            double bestWall = Double.POSITIVE_INFINITY;
            for (int it = 0; it < reps; it++) {
                long c0 = mx.getCurrentThreadCpuTime();
                Gemm.multiply(n, n, n, a, 0, false, b, 0, false, c, 0, false);
                double s = (mx.getCurrentThreadCpuTime() - c0) / 1e9;
                if (it >= reps / 3) {
                    bestCpu = Math.min(bestCpu, s);
                }
            }
            for (int it = 0; it < reps; it++) {
                long t0 = System.nanoTime();
                Gemm.multiply(n, n, n, a, 0, false, b, 0, false, c, 0, true);
                double s = (System.nanoTime() - t0) / 1e9;
                if (it >= reps / 3) {
                    bestWall = Math.min(bestWall, s);
                }
            }
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
