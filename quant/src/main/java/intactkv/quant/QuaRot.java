package intactkv.quant;

import intactkv.autograd.LinearAlgebra;
import intactkv.autograd.Shaping;
import intactkv.autograd.Value;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.ModelHooks;
import intactkv.tensor.Layout;
import intactkv.tensor.MatMul;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * QuaRot-style W4A4 (Ashkboos et al. 2024): rotate the model so that activations have no
 * outlier channels, then quantize weights with GPTQ and activations and the KV cache at run time.
 *
 * <p>The rotation keeps the full-precision function (tested to 1e-9):
 * <ol>
 *   <li>fold every RMSNorm weight into the linears that read the normalised stream
 *       ({@code W <- W diag(g)}, {@code g <- 1}; the final norm into the LM head);</li>
 *   <li>rotate the residual stream by an orthogonal Q (random Hadamard, seeded):
 *       {@code embed <- embed Q}; q, k, v, gate, up, lm_head {@code W <- W Q}; o, down
 *       {@code W <- Q^T W}. A unit-weight RMSNorm commutes with Q because it preserves norms;</li>
 *   <li>online Hadamard before down_proj: at run time {@code x <- x H_ff}, with
 *       {@code W_down <- W_down H_ff}; and per head before o_proj: each head's context
 *       {@code x_h <- x_h H_dh}, with {@code W_o <- W_o (I ⊗ H_dh)}.</li>
 * </ol>
 * Then GPTQ with 4-bit symmetric per-channel weights, and at run time 4-bit symmetric per-token
 * activations (clip 0.9) and 4-bit asymmetric per-head keys and values (clip 0.95). IntactKV for
 * QuaRot takes its prefix from the rotated full-precision model with the quantizers off
 * ({@link #rotate}). Reference: QuaRot {@code rotation_utils.py::fuse_layer_norms},
 * {@code rotate_model}.
 */
public final class QuaRot {
    private QuaRot() {
    }

    /** A rotated full-precision model: its weights and the online transforms it needs at run time. */
    public record Rotated(LlamaWeights weights, OnlineHadamard hooks) {
    }

    /** The run-time part of the rotation: online Hadamard transforms of the down_proj and o_proj inputs. */
    public static final class OnlineHadamard implements ModelHooks {
        private final Tensor hFf;
        private final Tensor hHead;
        private final int heads;

        OnlineHadamard(LlamaConfig c, long seed) {
            this.hFf = Hadamard.random(c.intermediateSize(), seed + 1);
            this.hHead = Hadamard.random(c.headDim(), seed + 2);
            this.heads = c.numAttentionHeads();
        }

        /** The input transform of linear {@code name}. */
        public Value transform(String name, Value x) {
            if (name.equals("mlp.down_proj")) {
                return LinearAlgebra.matmul(x, Value.constant(hFf));
            }
            if (name.equals("self_attn.o_proj")) {
                int[] dims = x.shape().dims();
                int dh = hHead.dim(0);
                int[] split = java.util.Arrays.copyOf(dims, dims.length + 1);
                split[dims.length - 1] = heads;
                split[dims.length] = dh;
                Value perHead = LinearAlgebra.matmul(Shaping.reshape(x, split), Value.constant(hHead));
                return Shaping.reshape(perHead, dims);
            }
            return x;
        }

        @Override
        public Value linearInput(int layer, String name, Value x) {
            return transform(name, x);
        }
    }

    /** Run-time hooks of a QuaRot model: the online transforms, then activation and KV quantization. */
    public static ModelHooks runtimeHooks(LlamaConfig c, QuantConfig config) {
        OnlineHadamard online = new OnlineHadamard(c, config.seed());
        return new QuantHooks(config.activation(), config.kv()) {
            @Override
            public Value linearInput(int layer, String name, Value x) {
                return super.linearInput(layer, name, online.transform(name, x));
            }
        };
    }

    /** Folds the norms and rotates {@code fp} (not modified); see the class comment. */
    public static Rotated rotate(LlamaWeights fp, long seed) {
        LlamaConfig c = fp.config();
        Tensor q = Hadamard.random(c.hiddenSize(), seed);
        OnlineHadamard online = new OnlineHadamard(c, seed);
        Tensor qt = Layout.transpose(q, 0, 1);
        List<LlamaWeights.Block> blocks = new ArrayList<>();
        Value one = Value.constant(Tensor.ones(c.hiddenSize()));
        Tensor hHeadBlock = blockDiagonal(online.hHead, c.numAttentionHeads());
        for (LlamaWeights.Block b : fp.blocks()) {
            Tensor gIn = b.inputNorm().data();
            Tensor gPost = b.postNorm().data();
            Value wq = rotIn(b.q().data().mul(gIn), q);
            Value wk = rotIn(b.k().data().mul(gIn), q);
            Value wv = rotIn(b.v().data().mul(gIn), q);
            Value wo = Value.constant(MatMul.matmul(qt, MatMul.matmul(b.o().data(), hHeadBlock)));
            Value wg = rotIn(b.gate().data().mul(gPost), q);
            Value wu = rotIn(b.up().data().mul(gPost), q);
            Value wd = Value.constant(MatMul.matmul(qt, MatMul.matmul(b.down().data(), online.hFf)));
            blocks.add(new LlamaWeights.Block(one, wq, wk, wv, wo, one, wg, wu, wd));
        }
        Value embed = Value.constant(MatMul.matmul(fp.embed().data(), q));
        Value head = rotIn(fp.lmHead().data().mul(fp.norm().data()), q);
        LlamaConfig untied = new LlamaConfig(c.hiddenSize(), c.intermediateSize(), c.numAttentionHeads(),
                c.numKeyValueHeads(), c.numHiddenLayers(), c.rmsNormEps(), c.ropeTheta(), c.vocabSize(),
                c.maxPositionEmbeddings(), false, c.bosTokenId(), c.eosTokenId());
        return new Rotated(new LlamaWeights(untied, embed, blocks, one, head), online);
    }

    /** {@code W Q} for a weight W (out, d) reading the residual stream. */
    private static Value rotIn(Tensor w, Tensor q) {
        return Value.constant(MatMul.matmul(w, q));
    }

    private static Tensor blockDiagonal(Tensor h, int copies) {
        int n = h.dim(0);
        Tensor out = Tensor.zeros(n * copies, n * copies);
        for (int c = 0; c < copies; c++) {
            for (int i = 0; i < n; i++) {
                System.arraycopy(h.data(), i * n, out.data(), (c * n + i) * n * copies + c * n, n);
            }
        }
        return out;
    }

    /** Rotation, then GPTQ (symmetric per-channel, act-order) with the online transforms in the calibration forward. */
    static LlamaWeights quantizeModel(LlamaWeights fp, QuantConfig config, List<int[]> calib,
                                      ModelQuantizer.Progress progress) {
        Rotated r = rotate(fp, config.seed());
        return Gptq.sequential(r.weights(), calib, progress, "quarot", config, true, r.hooks());
    }
}
