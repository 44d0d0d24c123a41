package intactkv.quant;

import intactkv.autograd.LinearAlgebra;
import intactkv.autograd.Shaping;
import intactkv.autograd.Value;
import intactkv.model.LlamaConfig;
import intactkv.model.ModelHooks;
import intactkv.tensor.Layout;
import intactkv.tensor.Tensor;
import java.util.Arrays;

/**
 * The run-time part of a QuaRot model: the online Hadamard transforms and, in the quantized
 * model, the activation and KV-cache quantizers, wired as {@code intactkv_quarot.py::main} wires
 * them. With M the normalised transforms of {@link Hadamard#exact} (row vectors x become
 * {@code x M^T}):
 * <ul>
 *   <li>input of {@code mlp.down_proj}: {@code x <- x M_ff^T} ({@code ActQuantWrapper}'s
 *       {@code online_full_had}, {@code matmul_hadU_cuda} with {@code get_hadK(d_ff)});</li>
 *   <li>input of {@code self_attn.o_proj}: x viewed as (h, d_h), {@code x <- M_h x}, the
 *       transform across heads ({@code online_partial_had}; the per-head part is folded into
 *       v_proj by {@link QuaRot#rotate});</li>
 *   <li>queries and new keys after RoPE: {@code q <- q M_dh^T}, {@code k <- k M_dh^T} per head
 *       ({@code rotation_utils.py::QKRotationWrapper}), so that scores are unchanged and the
 *       cached keys are in the rotated basis;</li>
 *   <li>quantized model only, after the transforms: every decoder linear's input (q, k, v, o,
 *       gate, up, down; not lm_head) per token with zero in the range, keys per (token, head)
 *       with zero in the range ({@code QKRotationWrapper} with {@code k_groupsize = d_h}: the
 *       per-token path on rows of d_h), values per (token, head) without zero ({@code v_proj}'s
 *       {@code out_quantizer} with {@code v_groupsize = d_h}: the groupwise path); see
 *       {@link QuaRotActQuantizer}.</li>
 * </ul>
 * The full-precision twin ({@link QuaRot#rotate}) has the same transforms and no quantizer, as
 * {@code quarot/intactkv_utils.py::get_intactkv} switches the quantizers off; upstream adds the
 * Q/K transform only when keys are quantized ({@code k_bits < 16}), here it is always there, so
 * that the twin's keys match every quantized model's basis (the scores are the same either way).
 * Sizes without an exact Hadamard ({@link Hadamard#hasExact}) use a random orthogonal matrix
 * seeded from the rotation seed (seed + 1 for d_ff, + 2 for h, + 3 for d_h).
 */
public final class QuaRotHooks implements ModelHooks {
    private final Tensor downT;      // M_ff^T (d_ff, d_ff)
    private final Tensor acrossHeads; // M_h (h, h), applied from the left to x viewed as (h, d_h)
    private final Tensor headT;      // M_dh^T (d_h, d_h)
    private final QuaRotActQuantizer activation;
    private final QuaRotActQuantizer keys;
    private final QuaRotActQuantizer values;

    private QuaRotHooks(LlamaConfig c, long seed, QuaRotActQuantizer activation, QuaRotActQuantizer keys,
                        QuaRotActQuantizer values) {
        this.downT = Layout.transpose(downProj(c, seed), 0, 1);
        this.acrossHeads = acrossHeads(c, seed);
        this.headT = Layout.transpose(perHead(c, seed), 0, 1);
        this.activation = activation;
        this.keys = keys;
        this.values = values;
    }

    /** The online transforms only: the hooks of the rotated full-precision model (the IntactKV twin). */
    public static QuaRotHooks fullPrecision(LlamaConfig c, long seed) {
        return new QuaRotHooks(c, seed, null, null, null);
    }

    /**
     * The online transforms and the quantizers of {@code config}: activations
     * ({@code config.activation()}: bits, symmetry, clip), keys and values ({@code config.kv()}).
     */
    public static QuaRotHooks quantized(LlamaConfig c, QuantConfig config) {
        return new QuaRotHooks(c, config.seed(), QuaRotActQuantizer.of(config.activation(), true),
                QuaRotActQuantizer.of(config.kv(), true), QuaRotActQuantizer.of(config.kv(), false));
    }

    /** {@code M_ff}, the transform before down_proj. */
    static Tensor downProj(LlamaConfig c, long seed) {
        return Hadamard.exactOrRandom(c.intermediateSize(), seed + 1);
    }

    /** {@code M_h}, the transform across heads before o_proj. */
    static Tensor acrossHeads(LlamaConfig c, long seed) {
        return Hadamard.exactOrRandom(c.numAttentionHeads(), seed + 2);
    }

    /** {@code M_dh}, the per-head transform of queries, keys and (folded into v_proj) values. */
    static Tensor perHead(LlamaConfig c, long seed) {
        return Hadamard.exactOrRandom(c.headDim(), seed + 3);
    }

    /** The online transform of linear {@code name}'s input {@code x (B, T, in)}, before any quantizer. */
    public Value transform(String name, Value x) {
        if (name.equals("mlp.down_proj")) {
            return LinearAlgebra.matmul(x, Value.constant(downT));
        }
        if (name.equals("self_attn.o_proj")) {
            int[] dims = x.shape().dims();
            int h = acrossHeads.dim(0);
            int[] split = Arrays.copyOf(dims, dims.length + 1);
            split[dims.length - 1] = h;
            split[dims.length] = dims[dims.length - 1] / h;
            Value mixed = LinearAlgebra.matmul(Value.constant(acrossHeads), Shaping.reshape(x, split));
            return Shaping.reshape(mixed, dims);
        }
        return x;
    }

    @Override
    public Value linearInput(int layer, String name, Value x) {
        Value t = transform(name, x);
        return activation == null ? t : activation.apply(t);
    }

    @Override
    public Value newQueries(int layer, Value q) {
        return LinearAlgebra.matmul(q, Value.constant(headT));
    }

    @Override
    public Value newKeys(int layer, Value k) {
        Value r = LinearAlgebra.matmul(k, Value.constant(headT));
        return keys == null ? r : keys.apply(r);
    }

    @Override
    public Value newValues(int layer, Value v) {
        return values == null ? v : values.apply(v);
    }
}
