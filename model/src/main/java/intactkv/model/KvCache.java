package intactkv.model;

import intactkv.autograd.Value;
import intactkv.tensor.ElementDtype;
import java.util.ArrayList;
import java.util.List;

/**
 * Past keys and values for every layer, as Hugging Face's {@code past_key_values}: layer l
 * holds K (after RoPE) and V of shape {@code (h_kv, p, d_h)} (shared by every sequence of a
 * batch, the IntactKV prefix) or {@code (B, h_kv, p, d_h)} (one per sequence, generation).
 * Values rather than tensors, so that a prefix can be trained.
 *
 * <p>A cache that {@link LlamaModel} returns from a forward pass without gradients after a past
 * (decoding) holds its layers as {@link CacheRows}, buffers with spare rows that the next token
 * is written into; {@link #keys()} and {@link #values()} then give copies of the used rows, made
 * once when first asked for. Both forms hold the same numbers and are read by the same attention
 * code.
 */
public final class KvCache {
    private List<Value> keys;
    private List<Value> values;
    private final CacheRows[] keyRows;
    private final CacheRows[] valueRows;
    private final int length;

    /** A cache of the given K and V values, one of each per layer, all of one past length. */
    public KvCache(List<Value> keys, List<Value> values) {
        this.keys = List.copyOf(keys);
        this.values = List.copyOf(values);
        this.keyRows = null;
        this.valueRows = null;
        if (keys.size() != values.size() || keys.isEmpty()) {
            throw new IllegalArgumentException("KV cache needs one K and one V per layer, got " + keys.size() + " and "
                    + values.size());
        }
        int p = this.keys.get(0).shape().dim(-2);
        for (int l = 0; l < this.keys.size(); l++) {
            if (!this.keys.get(l).shape().equals(this.values.get(l).shape())) {
                throw new IllegalArgumentException("layer " + l + ": K " + this.keys.get(l).shape() + " and V "
                        + this.values.get(l).shape() + " differ");
            }
            if (this.keys.get(l).shape().dim(-2) != p) {
                throw new IllegalArgumentException("layer " + l + ": past length " + this.keys.get(l).shape().dim(-2)
                        + " differs from layer 0's " + p);
            }
        }
        this.length = p;
    }

    /** A decoding cache of buffered rows, one K and one V per layer, all of one length (LlamaModel's). */
    KvCache(CacheRows[] keyRows, CacheRows[] valueRows) {
        this.keyRows = keyRows.clone();
        this.valueRows = valueRows.clone();
        this.length = keyRows[0].length();
        for (int l = 0; l < keyRows.length; l++) {
            if (keyRows[l].length() != length || valueRows[l].length() != length) {
                throw new IllegalStateException("layer " + l + ": cache rows of lengths " + keyRows[l].length() + " and "
                        + valueRows[l].length() + ", layer 0 has " + length);
            }
        }
    }

    /** K of every layer, (h_kv, p, d_h) or (B, h_kv, p, d_h). */
    public synchronized List<Value> keys() {
        if (keys == null) {
            keys = exact(keyRows);
        }
        return keys;
    }

    /** V of every layer, shaped as {@link #keys()}. */
    public synchronized List<Value> values() {
        if (values == null) {
            values = exact(valueRows);
        }
        return values;
    }

    private static List<Value> exact(CacheRows[] rows) {
        List<Value> out = new ArrayList<>(rows.length);
        for (CacheRows r : rows) {
            out.add(Value.constant(r.exact()));
        }
        return List.copyOf(out);
    }

    /**
     * Layer l's keys ({@code key}) or values as cache rows for a batch of {@code b} sequences: the
     * buffered rows of a decoding cache, or the values' data (repeated for a shared past).
     */
    CacheRows rows(int l, boolean key, int b) {
        CacheRows[] buffered = key ? keyRows : valueRows;
        if (buffered != null) {
            if (buffered[l].shape().dim(0) != b) {
                throw new IllegalArgumentException("past key/values for " + buffered[l].shape().dim(0)
                        + " sequences, input has " + b);
            }
            return buffered[l];
        }
        return CacheRows.of((key ? keys : values).get(l).data(), b);
    }

    /**
     * A decoding cache with the same keys and values and room for {@code rows} positions in every layer, for a
     * batch of {@code b} sequences (a shared (h_kv, p, d_h) past is repeated for each, as {@link #rows} does):
     * the forward passes that continue it write their rows into the spare ones in place, as long as they stay
     * within {@code rows} ({@link CacheRows#withCapacity}). {@link intactkv.model.text.Generator} reserves the
     * prompt and every token it may generate, so that decoding never holds two copies of the cache. The numbers
     * are unchanged: attention reads a view's first {@link #length()} rows only. This cache is not changed.
     */
    public KvCache reserve(int rows, int b) {
        return reserve(rows, b, dtype());
    }

    /**
     * {@link #reserve(int, int)} in {@code dtype}: the copy holds its keys and values in that format, these rounded
     * to it (or widened, from a narrower one), and every row the forward passes that continue it write is rounded to
     * it too ({@link CacheRows}). {@link ElementDtype#F64} keeps every number as it is. This cache is not changed.
     */
    public KvCache reserve(int rows, int b, ElementDtype dtype) {
        if (rows < length) {
            throw new IllegalArgumentException("KV cache of " + length + " positions: cannot reserve " + rows);
        }
        CacheRows[] k = new CacheRows[layers()];
        CacheRows[] v = new CacheRows[layers()];
        for (int l = 0; l < k.length; l++) {
            k[l] = rows(l, true, b).withCapacity(rows, dtype);
            v[l] = rows(l, false, b).withCapacity(rows, dtype);
        }
        return new KvCache(k, v);
    }

    /**
     * An empty decoding cache with room for {@code rows} positions of {@code b} sequences in every layer of a model
     * of config {@code c}: a prompt run with it as its past writes its keys and values into it in place (the same
     * numbers as without a past: positions from 0, the same attention over the rows written), and decoding
     * continues there, so the prompt's cache is never held twice ({@link intactkv.model.text.Generator}).
     */
    public static KvCache empty(LlamaConfig c, int rows, int b) {
        return empty(c, rows, b, ElementDtype.F64);
    }

    /**
     * {@link #empty(LlamaConfig, int, int)} holding its keys and values in {@code dtype}: every row written into it is
     * rounded to that format, and attention reads the rounded rows ({@link CacheRows}).
     */
    public static KvCache empty(LlamaConfig c, int rows, int b, ElementDtype dtype) {
        if (rows < 1 || b < 1) {
            throw new IllegalArgumentException("an empty KV cache needs rows >= 1 and sequences >= 1: " + rows + ", "
                    + b);
        }
        CacheRows[] k = new CacheRows[c.numHiddenLayers()];
        CacheRows[] v = new CacheRows[c.numHiddenLayers()];
        for (int l = 0; l < k.length; l++) {
            k[l] = CacheRows.empty(b, c.numKeyValueHeads(), rows, c.headDim(), dtype);
            v[l] = CacheRows.empty(b, c.numKeyValueHeads(), rows, c.headDim(), dtype);
        }
        return new KvCache(k, v);
    }

    /**
     * The format the keys and values are held in: {@link ElementDtype#F64} for a cache of values, else the decoding
     * buffers' ({@link #empty(LlamaConfig, int, int, ElementDtype)}, {@link #reserve(int, int, ElementDtype)}).
     */
    public ElementDtype dtype() {
        return keyRows != null ? keyRows[0].dtype() : ElementDtype.F64;
    }

    /** Number of layers. */
    public int layers() {
        return keyRows != null ? keyRows.length : keys.size();
    }

    /** Past length p. */
    public int length() {
        return length;
    }

    /** Checks the cache fits {@code c}: L layers of (h_kv, p, d_h) or (B, h_kv, p, d_h). */
    public void requireFits(LlamaConfig c, String what) {
        if (layers() != c.numHiddenLayers()) {
            throw new IllegalArgumentException(what + ": " + layers() + " layers, the model has "
                    + c.numHiddenLayers());
        }
        for (int l = 0; l < layers(); l++) {
            var s = keyRows != null ? keyRows[l].shape() : keys.get(l).shape();
            if (s.rank() < 3 || s.rank() > 4 || s.dim(-3) != c.numKeyValueHeads() || s.dim(-1) != c.headDim()) {
                throw new IllegalArgumentException(what + ": layer " + l + " K has shape " + s + ", expected (h_kv, p, d_h)"
                        + " = (" + c.numKeyValueHeads() + ", p, " + c.headDim() + ")");
            }
        }
    }
}
