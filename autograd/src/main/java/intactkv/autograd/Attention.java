package intactkv.autograd;

import intactkv.tensor.Axpy;
import intactkv.tensor.NarrowArray;
import intactkv.tensor.Parallel;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;

/**
 * Fused causal scaled-dot-product attention with grouped-query heads, forward and backward
 * side by side. It computes exactly what the composed form computes (HF's
 * {@code LlamaAttention.forward} / {@code eager_attention_forward}):
 * <pre>
 *   S_raw = Q K^T                      (B, h, T, p+T), query head j uses key/value head j / (h / h_kv)
 *   S     = S_raw / sqrt(d_h) + mask   mask: 0 where key s <= p + t, -inf after (causal after a past of p)
 *   P     = softmax(S)                 along the keys
 *   O     = P V                        (B, h, T, d_h)
 * </pre>
 * but per (sequence, key/value head) in one pass, skipping the masked keys, without
 * materialising S_raw, S, the mask or broadcast copies of K and V. Shapes:
 * q (B, h, T, d_h); k, v (B, h_kv, p+T, d_h).
 *
 * <p><b>Same numbers as the composed form.</b> Every score is summed as the GEMM kernel sums
 * ({@code c = fma(q_i, k_i, c)} for i = 0..d_h-1 from c = 0), divided (not multiplied) by
 * {@code sqrt(d_h)}; the softmax subtracts the row maximum, sums {@code exp} in key order and
 * divides, as {@link intactkv.tensor.Softmax}; the output sums {@code fma(P_ts, v_s, o)} in key
 * order. A masked key contributes {@code exp(-inf) = 0} to the sum and {@code fma(0, v, o) = o}
 * to the output in the composed form, so skipping it changes no bit: the forward is
 * bit-identical to {@code softmax(matmulTransB(q, k) / sqrt(d_h) + mask) v} (tested).
 *
 * <p><b>Backward</b>, with {@code G = dL/dO} and {@code c = 1 / sqrt(d_h)} applied as a division:
 * <pre>
 *   dL/dV_s  = sum_t P_ts G_t                          (summed over the h / h_kv query heads of the group)
 *   dP_ts    = G_t . V_s
 *   dS_ts    = P_ts (dP_ts - sum_s' P_ts' dP_ts') / sqrt(d_h)
 *   dL/dQ_t  = sum_s dS_ts K_s,     dL/dK_s = sum_t dS_ts Q_t
 * </pre>
 * The gradient is tested against the composed form's and against finite differences; it
 * sums in a different order than the composed form, so it agrees to rounding, not bit for bit.
 *
 * <p>Work is split over (sequence, key/value head) pairs with {@link Parallel}; each pair is
 * computed by one thread in a fixed order, so results do not depend on the number of threads.
 */
public final class Attention {
    private Attention() {
    }

    /** The attention output and the probabilities P (B, h, T, p+T), zero on masked keys. */
    public record Result(Value output, Tensor probs) {
    }

    /** Causal attention output {@code softmax(q k^T / sqrt(d_h) + mask) v}, (B, h, T, d_h); see the class comment. */
    public static Value causal(Value q, Value k, Value v) {
        return causalWithProbs(q, k, v, Mask.NONE).output();
    }

    /** {@link #causal}, also returning the attention probabilities (what {@code output_attentions} gives). */
    public static Result causalWithProbs(Value q, Value k, Value v) {
        return causalWithProbs(q, k, v, Mask.NONE);
    }

    /**
     * Causal attention with document masking: query t of sequence b sees key 0 and keys
     * {@code visibleFrom[b][t] .. p + t} only (keys 1 .. visibleFrom[b][t] - 1 are masked as the
     * future is, so their probability is exactly 0). With several documents packed in one window
     * behind one [BOS], {@code visibleFrom} = the position where the query's document starts makes
     * [BOS] the only key every query shares. {@code visibleFrom == null} is plain causal attention,
     * as is a row of ones. The backward needs no change: a masked key has P = 0, so
     * dS = P (dP - sum) / sqrt(d_h) = 0 and it receives and passes no gradient.
     */
    public static Result causalWithProbs(Value q, Value k, Value v, int[][] visibleFrom) {
        return causalWithProbs(q, k, v, new Mask(visibleFrom, null));
    }

    /**
     * The masks beyond causality, each null for none. {@code visibleFrom} (B, T) is the document
     * mask of {@link #causalWithProbs(Value, Value, Value, int[][])}. {@code selfOnly} (B, p+T):
     * a key s of sequence b with {@code selfOnly[b][s]} is seen by its own query (position s)
     * only and masked for every later query as the future is; key 0 ([BOS]) never is. The trainer
     * marks the gloss separators so, so that no query can park its attention on an earlier
     * separator. As for the document mask, a masked key gets probability exactly 0 and no
     * gradient, and a mask of all false is plain causal attention, bit for bit.
     */
    public record Mask(int[][] visibleFrom, boolean[][] selfOnly) {
        /** No mask beyond causality. */
        public static final Mask NONE = new Mask(null, null);

        /** Whether this mask masks nothing beyond causality (both parts null). */
        public boolean isNone() {
            return visibleFrom == null && selfOnly == null;
        }
    }

    /** Causal attention with the masks of {@code mask} (see {@link Mask}); probabilities as {@link #causalWithProbs(Value, Value, Value)}. */
    public static Result causalWithProbs(Value q, Value k, Value v, Mask mask) {
        int[][] visibleFrom = mask.visibleFrom();
        boolean[][] selfOnly = mask.selfOnly();
        Dims dm = Dims.of(q.shape(), k.shape(), v.shape());
        checkVisibleFrom(dm, visibleFrom);
        checkSelfOnly(dm, selfOnly);
        double[] qd = q.data().data();
        double[] kd = k.data().data();
        double[] vd = v.data().data();
        double[] probs = new double[dm.b * dm.h * dm.t * dm.s];
        double[] out = new double[dm.b * dm.h * dm.t * dm.dh];
        forwardAll(dm, qd, kd, vd, null, null, probs, out, visibleFrom, selfOnly);
        Tensor p = Tensor.wrap(probs, dm.b, dm.h, dm.t, dm.s);
        Value o = Value.result("attention", Tensor.wrap(out, dm.b, dm.h, dm.t, dm.dh), g -> {
            double[] gq = new double[qd.length];
            double[] gk = new double[kd.length];
            double[] gv = new double[vd.length];
            double[] gd = g.data();
            Parallel.forRange(dm.b * dm.hkv, 1, (lo, hi) -> {
                double[] vT = new double[dm.dh * dm.s];
                double[] ds = new double[dm.g * dm.t * dm.s];
                for (int task = lo; task < hi; task++) {
                    backwardPair(dm, task, qd, kd, vd, probs, gd, vT, ds, gq, gk, gv);
                }
            });
            q.accumulate(Tensor.wrap(gq, q.shape()));
            k.accumulate(Tensor.wrap(gk, k.shape()));
            v.accumulate(Tensor.wrap(gv, v.shape()));
        }, q, k, v);
        return new Result(o, p);
    }

    /**
     * Causal attention of q (B, h, T, d_h) over the first {@code keys} rows (p = keys - T past, then
     * the T new ones) of key and value buffers k, v (B, h_kv, cap, d_h) whose later rows are spare
     * and not read: what decoding with a KV cache of spare capacity uses, so that appending a token
     * does not copy the whole past. The same numbers as {@link #causalWithProbs(Value, Value, Value)}
     * on the first {@code keys} rows (the same code reads them). Inference only: refused when a
     * gradient would be recorded.
     */
    public static Result causalOnRows(Value q, Tensor k, Tensor v, int keys) {
        Dims dm = inferenceRows(q, k.shape(), v.shape(), keys);
        double[] probs = new double[dm.b * dm.h * dm.t * dm.s];
        double[] out = new double[dm.b * dm.h * dm.t * dm.dh];
        forwardAll(dm, q.data().data(), k.data(), v.data(), null, null, probs, out, null, null);
        return new Result(Value.constant(Tensor.wrap(out, dm.b, dm.h, dm.t, dm.dh)),
                Tensor.wrap(probs, dm.b, dm.h, dm.t, dm.s));
    }

    /**
     * {@link #causalOnRows(Value, Tensor, Tensor, int)} over key and value buffers of shape {@code kv}
     * (B, h_kv, cap, d_h) held in a narrower format ({@link NarrowArray}, a KV cache of F32, F16 or BF16): each
     * (sequence, key/value head) pair's first {@code keys} rows are widened to doubles (exactly) into a scratch
     * before the same code reads them, so the numbers are those of the double path on the rounded keys and values,
     * bit for bit.
     */
    public static Result causalOnRows(Value q, NarrowArray k, NarrowArray v, Shape kv, int keys) {
        Dims dm = inferenceRows(q, kv, kv, keys);
        requireHolds(k, v, kv);
        double[] probs = new double[dm.b * dm.h * dm.t * dm.s];
        double[] out = new double[dm.b * dm.h * dm.t * dm.dh];
        forwardAll(dm, q.data().data(), null, null, k, v, probs, out, null, null);
        return new Result(Value.constant(Tensor.wrap(out, dm.b, dm.h, dm.t, dm.dh)),
                Tensor.wrap(probs, dm.b, dm.h, dm.t, dm.s));
    }

    /**
     * The output of {@link #causalOnRows} without the probabilities: the same numbers, bit for bit (the same code,
     * {@code forwardPair}, writes each probability row into a per-thread scratch of four rows instead of a
     * (B, h, T, p+T) array, and each row is used by the output before the scratch is reused). What a forward pass
     * that returns no attentions runs without gradients: one layer's probabilities of a 2048-token window of
     * LLaMA-2-7B are 1 GiB (h T (p + T) doubles), four rows per thread are 64 KiB. Inference only, as
     * {@link #causalOnRows}, and so a tensor, not a {@link Value}: nothing to differentiate; {@code k} and {@code v}
     * may also be exact (cap = keys).
     */
    public static Tensor causalOutputOnRows(Value q, Tensor k, Tensor v, int keys) {
        Dims dm = inferenceRows(q, k.shape(), v.shape(), keys);
        double[] out = new double[dm.b * dm.h * dm.t * dm.dh];
        forwardAll(dm, q.data().data(), k.data(), v.data(), null, null, null, out, null, null);
        return Tensor.wrap(out, dm.b, dm.h, dm.t, dm.dh);
    }

    /**
     * {@link #causalOutputOnRows(Value, Tensor, Tensor, int)} over narrow key and value buffers of shape {@code kv},
     * widened pair by pair as {@link #causalOnRows(Value, NarrowArray, NarrowArray, Shape, int)} does: the same
     * bits as the double path on the rounded keys and values.
     */
    public static Tensor causalOutputOnRows(Value q, NarrowArray k, NarrowArray v, Shape kv, int keys) {
        Dims dm = inferenceRows(q, kv, kv, keys);
        requireHolds(k, v, kv);
        double[] out = new double[dm.b * dm.h * dm.t * dm.dh];
        forwardAll(dm, q.data().data(), null, null, k, v, null, out, null, null);
        return Tensor.wrap(out, dm.b, dm.h, dm.t, dm.dh);
    }

    /** The sizes of attention over the first {@code keys} rows of k and v, refused where a gradient would be recorded. */
    private static Dims inferenceRows(Value q, Shape k, Shape v, int keys) {
        if (GradMode.enabled() && q.requiresGrad()) {
            throw new IllegalStateException("attention over cache rows records no gradient; run it under GradMode.noGrad()");
        }
        return Dims.ofRows(q.shape(), k, v, keys);
    }

    /** Refuses narrow buffers that do not hold {@code kv}'s elements. */
    private static void requireHolds(NarrowArray k, NarrowArray v, Shape kv) {
        if (k.size() != kv.numel() || v.size() != kv.numel()) {
            throw new IllegalArgumentException("attention: narrow key/value buffers of " + k.size() + " and " + v.size()
                    + " elements for a shape " + kv + " of " + kv.numel());
        }
    }

    /**
     * The forward of every (sequence, key/value head) pair, split over threads. {@code probs} null: no probabilities
     * are kept, each thread writes them into a scratch of four rows ({@link ProbRows#scratch}).
     */
    private static void forwardAll(Dims dm, double[] qd, double[] kd, double[] vd, NarrowArray nk, NarrowArray nv,
                                   double[] probs, double[] out, int[][] visibleFrom, boolean[][] selfOnly) {
        Parallel.forRange(dm.b * dm.hkv, 1, (lo, hi) -> {
            double[] kT = new double[dm.dh * dm.s];
            ProbRows scratch = probs == null ? ProbRows.scratch(dm) : null;
            // narrow buffers: a pair's used rows widened into these (exact), read as the double path reads its own
            double[] kw = nk == null ? null : new double[dm.s * dm.dh];
            double[] vw = nk == null ? null : new double[dm.s * dm.dh];
            for (int task = lo; task < hi; task++) {
                int bi = task / dm.hkv;
                ProbRows rows = scratch != null ? scratch : ProbRows.of(dm, probs, task);
                int kvOff = task * dm.cap * dm.dh;
                if (nk != null) {
                    nk.read(kvOff, dm.s * dm.dh, kw, 0);
                    nv.read(kvOff, dm.s * dm.dh, vw, 0);
                }
                forwardPair(dm, task, qd, nk == null ? kd : kw, nk == null ? vd : vw, nk == null ? kvOff : 0, kT, rows,
                        out, visibleFrom == null ? null : visibleFrom[bi], selfOnly == null ? null : selfOnly[bi]);
            }
        });
    }

    /**
     * Where {@code forwardPair} writes the probability row of query t of the pair's query head gi: at
     * {@code base + gi * headStride + (t % kept) * S} in {@code p}. The whole (B, h, T, p+T) array ({@link #of}:
     * every row kept, what the backward and {@code output_attentions} read), or a scratch of four rows reused for
     * every head and every fourth query ({@link #scratch}): {@code forwardPair} reads a row only for the output of
     * its block of four queries (t - t % 4 .. t - t % 4 + 3) or of the last, shorter block, both done before the
     * scratch rows are written again. The scratch is not zero between rows, so {@code forwardPair} clears each row's
     * scores before accumulating into them, as a fresh array starts.
     */
    private record ProbRows(double[] p, int base, int headStride, int kept, boolean reused) {
        static ProbRows of(Dims dm, double[] probs, int task) {
            int firstHead = (task / dm.hkv) * dm.h + (task % dm.hkv) * dm.g;
            return new ProbRows(probs, firstHead * dm.t * dm.s, dm.t * dm.s, dm.t, false);
        }

        static ProbRows scratch(Dims dm) {
            return new ProbRows(new double[4 * dm.s], 0, 0, 4, true);
        }

        /** The offset of the row of query {@code t} of the pair's query head {@code gi}. */
        int row(Dims dm, int gi, int t) {
            return base + gi * headStride + (t % kept) * dm.s;
        }
    }

    /**
     * Forward for sequence {@code task / h_kv}, key/value head {@code task % h_kv}: its g query heads, their
     * probability rows written where {@code rows} says. {@code from} is that sequence's row of visibleFrom,
     * {@code self} its row of selfOnly, each or null.
     */
    private static void forwardPair(Dims dm, int task, double[] q, double[] k, double[] v, int kvOff, double[] kT,
                                    ProbRows rows, double[] out, int[] from, boolean[] self) {
        int bi = task / dm.hkv;
        int kvh = task % dm.hkv;
        double[] probs = rows.p();
        transpose(k, kvOff, dm.s, dm.dh, kT);
        double scale = Math.sqrt(dm.dh);
        for (int gi = 0; gi < dm.g; gi++) {
            int head = bi * dm.h + kvh * dm.g + gi;
            for (int t = 0; t < dm.t; t++) {
                int keys = dm.p + t + 1;
                int qRow = (head * dm.t + t) * dm.dh;
                int row = rows.row(dm, gi, t);
                if (rows.reused()) {
                    java.util.Arrays.fill(probs, row, row + keys, 0.0);
                }
                // scores of keys 0..keys-1, summed over d_h in order as the GEMM does (row starts at 0)
                Axpy.combine(q, qRow, 1, dm.dh, kT, 0, dm.s, probs, row, keys);
                // key 0 is always visible; with a document mask, keys 1 .. from-1 are as if in the
                // future (exp(-inf - m) = 0 below)
                int visible = from == null ? 1 : from[t];
                probs[row] = probs[row] / scale;
                double m = probs[row];
                java.util.Arrays.fill(probs, row + 1, row + visible, Double.NEGATIVE_INFINITY);
                for (int s = visible; s < keys; s++) {
                    if (self != null && self[s] && s < keys - 1) { // a self-only key before the query
                        probs[row + s] = Double.NEGATIVE_INFINITY;
                        continue;
                    }
                    probs[row + s] = probs[row + s] / scale;
                    m = Math.max(m, probs[row + s]);
                }
                double sum = 0;
                for (int s = 0; s < keys; s++) {
                    double e = Math.exp(probs[row + s] - m);
                    probs[row + s] = e;
                    sum += e;
                }
                for (int s = 0; s < keys; s++) {
                    probs[row + s] = probs[row + s] / sum;
                }
                if (t % 4 == 3) { // output rows t-3..t: sum over keys in order of P_ts v_s
                    weightedSum4(probs, rows.row(dm, gi, t - 3), dm.s, keys - 3, v, kvOff, dm.dh, out,
                            (head * dm.t + t - 3) * dm.dh);
                }
            }
            for (int t = dm.t - dm.t % 4; t < dm.t; t++) { // the last rows, fewer than four
                Axpy.combine(probs, rows.row(dm, gi, t), 1, dm.p + t + 1, v, kvOff, dm.dh, out,
                        (head * dm.t + t) * dm.dh, dm.dh);
            }
        }
    }

    /**
     * Four consecutive query rows of {@code out += P V} (rows of P at stride {@code ldp}, the
     * first with {@code keys} keys, each next with one more; rows of V and of out at stride
     * {@code dh}): the keys all four share in one {@link Axpy#combine4}, then each row's extra keys,
     * so each output still sums its keys 0, 1, ... in order, as one {@link Axpy#combine} per row
     * would. Also dQ = dS K in the backward, which has the same shape.
     */
    private static void weightedSum4(double[] p, int p0, int ldp, int keys, double[] v, int vOff, int dh,
                                     double[] out, int o0) {
        Axpy.combine4(p, p0, p0 + ldp, p0 + 2 * ldp, p0 + 3 * ldp, 1, keys, v, vOff, dh, out, o0, o0 + dh,
                o0 + 2 * dh, o0 + 3 * dh, dh);
        for (int r = 1; r < 4; r++) {
            Axpy.combine(p, p0 + r * ldp + keys, 1, r, v, vOff + keys * dh, dh, out, o0 + r * dh, dh);
        }
    }

    /**
     * Backward for one (sequence, key/value head) pair; writes its slices of gq, gk, gv. {@code ds} is
     * scratch for dL/dS of the pair's g heads, (g, T, p+T), overwritten.
     */
    private static void backwardPair(Dims dm, int task, double[] q, double[] k, double[] v, double[] probs,
                                     double[] g, double[] vT, double[] ds, double[] gq, double[] gk,
                                     double[] gv) {
        int bi = task / dm.hkv;
        int kvh = task % dm.hkv;
        int kvOff = (bi * dm.hkv + kvh) * dm.cap * dm.dh;
        transpose(v, kvOff, dm.s, dm.dh, vT);
        double scale = Math.sqrt(dm.dh);
        for (int gi = 0; gi < dm.g; gi++) {
            int head = bi * dm.h + kvh * dm.g + gi;
            for (int t = 0; t < dm.t; t++) {
                int keys = dm.p + t + 1;
                int row = (head * dm.t + t) * dm.s;
                int dRow = (gi * dm.t + t) * dm.s;
                int tRow = (head * dm.t + t) * dm.dh;
                // dP_ts = G_t . V_s, vectorised across keys through V^T
                java.util.Arrays.fill(ds, dRow, dRow + keys, 0.0);
                Axpy.combine(g, tRow, 1, dm.dh, vT, 0, dm.s, ds, dRow, keys);
                double dot = 0;
                for (int s = 0; s < keys; s++) {
                    dot += ds[dRow + s] * probs[row + s];
                }
                for (int s = 0; s < keys; s++) {
                    ds[dRow + s] = probs[row + s] * (ds[dRow + s] - dot) / scale;
                }
                if (t % 4 == 3) { // dL/dQ_t = sum_s dS_ts K_s for rows t-3..t
                    weightedSum4(ds, (gi * dm.t + t - 3) * dm.s, dm.s, keys - 3, k, kvOff, dm.dh, gq,
                            (head * dm.t + t - 3) * dm.dh);
                }
            }
            for (int t = dm.t - dm.t % 4; t < dm.t; t++) {
                Axpy.combine(ds, (gi * dm.t + t) * dm.s, 1, dm.p + t + 1, k, kvOff, dm.dh, gq,
                        (head * dm.t + t) * dm.dh, dm.dh);
            }
        }
        // dL/dK_s = sum_t dS_ts Q_t and dL/dV_s = sum_t P_ts G_t, over the group's heads then t in order
        for (int gi = 0; gi < dm.g; gi++) {
            int head = bi * dm.h + kvh * dm.g + gi;
            int rows = head * dm.t * dm.s;
            int qRows = head * dm.t * dm.dh;
            // keys s0..s0+3 together: each key's first queries (t0(s) .. t0(s0+3)-1) alone, then the queries
            // all four see in one combine4, so every key still sums its queries t0(s), t0(s)+1, ... in order
            int s0 = 0;
            for (; s0 + 4 <= dm.s; s0 += 4) {
                int tj = Math.max(0, s0 + 3 - dm.p);
                for (int s = s0; s < s0 + 3; s++) {
                    int t0 = Math.max(0, s - dm.p);
                    keyRows(dm, gi, rows, qRows, kvOff, s, t0, tj - t0, ds, probs, q, g, gk, gv);
                }
                int d0 = (gi * dm.t + tj) * dm.s + s0;
                int c0 = rows + tj * dm.s + s0;
                int k0 = kvOff + s0 * dm.dh;
                int qt = qRows + tj * dm.dh;
                int dh = dm.dh;
                Axpy.combine4(ds, d0, d0 + 1, d0 + 2, d0 + 3, dm.s, dm.t - tj, q, qt, dh, gk, k0, k0 + dh,
                        k0 + 2 * dh, k0 + 3 * dh, dh);
                Axpy.combine4(probs, c0, c0 + 1, c0 + 2, c0 + 3, dm.s, dm.t - tj, g, qt, dh, gv, k0, k0 + dh,
                        k0 + 2 * dh, k0 + 3 * dh, dh);
            }
            for (int s = s0; s < dm.s; s++) {
                int t0 = Math.max(0, s - dm.p);
                keyRows(dm, gi, rows, qRows, kvOff, s, t0, dm.t - t0, ds, probs, q, g, gk, gv);
            }
        }
    }

    /**
     * dL/dK_s += sum_t dS_ts Q_t and dL/dV_s += sum_t P_ts G_t over the {@code count} queries from
     * {@code t0}, in order, for key s of head {@code gi} of the group.
     */
    private static void keyRows(Dims dm, int gi, int rows, int qRows, int kvOff, int s, int t0, int count,
                                double[] ds, double[] probs, double[] q, double[] g, double[] gk, double[] gv) {
        if (count <= 0) {
            return;
        }
        int kvRow = kvOff + s * dm.dh;
        Axpy.combine(ds, (gi * dm.t + t0) * dm.s + s, dm.s, count, q, qRows + t0 * dm.dh, dm.dh, gk, kvRow, dm.dh);
        Axpy.combine(probs, rows + t0 * dm.s + s, dm.s, count, g, qRows + t0 * dm.dh, dm.dh, gv, kvRow, dm.dh);
    }

    private static void checkVisibleFrom(Dims dm, int[][] visibleFrom) {
        if (visibleFrom == null) {
            return;
        }
        if (visibleFrom.length != dm.b) {
            throw new IllegalArgumentException("attention: visibleFrom has " + visibleFrom.length + " rows for "
                    + dm.b + " sequences");
        }
        for (int b = 0; b < dm.b; b++) {
            if (visibleFrom[b].length != dm.t) {
                throw new IllegalArgumentException("attention: visibleFrom row " + b + " has " + visibleFrom[b].length
                        + " entries for " + dm.t + " queries");
            }
            for (int t = 0; t < dm.t; t++) {
                int f = visibleFrom[b][t];
                int last = Math.max(1, dm.p + t);
                if (f < 1 || f > last) {
                    throw new IllegalArgumentException("attention: visibleFrom[" + b + "][" + t + "] = " + f
                            + " outside [1, " + last + "] (query " + t + " sees key 0 and keys from.." + (dm.p + t)
                            + ", always itself)");
                }
            }
        }
    }

    private static void checkSelfOnly(Dims dm, boolean[][] selfOnly) {
        if (selfOnly == null) {
            return;
        }
        if (selfOnly.length != dm.b) {
            throw new IllegalArgumentException("attention: selfOnly has " + selfOnly.length + " rows for " + dm.b
                    + " sequences");
        }
        for (int b = 0; b < dm.b; b++) {
            if (selfOnly[b].length != dm.s) {
                throw new IllegalArgumentException("attention: selfOnly row " + b + " has " + selfOnly[b].length
                        + " entries for " + dm.s + " keys");
            }
            if (selfOnly[b][0]) {
                throw new IllegalArgumentException("attention: selfOnly[" + b + "][0] is set: key 0 ([BOS]) is seen"
                        + " by every query");
            }
        }
    }

    /** {@code dst[j * rows + r] = src[off + r * cols + j]}: a (rows, cols) block transposed. */
    private static void transpose(double[] src, int off, int rows, int cols, double[] dst) {
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                dst[j * rows + r] = src[off + r * cols + j];
            }
        }
    }

    /**
     * The sizes of one call, validated: B, h, h_kv, g = h / h_kv, T, S = p + T, p, d_h, and the rows
     * per key/value head in the k and v arrays (S, or more for {@link #causalOnRows}).
     */
    private record Dims(int b, int h, int hkv, int g, int t, int s, int p, int dh, int cap) {
        /** q (B, h, T, d_h) against buffers k, v (B, h_kv, cap, d_h) of which the first {@code keys} rows count. */
        static Dims ofRows(Shape q, Shape k, Shape v, int keys) {
            Dims all = of(q, k, v);
            if (keys < all.t || keys > all.s) {
                throw new IllegalArgumentException("attention: " + keys + " keys used of " + all.s + " rows, for "
                        + all.t + " queries");
            }
            return new Dims(all.b, all.h, all.hkv, all.g, all.t, keys, keys - all.t, all.dh, all.s);
        }

        static Dims of(Shape q, Shape k, Shape v) {
            q.requireRank("attention (q)", 4);
            k.requireRank("attention (k)", 4);
            if (!k.equals(v)) {
                throw new IllegalArgumentException("attention: k and v shapes differ: " + k + " and " + v);
            }
            int b = q.dim(0);
            int h = q.dim(1);
            int t = q.dim(2);
            int dh = q.dim(3);
            int hkv = k.dim(1);
            int s = k.dim(2);
            if (k.dim(0) != b || k.dim(3) != dh || hkv == 0 || h % hkv != 0 || s < t) {
                throw new IllegalArgumentException("attention: expected q (B, h, T, d_h) and k, v (B, h_kv, p+T, d_h)"
                        + " with h a multiple of h_kv and p >= 0, got q " + q + " and k " + k);
            }
            return new Dims(b, h, hkv, h / hkv, t, s, s - t, dh, s);
        }
    }
}
