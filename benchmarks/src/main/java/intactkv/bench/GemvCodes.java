package intactkv.bench;

import intactkv.quant.WeightQuantizer;
import intactkv.tensor.Gemm;
import intactkv.tensor.Tensor;
import intactkv.tensor.WeightStorage;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Locale;
import java.util.Random;

/**
 * Products through a weight kept as quantization codes ({@code QuantCodes}, what RTN gives:
 * {@link WeightQuantizer#quantize}), for each bit width asked: the one-row product of decoding
 * ({@code c (1, N) = a (1, K) W^T}, {@link Gemm#multiply} with the codes as B) and an M-row GEMM
 * ({@code C (M, N) = A (M, K) W^T}), best of several calls on one thread by the thread's CPU time,
 * with a hash of each result to compare builds bit for bit (same seeds, same codes, same doubles).
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -Xmx2g -cp benchmarks/target/benchmarks.jar intactkv.bench.GemvCodes 5632 2048 128 512 3 4
 * </pre>
 * Arguments: N, K, group size, M, then the bit widths (default 5632 x 2048, g128, M 512, bits 3 and 4: a
 * LLaMA-2-7B-sized gate_proj cut to TinyLlama's K).
 */
public final class GemvCodes {
    private GemvCodes() {
    }

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 5632;
        int k = args.length > 1 ? Integer.parseInt(args[1]) : 2048;
        int g = args.length > 2 ? Integer.parseInt(args[2]) : 128;
        int m = args.length > 3 ? Integer.parseInt(args[3]) : 512;
        int[] widths = args.length > 4 ? new int[args.length - 4] : new int[] {3, 4};
        for (int i = 4; i < args.length; i++) {
            widths[i - 4] = Integer.parseInt(args[i]);
        }
        Random r = new Random(1);
        double[] w = new double[n * k];
        for (int i = 0; i < w.length; i++) {
            w[i] = r.nextGaussian() * 0.02;
        }
        double[] a = new double[m * k];
        for (int i = 0; i < a.length; i++) {
            a[i] = r.nextGaussian();
        }
        Tensor dense = Tensor.wrap(w, n, k);
        for (int bits : widths) {
            WeightStorage codes = WeightQuantizer.quantize(dense, WeightQuantizer.Spec.asym(bits, g), "bench").storage();
            double[] row = new double[n];
            double gemv = best(25, 10, () -> Gemm.multiply(1, n, k, a, 0, false, codes, true, row, 0, false));
            double[] c = new double[m * n];
            double gemm = best(5, 1, () -> Gemm.multiply(m, n, k, a, 0, false, codes, true, c, 0, false));
            System.out.println(String.format(Locale.ROOT, "{\"bench\": \"gemv_codes\", \"storage\": \"%s\", \"bytes\": %d,"
                            + " \"n\": %d, \"k\": %d, \"m\": %d, \"gemv_ms_1_cpu\": %.3f, \"gemm_ms_1_cpu\": %.1f,"
                            + " \"gemv_hash\": \"%016x\", \"gemm_hash\": \"%016x\"}",
                    codes.describe(), codes.bytes(), n, k, m, gemv * 1e3, gemm * 1e3, hash(row), hash(c)));
        }
    }

    private static long hash(double[] x) {
        long h = 0;
        for (double v : x) {
            h = h * 31 + Double.doubleToLongBits(v);
        }
        return h;
    }

    /** Best of {@code timed} calls after {@code warm} untimed ones, in seconds of the calling thread's CPU time. */
    private static double best(int timed, int warm, Runnable call) {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        double best = Double.POSITIVE_INFINITY;
        for (int it = 0; it < warm + timed; it++) {
            long c0 = mx.getCurrentThreadCpuTime();
            call.run();
            double s = (mx.getCurrentThreadCpuTime() - c0) / 1e9;
            if (it >= warm) {
                best = Math.min(best, s);
            }
        }
        return best;
    }
}
