package intactkv.bench;

import intactkv.tensor.Gemm;
import java.util.Locale;
import java.util.Random;

/**
 * Time of single GEMM products of chosen shapes: {@code C (M, N) = op(A) op(B)} through
 * {@link Gemm#multiply}, best of the last two thirds of R repetitions, with a hash of C so that two
 * builds can be checked to give the same bits. Each argument is one product, {@code M,N,K,MODE,R}
 * with MODE {@code n} (A (M, K), B (K, N)), {@code t} (B stored (N, K): a linear layer {@code x W^T})
 * or {@code a} (A stored (K, M): a weight gradient). Defaults: the products of the built-in model's
 * training step (B 16 x T 256 = 4096 rows, d 128, d_ff 384, V 1024) and of a TinyLlama-shaped MLP at
 * 64 and 256 prompt tokens. {@code tools/bench/kernels.sh} runs it for two builds. With {@code --each} first,
 * every repetition's time is printed too.
 */
public final class GemmShapes {
    private GemmShapes() {
    }

    static final String[] DEFAULTS = {"4096,384,128,t,20", "4096,128,384,n,20", "384,128,4096,a,20",
        "4096,128,128,t,20", "4096,1024,128,t,10", "64,5632,2048,t,12", "256,5632,2048,t,6", "512,512,512,n,40",
        "1024,1024,1024,n,10"};

    public static void main(String[] args) {
        // --each: also print every repetition's time, to see a product's speed change during a run
        boolean each = args.length > 0 && args[0].equals("--each");
        String[] specs = each ? java.util.Arrays.copyOfRange(args, 1, args.length) : args;
        for (String spec : specs.length == 0 ? DEFAULTS : specs) {
            String[] f = spec.split(",");
            if (f.length != 5 || !f[3].matches("[nta]")) {
                throw new IllegalArgumentException("product '" + spec + "': expected M,N,K,MODE,R with MODE n, t or a");
            }
            int m = Integer.parseInt(f[0]);
            int n = Integer.parseInt(f[1]);
            int k = Integer.parseInt(f[2]);
            boolean transA = f[3].equals("a");
            boolean transB = f[3].equals("t");
            int reps = Integer.parseInt(f[4]);
            Random r = new Random(1);
            double[] a = new double[m * k];
            double[] b = new double[n * k];
            double[] c = new double[m * n];
            for (int i = 0; i < a.length; i++) {
                a[i] = r.nextGaussian();
            }
            for (int i = 0; i < b.length; i++) {
                b[i] = r.nextGaussian();
            }
            double best = Double.POSITIVE_INFINITY;
            StringBuilder times = new StringBuilder();
            for (int it = 0; it < reps; it++) {
                long t0 = System.nanoTime();
                Gemm.multiply(m, n, k, a, 0, transA, b, 0, transB, c, 0, true);
                double s = (System.nanoTime() - t0) / 1e9;
                times.append(String.format(Locale.ROOT, " %.0f", s * 1e3));
                if (it >= reps / 3) {
                    best = Math.min(best, s);
                }
            }
            long h = 0;
            for (double x : c) {
                h = h * 31 + Double.doubleToLongBits(x);
            }
            System.out.printf(Locale.ROOT, "%s: %.2f ms, %.1f GFLOP/s, hash %016x%n", spec, best * 1e3,
                    2.0 * m * n * k / best / 1e9, h);
            if (each) {
                System.out.printf(Locale.ROOT, "  each repetition, ms:%s%n", times);
            }
        }
    }
}
