package intactkv.model;

import intactkv.autograd.Value;
import java.util.List;

/**
 * Past keys and values for every layer, as Hugging Face's {@code past_key_values}: layer l
 * holds K (after RoPE) and V of shape {@code (h_kv, p, d_h)} (shared by every sequence of a
 * batch, the IntactKV prefix) or {@code (B, h_kv, p, d_h)} (one per sequence, generation).
 * Values rather than tensors, so that a prefix can be trained.
 */
public record KvCache(List<Value> keys, List<Value> values) {
    public KvCache {
        keys = List.copyOf(keys);
        values = List.copyOf(values);
        if (keys.size() != values.size() || keys.isEmpty()) {
            throw new IllegalArgumentException("KV cache needs one K and one V per layer, got " + keys.size() + " and "
                    + values.size());
        }
        int p = keys.get(0).shape().dim(-2);
        for (int l = 0; l < keys.size(); l++) {
            if (!keys.get(l).shape().equals(values.get(l).shape())) {
                throw new IllegalArgumentException("layer " + l + ": K " + keys.get(l).shape() + " and V "
                        + values.get(l).shape() + " differ");
            }
            if (keys.get(l).shape().dim(-2) != p) {
                throw new IllegalArgumentException("layer " + l + ": past length " + keys.get(l).shape().dim(-2)
                        + " differs from layer 0's " + p);
            }
        }
    }

    /** Number of layers. */
    public int layers() {
        return keys.size();
    }

    /** Past length p. */
    public int length() {
        return keys.get(0).shape().dim(-2);
    }

    /** Checks the cache fits {@code c}: L layers of (h_kv, p, d_h) or (B, h_kv, p, d_h). */
    public void requireFits(LlamaConfig c, String what) {
        if (layers() != c.numHiddenLayers()) {
            throw new IllegalArgumentException(what + ": " + layers() + " layers, the model has "
                    + c.numHiddenLayers());
        }
        for (int l = 0; l < layers(); l++) {
            var s = keys.get(l).shape();
            if (s.rank() < 3 || s.rank() > 4 || s.dim(-3) != c.numKeyValueHeads() || s.dim(-1) != c.headDim()) {
                throw new IllegalArgumentException(what + ": layer " + l + " K has shape " + s + ", expected (h_kv, p, d_h)"
                        + " = (" + c.numKeyValueHeads() + ", p, " + c.headDim() + ")");
            }
        }
    }
}
