package intactkv.quant;

import intactkv.autograd.AdamW;
import intactkv.autograd.Arithmetic;
import intactkv.autograd.Functional;
import intactkv.autograd.GradMode;
import intactkv.autograd.Parameter;
import intactkv.autograd.Shaping;
import intactkv.autograd.Value;
import intactkv.model.LayerSource;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.tensor.Reduce;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;

/**
 * OmniQuant-style learnable weight clipping (LWC, Shao et al. 2024), trained block by block
 * with the autograd engine. For each group of g weights of a row, two learnable factors
 * (initialised to 4, so sigmoid = 0.982) shrink the range:
 * <pre>
 *   xmax = sigmoid(gamma) max(w),  xmin = sigmoid(beta) min(w)
 *   s = clamp((xmax - xmin) / (2^b - 1), 1e-5, 1e4),  z = rint(clamp(-xmin / s, -1e4, 1e4))
 *   w^ = (clamp(round_ste(w / s) + z, 0, 2^b - 1) - z) * s
 * </pre>
 * ({@code quantize/quantizer.py::UniformAffineQuantizer} with {@code lwc=True}; z is a rounded
 * constant there too, so gradients reach the factors through s). Each block minimises
 * {@code MSE(block_q(x_q), block_fp(x_fp))} with AdamW (lr 1e-2, no weight decay), where x_q
 * flows through the already quantized blocks and x_fp through the full-precision ones, as
 * OmniQuant's {@code omniquant()} does. All seven linears of the block are trained together.
 */
public final class OmniQuantLwc {
    static final double INIT = 4.0;
    static final double LR = 1e-2;
    /** Epochs over the calibration samples per block (OmniQuant uses 20 on 128 samples of 2048 tokens). */
    static final int EPOCHS = 5;

    private OmniQuantLwc() {
    }

    static LlamaWeights quantizeModel(LlamaWeights fp, QuantConfig config, List<int[]> calib,
                                      ModelQuantizer.Progress progress) {
        return quantizeModel(new AtomicReference<>(fp), config, calib, progress);
    }

    /**
     * {@link #quantizeModel(LlamaWeights, QuantConfig, List, ModelQuantizer.Progress)} on the weights taken out of
     * {@code fp} (left null), with the same result bit for bit. Block l's training needs the full-precision weights
     * of block l alone (the full-precision inputs x_fp are carried from block to block), so the one model held
     * here has block l's full-precision linears replaced by the trained ones once block l + 1's inputs are
     * computed, as OmniQuant's {@code omniquant()} overwrites each layer in place: when the caller holds no other
     * reference, block l's full-precision copy is garbage before block l + 1 is trained. The quantized linears stay
     * doubles (the straight-through fake quantization is not kept as codes), so the saving is the full-precision
     * copy, not the quantized one's size.
     */
    static LlamaWeights quantizeModel(AtomicReference<LlamaWeights> fp, QuantConfig config, List<int[]> calib,
                                      ModelQuantizer.Progress progress) {
        return quantizeModel(fp, config, calib, progress, LayerSource.IN_MEMORY);
    }

    /**
     * {@link #quantizeModel(AtomicReference, QuantConfig, List, ModelQuantizer.Progress)} with block l's weights
     * taken from {@code source} at the top of block l ({@link LayerSource#reach}; a
     * {@link intactkv.model.LazyCheckpoint} reads them from the file then): block l trains on block l alone.
     */
    static LlamaWeights quantizeModel(AtomicReference<LlamaWeights> fp, QuantConfig config, List<int[]> calib,
                                      ModelQuantizer.Progress progress, LayerSource source) {
        WeightQuantizer.Spec spec = config.weight();
        if (spec.symmetric()) {
            throw new IllegalArgumentException("omniquant: learnable clipping is implemented for asymmetric weights");
        }
        LlamaWeights current = fp.getAndSet(null);
        int layers = current.config().numHiddenLayers();
        List<Value> fpIn = new ArrayList<>();
        List<Value> qIn = new ArrayList<>();
        try (GradMode.Scope s = GradMode.noGrad()) {
            LlamaModel embedder = new LlamaModel(current);
            for (int[] seq : calib) {
                Value e = embedder.embed(new int[][] {seq});
                fpIn.add(e);
                qIn.add(e);
            }
        }
        Random order = new Random(config.seed());
        for (int l = 0; l < layers; l++) {
            // blocks 0..l-1 are trained by now; block l and those after it are still full precision
            current = source.reach(current, l); // a lazily read checkpoint reads block l now
            LlamaModel fpModel = new LlamaModel(current);
            List<Tensor> targets = new ArrayList<>();
            try (GradMode.Scope s = GradMode.noGrad()) {
                for (Value x : fpIn) {
                    targets.add(fpModel.layer(l, x).data());
                }
            }
            LlamaWeights.Block b = current.block(l);
            List<Tensor> ws = new ArrayList<>();
            List<Parameter> factors = new ArrayList<>();
            for (int j = 0; j < 7; j++) {
                Tensor w = b.linears().get(j).data();
                String name = LlamaWeights.blockName(l, LlamaWeights.LINEAR_NAMES.get(j));
                int groups = w.numel() / spec.groupFor(w.dim(1), name);
                ws.add(w);
                factors.add(new Parameter(name + ".upbound", Value.param(Tensor.full(intactkv.tensor.Shape.of(groups, 1), INIT))));
                factors.add(new Parameter(name + ".lowbound", Value.param(Tensor.full(intactkv.tensor.Shape.of(groups, 1), INIT))));
            }
            AdamW opt = new AdamW(factors, new AdamW.Config(0.9, 0.999, 1e-8, 0.0));
            int steps = EPOCHS * qIn.size();
            for (int step = 0; step < steps; step++) {
                int k = order.nextInt(qIn.size());
                opt.zeroGrad();
                LlamaWeights trial = withQuantized(current, l, ws, factors, spec);
                Value out = new LlamaModel(trial).layer(l, qIn.get(k));
                Functional.mse(out, Value.constant(targets.get(k))).backward();
                opt.step(LR);
                progress.update("omniquant", (l + (step + 1.0) / steps) / layers);
            }
            try (GradMode.Scope s = GradMode.noGrad()) {
                current = withQuantized(current, l, ws, factors, spec);
                LlamaWeights.Block qb = current.block(l);
                List<Value> lin = new ArrayList<>();
                for (Value v : qb.linears()) {
                    lin.add(Value.constant(v.data()));
                }
                current = current.withBlock(l, qb.withLinears(lin));
                LlamaModel qm = new LlamaModel(current);
                List<Value> nq = new ArrayList<>();
                List<Value> nf = new ArrayList<>();
                for (int i = 0; i < qIn.size(); i++) {
                    nq.add(qm.layer(l, qIn.get(i)));
                    nf.add(fpModel.layer(l, fpIn.get(i)));
                }
                qIn = nq;
                fpIn = nf;
            }
        }
        return current;
    }

    /** Block l with every linear replaced by its LWC fake quantization (recorded on the engine). */
    private static LlamaWeights withQuantized(LlamaWeights w, int l, List<Tensor> ws, List<Parameter> factors,
                                              WeightQuantizer.Spec spec) {
        LlamaWeights.Block b = w.block(l);
        Value[] q = new Value[7];
        for (int j = 0; j < 7; j++) {
            q[j] = lwc(ws.get(j), factors.get(2 * j).value(), factors.get(2 * j + 1).value(), spec);
        }
        return w.withBlock(l, b.withLinears(List.of(q)));
    }

    /** The formula in the class comment for weight {@code w (out, in)} with per-group factors (groups, 1). */
    static Value lwc(Tensor w, Value up, Value low, WeightQuantizer.Spec spec) {
        int g = spec.groupFor(w.dim(1), "lwc");
        int groups = w.numel() / g;
        Tensor wg = w.reshape(groups, g);
        Value xmax = Arithmetic.mul(Functional.sigmoid(up), Value.constant(Reduce.max(wg, true, 1)));
        Value xmin = Arithmetic.mul(Functional.sigmoid(low), Value.constant(Reduce.min(wg, true, 1)));
        double qmax = Math.pow(2, spec.bits()) - 1;
        Value s = intactkv.autograd.QuantOps.clamp(Arithmetic.scale(Arithmetic.sub(xmax, xmin), 1 / qmax), 1e-5, 1e4);
        double[] sd = s.data().data();
        double[] xm = xmin.data().data();
        double[] z = new double[groups];
        for (int i = 0; i < groups; i++) {
            z[i] = Math.rint(Math.min(Math.max(-xm[i] / sd[i], -1e4), 1e4));
        }
        Value q = FakeQuant.quantizeSte(Value.constant(wg), s, Value.constant(Tensor.wrap(z, groups, 1)), 0, qmax);
        return Shaping.reshape(q, w.dim(0), w.dim(1));
    }
}
