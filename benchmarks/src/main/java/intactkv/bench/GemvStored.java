package intactkv.bench;

import intactkv.tensor.Bf16Storage;
import intactkv.tensor.Gemm;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Locale;
import java.util.Random;

/**
 * The one-row product of decoding with a BF16 weight ({@code c (1, N) = a (1, K) W^T}, W stored (N, K)
 * as BF16, {@link Gemm#multiply} with a {@link Bf16Storage}): GB/s of weight read, on one thread (by
 * the calling thread's CPU time) and on all cores (wall clock), set against {@link MemoryBandwidth}'s
 * read of shorts, and a hash of c for comparing builds bit for bit.
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -Xmx2g -cp benchmarks/target/benchmarks.jar intactkv.bench.GemvStored 32000 2048
 * </pre>
 * Arguments: N, K (default 32000 x 2048, TinyLlama's LM head: 131 MB of BF16, far beyond the caches).
 */
public final class GemvStored {
    private GemvStored() {
    }

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 32000;
        int k = args.length > 1 ? Integer.parseInt(args[1]) : 2048;
        Random r = new Random(1);
        short[] bits = new short[n * k];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = (short) (Float.floatToIntBits((float) (r.nextGaussian() * 0.02)) >>> 16);
        }
        Bf16Storage w = new Bf16Storage(bits);
        double[] a = new double[k];
        for (int i = 0; i < k; i++) {
            a[i] = r.nextGaussian();
        }
        double[] c = new double[n];
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        double bestCpu = Double.POSITIVE_INFINITY;
        double bestWall = Double.POSITIVE_INFINITY;
        for (int it = 0; it < 30; it++) {
            long c0 = mx.getCurrentThreadCpuTime();
            Gemm.multiply(1, n, k, a, 0, false, w, true, c, 0, false);
            double s = (mx.getCurrentThreadCpuTime() - c0) / 1e9;
            if (it >= 10) {
                bestCpu = Math.min(bestCpu, s);
            }
        }
        for (int it = 0; it < 30; it++) {
            long t0 = System.nanoTime();
            Gemm.multiply(1, n, k, a, 0, false, w, true, c, 0, true);
            double s = (System.nanoTime() - t0) / 1e9;
            if (it >= 10) {
                bestWall = Math.min(bestWall, s);
            }
        }
        long h = 0;
        for (double x : c) {
            h = h * 31 + Double.doubleToLongBits(x);
        }
        double bytes = 2.0 * n * k;
        System.out.println(String.format(Locale.ROOT,
                "{\"bench\": \"gemv_bf16\", \"n\": %d, \"k\": %d, \"gb_s_1_cpu\": %.1f, \"gb_s_all\": %.1f, \"hash\": \"%016x\"}",
                n, k, bytes / bestCpu / 1e9, bytes / bestWall / 1e9, h));
    }
}
