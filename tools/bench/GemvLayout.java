// The one-row BF16 product of decoding (TinyLlama's LM head, 32000 x 2048) with its eight blocks of eight rows a
// group held in two layouts, timed in one JVM: "blocks apart" (each block k-major on its own, the RowBlocks layout
// of sessions 13-20: eight streams 32 KB apart) and "steps side by side" (a group's 64 rows k-major as one unit,
// RowBlocks.group since session 21: one stream). The same kernel and the same sums; prints GB/s of weight read
// (best of 12 timed calls after 3, per round) and whether the two results agree bit for bit.
//
//   java --add-modules jdk.incubator.vector -Xmx2g tools/bench/GemvLayout.java THREADS ROUNDS    (e.g. 2 2)
//
// Needs AVX-512 (512-bit double vectors); a standalone harness, not the project's kernel.
import jdk.incubator.vector.*;
import java.util.*;

/** Harness: the BF16 one-row product with 8 blocks of 8 rows a group, blocks stored apart (8 streams) or a group's steps side by side (1 stream). */
public class GemvLayout {
    static final VectorSpecies<Double> D = DoubleVector.SPECIES_512;
    static final VectorSpecies<Short> H = ShortVector.SPECIES_128;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_256;
    static final int L = 8, G = 8;

    static DoubleVector load(short[] b, int o) {
        IntVector w = (IntVector) ShortVector.fromArray(H, b, o).convertShape(VectorOperators.S2I, I, 0);
        return (DoubleVector) w.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().convertShape(VectorOperators.F2D, D, 0);
    }

    /** layout 0: block q of group g at g*G*L*k + q*L*k, step p at + p*L; layout 1: group g at g*G*L*k, step p block q at + (p*G + q)*L */
    static void group(int layout, int k, double[] a, short[] bits, int g, double[] c) {
        int base = g * G * L * k;
        int bs = layout == 0 ? L * k : L;       // offset between blocks
        int step = layout == 0 ? L : G * L;     // offset between steps
        int o0 = base, o1 = o0 + bs, o2 = o1 + bs, o3 = o2 + bs, o4 = o3 + bs, o5 = o4 + bs, o6 = o5 + bs, o7 = o6 + bs;
        DoubleVector c0 = DoubleVector.zero(D), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        for (int p = 0; p < k; p++) {
            DoubleVector x = DoubleVector.broadcast(D, a[p]);
            int o = p * step;
            c0 = load(bits, o0 + o).fma(x, c0);
            c1 = load(bits, o1 + o).fma(x, c1);
            c2 = load(bits, o2 + o).fma(x, c2);
            c3 = load(bits, o3 + o).fma(x, c3);
            c4 = load(bits, o4 + o).fma(x, c4);
            c5 = load(bits, o5 + o).fma(x, c5);
            c6 = load(bits, o6 + o).fma(x, c6);
            c7 = load(bits, o7 + o).fma(x, c7);
        }
        int j = g * G * L;
        c0.intoArray(c, j); c1.intoArray(c, j + L); c2.intoArray(c, j + 2 * L); c3.intoArray(c, j + 3 * L);
        c4.intoArray(c, j + 4 * L); c5.intoArray(c, j + 5 * L); c6.intoArray(c, j + 6 * L); c7.intoArray(c, j + 7 * L);
    }

    static void run(int layout, int k, int groups, double[] a, short[] bits, double[] c, int threads) throws Exception {
        if (threads == 1) {
            for (int g = 0; g < groups; g++) group(layout, k, a, bits, g, c);
            return;
        }
        Thread[] ts = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            int lo = groups * t / threads, hi = groups * (t + 1) / threads;
            ts[t] = new Thread(() -> { for (int g = lo; g < hi; g++) group(layout, k, a, bits, g, c); });
            ts[t].start();
        }
        for (Thread t : ts) t.join();
    }

    public static void main(String[] args) throws Exception {
        int n = 32000, k = 2048, groups = n / (G * L);
        Random r = new Random(1);
        short[] rowMajor = new short[n * k];
        for (int i = 0; i < rowMajor.length; i++) rowMajor[i] = (short) (Float.floatToIntBits((float) (r.nextGaussian() * 0.02)) >>> 16);
        short[][] lay = new short[2][n * k];
        for (int row = 0; row < n; row++) {
            int g = row / (G * L), q = (row / L) % G, lane = row % L;
            for (int p = 0; p < k; p++) {
                short v = rowMajor[row * k + p];
                lay[0][g * G * L * k + q * L * k + p * L + lane] = v;
                lay[1][g * G * L * k + (p * G + q) * L + lane] = v;
            }
        }
        rowMajor = null;
        double[] a = new double[k];
        for (int i = 0; i < k; i++) a[i] = r.nextGaussian();
        int threads = Integer.parseInt(args[0]);
        int rounds = Integer.parseInt(args[1]);
        double[][] best = new double[2][1];
        best[0][0] = best[1][0] = 1e9;
        long[] hash = new long[2];
        for (int round = 0; round < rounds; round++) {
            for (int layout = 0; layout < 2; layout++) {
                double[] c = new double[n];
                for (int it = 0; it < 15; it++) {
                    long t0 = System.nanoTime();
                    run(layout, k, groups, a, lay[layout], c, threads);
                    double s = (System.nanoTime() - t0) / 1e9;
                    if (it >= 3) best[layout][0] = Math.min(best[layout][0], s);
                }
                long h = 0;
                for (double x : c) h = h * 31 + Double.doubleToLongBits(x);
                hash[layout] = h;
            }
        }
        double bytes = 2.0 * n * k;
        System.out.printf(Locale.ROOT, "threads %d: blocks apart %.2f GB/s, steps side by side %.2f GB/s, same bits %b%n",
                threads, bytes / best[0][0] / 1e9, bytes / best[1][0] / 1e9, hash[0] == hash[1]);
    }
}
