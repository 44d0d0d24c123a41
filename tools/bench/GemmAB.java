import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * Two builds of {@code Gemm.multiply} in one JVM, called in alternation, so that a change of a few percent can be
 * told from the drift of a shared machine (on the 2-vCPU benchmark VMs two runs of GemmPeak differ by up to 5 %).
 * Each build's classes come from its own class loader, so each is compiled on its own; the order within a pair
 * alternates. Prints each build's best and median GFLOP/s, C's hash (a change that keeps every summation order
 * keeps it), and the median and quartiles of the per-pair speed ratio B / A.
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector tools/bench/GemmAB.java A.jar B.jar M,N,K,MODE REPS [par]
 * </pre>
 * MODE as in GemmShapes: {@code n} (A (M, K), B (K, N)), {@code t} (B stored (N, K)), {@code a} (A stored (K, M)).
 * Without {@code par}: one thread, timed by the thread's CPU time; with it: all cores, by the wall clock. The jars
 * are benchmarks.jar of each build (they contain intactkv.tensor); a third of REPS more pairs run first as warm-up.
 */
public final class GemmAB {
    public static void main(String[] args) throws Throwable {
        if (args.length < 4) {
            throw new IllegalArgumentException("usage: GemmAB A.jar B.jar M,N,K,MODE REPS [par]");
        }
        String[] f = args[2].split(",");
        int m = Integer.parseInt(f[0]);
        int n = Integer.parseInt(f[1]);
        int k = Integer.parseInt(f[2]);
        boolean transA = f[3].equals("a");
        boolean transB = f[3].equals("t");
        int reps = Integer.parseInt(args[3]);
        boolean par = args.length > 4 && args[4].equals("par");
        MethodHandle[] multiply = new MethodHandle[2];
        for (int v = 0; v < 2; v++) {
            URLClassLoader loader = new URLClassLoader(new URL[] {new java.io.File(args[v]).toURI().toURL()},
                    ClassLoader.getPlatformClassLoader());
            Class<?> gemm = Class.forName("intactkv.tensor.Gemm", true, loader);
            multiply[v] = MethodHandles.publicLookup().unreflect(gemm.getMethod("multiply", int.class, int.class,
                    int.class, double[].class, int.class, boolean.class, double[].class, int.class, boolean.class,
                    double[].class, int.class, boolean.class));
        }
        Random r = new Random(1);
        double[] a = new double[m * k];
        double[] b = new double[k * n];
        double[] c = new double[m * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = r.nextGaussian();
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = r.nextGaussian();
        }
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        double[][] seconds = new double[2][reps];
        long[] hash = new long[2];
        for (int it = -reps / 3; it < reps; it++) {
            for (int i = 0; i < 2; i++) {
                int v = (it & 1) == 0 ? i : 1 - i;
                long t0 = par ? System.nanoTime() : mx.getCurrentThreadCpuTime();
                multiply[v].invoke(m, n, k, a, 0, transA, b, 0, transB, c, 0, par);
                double s = ((par ? System.nanoTime() : mx.getCurrentThreadCpuTime()) - t0) / 1e9;
                if (it >= 0) {
                    seconds[v][it] = s;
                }
                if (it == reps - 1) {
                    long h = 0;
                    for (double x : c) {
                        h = h * 31 + Double.doubleToLongBits(x);
                    }
                    hash[v] = h;
                }
            }
        }
        double gflop = 2.0 * m * n * k / 1e9;
        for (int v = 0; v < 2; v++) {
            double[] s = seconds[v].clone();
            Arrays.sort(s);
            System.out.printf(Locale.ROOT, "%s %s %s: best %.1f median %.1f GFLOP/s hash %016x%n", v == 0 ? "A" : "B",
                    args[2], par ? "all cores" : "1 thread", gflop / s[0], gflop / s[reps / 2], hash[v]);
        }
        double[] ratio = new double[reps];
        for (int i = 0; i < reps; i++) {
            ratio[i] = seconds[0][i] / seconds[1][i];
        }
        Arrays.sort(ratio);
        System.out.printf(Locale.ROOT, "B/A speed: median of pair ratios %.3f (quartiles %.3f %.3f)%n",
                ratio[reps / 2], ratio[reps / 4], ratio[3 * reps / 4]);
    }
}
