package intactkv.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Locale;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The machine's double-precision FMA peak as Java reaches it: every thread runs 6 or 12
 * independent chains {@code acc_i = fma(acc_i, x, y)} on vectors of the preferred species (4 doubles
 * with AVX2, 8 with AVX-512), so the only limit is how many vector FMAs the core retires per cycle.
 * One FMA is 2 FLOP a lane. This is the ceiling that a GEMM and a prefill are measured against: a
 * figure above it is a measurement bug.
 *
 * <p>How many chains: an FMA has a latency of 4-5 cycles and a core issues one or two a cycle, so
 * 5-10 independent chains keep it busy. Both 6 and 12 are run and the faster kept: on the 2-vCPU
 * AVX2 EPYC of 2026-12-06 C2's code for 12 chains ran at 13 GFLOP/s a core, for 6 at 17, while the
 * same loop in C ({@code tools/bench/fma_peak.c}) reached 20 with either; that C figure is the
 * hardware's ceiling, this one the ceiling a Vector-API kernel has reached.
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp benchmarks/target/benchmarks.jar intactkv.bench.FmaPeak
 * </pre>
 * Prints one JSON line: GFLOP/s on 1 thread and on all cores ({@code availableProcessors}), best of
 * 30 rounds of about 30 ms each, after five warm-up rounds. Best, not mean: on a shared machine the
 * other processes only ever lower a round's figure, so the best round is the closest to the core's
 * own limit. The same rounds are also timed by each thread's CPU time ({@code _cpu} fields), which
 * a busy machine cannot lower (see {@link #gflops}).
 */
public final class FmaPeak {
    private static final VectorSpecies<Double> S = DoubleVector.SPECIES_PREFERRED;
    /**
     * Iterations of the 12-FMA loop body per call (2^20 x 12 x lanes FMAs, a few ms a core): short, so
     * that the method is compiled normally (not only on-stack replaced) during the warm-up, and so that a
     * round fits into the quiet moments of a shared machine.
     */
    private static final int ITERATIONS = 1 << 20;
    /** Calls per thread in one timed round. */
    private static final int CALLS = 8;

    private FmaPeak() {
    }

    /**
     * Runs {@link #ITERATIONS} steps of {@code chains} (6 or 12) independent chains and returns the sum of
     * the lanes (kept so the JIT cannot drop the loop). With x slightly below 1 and a small y the
     * accumulators converge to {@code y / (1 - x)} and never overflow or become subnormal, which would
     * slow the FMA.
     */
    static double chains(int chains, double seed) {
        return chains == 6 ? six(seed) : twelve(seed);
    }

    private static double six(double seed) {
        DoubleVector x = DoubleVector.broadcast(S, 0.999_999);
        DoubleVector y = DoubleVector.broadcast(S, 1e-6);
        DoubleVector a0 = DoubleVector.broadcast(S, seed);
        DoubleVector a1 = a0.add(1);
        DoubleVector a2 = a0.add(2);
        DoubleVector a3 = a0.add(3);
        DoubleVector a4 = a0.add(4);
        DoubleVector a5 = a0.add(5);
        for (int i = 0; i < ITERATIONS; i++) {
            a0 = a0.fma(x, y);
            a1 = a1.fma(x, y);
            a2 = a2.fma(x, y);
            a3 = a3.fma(x, y);
            a4 = a4.fma(x, y);
            a5 = a5.fma(x, y);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).reduceLanes(VectorOperators.ADD);
    }

    private static double twelve(double seed) {
        DoubleVector x = DoubleVector.broadcast(S, 0.999_999);
        DoubleVector y = DoubleVector.broadcast(S, 1e-6);
        DoubleVector a0 = DoubleVector.broadcast(S, seed);
        DoubleVector a1 = a0.add(1);
        DoubleVector a2 = a0.add(2);
        DoubleVector a3 = a0.add(3);
        DoubleVector a4 = a0.add(4);
        DoubleVector a5 = a0.add(5);
        DoubleVector a6 = a0.add(6);
        DoubleVector a7 = a0.add(7);
        DoubleVector a8 = a0.add(8);
        DoubleVector a9 = a0.add(9);
        DoubleVector a10 = a0.add(10);
        DoubleVector a11 = a0.add(11);
        for (int i = 0; i < ITERATIONS; i++) {
            a0 = a0.fma(x, y);
            a1 = a1.fma(x, y);
            a2 = a2.fma(x, y);
            a3 = a3.fma(x, y);
            a4 = a4.fma(x, y);
            a5 = a5.fma(x, y);
            a6 = a6.fma(x, y);
            a7 = a7.fma(x, y);
            a8 = a8.fma(x, y);
            a9 = a9.fma(x, y);
            a10 = a10.fma(x, y);
            a11 = a11.fma(x, y);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                .reduceLanes(VectorOperators.ADD);
    }

    /** FLOP of one {@link #chains} call: 2 per lane of every FMA. */
    static double flopPerCall(int chains) {
        return 2.0 * chains * S.length() * (double) ITERATIONS;
    }

    /**
     * Best of {@code rounds} rounds in which {@code threads} threads each run {@link #CALLS} {@link #chains}
     * calls: {@code [0]} GFLOP/s by the wall clock, {@code [1]} by each thread's own CPU time (the sum over
     * the threads of FLOP / CPU seconds), which leaves out the time the scheduler gave to other processes
     * of a shared machine (not what the hypervisor takes from the VM, which the guest cannot see).
     */
    static double[] gflops(int chains, int threads, int rounds) throws InterruptedException {
        double bestWall = 0;
        double bestCpu = 0;
        double[] sink = new double[threads];
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        for (int r = 0; r < rounds; r++) {
            Thread[] ts = new Thread[threads];
            double[] cpuSeconds = new double[threads];
            for (int t = 0; t < threads; t++) {
                int id = t;
                ts[t] = new Thread(() -> {
                    long c0 = mx.getCurrentThreadCpuTime();
                    for (int call = 0; call < CALLS; call++) {
                        sink[id] += chains(chains, id + call);
                    }
                    cpuSeconds[id] = (mx.getCurrentThreadCpuTime() - c0) / 1e9;
                });
            }
            long t0 = System.nanoTime();
            for (Thread t : ts) {
                t.start();
            }
            for (Thread t : ts) {
                t.join();
            }
            double s = (System.nanoTime() - t0) / 1e9;
            bestWall = Math.max(bestWall, threads * CALLS * flopPerCall(chains) / s / 1e9);
            double cpu = 0;
            for (double c : cpuSeconds) {
                cpu += CALLS * flopPerCall(chains) / c / 1e9;
            }
            bestCpu = Math.max(bestCpu, cpu);
        }
        if (Double.isNaN(java.util.Arrays.stream(sink).sum())) {
            throw new IllegalStateException("the FMA chains diverged");
        }
        return new double[] {bestWall, bestCpu};
    }

    public static void main(String[] args) throws InterruptedException {
        int cores = Runtime.getRuntime().availableProcessors();
        double[] one = {0, 0};
        double[] all = {0, 0};
        int bestChains = 0;
        for (int chains : new int[] {6, 12}) {
            gflops(chains, cores, 5); // warm-up: compiles the kernel with the vector intrinsics
            double[] o = gflops(chains, 1, 30);
            double[] w = gflops(chains, cores, 30);
            if (o[1] > one[1]) {
                bestChains = chains;
            }
            for (int i = 0; i < 2; i++) {
                one[i] = Math.max(one[i], o[i]);
                all[i] = Math.max(all[i], w[i]);
            }
        }
        System.out.println(String.format(Locale.ROOT,
                "{\"bench\": \"fma_peak\", \"lanes\": %d, \"chains\": %d, \"cores\": %d, \"gflops_1\": %.1f,"
                        + " \"gflops_all\": %.1f, \"gflops_1_cpu\": %.1f, \"gflops_all_cpu\": %.1f}",
                S.length(), bestChains, cores, one[0], all[0], one[1], all[1]));
    }
}
