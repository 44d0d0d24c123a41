package intactkv.bench;

import intactkv.tensor.Bf16Storage;
import intactkv.tensor.ElementDtype;
import intactkv.tensor.F16Storage;
import intactkv.tensor.Gemm;
import intactkv.tensor.HalfFloat;
import intactkv.tensor.RowBlocks;
import intactkv.tensor.WeightStorage;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Locale;
import java.util.Random;

/**
 * The one-row product of decoding with a BF16 weight ({@code c (1, N) = a (1, K) W^T}, W stored (N, K)
 * as BF16, {@link Gemm#multiply} with a {@link Bf16Storage}): GB/s of weight read, on one thread (by
 * the calling thread's CPU time) and on all cores (wall clock), set against {@link MemoryBandwidth}'s
 * read of shorts, and a hash of c for comparing builds bit for bit; for the weight held row-major
 * ({@code Gemv}: eight scalar chains) and row-interleaved ({@link RowBlocks}, as the safetensors reader
 * holds matrices: vectors across rows), whose hashes must agree ({@code same_bits}).
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -Xmx2g -cp benchmarks/target/benchmarks.jar intactkv.bench.GemvStored 32000 2048
 * </pre>
 * Arguments: N, K (default 32000 x 2048, TinyLlama's LM head: 131 MB of BF16, far beyond the caches), and
 * {@code bf16} (default) or {@code f16}: the same random weights held as FP16 ({@link F16Storage}) instead.
 */
public final class GemvStored {
    private GemvStored() {
    }

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 32000;
        int k = args.length > 1 ? Integer.parseInt(args[1]) : 2048;
        boolean f16 = args.length > 2 && args[2].equals("f16");
        if (args.length > 2 && !f16 && !args[2].equals("bf16")) {
            throw new IllegalArgumentException("usage: GemvStored [N K [bf16|f16]]; got " + String.join(" ", args));
        }
        Random r = new Random(1);
        short[] bits = new short[n * k];
        for (int i = 0; i < bits.length; i++) {
            double v = r.nextGaussian() * 0.02;
            bits[i] = f16 ? HalfFloat.toFp16Bits(v) : (short) (Float.floatToIntBits((float) v) >>> 16);
        }
        WeightStorage rowMajor = f16 ? new F16Storage(bits.clone()) : new Bf16Storage(bits.clone());
        WeightStorage blocked = f16 ? F16Storage.interleaved(bits, RowBlocks.preferred(n, k, ElementDtype.F16))
                : Bf16Storage.interleaved(bits, RowBlocks.preferred(n, k, ElementDtype.BF16));
        double[] a = new double[k];
        for (int i = 0; i < k; i++) {
            a[i] = r.nextGaussian();
        }
        StringBuilder out = new StringBuilder("{\"bench\": \"gemv_" + (f16 ? "f16" : "bf16") + "\", \"n\": " + n
                + ", \"k\": " + k);
        long[] hashes = new long[2];
        for (int form = 0; form < 2; form++) {
            WeightStorage w = form == 0 ? rowMajor : blocked;
            String name = form == 0 ? "row_major" : "interleaved";
            double[] c = new double[n];
            double[] best = time(n, k, a, w, c);
            long h = 0;
            for (double x : c) {
                h = h * 31 + Double.doubleToLongBits(x);
            }
            hashes[form] = h;
            double bytes = 2.0 * n * k;
            out.append(String.format(Locale.ROOT, ", \"%s_gb_s_1_cpu\": %.2f, \"%s_gb_s_all\": %.2f, \"%s_hash\": \"%016x\"",
                    name, bytes / best[0] / 1e9, name, bytes / best[1] / 1e9, name, h));
        }
        out.append(", \"same_bits\": ").append(hashes[0] == hashes[1]).append('}');
        System.out.println(out);
    }

    /**
     * Best of the timed calls after the warm-up ({@link BestTime}), one thread by its CPU time, then all cores by the
     * wall clock: each way warms up for at least 10 calls and 1 s, then times at least 20 calls and 1 s. (Until
     * session 22, 10 and 20 calls: for a small weight, 256 x 2048, that was over before C2 had compiled the kernel,
     * and it measured 0.7 GB/s instead of the compiled kernel's speed.)
     */
    private static double[] time(int n, int k, double[] a, WeightStorage w, double[] c) {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        double cpu = BestTime.seconds(() -> Gemm.multiply(1, n, k, a, 0, false, w, true, c, 0, false),
                mx::getCurrentThreadCpuTime, 10, 1.0, 20, 1.0);
        double wall = BestTime.seconds(() -> Gemm.multiply(1, n, k, a, 0, false, w, true, c, 0, true),
                System::nanoTime, 10, 1.0, 20, 1.0);
        return new double[] {cpu, wall};
    }
}
