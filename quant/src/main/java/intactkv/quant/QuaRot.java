package intactkv.quant;

import intactkv.autograd.Value;
import intactkv.model.LayerSource;
import intactkv.model.LazyCheckpoint;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.ModelHooks;
import intactkv.tensor.Layout;
import intactkv.tensor.MatMul;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * QuaRot W4A4 (Ashkboos et al. 2024) as the IntactKV repository runs it
 * ({@code intactkv_quarot.py} with {@code scripts/eval/quarot.sh}: {@code --rotate --act_order
 * --w_bits 4 --w_clip --a_bits 4 --a_clip_ratio 0.9 --k_bits 4 --k_asym --k_groupsize 128
 * --k_clip_ratio 0.95 --v_bits 4 --v_asym --v_groupsize 128 --v_clip_ratio 0.95}): rotate the
 * model so that activations have no outlier channels, quantize the weights with GPTQ, and
 * activations and the KV cache at run time ({@link QuaRotHooks}).
 *
 * <p>The rotation ({@link #rotate}) keeps the full-precision function (tested to 1e-10). With Q
 * the random Hadamard matrix of the residual stream ({@link Hadamard#random}{@code (d, seed)})
 * and M the normalised Hadamard transforms ({@link Hadamard#exact}):
 * <ol>
 *   <li>fold every RMSNorm weight into the linears that read the normalised stream
 *       ({@code W <- W diag(g)}, {@code g <- 1}; the final norm into the LM head)
 *       ({@code rotation_utils.py::fuse_layer_norms});</li>
 *   <li>rotate the residual stream: {@code embed <- embed Q}, {@code lm_head <- lm_head Q};
 *       q, k, v, gate, up {@code W <- W Q}; o, down {@code W <- Q^T W} ({@code rotate_embeddings},
 *       {@code rotate_head}, {@code rotate_attention_inputs}, {@code rotate_attention_output},
 *       {@code rotate_mlp_input}, {@code rotate_mlp_output}). A unit-weight RMSNorm commutes
 *       with Q because Q preserves norms;</li>
 *   <li>down_proj {@code W <- W M_ff^T}, paired with the online {@code x <- x M_ff^T}
 *       ({@code rotate_mlp_output}'s {@code apply_exact_had_to_linear});</li>
 *   <li>values per head: v_proj {@code W <- (I_hkv ⊗ M_dh) W}, so each head's value is
 *       {@code v M_dh^T}; o_proj {@code W <- W T^T} with {@code T = (M_h ⊗ I)(I_h ⊗ M_dh)}, the
 *       per-head part (from v_proj, through the attention average) followed by the online
 *       transform across heads ({@code rotate_ov_proj}; upstream writes o_proj's as
 *       {@code W M_d^T}, which is the same matrix, {@code M_d = M_h ⊗ M_dh}, for every size it
 *       supports).</li>
 * </ol>
 * The online transforms of queries and keys need no weight change. Deviation: upstream's
 * {@code fuse_layer_norms} also subtracts each embedding row's mean (meant for OPT's LayerNorm;
 * it changes a LLaMA's function, spcl/QuaRot#7); not done here, so the twin gives the original
 * logits.
 *
 * <p>Then GPTQ ({@code quarot/gptq_utils.py::gptq_fwrd}: true-sequential, act-order, damp 0.01,
 * blocks of 128) with {@link QuaRotWeightQuantizer} and its MSE clip search; calibration runs
 * the rotated model with the online transforms and no quantizer (upstream configures the
 * activation and KV quantizers after GPTQ). IntactKV for QuaRot takes its prefix from the
 * rotated full-precision model ({@code quarot/intactkv_utils.py::get_intactkv}).
 */
public final class QuaRot {
    private QuaRot() {
    }

    /**
     * A rotated full-precision model: its weights and the online transforms it needs at run time
     * ({@code new LlamaModel(weights, hooks)} computes the original function).
     */
    public record Rotated(LlamaWeights weights, QuaRotHooks hooks) {
    }

    /** Run-time hooks of a QuaRot model: the online transforms, then activation and KV quantization. */
    public static ModelHooks runtimeHooks(LlamaConfig c, QuantConfig config) {
        return QuaRotHooks.quantized(c, config);
    }

    /** Folds the norms and rotates {@code fp} (not modified); see the class comment. */
    public static Rotated rotate(LlamaWeights fp, long seed) {
        return rotate(new AtomicReference<>(fp), seed);
    }

    /**
     * {@link #rotate(LlamaWeights, long)} on the weights taken out of {@code holder} (left null), with the same
     * result bit for bit: each block is rotated alone, so block i's rotated linears replace its full-precision ones
     * in the one model held here before block i + 1 is rotated, and once the caller holds no other reference, the
     * full-precision copy of block i is garbage from then on. What is saved is the full-precision copy (2 bytes a
     * parameter for BF16); the rotated weights are doubles (8 bytes a parameter: a rotation of BF16 values is not
     * BF16).
     */
    public static Rotated rotate(AtomicReference<LlamaWeights> holder, long seed) {
        LlamaWeights fp = holder.getAndSet(null);
        LlamaConfig c = fp.config();
        Rotation rot = Rotation.of(c, seed);
        // the embedding and the head first (their norm is the final one, kept until then)
        LlamaWeights rotated = rot.outer(fp);
        fp = null; // rotated holds the full-precision blocks now, and only it
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            rotated = rotated.withBlock(i, rot.block(rotated.block(i)));
        }
        return new Rotated(rotated, QuaRotHooks.fullPrecision(c, seed));
    }

    /**
     * {@link Basis.QuaRotRotated}'s twin one layer at a time: the embedding and head rotated ({@code Rotation.outer}),
     * each block rotated alone ({@code Rotation.block}, as {@link #quantizeLazily} rotates them), the full-precision
     * online transforms; {@link #rotate}'s model bit for bit.
     */
    static Basis.Layered layeredTwin(LlamaConfig c, long seed) {
        Rotation rot = Rotation.of(c, seed);
        return new Basis.Layered(rot::outer, (l, b) -> rot.block(b), QuaRotHooks.fullPrecision(c, seed));
    }

    /**
     * The matrices of the rotation of a model of config {@code c} with {@code seed} (see the class comment), and
     * how they act on one block: a block's rotation depends on these matrices and its own weights only, so it can
     * be applied to each block when that block is read ({@link #quantizeLazily}).
     */
    private record Rotation(LlamaConfig config, Tensor q, Tensor qt, Tensor downT, Tensor vRows, Tensor ctx, Value one) {
        static Rotation of(LlamaConfig c, long seed) {
            Tensor q = Hadamard.random(c.hiddenSize(), seed);
            Tensor qt = Layout.transpose(q, 0, 1);
            Tensor downT = Layout.transpose(QuaRotHooks.downProj(c, seed), 0, 1);
            Tensor mdh = QuaRotHooks.perHead(c, seed);
            Tensor vRows = kron(eye(c.numKeyValueHeads()), mdh);
            Tensor ctx = MatMul.matmul(kron(QuaRotHooks.acrossHeads(c, seed), eye(c.headDim())),
                    kron(eye(c.numAttentionHeads()), mdh));
            return new Rotation(c, q, qt, downT, vRows, ctx, Value.constant(Tensor.ones(c.hiddenSize())));
        }

        /**
         * The rotated embedding and head (the final norm folded into the head), unit final norm, untied config;
         * the blocks are {@code fp}'s, not rotated yet ({@link #block} rotates each).
         */
        LlamaWeights outer(LlamaWeights fp) {
            LlamaConfig c = config;
            Value embed = Value.constant(MatMul.matmul(fp.embed().data(), q));
            Value head = rotIn(fp.lmHead().data().mul(fp.norm().data()), q);
            LlamaConfig untied = new LlamaConfig(c.hiddenSize(), c.intermediateSize(), c.numAttentionHeads(),
                    c.numKeyValueHeads(), c.numHiddenLayers(), c.rmsNormEps(), c.ropeTheta(), c.vocabSize(),
                    c.maxPositionEmbeddings(), false, c.bosTokenId(), c.eosTokenId(), c.ropeScaling());
            return new LlamaWeights(untied, embed, fp.blocks(), one, head);
        }

        /** Full-precision block {@code b} with its norms folded in and rotated; unit norms. */
        LlamaWeights.Block block(LlamaWeights.Block b) {
            Tensor gIn = b.inputNorm().data();
            Tensor gPost = b.postNorm().data();
            Value wq = rotIn(b.q().data().mul(gIn), q);
            Value wk = rotIn(b.k().data().mul(gIn), q);
            Value wv = Value.constant(MatMul.matmul(vRows, MatMul.matmul(b.v().data().mul(gIn), q)));
            Value wo = Value.constant(MatMul.matmulTransB(MatMul.matmul(qt, b.o().data()), ctx));
            Value wg = rotIn(b.gate().data().mul(gPost), q);
            Value wu = rotIn(b.up().data().mul(gPost), q);
            Value wd = Value.constant(MatMul.matmul(MatMul.matmul(qt, b.down().data()), downT));
            return new LlamaWeights.Block(one, wq, wk, wv, wo, one, wg, wu, wd);
        }
    }

    /** {@code A ⊗ B} for square A and B. */
    static Tensor kron(Tensor a, Tensor b) {
        return Tensor.wrap(HadamardBases.kronecker(a.data(), a.dim(0), b.data(), b.dim(0)), a.dim(0) * b.dim(0),
                a.dim(0) * b.dim(0));
    }

    private static Tensor eye(int n) {
        Tensor t = Tensor.zeros(n, n);
        for (int i = 0; i < n; i++) {
            t.data()[i * n + i] = 1;
        }
        return t;
    }

    /** {@code W Q} for a weight W (out, d) reading the residual stream. */
    private static Value rotIn(Tensor w, Tensor q) {
        return Value.constant(MatMul.matmul(w, q));
    }

    /**
     * Rotation, then GPTQ with QuaRot's weight quantizer and clip search
     * ({@link QuaRotWeightQuantizer}, bits and symmetry of {@code config.weight()}), the online
     * transforms in the calibration forward.
     */
    static LlamaWeights quantizeModel(LlamaWeights fp, QuantConfig config, List<int[]> calib,
                                      ModelQuantizer.Progress progress) {
        return quantizeRotated(rotate(fp, config.seed()), config, calib, progress);
    }

    /**
     * {@link #quantizeModel} on the weights taken out of {@code fp} (left null), with the same result bit for bit:
     * the full-precision weights are released block by block as they are rotated ({@link #rotate(AtomicReference,
     * long)}), then the rotated ones block by block as GPTQ replaces them with codes
     * ({@link Gptq#sequential(AtomicReference, List, ModelQuantizer.Progress, String, QuantConfig, Gptq.RowParams,
     * boolean, ModelHooks)}). The peak is the rotated model in doubles (8 bytes a parameter), not the full-precision
     * model, the rotated one and the codes together. {@link #quantizeLazily} (the {@code quantize} command on a
     * safetensors checkpoint) instead reads and rotates each block only when GPTQ reaches it.
     */
    static LlamaWeights quantizeReleasing(AtomicReference<LlamaWeights> fp, QuantConfig config, List<int[]> calib,
                                          ModelQuantizer.Progress progress) {
        return quantizeReleasing(fp, config, calib, progress, null);
    }

    /**
     * {@link #quantizeReleasing(AtomicReference, QuantConfig, List, ModelQuantizer.Progress)} saving and resuming in
     * {@code saved} (may be null): a resumed run rotates the model again (deterministic, from the seed) and takes the
     * finished layers' rotated, quantized linears from {@code saved}.
     */
    static LlamaWeights quantizeReleasing(AtomicReference<LlamaWeights> fp, QuantConfig config, List<int[]> calib,
                                          ModelQuantizer.Progress progress, LayerCheckpoint saved) {
        QuaRotWeightQuantizer wq = new QuaRotWeightQuantizer(config.weight().bits(), config.weight().symmetric(), true);
        QuaRotHooks hooks = QuaRotHooks.fullPrecision(fp.get().config(), config.seed());
        return Gptq.sequential(rotatedHolder(fp, config.seed()), calib, progress, "quarot", config, wq, true, hooks,
                LayerSource.IN_MEMORY, saved);
    }

    /**
     * {@link #quantizeReleasing} on a checkpoint read layer by layer: the embedding and the head are rotated
     * first, and each block is read from the file and rotated only when GPTQ reaches it
     * ({@link Gptq#sequential(AtomicReference, List, ModelQuantizer.Progress, String, QuantConfig, Gptq.RowParams,
     * boolean, ModelHooks, LayerSource)}), so at most one rotated block in doubles is alive instead of the whole
     * rotated model. The rotation of a block is the same computation on the same weights as {@link #rotate}'s, so
     * the result is the same bit for bit.
     */
    static LlamaWeights quantizeLazily(LazyCheckpoint ckpt, QuantConfig config, List<int[]> calib,
                                       ModelQuantizer.Progress progress) throws IOException {
        return quantizeLazily(ckpt, config, calib, progress, null);
    }

    /**
     * {@link #quantizeLazily(LazyCheckpoint, QuantConfig, List, ModelQuantizer.Progress)} saving and resuming in
     * {@code saved} (may be null, {@link LayerCheckpoint}): the finished layers are read and rotated again for their
     * norms, their quantized linears come from {@code saved}.
     */
    static LlamaWeights quantizeLazily(LazyCheckpoint ckpt, QuantConfig config, List<int[]> calib,
                                       ModelQuantizer.Progress progress, LayerCheckpoint saved) throws IOException {
        Rotation rot = Rotation.of(ckpt.config(), config.seed());
        QuaRotWeightQuantizer wq = new QuaRotWeightQuantizer(config.weight().bits(), config.weight().symmetric(), true);
        QuaRotHooks hooks = QuaRotHooks.fullPrecision(ckpt.config(), config.seed());
        AtomicReference<LlamaWeights> rotated = new AtomicReference<>(rot.outer(ckpt.skeleton()));
        LayerSource rotating = (l, held) -> {
            try {
                return rot.block(ckpt.readBlock(l));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        };
        return Gptq.sequential(rotated, calib, progress, "quarot", config, wq, true, hooks, rotating, saved);
    }

    /** The rotated weights alone, in a holder of their own (the {@link Rotated} record is not kept). */
    private static AtomicReference<LlamaWeights> rotatedHolder(AtomicReference<LlamaWeights> fp, long seed) {
        return new AtomicReference<>(rotate(fp, seed).weights());
    }

    /** GPTQ with QuaRot's weight quantizer on an already rotated model {@code r} (see {@link #rotate}). */
    static LlamaWeights quantizeRotated(Rotated r, QuantConfig config, List<int[]> calib,
                                        ModelQuantizer.Progress progress) {
        QuaRotWeightQuantizer wq = new QuaRotWeightQuantizer(config.weight().bits(), config.weight().symmetric(), true);
        return Gptq.sequential(r.weights(), calib, progress, "quarot", config, wq, true, r.hooks());
    }
}
