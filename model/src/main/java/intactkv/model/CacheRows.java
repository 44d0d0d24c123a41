package intactkv.model;

import intactkv.autograd.Attention;
import intactkv.autograd.Value;
import intactkv.tensor.ElementDtype;
import intactkv.tensor.NarrowArray;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One layer's keys or values during decoding, as the first {@code length} rows of each head of a
 * buffer with spare rows: {@code (B, h_kv, cap, d_h)}, {@code length <= cap}. What
 * {@link LlamaModel} keeps in a {@link KvCache} when it runs without gradients after a past, so
 * that a new token is written after the past instead of the past being copied into a new
 * (p + 1)-row tensor at every step, as {@code torch.cat} in Hugging Face's {@code DynamicCache}
 * does.
 *
 * <p>The buffer holds doubles, or (a cache made with a narrower {@link ElementDtype}) F32, F16 or BF16 elements
 * ({@link NarrowArray}): every row is rounded to that format when it is written, by {@link #append} or when a past is
 * copied in, and attention widens the rows it reads back to double exactly
 * ({@link Attention#causalOutputOnRows(Value, NarrowArray, NarrowArray, Shape, int)}). A narrow buffer's numbers are
 * therefore those of a double buffer holding the rounded rows.
 *
 * <p>{@link #append} writes in place when this view is the newest one of its buffer
 * ({@code length} equals the rows any view has claimed) and the new rows fit; otherwise (an older
 * view, i.e. a second continuation of the same cache, or no room left) it copies the used rows
 * into a new buffer of twice the new length, capped at {@code maxRows}. So n decoding steps copy
 * the past about log2 n times, and two continuations of one cache never see each other's rows.
 * The claim is an atomic compare-and-set, so continuing one cache from two threads is safe too.
 * Rows past {@code length} are never read ({@link Attention#causalOnRows(Value, Tensor, Tensor, int)}).
 */
final class CacheRows {
    /** (B, h_kv, cap, d_h). */
    private final Shape shape;
    /** The elements when held as doubles, else null. */
    private final double[] doubles;
    /** The elements when held narrower, else null. */
    private final NarrowArray narrow;
    private final int length;
    /** The number of rows of the buffer in use by its newest view; shared by all its views. */
    private final AtomicInteger claimed;

    private CacheRows(Shape shape, double[] doubles, NarrowArray narrow, int length, AtomicInteger claimed) {
        this.shape = shape;
        this.doubles = doubles;
        this.narrow = narrow;
        this.length = length;
        this.claimed = claimed;
    }

    /** A buffer of zeros of {@code shape} in {@code dtype}, of which no row is used yet. */
    private static CacheRows zeros(Shape shape, ElementDtype dtype, int length) {
        return dtype == ElementDtype.F64
                ? new CacheRows(shape, new double[shape.numel()], null, length, new AtomicInteger(length))
                : new CacheRows(shape, null, NarrowArray.zeros(dtype, shape.numel()), length,
                        new AtomicInteger(length));
    }

    /**
     * The rows of a past given as a tensor: (B, h_kv, p, d_h) as it is, or (h_kv, p, d_h), one
     * past shared by the {@code b} sequences of a batch (the IntactKV prefix), repeated for each.
     * No spare rows; the first {@link #append} makes them. Held as doubles (the tensor itself when it is
     * (B, h_kv, p, d_h)).
     */
    static CacheRows of(Tensor past, int b) {
        if (past.rank() == 4) {
            if (past.dim(0) != b) {
                throw new IllegalArgumentException("past key/values for " + past.dim(0) + " sequences, input has " + b);
            }
            return new CacheRows(past.shape(), past.data(), null, past.dim(2), new AtomicInteger(past.dim(2)));
        }
        int size = past.data().length;
        double[] rep = new double[b * size];
        for (int i = 0; i < b; i++) {
            System.arraycopy(past.data(), 0, rep, i * size, size);
        }
        return new CacheRows(Shape.of(b, past.dim(0), past.dim(1), past.dim(2)), rep, null, past.dim(1),
                new AtomicInteger(past.dim(1)));
    }

    /** No rows yet, room for {@code cap}: a buffer (B, h_kv, cap, d_h) in {@code dtype} that appends fill in place. */
    static CacheRows empty(int b, int hkv, int cap, int dh, ElementDtype dtype) {
        return zeros(Shape.of(b, hkv, cap, dh), dtype, 0);
    }

    /** The buffer's shape (B, h_kv, cap, d_h); only the first {@link #length()} rows of each head are this view's. */
    Shape shape() {
        return shape;
    }

    /**
     * The array the rows are held in, a {@code double[]} or a {@link NarrowArray}: the same object while appends write
     * in place.
     */
    Object held() {
        return narrow != null ? narrow : doubles;
    }

    /** The format the rows are held in. */
    ElementDtype dtype() {
        return narrow == null ? ElementDtype.F64 : narrow.dtype();
    }

    /** Rows in use (the past length p of this view). */
    int length() {
        return length;
    }

    /**
     * This view followed by {@code rows (B, h_kv, T, d_h)} (rounded to {@link #dtype()}): a view of length + T rows,
     * in this buffer when it is the newest view and they fit, else in a new one of
     * {@code min(max(2 (length + T), 16), maxRows)} rows (at least length + T).
     */
    CacheRows append(Tensor rows, int maxRows) {
        int b = shape.dim(0);
        int hkv = shape.dim(1);
        int cap = shape.dim(2);
        int dh = shape.dim(3);
        if (rows.rank() != 4 || rows.dim(0) != b || rows.dim(1) != hkv || rows.dim(3) != dh) {
            throw new IllegalArgumentException("cache rows " + shape + ": cannot append " + rows.shape());
        }
        int t = rows.dim(2);
        int n = length + t;
        CacheRows dst = this;
        AtomicInteger owner = claimed;
        if (n > cap || !claimed.compareAndSet(length, n)) {
            dst = copied(Math.max(n, Math.min(Math.max(2 * n, 16), maxRows)), dtype());
            owner = new AtomicInteger(n);
        }
        int dstCap = dst.shape.dim(2);
        for (int head = 0; head < b * hkv; head++) {
            int at = (head * dstCap + length) * dh;
            if (dst.narrow != null) {
                dst.narrow.write(rows.data(), head * t * dh, at, t * dh);
            } else {
                System.arraycopy(rows.data(), head * t * dh, dst.doubles, at, t * dh);
            }
        }
        return new CacheRows(dst.shape, dst.doubles, dst.narrow, n, owner);
    }

    /**
     * This view's rows copied into a new buffer of {@code cap} rows (at least {@link #length()}), whose spare rows
     * the next appends fill in place: a decoding loop that knows its final length reserves it once, instead of the
     * buffer doubling towards {@code max_position_embeddings} ({@link #append}), where the last doubling holds the
     * old and the new buffer at once. The new buffer holds {@code dtype}: rows held as doubles are rounded to it,
     * narrow rows widened or copied as they are. This view and its buffer are not changed.
     */
    CacheRows withCapacity(int cap, ElementDtype dtype) {
        if (cap < length) {
            throw new IllegalArgumentException("cache rows of length " + length + ": cannot reserve " + cap + " rows");
        }
        return copied(cap, dtype);
    }

    /** This view's rows in a new buffer of {@code cap} rows held in {@code dtype}, of which they are the used ones. */
    private CacheRows copied(int cap, ElementDtype dtype) {
        int heads = shape.dim(0) * shape.dim(1);
        int old = shape.dim(2);
        int dh = shape.dim(3);
        CacheRows dst = zeros(Shape.of(shape.dim(0), shape.dim(1), cap, dh), dtype, length);
        int count = length * dh;
        // rows held narrow are widened first (unless they go into the same format as they are); then rounded to the
        // new buffer's format, or copied as doubles
        double[] widened = narrow != null ? new double[count] : null;
        for (int head = 0; head < heads; head++) {
            int from = head * old * dh;
            int at = head * cap * dh;
            if (narrow != null && dtype == narrow.dtype()) {
                narrow.copyTo(from, dst.narrow, at, count);
                continue;
            }
            double[] src = narrow == null ? doubles : widened;
            int srcOff = narrow == null ? from : 0;
            if (narrow != null) {
                narrow.read(from, count, widened, 0);
            }
            if (dst.narrow != null) {
                dst.narrow.write(src, srcOff, at, count);
            } else {
                System.arraycopy(src, srcOff, dst.doubles, at, count);
            }
        }
        return dst;
    }

    /** A copy of this view's rows as doubles: (B, h_kv, length, d_h) (the buffer itself when it has no spare rows). */
    Tensor exact() {
        int b = shape.dim(0);
        int hkv = shape.dim(1);
        int cap = shape.dim(2);
        int dh = shape.dim(3);
        if (cap == length && narrow == null) {
            return Tensor.wrap(doubles, shape);
        }
        return Tensor.wrap(copied(length, ElementDtype.F64).doubles, b, hkv, length, dh);
    }

    /**
     * Causal attention of {@code q (B, h, T, d_h)} over this view's rows as keys and {@code values}' as values (the
     * same length and format; the last T rows are the queries' own), with the probabilities when {@code probs}, else
     * the output alone ({@link Attention#causalOutputOnRows(Value, Tensor, Tensor, int)} and its narrow form).
     */
    Attention.Result attention(Value q, CacheRows values, boolean probs) {
        if (values.length != length || !values.shape.equals(shape) || values.dtype() != dtype()) {
            throw new IllegalArgumentException("keys " + shape + " (" + length + " rows, " + dtype().id()
                    + ") and values " + values.shape + " (" + values.length + ", " + values.dtype().id() + ") differ");
        }
        if (narrow != null) {
            return probs ? Attention.causalOnRows(q, narrow, values.narrow, shape, length)
                    : new Attention.Result(Value.constant(Attention.causalOutputOnRows(q, narrow, values.narrow, shape,
                    length)), null);
        }
        Tensor k = Tensor.wrap(doubles, shape);
        Tensor v = Tensor.wrap(values.doubles, shape);
        return probs ? Attention.causalOnRows(q, k, v, length)
                : new Attention.Result(Value.constant(Attention.causalOutputOnRows(q, k, v, length)), null);
    }
}
