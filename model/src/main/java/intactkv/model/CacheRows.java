package intactkv.model;

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
 * <p>{@link #append} writes in place when this view is the newest one of its buffer
 * ({@code length} equals the rows any view has claimed) and the new rows fit; otherwise (an older
 * view, i.e. a second continuation of the same cache, or no room left) it copies the used rows
 * into a new buffer of twice the new length, capped at {@code maxRows}. So n decoding steps copy
 * the past about log2 n times, and two continuations of one cache never see each other's rows.
 * The claim is an atomic compare-and-set, so continuing one cache from two threads is safe too.
 * Rows past {@code length} are never read ({@link intactkv.autograd.Attention#causalOnRows}).
 */
final class CacheRows {
    private final Tensor buffer;
    private final int length;
    /** The number of rows of {@code buffer} in use by its newest view; shared by all its views. */
    private final AtomicInteger claimed;

    private CacheRows(Tensor buffer, int length, AtomicInteger claimed) {
        this.buffer = buffer;
        this.length = length;
        this.claimed = claimed;
    }

    /**
     * The rows of a past given as a tensor: (B, h_kv, p, d_h) as it is, or (h_kv, p, d_h), one
     * past shared by the {@code b} sequences of a batch (the IntactKV prefix), repeated for each.
     * No spare rows; the first {@link #append} makes them.
     */
    static CacheRows of(Tensor past, int b) {
        if (past.rank() == 4) {
            if (past.dim(0) != b) {
                throw new IllegalArgumentException("past key/values for " + past.dim(0) + " sequences, input has " + b);
            }
            return new CacheRows(past, past.dim(2), new AtomicInteger(past.dim(2)));
        }
        int size = past.data().length;
        double[] rep = new double[b * size];
        for (int i = 0; i < b; i++) {
            System.arraycopy(past.data(), 0, rep, i * size, size);
        }
        return new CacheRows(Tensor.wrap(rep, b, past.dim(0), past.dim(1), past.dim(2)), past.dim(1),
                new AtomicInteger(past.dim(1)));
    }

    /** No rows yet, room for {@code cap}: a buffer (B, h_kv, cap, d_h) of zeros that appends fill in place. */
    static CacheRows empty(int b, int hkv, int cap, int dh) {
        return new CacheRows(Tensor.wrap(new double[b * hkv * cap * dh], b, hkv, cap, dh), 0, new AtomicInteger(0));
    }

    /** The buffer (B, h_kv, cap, d_h); only the first {@link #length()} rows of each head are this view's. */
    Tensor buffer() {
        return buffer;
    }

    /** Rows in use (the past length p of this view). */
    int length() {
        return length;
    }

    /**
     * This view followed by {@code rows (B, h_kv, T, d_h)}: a view of length + T rows, in this
     * buffer when it is the newest view and they fit, else in a new one of
     * {@code min(max(2 (length + T), 16), maxRows)} rows (at least length + T).
     */
    CacheRows append(Tensor rows, int maxRows) {
        int b = buffer.dim(0);
        int hkv = buffer.dim(1);
        int cap = buffer.dim(2);
        int dh = buffer.dim(3);
        if (rows.rank() != 4 || rows.dim(0) != b || rows.dim(1) != hkv || rows.dim(3) != dh) {
            throw new IllegalArgumentException("cache rows " + buffer.shape() + ": cannot append " + rows.shape());
        }
        int t = rows.dim(2);
        int n = length + t;
        Tensor dst = buffer;
        AtomicInteger owner = claimed;
        if (n > cap || !claimed.compareAndSet(length, n)) {
            int newCap = Math.max(n, Math.min(Math.max(2 * n, 16), maxRows));
            dst = Tensor.wrap(new double[b * hkv * newCap * dh], b, hkv, newCap, dh);
            for (int head = 0; head < b * hkv; head++) {
                System.arraycopy(buffer.data(), head * cap * dh, dst.data(), head * newCap * dh, length * dh);
            }
            owner = new AtomicInteger(n);
        }
        int dstCap = dst.dim(2);
        for (int head = 0; head < b * hkv; head++) {
            System.arraycopy(rows.data(), head * t * dh, dst.data(), (head * dstCap + length) * dh, t * dh);
        }
        return new CacheRows(dst, n, owner);
    }

    /**
     * This view's rows copied into a new buffer of {@code cap} rows (at least {@link #length()}), whose spare rows
     * the next appends fill in place: a decoding loop that knows its final length reserves it once, instead of the
     * buffer doubling towards {@code max_position_embeddings} ({@link #append}), where the last doubling holds the
     * old and the new buffer at once. This view and its buffer are not changed.
     */
    CacheRows withCapacity(int cap) {
        if (cap < length) {
            throw new IllegalArgumentException("cache rows of length " + length + ": cannot reserve " + cap + " rows");
        }
        int b = buffer.dim(0);
        int hkv = buffer.dim(1);
        int old = buffer.dim(2);
        int dh = buffer.dim(3);
        Tensor dst = Tensor.wrap(new double[b * hkv * cap * dh], b, hkv, cap, dh);
        for (int head = 0; head < b * hkv; head++) {
            System.arraycopy(buffer.data(), head * old * dh, dst.data(), head * cap * dh, length * dh);
        }
        return new CacheRows(dst, length, new AtomicInteger(length));
    }

    /** A copy of this view's rows: (B, h_kv, length, d_h). */
    Tensor exact() {
        int b = buffer.dim(0);
        int hkv = buffer.dim(1);
        int cap = buffer.dim(2);
        int dh = buffer.dim(3);
        if (cap == length) {
            return buffer;
        }
        double[] out = new double[b * hkv * length * dh];
        for (int head = 0; head < b * hkv; head++) {
            System.arraycopy(buffer.data(), head * cap * dh, out, head * length * dh, length * dh);
        }
        return Tensor.wrap(out, b, hkv, length, dh);
    }
}
