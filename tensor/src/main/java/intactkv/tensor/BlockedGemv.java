package intactkv.tensor;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The one-row product {@code c (1, N) = a (1, K) W^T} of decoding for a weight held in the
 * row-interleaved layout ({@link RowBlocks}), vectorised across output rows: one vector holds the
 * partial sums of the {@link #LANES} rows of a block, and at each step p
 * <pre>
 *   acc = fma(W[block rows, p], broadcast(a_p), acc)      (lane r: c_j = fma(a_p, W[j, p], c_j), j = block row r)
 * </pre>
 * so every output row is still one chain {@code c_j = fma(a_p, W[j, p], c_j)} over p = 0..K-1 from 0,
 * exactly the order of {@link Gemm} and {@link Gemv}: the same bits, on any vector width (a lane-wise
 * FMA rounds each lane once, as {@link Math#fma}; the product {@code a_p W[j, p]} is commutative). Only
 * which rows run side by side changes. {@link #GROUP} blocks are accumulated together so that that many
 * independent FMA chains hide the FMA latency. The layout's units ({@link RowBlocks#group()}: {@link #GROUP} blocks,
 * {@link #GROUP_F16}, or 1) hold their blocks' steps side by side, so a kernel pass over a unit reads one stream
 * (with {@code group} 1, each block its own unit, as {@link #GROUP} streams). BF16 and FP16 weights are widened in
 * registers as they are loaded; other dtypes are converted to doubles {@link #KC} steps at a time
 * ({@link WeightStorage#heldToDouble}: one contiguous run per unit) into a buffer that stays in L1. The blocks of a
 * last, partial group of {@link #GROUP} are summed one vector chain each (four at a time for a unit of four FP16
 * blocks), and the rows of a last, partial block (N not a multiple of the lanes) one chain each, in the same order.
 */
final class BlockedGemv {
    private static final VectorSpecies<Double> S = DoubleVector.SPECIES_PREFERRED;
    /** Rows of a block: the preferred vector's double lanes (4 with AVX2, 8 with AVX-512). */
    static final int LANES = S.length();
    /**
     * Blocks accumulated together: 8 independent chains cover the FMA latency (4-5 cycles) at 1-2 FMAs a cycle;
     * {@link RowBlocks#preferred} groups the blocks of BF16 and F32 weights by as many.
     */
    static final int GROUP = 8;
    /**
     * Blocks of an FP16 weight's units ({@link RowBlocks#preferred}): its kernel sums a group of {@link #GROUP} blocks
     * as two passes of four ({@link #groupF16}), so each pass reads one unit of four blocks as one stream. From a
     * group of eight held as one unit, each pass read every other 64-byte line of it: 11 against 14 GB/s on one core
     * and 22 against 28 on two for TinyLlama's LM head (GemvStored 32000 2048 f16, 2026-12-08).
     */
    static final int GROUP_F16 = GROUP / 2;
    /** Steps converted at a time: GROUP x LANES x KC doubles = 16 KB with AVX2, 32 KB with AVX-512 (L1). */
    private static final int KC = 64;

    private BlockedGemv() {
    }

    /**
     * {@code c[cOff + j] = sum_p a[aOff + p] * W[j, p]} for j < N, with W held by {@code b} in the layout
     * {@code blocks} (whose lanes must be {@link #LANES}, and whose groups {@link #GROUP} blocks or 1: {@link
     * #reads}); {@code c} is <em>modified</em>. Groups of blocks are split over threads when {@code parallel} and
     * the product is large (>= 1M multiply-adds a chunk).
     */
    static void multiply(double[] a, int aOff, WeightStorage b, RowBlocks blocks, double[] c, int cOff,
                         boolean parallel) {
        if (!reads(blocks)) {
            throw new IllegalArgumentException("row blocks of " + blocks.lanes() + " rows in groups of "
                    + blocks.group() + ", this kernel reads " + LANES + " in groups of " + GROUP + ", " + GROUP_F16
                    + " or 1");
        }
        int k = blocks.cols();
        int full = blocks.fullBlocks();
        int groups = (full + GROUP - 1) / GROUP;
        // split products of >= 2 x 256K multiply-adds: a chunk then takes ~0.1 ms, far above the 1-8 us hand-off to
        // Parallel's spinning workers (1M until session 22, when waking a parked worker took 55-69 us; now the
        // 256 x 2048 k and v products of a TinyLlama layer run on both cores too)
        int minChunk = parallel ? (int) Math.max(1, (1L << 18) / Math.max(1L, (long) GROUP * LANES * k)) : groups;
        short[] bf16 = b instanceof Bf16Storage s && VectorBf16.lanes() == LANES ? s.heldBits() : null;
        // FP16 read scaled by 2^-112 against the input scaled by 2^112 (VectorF16): the same bits, where exact
        short[] f16 = b instanceof F16Storage s && VectorF16.lanes() == LANES && s.finite()
                && maxAbs(a, aOff, k) < VectorF16.MAX_SCALED_INPUT ? s.heldBits() : null;
        Parallel.forRange(groups, minChunk, (lo, hi) -> {
            double[] buf = new double[GROUP * LANES * KC];
            for (int g = lo; g < hi; g++) {
                int b0 = g * GROUP;
                int nb = Math.min(GROUP, full - b0);
                if (nb < GROUP) {
                    partial(k, a, aOff, b, blocks, b0, nb, f16, buf, c, cOff);
                    continue;
                }
                // the eight blocks of a full group share one step stride (their units are full units of the layout);
                // block q is held from start + q blockOffset (q < 4) or half + (q - 4) blockOffset
                int start = blocks.blockStart(b0);
                int half = blocks.blockStart(b0 + GROUP / 2);
                int blockOffset = blocks.blockStart(b0 + 1) - start;
                int stride = blocks.stepStride(b0);
                if (bf16 != null) {
                    groupBf16(k, a, aOff, bf16, start, half, blockOffset, stride, c, cOff + b0 * LANES);
                } else if (f16 != null) {
                    groupF16(k, a, aOff, f16, start, half, blockOffset, stride, c, cOff + b0 * LANES);
                } else {
                    group(k, a, aOff, b, blocks, b0, buf, c, cOff);
                }
            }
        });
        if (blocks.tailRows() > 0) {
            tail(k, blocks.tailRows(), a, aOff, b, full * LANES, buf(), c, cOff);
        }
    }

    /** The largest |a[aOff + p]| for p &lt; k (NaN if any is NaN: then the FP16 path is not taken). */
    private static double maxAbs(double[] a, int aOff, int k) {
        double m = 0;
        for (int p = 0; p < k; p++) {
            double v = Math.abs(a[aOff + p]);
            if (Double.isNaN(v)) {
                return v;
            }
            m = Math.max(m, v);
        }
        return m;
    }

    private static double[] buf() {
        return new double[GROUP * LANES * KC];
    }

    /**
     * Whether {@link #multiply} reads {@code blocks}: {@link #LANES} rows a block, {@link #GROUP}, {@link #GROUP_F16}
     * or 1 a group.
     */
    static boolean reads(RowBlocks blocks) {
        return blocks.lanes() == LANES
                && (blocks.group() == GROUP || blocks.group() == GROUP_F16 || blocks.group() == 1);
    }

    /**
     * The {@code nb} (&lt; {@link #GROUP}) blocks of a last, partial group from block {@code b0}: a full unit of
     * {@link #GROUP_F16} FP16 blocks by {@link #fourF16} when the FP16 path is taken ({@code f16} not null), every
     * other block one vector chain ({@link #oneBlock}).
     */
    private static void partial(int k, double[] a, int aOff, WeightStorage b, RowBlocks blocks, int b0, int nb,
                                short[] f16, double[] buf, double[] c, int cOff) {
        for (int q = b0; q < b0 + nb; ) {
            int stride = blocks.stepStride(q);
            if (f16 != null && stride == GROUP_F16 * LANES) {
                fourF16(k, a, aOff, f16, blocks.blockStart(q), LANES, stride, c, cOff + q * LANES);
                q += GROUP_F16;
            } else {
                oneBlock(k, a, aOff, b, blocks.blockStart(q), stride, buf, c, cOff + q * LANES);
                q++;
            }
        }
    }

    /**
     * {@link #GROUP} blocks from block {@code b0}, eight vector chains side by side. Their steps are converted
     * {@link #KC} at a time into {@code buf}, one run per unit of the layout (a group of eight, two units of four, or
     * eight blocks of their own): unit u's run of {@code kc} steps at {@code u KC stride}, so block q's step p sits
     * at {@code (q / ub) KC stride + (q mod ub) LANES + p stride}, ub the unit's blocks. The chains are kept in c
     * between chunks of steps (loaded before, stored after), so no vector lives across the conversion calls.
     */
    private static void group(int k, double[] a, int aOff, WeightStorage b, RowBlocks blocks, int b0, double[] buf,
                              double[] c, int cOff) {
        int j = cOff + b0 * LANES;
        java.util.Arrays.fill(c, j, j + GROUP * LANES, 0.0);
        int stride = blocks.stepStride(b0);
        int ub = stride / LANES;
        int[] at = new int[GROUP];
        for (int q = 0; q < GROUP; q++) {
            at[q] = q / ub * KC * stride + q % ub * LANES;
        }
        for (int p0 = 0; p0 < k; p0 += KC) {
            int kc = Math.min(KC, k - p0);
            for (int u = 0; u < GROUP / ub; u++) {
                b.heldToDouble(blocks.blockStart(b0 + u * ub) + p0 * stride, kc * stride, buf, u * KC * stride);
            }
            steps(kc, a, aOff + p0, buf, at, stride, c, j);
        }
    }

    /**
     * {@link #group} for BF16 weights (and, {@link #groupF16}, FP16), read straight from their patterns: each step
     * loads one block's {@link #LANES} patterns and widens them in registers instead of converting through a buffer;
     * the eight chains stay in registers for all K steps. BF16: {@link VectorBf16#load}, exact. FP16:
     * {@link VectorF16#loadScaled}, the weight times 2^-112, against {@code a_p} times 2^112 (the caller has checked
     * that both are exact), so each FMA rounds {@code w a_p + c}, as with the weight itself. Block q's step p is held
     * at {@code o0 + q blockOffset + p stride} for q &lt; 4 and {@code o4 + (q - 4) blockOffset + p stride} for the
     * rest (a group held as one unit: blockOffset LANES, stride GROUP LANES, one stream; two units of four: the same
     * with stride 4 LANES, two streams; blocks of their own: LANES K and LANES). Same sums, same order; the sums go
     * to {@code c[j ..]}.
     */
    static void groupBf16(int k, double[] a, int aOff, short[] bits, int o0, int o4, int blockOffset,
                                  int stride, double[] c, int j) {
        int o1 = o0 + blockOffset;
        int o2 = o1 + blockOffset;
        int o3 = o2 + blockOffset;
        int o5 = o4 + blockOffset;
        int o6 = o5 + blockOffset;
        int o7 = o6 + blockOffset;
        DoubleVector c0 = DoubleVector.zero(S);
        DoubleVector c1 = c0;
        DoubleVector c2 = c0;
        DoubleVector c3 = c0;
        DoubleVector c4 = c0;
        DoubleVector c5 = c0;
        DoubleVector c6 = c0;
        DoubleVector c7 = c0;
        for (int p = 0; p < k; p++) {
            DoubleVector x = DoubleVector.broadcast(S, a[aOff + p]);
            int o = p * stride;
            c0 = VectorBf16.load(bits, o0 + o).fma(x, c0);
            c1 = VectorBf16.load(bits, o1 + o).fma(x, c1);
            c2 = VectorBf16.load(bits, o2 + o).fma(x, c2);
            c3 = VectorBf16.load(bits, o3 + o).fma(x, c3);
            c4 = VectorBf16.load(bits, o4 + o).fma(x, c4);
            c5 = VectorBf16.load(bits, o5 + o).fma(x, c5);
            c6 = VectorBf16.load(bits, o6 + o).fma(x, c6);
            c7 = VectorBf16.load(bits, o7 + o).fma(x, c7);
        }
        c0.intoArray(c, j);
        c1.intoArray(c, j + LANES);
        c2.intoArray(c, j + 2 * LANES);
        c3.intoArray(c, j + 3 * LANES);
        c4.intoArray(c, j + 4 * LANES);
        c5.intoArray(c, j + 5 * LANES);
        c6.intoArray(c, j + 6 * LANES);
        c7.intoArray(c, j + 7 * LANES);
    }

    /**
     * {@link #groupBf16} for FP16: the patterns scaled by 2^-112 against the input scaled by 2^112 (exact). The eight
     * chains run as two passes of four ({@link #fourF16}), blocks 0-3 from {@code o0} then 4-7 from {@code o4}: eight
     * FP16 loads in one method exceed C2's node budget for inlining (NodeCountInliningCutoff), and a load left as a
     * call returns a boxed vector, five times slower (measured, JDK 17). Each row's chain is unchanged, so the same
     * sums in the same order. FP16 weights are held in units of four blocks ({@link #GROUP_F16}), so each pass reads
     * one stream.
     */
    private static void groupF16(int k, double[] a, int aOff, short[] bits, int o0, int o4, int blockOffset,
                                 int stride, double[] c, int j) {
        for (int half = 0; half < 2; half++) { // one call site: inlined, it brings four loads, not eight
            fourF16(k, a, aOff, bits, half == 0 ? o0 : o4, blockOffset, stride, c, j + half * GROUP_F16 * LANES);
        }
    }

    /**
     * Four chains of {@link #groupF16} over all {@code k} steps: block q's step p at {@code o0 + q blockOffset +
     * p stride}, q &lt; 4; the sums to {@code c[j ..]}.
     */
    private static void fourF16(int k, double[] a, int aOff, short[] bits, int o0, int blockOffset, int stride,
                                double[] c, int j) {
        int o1 = o0 + blockOffset;
        int o2 = o1 + blockOffset;
        int o3 = o2 + blockOffset;
        DoubleVector c0 = DoubleVector.zero(S);
        DoubleVector c1 = c0;
        DoubleVector c2 = c0;
        DoubleVector c3 = c0;
        for (int p = 0; p < k; p++) {
            DoubleVector x = DoubleVector.broadcast(S, a[aOff + p] * VectorF16.SCALE);
            int o = p * stride;
            c0 = VectorF16.loadScaled(bits, o0 + o).fma(x, c0);
            c1 = VectorF16.loadScaled(bits, o1 + o).fma(x, c1);
            c2 = VectorF16.loadScaled(bits, o2 + o).fma(x, c2);
            c3 = VectorF16.loadScaled(bits, o3 + o).fma(x, c3);
        }
        c0.intoArray(c, j);
        c1.intoArray(c, j + LANES);
        c2.intoArray(c, j + 2 * LANES);
        c3.intoArray(c, j + 3 * LANES);
    }

    /**
     * {@code kc} steps of the eight chains of a group, from their sums in {@code c[j ..]} (read and written); block
     * q's step p is {@code buf[at[q] + p stride]}.
     */
    private static void steps(int kc, double[] a, int aOff, double[] buf, int[] at, int stride, double[] c, int j) {
        int a0 = at[0];
        int a1 = at[1];
        int a2 = at[2];
        int a3 = at[3];
        int a4 = at[4];
        int a5 = at[5];
        int a6 = at[6];
        int a7 = at[7];
        DoubleVector c0 = DoubleVector.fromArray(S, c, j);
        DoubleVector c1 = DoubleVector.fromArray(S, c, j + LANES);
        DoubleVector c2 = DoubleVector.fromArray(S, c, j + 2 * LANES);
        DoubleVector c3 = DoubleVector.fromArray(S, c, j + 3 * LANES);
        DoubleVector c4 = DoubleVector.fromArray(S, c, j + 4 * LANES);
        DoubleVector c5 = DoubleVector.fromArray(S, c, j + 5 * LANES);
        DoubleVector c6 = DoubleVector.fromArray(S, c, j + 6 * LANES);
        DoubleVector c7 = DoubleVector.fromArray(S, c, j + 7 * LANES);
        for (int p = 0; p < kc; p++) {
            DoubleVector x = DoubleVector.broadcast(S, a[aOff + p]);
            int o = p * stride;
            c0 = DoubleVector.fromArray(S, buf, a0 + o).fma(x, c0);
            c1 = DoubleVector.fromArray(S, buf, a1 + o).fma(x, c1);
            c2 = DoubleVector.fromArray(S, buf, a2 + o).fma(x, c2);
            c3 = DoubleVector.fromArray(S, buf, a3 + o).fma(x, c3);
            c4 = DoubleVector.fromArray(S, buf, a4 + o).fma(x, c4);
            c5 = DoubleVector.fromArray(S, buf, a5 + o).fma(x, c5);
            c6 = DoubleVector.fromArray(S, buf, a6 + o).fma(x, c6);
            c7 = DoubleVector.fromArray(S, buf, a7 + o).fma(x, c7);
        }
        c0.intoArray(c, j);
        c1.intoArray(c, j + LANES);
        c2.intoArray(c, j + 2 * LANES);
        c3.intoArray(c, j + 3 * LANES);
        c4.intoArray(c, j + 4 * LANES);
        c5.intoArray(c, j + 5 * LANES);
        c6.intoArray(c, j + 6 * LANES);
        c7.intoArray(c, j + 7 * LANES);
    }

    /**
     * One block alone (a block of a last, partial group), held from {@code base} with its steps {@code stride} apart
     * (LANES: its own unit, whose {@code kc} steps are one run; wider: a block of a unit of four, converted a step at
     * a time): one vector chain, kept in {@code c[j ..]} between chunks.
     */
    private static void oneBlock(int k, double[] a, int aOff, WeightStorage b, int base, int stride, double[] buf,
                                 double[] c, int j) {
        java.util.Arrays.fill(c, j, j + LANES, 0.0);
        for (int p0 = 0; p0 < k; p0 += KC) {
            int kc = Math.min(KC, k - p0);
            if (stride == LANES) {
                b.heldToDouble(base + p0 * LANES, kc * LANES, buf, 0);
            } else {
                for (int p = 0; p < kc; p++) {
                    b.heldToDouble(base + (p0 + p) * stride, LANES, buf, p * LANES);
                }
            }
            DoubleVector acc = DoubleVector.fromArray(S, c, j);
            for (int p = 0; p < kc; p++) {
                acc = DoubleVector.fromArray(S, buf, p * LANES).fma(DoubleVector.broadcast(S, a[aOff + p0 + p]), acc);
            }
            acc.intoArray(c, j);
        }
    }

    /**
     * The last, partial block: {@code width} rows from row {@code j0}, held k-major at a stride of
     * {@code width}; each row one scalar chain {@code c_j = fma(a_p, W[j, p], c_j)}, p in order.
     */
    static void tail(int k, int width, double[] a, int aOff, WeightStorage b, int j0, double[] buf, double[] c,
                     int cOff) {
        int base = j0 * k;
        java.util.Arrays.fill(c, cOff + j0, cOff + j0 + width, 0.0);
        int steps = buf.length / width;
        for (int p0 = 0; p0 < k; p0 += steps) {
            int kc = Math.min(steps, k - p0);
            b.heldToDouble(base + p0 * width, kc * width, buf, 0);
            for (int r = 0; r < width; r++) {
                double acc = c[cOff + j0 + r];
                for (int p = 0; p < kc; p++) {
                    acc = Math.fma(a[aOff + p0 + p], buf[p * width + r], acc);
                }
                c[cOff + j0 + r] = acc;
            }
        }
    }
}
