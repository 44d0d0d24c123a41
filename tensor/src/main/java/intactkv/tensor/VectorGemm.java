package intactkv.tensor;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector-API implementation of {@link Gemm}: a register-blocked micro-kernel in the style of
 * GotoBLAS/BLIS, kept small enough to read.
 *
 * <ol>
 *   <li>Columns are processed in panels of {@code NR = 3 * lanes} (24 doubles with AVX-512; with
 *       AVX2 two vectors, 8 doubles, see {@link GemmKernels256}),
 *       spread over threads with {@link Parallel}; or, for a product of many rows whose panels fit one group
 *       ({@code GROUP}), the panels are packed once on all threads and shared, and the rows are spread over the
 *       threads instead, so that each thread has the same work whatever N, each row block of A packed just
 *       before its kernels ({@code sharedPanels}; session 22, 2026-12-07: n = 1024 on two threads +1.5-2.6 %
 *       for the row split, in two runs of {@code tools/bench/GemmAB.java}, median of 60 alternating pairs,
 *       then +1.5 % on two threads and +2.0 % on one for packing A block by block; n = 512 +2.5-3.3 %).</li>
 *   <li>The inner dimension is cut into blocks of {@code KC} so that the packed panel
 *       {@code B[p0..p0+KC, j0..j0+NR)} (contiguous, zero-padded past N; packing also absorbs
 *       the {@code B^T} layout) stays in cache. Each thread packs its panels of the k-block once,
 *       {@code GROUP} at a time (one at a time when A has few rows).
 *       The matching columns of A are packed once per k-block (on all threads for large
 *       products; with shared panels, block by block as the kernels reach them), row block by row block, so
 *       the kernel's broadcasts read consecutive addresses. Then, for each row block of A, every panel
 *       of the group: the block of packed A (MR x KC) is reused from L1 by the whole group, and
 *       consecutive kernels read and write C
 *       along its rows, which the hardware prefetcher follows. (Before 2026-12-07 the rows were walked
 *       in chunks of 128 and, within a chunk, panel by panel, so consecutive kernels stepped down C by
 *       MR rows, a new page each time: the same sums, measured 4-5 % slower for n = 1024 on one thread
 *       and on two, by {@code tools/bench/GemmAB.java}.)</li>
 *   <li>A block of {@code MR} rows of C (8 with 512-bit vectors, 6 with 256-bit, else 4) lives in
 *       {@code 3 * MR} (AVX2: {@code 2 * MR}) vector registers; each step k loads the panel's
 *       vectors, broadcasts MR elements of A and issues one lane-wise FMA per register. The first
 *       k-block starts from zero, later ones continue from the partial sums stored in C. The kernels
 *       read their start from a block {@code from} and write C, so the first k-block reads a block of
 *       zeros instead of C (C was filled with zeros and read back before: the same sums, since the
 *       value read was +0.0; one pass over C less, measured 42.1-42.5 -> 43.5-43.9 GFLOP/s for
 *       n = 1024 on one thread, three alternating runs each, 2026-12-07).</li>
 *   <li>Leftover rows use the 4-row and 1-row kernels; a partial panel (N not a multiple of
 *       NR) is computed in a small NR-wide buffer and its valid columns copied out.</li>
 * </ol>
 * Each C element still sees {@code c = fma(a_ik, b_kj, c)} for k = 0, 1, ... in order, as
 * stated in {@link Gemm}: only the columns are vectorised, never the sum over k.
 */
final class VectorGemm {
    private static final VectorSpecies<Double> S = DoubleVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** 256-bit vectors (AVX2): the 6 x 8 kernels of {@link GemmKernels256} instead of 3-vector panels. */
    private static final boolean TWO_VECTORS = L == 4;
    private static final int NR = TWO_VECTORS ? GemmKernels256.NR : 3 * L;
    /** Rows per register block: 8 when there are 32 vector registers (AVX-512), 6 with AVX2, else 4. */
    private static final int MR = L >= 8 ? 8 : TWO_VECTORS ? GemmKernels256.MR : 4;
    /** The start of every block in the first k-block: zeros, read in place of C (MR rows at stride NR). */
    private static final double[] ZEROS = new double[MR * NR];
    /**
     * Steps k per block: 512 (a 96 KB panel, held in L2; the row block of packed A, 32 KB, about L1's size). Each k-block
     * reads and writes all of C once, so fewer blocks mean fewer passes over C: measured against 256 by
     * {@code tools/bench/GemmAB.java}, 2026-12-07, +2.5 % for n = 1024 and +1.5 % for 256 x 2048 times a
     * 5632 x 2048 weight, the training step's products unchanged within noise; 128 was 5 % slower, 1024 slower for
     * the weight (its A block no longer fits L1).
     */
    private static final int KC = 512;
    /**
     * Up to this many rows of A, each panel of B is packed and used at once (a group of one), while it is in
     * L1/L2: it is used by at most 16 row blocks.
     */
    private static final int FEW_ROWS = 128;
    /**
     * Most panels of B packed together for one k-block (64 x 96 KB = 6 MB with NR = 24 and KC = 512; 64 x 32 KB with
     * the AVX2 kernels' NR = 8), which stay in L2/L3 while every row block of A uses them. A thread's panels are
     * split into groups of equal size (43 panels: one group, not 40 and 3). Measured against 40 for n = 1024 on one
     * thread: one group of 43 is 1-3 % faster, the model's products unchanged within noise. (Before session 9 all of
     * a thread's panels were packed at once: 11 MB per k-block at KC = 256 for a 5632-wide weight, slower.)
     */
    private static final int GROUP = 64;
    /**
     * Up to this many columns (N <= 144: 6 panels of 24), the full row blocks of a row-major A are read in place instead
     * of packed: packing is a pass over A that only this many panels share. Measured on one thread,
     * 4096 x 384 times a 384 x 128 matrix: 12.0 -> 9.3 ms; 4096 x 128 times 128 x 128^T: 4.0 -> 3.1 ms
     * (bit-identical). For a transposed A (the weight gradients, A^T stored (K, M)) reading in place
     * was slower (11.8 -> 16.2 ms for 384 x 4096 times 4096 x 128), so A^T is always packed.
     */
    private static final int IN_PLACE_COLUMNS = 144;
    /** Steps of a row-major B packed into one panel before the next panel ({@link #packRowsB}). */
    private static final int PACK_STEPS = 16;

    private VectorGemm() {
    }

    /**
     * Packing buffers kept per thread and reused from one product to the next, instead of allocated
     * for every product (and, for the panels, every k-block): fresh arrays are fresh memory, and on the
     * 2-vCPU benchmark VM the page faults of touching it made a 256 x 2048 times 2048 x 5632^T product
     * fall from 41-48 ms to 74-101 ms after its first eight calls (docs/PERFORMANCE.md, session 9).
     * Every element a kernel reads is written by packing first, so reuse cannot change a result. The
     * calling thread's packed A, which the workers read during the product, and each thread's own panels
     * of B are separate fields, so the calling thread uses both at once. A packed A larger than
     * {@link #KEEP} doubles is allocated for that product only, so no thread keeps more than about 16 MB
     * of it, plus at most {@code GROUP} panels: 6 MB with the AVX-512 kernels, 200 MB on a 32-core machine, within
     * the memory plans' margin of 512 MiB for what their terms leave out (HeapRule); 1.9 MB before KC and GROUP
     * grew, 2026-12-07. With shared panels ({@code sharedPanels}) the calling thread's panels are the shared ones,
     * and each thread also keeps one row block of packed A (MR x KC, 32 KB).
     */
    private static final class Scratch {
        static final int KEEP = 1 << 21;
        static final ThreadLocal<Scratch> OF_THREAD = ThreadLocal.withInitial(Scratch::new);
        private double[] packedA = new double[0];
        private double[][] panels = new double[0][];
        final double[] tail = new double[MR * NR];
        /** One row block of packed A (MR x KC), packed just before its kernels use it. */
        final double[] blockA = new double[MR * KC];
        /** One row of a stored B^T, or one row block of a row-interleaved one, converted to doubles before it is
         *  spread over a panel. */
        final double[] row = new double[KC * L];

        /** At least {@code size} doubles for packed A; contents undefined. */
        double[] packedA(int size) {
            if (size > KEEP) {
                return new double[size];
            }
            if (packedA.length < size) {
                packedA = new double[size];
            }
            return packedA;
        }

        /** {@code group} panels of {@code KC * NR} doubles (the kernels read the first {@code kc * NR}). */
        double[][] panels(int group) {
            if (panels.length < group) {
                double[][] grown = java.util.Arrays.copyOf(panels, group);
                for (int g = panels.length; g < group; g++) {
                    grown[g] = new double[KC * NR];
                }
                panels = grown;
            }
            return panels;
        }
    }

    /** B is {@code b} from {@code bOff}, or, when {@code stored} is not null, {@code stored} (then {@code b} is unused). */
    static void multiply(int m, int n, int k, double[] a, int aOff, boolean transA, double[] b, int bOff,
                         WeightStorage stored, boolean transB, double[] c, int cOff, boolean parallel) {
        int panels = (n + NR - 1) / NR;
        if (k == 0) {
            java.util.Arrays.fill(c, cOff, cOff + m * n, 0.0);
            return;
        }
        // Waking a worker costs tens of microseconds: split only into chunks of >= 4M FMAs (~0.1 ms).
        long perPanel = (long) m * Math.min(k, KC) * NR;
        int minChunk = parallel ? (int) Math.min(panels, Math.max(1, (4L << 20) / Math.max(1, perPanel))) : panels;
        // With few panels each packed element of A would be used by few of them, so the full MR-row blocks
        // of a row-major A read it in place (MR rows side by side) and only the leftover rows are packed
        boolean inPlace = !transA && panels * NR <= IN_PLACE_COLUMNS;
        // Many rows and one group of panels: the panels are packed once (on all threads) and shared, the rows are
        // split over the threads, and each row block of A is packed just before its kernels use it (sharedPanels)
        boolean oneGroup = m > FEW_ROWS && panels <= GROUP;
        int packedFrom = inPlace ? m / MR * MR : 0;
        double[] aPack = oneGroup ? null : Scratch.OF_THREAD.get().packedA((m - packedFrom) * Math.min(k, KC));
        for (int kStart = 0; kStart < k; kStart += KC) {
            int p0 = kStart;
            int kc = Math.min(KC, k - p0);
            boolean first = p0 == 0;
            if (oneGroup) {
                sharedPanels(m, n, k, kc, p0, a, aOff, transA, b, bOff, stored, transB, packedFrom, c, cOff, first,
                        panels, parallel);
                continue;
            }
            if (inPlace) {
                packA(packedFrom, m, m, kc, k, a, aOff, transA, p0, aPack, packedFrom * kc);
            } else if (parallel && (long) m * kc >= (1L << 18)) {
                // pack the full MR-row blocks on all threads (disjoint parts of aPack), the rest here
                int full = m / MR;
                Parallel.forRange(full, 1, (lo, hi) -> packA(lo * MR, hi * MR, m, kc, k, a, aOff, transA, p0, aPack, 0));
                packA(full * MR, m, m, kc, k, a, aOff, transA, p0, aPack, 0);
            } else {
                packA(0, m, m, kc, k, a, aOff, transA, p0, aPack, 0);
            }
            Parallel.forRange(panels, minChunk, (lo, hi) -> {
                // this thread's panels of B for the k-block, packed a group at a time and each once; then, for
                // each row block of A, every panel of the group
                int groups = m <= FEW_ROWS ? hi - lo : (hi - lo + GROUP - 1) / GROUP;
                int group = (hi - lo + groups - 1) / groups;
                Scratch mine = Scratch.OF_THREAD.get();
                double[][] panel = mine.panels(group);
                for (int g0 = lo; g0 < hi; g0 += group) {
                    int g1 = Math.min(hi, g0 + group);
                    packPanels(kc, k, n, b, bOff, stored, transB, p0, g0, g1, panel, 0, mine.row);
                    rowBlocks(0, m, m, n, k, kc, p0, a, aOff, transA, aPack, null, packedFrom, g0, g1, panel, c,
                            cOff, first, mine.tail);
                }
            });
        }
    }

    /**
     * One k-block of a product whose panels all fit one group, for many rows: every panel of the k-block is packed
     * once, on all threads, into the calling thread's panels; then the full row blocks are split over the threads,
     * and each thread packs each of its row blocks of A just before the kernels use it, into a buffer that stays in
     * L1 ({@code Scratch.blockA}). A split of the panels, as {@link #multiply} makes otherwise, leaves a thread up to
     * a panel more (n = 1024: 22 against 21, the last one partial; on 32 cores 1.3 panels a thread); with the rows
     * split, every thread has the same work whatever N, and A needs no pass of its own. With more panels than a
     * group, each thread would walk A once per group (measured 3 % slower for 2048 x 2048 times 256 x 2048, rows
     * split), so those split the panels. Each C element sees the same kernel, so the same sums.
     */
    private static void sharedPanels(int m, int n, int k, int kc, int p0, double[] a, int aOff, boolean transA,
                                     double[] b, int bOff, WeightStorage stored, boolean transB, int packedFrom,
                                     double[] c, int cOff, boolean first, int panels, boolean parallel) {
        double[][] shared = Scratch.OF_THREAD.get().panels(panels);
        Parallel.forRange(panels, parallel ? 1 : panels, (lo, hi) -> packPanels(kc, k, n, b, bOff, stored, transB,
                p0, lo, hi, shared, lo, Scratch.OF_THREAD.get().row));
        int fullBlocks = m / MR;
        // chunks of >= 4M FMAs, as for the panels
        int minBlocks = parallel ? (int) Math.max(1, (4L << 20) / ((long) MR * kc * NR * panels)) : fullBlocks;
        Parallel.forRange(fullBlocks, minBlocks, (lo, hi) -> {
            Scratch mine = Scratch.OF_THREAD.get();
            rowBlocks(lo * MR, hi == fullBlocks ? m : hi * MR, m, n, k, kc, p0, a, aOff, transA, null, mine.blockA,
                    packedFrom, 0, panels, shared, c, cOff, first, mine.tail);
        });
    }

    /**
     * Panels {@code [g0, g1)} of B for the k-block from step {@code p0} into {@code panel[at ..]}: a row-major B
     * by {@link #packRowsB}, a transposed one by {@link #packTransposedB}, a stored weight by {@link #packStoredB}.
     */
    private static void packPanels(int kc, int k, int n, double[] b, int bOff, WeightStorage stored, boolean transB,
                                   int p0, int g0, int g1, double[][] panel, int at, double[] row) {
        if (stored == null && !transB) {
            packRowsB(kc, n, b, bOff, p0, g0, g1, panel, at);
            return;
        }
        for (int pj = g0; pj < g1; pj++) {
            int j0 = pj * NR;
            if (stored != null) {
                packStoredB(kc, k, n, stored, transB, p0, j0, Math.min(NR, n - j0), panel[at + pj - g0], row);
            } else {
                packTransposedB(kc, k, b, bOff, p0, j0, Math.min(NR, n - j0), panel[at + pj - g0]);
            }
        }
    }

    /**
     * The rows {@code [from, to)} of C ({@code from} a multiple of MR) for the packed panels {@code [g0, g1)}
     * ({@code panel[0]} is panel g0): for each row block of {@link #packA} (MR rows, then 4, then 1 at the end of A),
     * every panel, so that consecutive kernels walk C along its rows. A row block is read in place below
     * {@code packedFrom}; above, from {@code aPack} (all of A packed before) or, when that is null, packed into
     * {@code blockA} just before its kernels.
     */
    private static void rowBlocks(int from, int to, int m, int n, int k, int kc, int p0, double[] a, int aOff,
                                  boolean transA, double[] aPack, double[] blockA, int packedFrom, int g0, int g1,
                                  double[][] panel, double[] c, int cOff, boolean first, double[] tail) {
        int i = from;
        while (i < to) {
            int rows = i + MR <= m ? MR : i + 4 <= m ? 4 : 1;
            double[] src = a;
            int at = aOff + i * k + p0; // in place: op(A)[i + r, p0 + p] = a[aOff + (i + r) * k + p0 + p]
            int stride = k;
            if (i >= packedFrom) {
                stride = 0;
                if (aPack != null) {
                    src = aPack;
                    at = (i - packedFrom) * kc;
                } else {
                    packA(i, i + rows, m, kc, k, a, aOff, transA, p0, blockA, i * kc);
                    src = blockA;
                    at = 0;
                }
            }
            for (int pj = g0; pj < g1; pj++) {
                int j0 = pj * NR;
                block(rows, kc, src, at, stride, panel[pj - g0], c, cOff + i * n + j0, n, Math.min(NR, n - j0),
                        first, tail);
            }
            i += rows;
        }
    }

    /**
     * Packs the columns {@code [p0, p0 + kc)} of op(A) (M rows) for rows {@code [from, to)} block by block, in
     * the same row blocks as {@link #multiply} walks (MR, then 4, then 1 rows; {@code from} is a
     * multiple of MR): the block starting at row i holds
     * {@code aPack[i*kc + p*rows + r] = op(A)[i + r, p0 + p]}, so the kernels read the values of
     * step p from consecutive addresses. Packing also absorbs the {@code A^T} layout.
     */
    private static void packA(int from, int to, int m, int kc, int k, double[] a, int aOff, boolean transA, int p0,
                              double[] aPack, int shift) {
        int i = from;
        while (i < to) {
            int rows = i + MR <= m ? MR : i + 4 <= m ? 4 : 1;
            int base = i * kc - shift;
            if (transA) { // A^T stored (k, m): for each p the block's rows are adjacent
                for (int p = 0; p < kc; p++) {
                    System.arraycopy(a, aOff + (p0 + p) * m + i, aPack, base + p * rows, rows);
                }
            } else { // A stored (m, k): read each row along p
                for (int r = 0; r < rows; r++) {
                    int src = aOff + (i + r) * k + p0;
                    for (int p = 0; p < kc; p++) {
                        aPack[base + p * rows + r] = a[src + p];
                    }
                }
            }
            i += rows;
        }
    }

    /**
     * {@code panel[p*NR + j] = B^T[p0 + p, j0 + j] = b[bOff + (j0 + j)*k + p0 + p]} for p < kc, j < nc; 0 for j >= nc:
     * a B stored transposed (N, K), as a linear layer's weight (a row-major B is packed by {@link #packRowsB}).
     * Reading the NR rows of B side by side, step p after step p, measured faster than reading one row of B at a
     * time and writing the panel at stride NR: 36 against 30 GFLOP/s for 64 x 2048 times a 2048 x 5632 weight on one
     * thread.
     */
    private static void packTransposedB(int kc, int k, double[] b, int bOff, int p0, int j0, int nc, double[] panel) {
        for (int p = 0; p < kc; p++) {
            int dst = p * NR;
            for (int j = 0; j < nc; j++) {
                panel[dst + j] = b[bOff + (j0 + j) * k + p0 + p];
            }
            for (int j = nc; j < NR; j++) {
                panel[dst + j] = 0.0;
            }
        }
    }

    /**
     * The panels {@code [g0, g1)} of a row-major B ({@code transB} false): {@code panel[p*NR + j] = B[p0 + p, j0 + j]},
     * 0 past N, {@link #PACK_STEPS} steps at a time: for a run of steps, each panel's rows p in turn, copied from the
     * rows {@code p0 + p} of B, which these panels cover contiguously. B is read along its rows (a run's rows stay in
     * L1 across the panels) instead of {@code g1 - g0} times down them, at stride N; and a panel is written 16 rows
     * (3 KB) at a time. Until session 22 it was one step at a time across every panel: {@code g1 - g0} write streams,
     * the panels 96 KB + 16 bytes apart, so at nearly the same offset in a 4 KB page. Packing for a 1024 x 1024
     * product on two threads, timed inside it: 0.46-0.54 ms now against 0.61-0.77 (five and four JVM runs), the
     * product 0.7 % faster in {@code GemmAB}; in runs where the machine's memory was busy, both took 2.2-2.7 ms.
     */
    private static void packRowsB(int kc, int n, double[] b, int bOff, int p0, int g0, int g1, double[][] panel,
                                  int at) {
        for (int pb = 0; pb < kc; pb += PACK_STEPS) {
            int pe = Math.min(kc, pb + PACK_STEPS);
            for (int pj = g0; pj < g1; pj++) {
                int j0 = pj * NR;
                double[] pan = panel[at + pj - g0];
                for (int p = pb; p < pe; p++) {
                    int src = bOff + (p0 + p) * n;
                    int dst = p * NR;
                    if (j0 + NR <= n) {
                        for (int v = 0; v < NR; v += L) {
                            DoubleVector.fromArray(S, b, src + j0 + v).intoArray(pan, dst + v);
                        }
                    } else {
                        System.arraycopy(b, src + j0, pan, dst, n - j0);
                        java.util.Arrays.fill(pan, dst + n - j0, dst + NR, 0.0);
                    }
                }
            }
        }
    }

    /**
     * A panel of B from a {@link WeightStorage}: the panel of B as doubles, element for element (the storage's
     * conversion to double is exact), so the product is bit-identical to the one with B as doubles.
     * This is where a compact weight becomes double: the packing pass copies every element once
     * anyway. For {@code B^T} each of the panel's NR rows of B is converted as one contiguous run of
     * kc elements into {@code row} and then spread over the panel at stride NR. A row-interleaved B
     * ({@link RowBlocks}, blocks of L rows, k-major in units of a group or a block) already holds the panel's rows
     * side by side: a full block's L values of a step are adjacent, converted straight into the panel a step at a
     * time (or, for a block that is its own unit, its steps {@code [p0, p0 + kc)} as one run, copied L a step).
     */
    private static void packStoredB(int kc, int k, int n, WeightStorage b, boolean transB, int p0, int j0, int nc,
                                    double[] panel, double[] row) {
        RowBlocks blocks = b.rowBlocks();
        if (transB && blocks != null && blocks.cols() == k && blocks.lanes() == L) {
            int j = 0;
            while (j < nc) {
                int r0 = j0 + j;
                if (r0 % L == 0 && r0 / L < blocks.fullBlocks() && j + L <= NR) {
                    int start = blocks.blockStart(r0 / L);
                    int stride = blocks.stepStride(r0 / L);
                    if (stride == L) { // a block of its own: its steps are one run
                        b.heldToDouble(start + p0 * L, kc * L, row, 0);
                        for (int p = 0; p < kc; p++) {
                            DoubleVector.fromArray(S, row, p * L).intoArray(panel, p * NR + j);
                        }
                    } else { // a block of a group: its L values of each step are adjacent
                        for (int p = 0; p < kc; p++) {
                            b.heldToDouble(start + (p0 + p) * stride, L, panel, p * NR + j);
                        }
                    }
                    j += L;
                } else { // a row of the last, partial block
                    b.toDouble(r0 * k + p0, kc, row, 0);
                    for (int p = 0; p < kc; p++) {
                        panel[p * NR + j] = row[p];
                    }
                    j++;
                }
            }
        } else if (transB) {
            for (int j = 0; j < nc; j++) {
                b.toDouble((j0 + j) * k + p0, kc, row, 0);
                for (int p = 0; p < kc; p++) {
                    panel[p * NR + j] = row[p];
                }
            }
        } else {
            for (int p = 0; p < kc; p++) {
                b.toDouble((p0 + p) * n + j0, nc, panel, p * NR);
            }
        }
        if (nc < NR) {
            for (int p = 0; p < kc; p++) {
                java.util.Arrays.fill(panel, p * NR + nc, (p + 1) * NR, 0.0);
            }
        }
    }

    /**
     * One {@code rows x NR} block of C (rows = MR, 4 or 1) over one k-block; a partial panel
     * goes through {@code tail} so the kernels always read and write NR full columns. A is the
     * packed block at {@code a0} when {@code lda} is 0, else MR rows of a row-major A read in place
     * ({@code a[a0 + r*lda + p]}).
     */
    private static void block(int rows, int kc, double[] a, int a0, int lda, double[] panel, double[] c, int c0,
                              int ldc, int nc, boolean first, double[] tail) {
        double[] dst = c;
        int d0 = c0;
        int ldd = ldc;
        if (nc < NR) {
            dst = tail;
            d0 = 0;
            ldd = NR;
            java.util.Arrays.fill(tail, 0.0);
            if (!first) {
                for (int r = 0; r < rows; r++) {
                    System.arraycopy(c, c0 + r * ldc, tail, r * NR, nc);
                }
            }
        }
        // the accumulators start from C's partial sums, or in the first k-block from zeros, without reading C
        double[] from = first ? ZEROS : dst;
        int f0 = first ? 0 : d0;
        int ldf = first ? NR : ldd;
        if (lda > 0) { // MR rows of A read in place (only full MR-row blocks are)
            if (MR == 8) {
                kernel8InPlace(kc, a, a0, lda, panel, from, f0, ldf, dst, d0, ldd);
            } else if (TWO_VECTORS) {
                GemmKernels256.kernel6InPlace(kc, a, a0, lda, panel, from, f0, ldf, dst, d0, ldd);
            } else {
                kernel4InPlace(kc, a, a0, lda, panel, from, f0, ldf, dst, d0, ldd);
            }
        } else if (TWO_VECTORS) {
            switch (rows) {
                case 6 -> GemmKernels256.kernel6(kc, a, a0, panel, from, f0, ldf, dst, d0, ldd);
                case 4 -> GemmKernels256.kernel4(kc, a, a0, panel, from, f0, ldf, dst, d0, ldd);
                default -> GemmKernels256.kernel1(kc, a, a0, panel, from, f0, dst, d0);
            }
        } else {
            switch (rows) {
                case 8 -> kernel8(kc, a, a0, panel, from, f0, ldf, dst, d0, ldd);
                case 4 -> kernel4(kc, a, a0, panel, from, f0, ldf, dst, d0, ldd);
                default -> kernel1(kc, a, a0, panel, from, f0, dst, d0);
            }
        }
        if (nc < NR) {
            for (int r = 0; r < rows; r++) {
                System.arraycopy(tail, r * NR, c, c0 + r * ldc, nc);
            }
        }
    }


    /**
     * C[8 rows, NR] = from[8 rows, NR] + A[8 rows, kc] * panel (A packed, 8 values a step); rows of
     * {@code from} at stride ldf (C's own block, or {@link #ZEROS}), of C at stride ldc.
     */
    private static void kernel8(int kc, double[] a, int a0, double[] panel,
                                double[] from, int f0, int ldf, double[] c, int c0, int ldc) {
        int r0 = c0 + 0 * ldc;
        DoubleVector c00 = DoubleVector.fromArray(S, from, f0);
        DoubleVector c01 = DoubleVector.fromArray(S, from, f0 + L);
        DoubleVector c02 = DoubleVector.fromArray(S, from, f0 + 2 * L);
        int r1 = c0 + 1 * ldc;
        DoubleVector c10 = DoubleVector.fromArray(S, from, f0 + 1 * ldf);
        DoubleVector c11 = DoubleVector.fromArray(S, from, f0 + 1 * ldf + L);
        DoubleVector c12 = DoubleVector.fromArray(S, from, f0 + 1 * ldf + 2 * L);
        int r2 = c0 + 2 * ldc;
        DoubleVector c20 = DoubleVector.fromArray(S, from, f0 + 2 * ldf);
        DoubleVector c21 = DoubleVector.fromArray(S, from, f0 + 2 * ldf + L);
        DoubleVector c22 = DoubleVector.fromArray(S, from, f0 + 2 * ldf + 2 * L);
        int r3 = c0 + 3 * ldc;
        DoubleVector c30 = DoubleVector.fromArray(S, from, f0 + 3 * ldf);
        DoubleVector c31 = DoubleVector.fromArray(S, from, f0 + 3 * ldf + L);
        DoubleVector c32 = DoubleVector.fromArray(S, from, f0 + 3 * ldf + 2 * L);
        int r4 = c0 + 4 * ldc;
        DoubleVector c40 = DoubleVector.fromArray(S, from, f0 + 4 * ldf);
        DoubleVector c41 = DoubleVector.fromArray(S, from, f0 + 4 * ldf + L);
        DoubleVector c42 = DoubleVector.fromArray(S, from, f0 + 4 * ldf + 2 * L);
        int r5 = c0 + 5 * ldc;
        DoubleVector c50 = DoubleVector.fromArray(S, from, f0 + 5 * ldf);
        DoubleVector c51 = DoubleVector.fromArray(S, from, f0 + 5 * ldf + L);
        DoubleVector c52 = DoubleVector.fromArray(S, from, f0 + 5 * ldf + 2 * L);
        int r6 = c0 + 6 * ldc;
        DoubleVector c60 = DoubleVector.fromArray(S, from, f0 + 6 * ldf);
        DoubleVector c61 = DoubleVector.fromArray(S, from, f0 + 6 * ldf + L);
        DoubleVector c62 = DoubleVector.fromArray(S, from, f0 + 6 * ldf + 2 * L);
        int r7 = c0 + 7 * ldc;
        DoubleVector c70 = DoubleVector.fromArray(S, from, f0 + 7 * ldf);
        DoubleVector c71 = DoubleVector.fromArray(S, from, f0 + 7 * ldf + L);
        DoubleVector c72 = DoubleVector.fromArray(S, from, f0 + 7 * ldf + 2 * L);
        for (int p = 0; p < kc; p++) {
            int bp = p * NR;
            int ap = a0 + p * 8;
            DoubleVector b0 = DoubleVector.fromArray(S, panel, bp);
            DoubleVector b1 = DoubleVector.fromArray(S, panel, bp + L);
            DoubleVector b2 = DoubleVector.fromArray(S, panel, bp + 2 * L);
            DoubleVector x = DoubleVector.broadcast(S, a[ap]);
            c00 = b0.fma(x, c00);
            c01 = b1.fma(x, c01);
            c02 = b2.fma(x, c02);
            x = DoubleVector.broadcast(S, a[ap + 1]);
            c10 = b0.fma(x, c10);
            c11 = b1.fma(x, c11);
            c12 = b2.fma(x, c12);
            x = DoubleVector.broadcast(S, a[ap + 2]);
            c20 = b0.fma(x, c20);
            c21 = b1.fma(x, c21);
            c22 = b2.fma(x, c22);
            x = DoubleVector.broadcast(S, a[ap + 3]);
            c30 = b0.fma(x, c30);
            c31 = b1.fma(x, c31);
            c32 = b2.fma(x, c32);
            x = DoubleVector.broadcast(S, a[ap + 4]);
            c40 = b0.fma(x, c40);
            c41 = b1.fma(x, c41);
            c42 = b2.fma(x, c42);
            x = DoubleVector.broadcast(S, a[ap + 5]);
            c50 = b0.fma(x, c50);
            c51 = b1.fma(x, c51);
            c52 = b2.fma(x, c52);
            x = DoubleVector.broadcast(S, a[ap + 6]);
            c60 = b0.fma(x, c60);
            c61 = b1.fma(x, c61);
            c62 = b2.fma(x, c62);
            x = DoubleVector.broadcast(S, a[ap + 7]);
            c70 = b0.fma(x, c70);
            c71 = b1.fma(x, c71);
            c72 = b2.fma(x, c72);
        }
        c00.intoArray(c, r0);
        c01.intoArray(c, r0 + L);
        c02.intoArray(c, r0 + 2 * L);
        c10.intoArray(c, r1);
        c11.intoArray(c, r1 + L);
        c12.intoArray(c, r1 + 2 * L);
        c20.intoArray(c, r2);
        c21.intoArray(c, r2 + L);
        c22.intoArray(c, r2 + 2 * L);
        c30.intoArray(c, r3);
        c31.intoArray(c, r3 + L);
        c32.intoArray(c, r3 + 2 * L);
        c40.intoArray(c, r4);
        c41.intoArray(c, r4 + L);
        c42.intoArray(c, r4 + 2 * L);
        c50.intoArray(c, r5);
        c51.intoArray(c, r5 + L);
        c52.intoArray(c, r5 + 2 * L);
        c60.intoArray(c, r6);
        c61.intoArray(c, r6 + L);
        c62.intoArray(c, r6 + 2 * L);
        c70.intoArray(c, r7);
        c71.intoArray(c, r7 + L);
        c72.intoArray(c, r7 + 2 * L);
    }

    /** {@code kernel8} for 4 rows: C[4 rows, NR] = from + A[4 rows, kc] * panel. */
    private static void kernel4(int kc, double[] a, int a0, double[] panel,
                                double[] from, int f0, int ldf, double[] c, int c0, int ldc) {
        int r0 = c0 + 0 * ldc;
        DoubleVector c00 = DoubleVector.fromArray(S, from, f0);
        DoubleVector c01 = DoubleVector.fromArray(S, from, f0 + L);
        DoubleVector c02 = DoubleVector.fromArray(S, from, f0 + 2 * L);
        int r1 = c0 + 1 * ldc;
        DoubleVector c10 = DoubleVector.fromArray(S, from, f0 + 1 * ldf);
        DoubleVector c11 = DoubleVector.fromArray(S, from, f0 + 1 * ldf + L);
        DoubleVector c12 = DoubleVector.fromArray(S, from, f0 + 1 * ldf + 2 * L);
        int r2 = c0 + 2 * ldc;
        DoubleVector c20 = DoubleVector.fromArray(S, from, f0 + 2 * ldf);
        DoubleVector c21 = DoubleVector.fromArray(S, from, f0 + 2 * ldf + L);
        DoubleVector c22 = DoubleVector.fromArray(S, from, f0 + 2 * ldf + 2 * L);
        int r3 = c0 + 3 * ldc;
        DoubleVector c30 = DoubleVector.fromArray(S, from, f0 + 3 * ldf);
        DoubleVector c31 = DoubleVector.fromArray(S, from, f0 + 3 * ldf + L);
        DoubleVector c32 = DoubleVector.fromArray(S, from, f0 + 3 * ldf + 2 * L);
        for (int p = 0; p < kc; p++) {
            int bp = p * NR;
            int ap = a0 + p * 4;
            DoubleVector b0 = DoubleVector.fromArray(S, panel, bp);
            DoubleVector b1 = DoubleVector.fromArray(S, panel, bp + L);
            DoubleVector b2 = DoubleVector.fromArray(S, panel, bp + 2 * L);
            DoubleVector x = DoubleVector.broadcast(S, a[ap]);
            c00 = b0.fma(x, c00);
            c01 = b1.fma(x, c01);
            c02 = b2.fma(x, c02);
            x = DoubleVector.broadcast(S, a[ap + 1]);
            c10 = b0.fma(x, c10);
            c11 = b1.fma(x, c11);
            c12 = b2.fma(x, c12);
            x = DoubleVector.broadcast(S, a[ap + 2]);
            c20 = b0.fma(x, c20);
            c21 = b1.fma(x, c21);
            c22 = b2.fma(x, c22);
            x = DoubleVector.broadcast(S, a[ap + 3]);
            c30 = b0.fma(x, c30);
            c31 = b1.fma(x, c31);
            c32 = b2.fma(x, c32);
        }
        c00.intoArray(c, r0);
        c01.intoArray(c, r0 + L);
        c02.intoArray(c, r0 + 2 * L);
        c10.intoArray(c, r1);
        c11.intoArray(c, r1 + L);
        c12.intoArray(c, r1 + 2 * L);
        c20.intoArray(c, r2);
        c21.intoArray(c, r2 + L);
        c22.intoArray(c, r2 + 2 * L);
        c30.intoArray(c, r3);
        c31.intoArray(c, r3 + L);
        c32.intoArray(c, r3 + 2 * L);
    }

    /**
     * {@code kernel8} with A read in place, row-major: element (r, p) at {@code a[a0 + r*lda + p]}. A
     * copy on purpose: the packed kernel written with strides instead (row stride 1, step stride 8)
     * measured 12 % slower (n = 512: 48 -> 42 GFLOP/s), since C2 then keeps the seven row offsets in
     * registers instead of immediates.
     */
    private static void kernel8InPlace(int kc, double[] a, int a0, int lda, double[] panel,
                                       double[] from, int f0, int ldf, double[] c, int c0,
                                       int ldc) {
        int r0 = c0 + 0 * ldc;
        DoubleVector c00 = DoubleVector.fromArray(S, from, f0);
        DoubleVector c01 = DoubleVector.fromArray(S, from, f0 + L);
        DoubleVector c02 = DoubleVector.fromArray(S, from, f0 + 2 * L);
        int r1 = c0 + 1 * ldc;
        DoubleVector c10 = DoubleVector.fromArray(S, from, f0 + 1 * ldf);
        DoubleVector c11 = DoubleVector.fromArray(S, from, f0 + 1 * ldf + L);
        DoubleVector c12 = DoubleVector.fromArray(S, from, f0 + 1 * ldf + 2 * L);
        int r2 = c0 + 2 * ldc;
        DoubleVector c20 = DoubleVector.fromArray(S, from, f0 + 2 * ldf);
        DoubleVector c21 = DoubleVector.fromArray(S, from, f0 + 2 * ldf + L);
        DoubleVector c22 = DoubleVector.fromArray(S, from, f0 + 2 * ldf + 2 * L);
        int r3 = c0 + 3 * ldc;
        DoubleVector c30 = DoubleVector.fromArray(S, from, f0 + 3 * ldf);
        DoubleVector c31 = DoubleVector.fromArray(S, from, f0 + 3 * ldf + L);
        DoubleVector c32 = DoubleVector.fromArray(S, from, f0 + 3 * ldf + 2 * L);
        int r4 = c0 + 4 * ldc;
        DoubleVector c40 = DoubleVector.fromArray(S, from, f0 + 4 * ldf);
        DoubleVector c41 = DoubleVector.fromArray(S, from, f0 + 4 * ldf + L);
        DoubleVector c42 = DoubleVector.fromArray(S, from, f0 + 4 * ldf + 2 * L);
        int r5 = c0 + 5 * ldc;
        DoubleVector c50 = DoubleVector.fromArray(S, from, f0 + 5 * ldf);
        DoubleVector c51 = DoubleVector.fromArray(S, from, f0 + 5 * ldf + L);
        DoubleVector c52 = DoubleVector.fromArray(S, from, f0 + 5 * ldf + 2 * L);
        int r6 = c0 + 6 * ldc;
        DoubleVector c60 = DoubleVector.fromArray(S, from, f0 + 6 * ldf);
        DoubleVector c61 = DoubleVector.fromArray(S, from, f0 + 6 * ldf + L);
        DoubleVector c62 = DoubleVector.fromArray(S, from, f0 + 6 * ldf + 2 * L);
        int r7 = c0 + 7 * ldc;
        DoubleVector c70 = DoubleVector.fromArray(S, from, f0 + 7 * ldf);
        DoubleVector c71 = DoubleVector.fromArray(S, from, f0 + 7 * ldf + L);
        DoubleVector c72 = DoubleVector.fromArray(S, from, f0 + 7 * ldf + 2 * L);
        int r1a = 1 * lda;
        int r2a = 2 * lda;
        int r3a = 3 * lda;
        int r4a = 4 * lda;
        int r5a = 5 * lda;
        int r6a = 6 * lda;
        int r7a = 7 * lda;
        for (int p = 0; p < kc; p++) {
            int bp = p * NR;
            int ap = a0 + p;
            DoubleVector b0 = DoubleVector.fromArray(S, panel, bp);
            DoubleVector b1 = DoubleVector.fromArray(S, panel, bp + L);
            DoubleVector b2 = DoubleVector.fromArray(S, panel, bp + 2 * L);
            DoubleVector x = DoubleVector.broadcast(S, a[ap]);
            c00 = b0.fma(x, c00);
            c01 = b1.fma(x, c01);
            c02 = b2.fma(x, c02);
            x = DoubleVector.broadcast(S, a[ap + r1a]);
            c10 = b0.fma(x, c10);
            c11 = b1.fma(x, c11);
            c12 = b2.fma(x, c12);
            x = DoubleVector.broadcast(S, a[ap + r2a]);
            c20 = b0.fma(x, c20);
            c21 = b1.fma(x, c21);
            c22 = b2.fma(x, c22);
            x = DoubleVector.broadcast(S, a[ap + r3a]);
            c30 = b0.fma(x, c30);
            c31 = b1.fma(x, c31);
            c32 = b2.fma(x, c32);
            x = DoubleVector.broadcast(S, a[ap + r4a]);
            c40 = b0.fma(x, c40);
            c41 = b1.fma(x, c41);
            c42 = b2.fma(x, c42);
            x = DoubleVector.broadcast(S, a[ap + r5a]);
            c50 = b0.fma(x, c50);
            c51 = b1.fma(x, c51);
            c52 = b2.fma(x, c52);
            x = DoubleVector.broadcast(S, a[ap + r6a]);
            c60 = b0.fma(x, c60);
            c61 = b1.fma(x, c61);
            c62 = b2.fma(x, c62);
            x = DoubleVector.broadcast(S, a[ap + r7a]);
            c70 = b0.fma(x, c70);
            c71 = b1.fma(x, c71);
            c72 = b2.fma(x, c72);
        }
        c00.intoArray(c, r0);
        c01.intoArray(c, r0 + L);
        c02.intoArray(c, r0 + 2 * L);
        c10.intoArray(c, r1);
        c11.intoArray(c, r1 + L);
        c12.intoArray(c, r1 + 2 * L);
        c20.intoArray(c, r2);
        c21.intoArray(c, r2 + L);
        c22.intoArray(c, r2 + 2 * L);
        c30.intoArray(c, r3);
        c31.intoArray(c, r3 + L);
        c32.intoArray(c, r3 + 2 * L);
        c40.intoArray(c, r4);
        c41.intoArray(c, r4 + L);
        c42.intoArray(c, r4 + 2 * L);
        c50.intoArray(c, r5);
        c51.intoArray(c, r5 + L);
        c52.intoArray(c, r5 + 2 * L);
        c60.intoArray(c, r6);
        c61.intoArray(c, r6 + L);
        c62.intoArray(c, r6 + 2 * L);
        c70.intoArray(c, r7);
        c71.intoArray(c, r7 + L);
        c72.intoArray(c, r7 + 2 * L);
    }

    /** {@code kernel4} with A read in place, row-major: element (r, p) at {@code a[a0 + r*lda + p]}. */
    private static void kernel4InPlace(int kc, double[] a, int a0, int lda, double[] panel,
                                       double[] from, int f0, int ldf, double[] c, int c0,
                                       int ldc) {
        int r0 = c0 + 0 * ldc;
        DoubleVector c00 = DoubleVector.fromArray(S, from, f0);
        DoubleVector c01 = DoubleVector.fromArray(S, from, f0 + L);
        DoubleVector c02 = DoubleVector.fromArray(S, from, f0 + 2 * L);
        int r1 = c0 + 1 * ldc;
        DoubleVector c10 = DoubleVector.fromArray(S, from, f0 + 1 * ldf);
        DoubleVector c11 = DoubleVector.fromArray(S, from, f0 + 1 * ldf + L);
        DoubleVector c12 = DoubleVector.fromArray(S, from, f0 + 1 * ldf + 2 * L);
        int r2 = c0 + 2 * ldc;
        DoubleVector c20 = DoubleVector.fromArray(S, from, f0 + 2 * ldf);
        DoubleVector c21 = DoubleVector.fromArray(S, from, f0 + 2 * ldf + L);
        DoubleVector c22 = DoubleVector.fromArray(S, from, f0 + 2 * ldf + 2 * L);
        int r3 = c0 + 3 * ldc;
        DoubleVector c30 = DoubleVector.fromArray(S, from, f0 + 3 * ldf);
        DoubleVector c31 = DoubleVector.fromArray(S, from, f0 + 3 * ldf + L);
        DoubleVector c32 = DoubleVector.fromArray(S, from, f0 + 3 * ldf + 2 * L);
        int r1a = 1 * lda;
        int r2a = 2 * lda;
        int r3a = 3 * lda;
        for (int p = 0; p < kc; p++) {
            int bp = p * NR;
            int ap = a0 + p;
            DoubleVector b0 = DoubleVector.fromArray(S, panel, bp);
            DoubleVector b1 = DoubleVector.fromArray(S, panel, bp + L);
            DoubleVector b2 = DoubleVector.fromArray(S, panel, bp + 2 * L);
            DoubleVector x = DoubleVector.broadcast(S, a[ap]);
            c00 = b0.fma(x, c00);
            c01 = b1.fma(x, c01);
            c02 = b2.fma(x, c02);
            x = DoubleVector.broadcast(S, a[ap + r1a]);
            c10 = b0.fma(x, c10);
            c11 = b1.fma(x, c11);
            c12 = b2.fma(x, c12);
            x = DoubleVector.broadcast(S, a[ap + r2a]);
            c20 = b0.fma(x, c20);
            c21 = b1.fma(x, c21);
            c22 = b2.fma(x, c22);
            x = DoubleVector.broadcast(S, a[ap + r3a]);
            c30 = b0.fma(x, c30);
            c31 = b1.fma(x, c31);
            c32 = b2.fma(x, c32);
        }
        c00.intoArray(c, r0);
        c01.intoArray(c, r0 + L);
        c02.intoArray(c, r0 + 2 * L);
        c10.intoArray(c, r1);
        c11.intoArray(c, r1 + L);
        c12.intoArray(c, r1 + 2 * L);
        c20.intoArray(c, r2);
        c21.intoArray(c, r2 + L);
        c22.intoArray(c, r2 + 2 * L);
        c30.intoArray(c, r3);
        c31.intoArray(c, r3 + L);
        c32.intoArray(c, r3 + 2 * L);
    }

    /** One row: C[1, NR] = from[1, NR] + A[1, kc] * panel. */
    private static void kernel1(int kc, double[] a, int a0, double[] panel, double[] from, int f0, double[] c, int c0) {
        DoubleVector c0v = DoubleVector.fromArray(S, from, f0);
        DoubleVector c1v = DoubleVector.fromArray(S, from, f0 + L);
        DoubleVector c2v = DoubleVector.fromArray(S, from, f0 + 2 * L);
        for (int p = 0; p < kc; p++) {
            int bp = p * NR;
            DoubleVector x = DoubleVector.broadcast(S, a[a0 + p]);
            c0v = DoubleVector.fromArray(S, panel, bp).fma(x, c0v);
            c1v = DoubleVector.fromArray(S, panel, bp + L).fma(x, c1v);
            c2v = DoubleVector.fromArray(S, panel, bp + 2 * L).fma(x, c2v);
        }
        store(c0v, c1v, c2v, c, c0);
    }

    private static void store(DoubleVector v0, DoubleVector v1, DoubleVector v2, double[] dst, int off) {
        v0.intoArray(dst, off);
        v1.intoArray(dst, off + L);
        v2.intoArray(dst, off + 2 * L);
    }
}
