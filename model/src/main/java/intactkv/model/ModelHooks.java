package intactkv.model;

import intactkv.autograd.Value;

/**
 * Where quantization plugs into the forward pass without a second forward implementation:
 * the input of every decoder linear layer (activation quantization, online rotations), the
 * queries after RoPE (online rotations) and the newly computed keys and values (KV-cache
 * quantization; the past passed in is never touched). The default changes nothing.
 */
public interface ModelHooks {
    /** The unchanged forward pass. */
    ModelHooks NONE = new ModelHooks() { };

    /**
     * The input {@code x (B, T, in)} of linear layer {@code name} (an entry of
     * {@link LlamaWeights#LINEAR_NAMES}) in decoder layer {@code layer}.
     */
    default Value linearInput(int layer, String name, Value x) {
        return x;
    }

    /**
     * Queries of the current tokens after RoPE, {@code (B, h, T, d_h)}, before the scores. An
     * orthogonal transform R applied here must be applied to the keys as well ({@link #newKeys},
     * and to any past passed in), so that the scores {@code (q R)(k R)^T = q k^T} do not change:
     * QuaRot's online Hadamard on Q and K ({@code quarot/rotation_utils.py::QKRotationWrapper}).
     */
    default Value newQueries(int layer, Value q) {
        return q;
    }

    /** Keys of the current tokens after RoPE, {@code (B, h_kv, T, d_h)}, before they are cached. */
    default Value newKeys(int layer, Value k) {
        return k;
    }

    /** Values of the current tokens, {@code (B, h_kv, T, d_h)}, before they are cached. */
    default Value newValues(int layer, Value v) {
        return v;
    }
}
