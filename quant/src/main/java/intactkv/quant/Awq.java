package intactkv.quant;

import intactkv.autograd.Functional;
import intactkv.autograd.GradMode;
import intactkv.autograd.Value;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.ModelHooks;
import intactkv.tensor.Reduce;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * AWQ (Lin et al. 2024), as llm-awq's {@code run_awq} followed by RTN, layer by layer on the
 * full-precision model:
 * <ol>
 *   <li><b>Scale search</b> ({@code auto_scale_block}) for four groups: (q, k, v) after
 *       input_layernorm, inspected on the attention output; (o) after v_proj, only without
 *       GQA; (gate, up) after post_attention_layernorm, inspected on the MLP output; (down)
 *       after up_proj. With {@code x_mean} the mean |activation| per input channel, for
 *       {@code alpha = 0, 1/20, ..., 19/20}: {@code s = max(x_mean^alpha, 1e-4)},
 *       {@code s /= sqrt(max(s) min(s))}, weights {@code Q(W diag(s)) diag(s)^-1}; the alpha
 *       with the smallest mean squared output error wins.</li>
 *   <li><b>Apply</b> ({@code apply_scale}): the previous op's output is divided by s (RMSNorm
 *       weight or the rows of v_proj/up_proj) and the group's weight columns multiplied by s,
 *       so the full-precision function is unchanged.</li>
 *   <li><b>Clip search</b> ({@code auto_clip_block}, all linears but q and k): per output row and
 *       group, {@code max_val = max|w| (1 - i/20)} for i &lt; 10; weights clamped to
 *       {@code [-max_val, max_val]} and quantized; the value with the smallest error of the
 *       group's partial output {@code x_g . w_g} on up to 512 sampled tokens wins.</li>
 *   <li>RTN ({@link WeightQuantizer}) of the scaled, clipped weights.</li>
 * </ol>
 * Layer inputs come from the full-precision model, as in {@code run_awq}.
 */
public final class Awq {
    static final int GRID = 20;
    static final double MAX_SHRINK = 0.5;
    static final int CLIP_TOKENS = 512;

    private Awq() {
    }

    static LlamaWeights quantizeModel(LlamaWeights fp, QuantConfig config, List<int[]> calib,
                                      ModelQuantizer.Progress progress) {
        WeightQuantizer.Spec spec = config.weight();
        LlamaWeights current = fp;
        int layers = fp.config().numHiddenLayers();
        try (GradMode.Scope s = GradMode.noGrad()) {
            LlamaModel fpModel = new LlamaModel(fp);
            List<Value> inputs = new ArrayList<>();
            for (int[] seq : calib) {
                inputs.add(fpModel.embed(new int[][] {seq}));
            }
            for (int l = 0; l < layers; l++) {
                LlamaWeights.Block b = current.block(l);
                Map<String, List<Value>> feats = features(new LlamaModel(current), l, inputs);
                // 1. q, k, v after input_layernorm, inspected on the attention output
                List<Value> n1 = feats.get("self_attn.q_proj");
                double[] s1 = search(current, l, n1, new int[] {0, 1, 2}, true, spec);
                current = applyToNorm(current, l, true, s1, new int[] {0, 1, 2});
                // 2. o after v_proj, only when v_proj and o_proj are square alike (no GQA)
                if (b.v().shape().equals(b.o().shape())) {
                    List<Value> xo = feats.get("self_attn.o_proj");
                    double[] s2 = search(current, l, xo, new int[] {3}, false, spec);
                    current = applyToLinear(current, l, 2, s2, 3);
                    feats.put("self_attn.o_proj", scaleInputs(xo, s2));
                }
                // 3. gate, up after post_attention_layernorm, inspected on the MLP output
                List<Value> n3 = feats.get("mlp.gate_proj");
                double[] s3 = search(current, l, n3, new int[] {4, 5}, true, spec);
                current = applyToNorm(current, l, false, s3, new int[] {4, 5});
                // 4. down after up_proj
                List<Value> xd = feats.get("mlp.down_proj");
                double[] s4 = search(current, l, xd, new int[] {6}, false, spec);
                current = applyToLinear(current, l, 5, s4, 6);
                feats.put("mlp.down_proj", scaleInputs(xd, s4));
                feats.put("self_attn.q_proj", scaleInputs(n1, s1));
                feats.put("mlp.gate_proj", scaleInputs(n3, s3));
                // clip search on the scaled inputs (all but q and k), then RTN
                Map<Integer, Tensor> quantized = new HashMap<>();
                for (int j = 0; j < 7; j++) {
                    String name = LlamaWeights.LINEAR_NAMES.get(j);
                    Tensor w = current.block(l).linears().get(j).data();
                    if (j >= 2) {
                        String feat = j == 2 ? "self_attn.q_proj" : j == 3 ? "self_attn.o_proj"
                                : j == 6 ? "mlp.down_proj" : "mlp.gate_proj";
                        w = clip(w, tokens(feats.get(feat)), spec, LlamaWeights.blockName(l, name));
                    }
                    quantized.put(j, WeightQuantizer.quantize(w, spec, LlamaWeights.blockName(l, name)));
                }
                // next layer's inputs from the full-precision layer
                List<Value> next = new ArrayList<>();
                for (Value x : inputs) {
                    next.add(fpModel.layer(l, x));
                }
                inputs = next;
                current = Gptq.replaceLinears(current, l, quantized);
                progress.update("awq", (l + 1.0) / layers);
            }
            return current;
        }
    }

    /** The inputs of every linear of layer {@code l}, one (1, T, in) tensor per sequence. */
    static Map<String, List<Value>> features(LlamaModel m, int l, List<Value> inputs) {
        Map<String, List<Value>> out = new HashMap<>();
        ModelHooks capture = new ModelHooks() {
            @Override
            public Value linearInput(int layer, String name, Value x) {
                if (layer == l) {
                    out.computeIfAbsent(name, k -> new ArrayList<>()).add(x);
                }
                return x;
            }
        };
        LlamaModel probe = m.withHooks(capture);
        for (Value x : inputs) {
            probe.layer(l, x);
        }
        return out;
    }

    private static List<Value> scaleInputs(List<Value> xs, double[] s) {
        Tensor sv = Tensor.vector(s);
        List<Value> out = new ArrayList<>();
        for (Value x : xs) {
            out.add(Value.constant(x.data().div(sv)));
        }
        return out;
    }

    /** All tokens of {@code xs} as rows (N, in). */
    private static Tensor tokens(List<Value> xs) {
        Tensor[] parts = new Tensor[xs.size()];
        for (int i = 0; i < parts.length; i++) {
            parts[i] = xs.get(i).data().reshape(-1, xs.get(i).shape().dim(-1));
        }
        return intactkv.tensor.Layout.concat(0, parts);
    }

    /**
     * AWQ's {@code _search_module_scale}: the per-input-channel scales of linears {@code idx} of
     * layer l minimising the output error of the inspected module ({@code block} applied to the
     * inputs, or the single linear when null).
     */
    private static double[] search(LlamaWeights w, int l, List<Value> xs, int[] idx, boolean inspectBlock,
                                   WeightQuantizer.Spec spec) {
        Tensor x = tokens(xs);
        int in = x.dim(1);
        double[] xMean = Reduce.mean(intactkv.tensor.Elementwise.map(x, Math::abs), false, 0).data();
        Function<LlamaWeights, Tensor> run = weights -> {
            LlamaModel m = new LlamaModel(weights);
            List<Tensor> outs = new ArrayList<>();
            for (Value xi : xs) {
                Value o;
                if (inspectBlock) {
                    o = idx[0] == 0 ? m.attentionBlock(l, xi) : m.mlpBlock(l, xi);
                } else {
                    o = intactkv.autograd.LinearAlgebra.linear(xi, weights.block(l).linears().get(idx[0]));
                }
                outs.add(o.data().reshape(-1, o.shape().dim(-1)));
            }
            return intactkv.tensor.Layout.concat(0, outs.toArray(new Tensor[0]));
        };
        Tensor org = run.apply(w);
        double best = Double.POSITIVE_INFINITY;
        double[] bestS = null;
        for (int r = 0; r < GRID; r++) {
            double ratio = (double) r / GRID;
            double[] s = new double[in];
            double max = Double.NEGATIVE_INFINITY;
            double min = Double.POSITIVE_INFINITY;
            for (int c = 0; c < in; c++) {
                s[c] = Math.max(Math.pow(xMean[c], ratio), 1e-4);
                max = Math.max(max, s[c]);
                min = Math.min(min, s[c]);
            }
            double norm = Math.sqrt(max * min);
            for (int c = 0; c < in; c++) {
                s[c] /= norm;
            }
            Map<Integer, Tensor> trial = new HashMap<>();
            Tensor sv = Tensor.vector(s);
            for (int j : idx) {
                Tensor wj = w.block(l).linears().get(j).data();
                trial.put(j, WeightQuantizer.quantize(wj.mul(sv), spec, "awq search").div(sv));
            }
            Tensor out = run.apply(Gptq.replaceLinears(w, l, trial));
            double loss = Functional.mse(Value.constant(out), Value.constant(org)).item();
            if (loss < best) {
                best = loss;
                bestS = s;
            }
        }
        return bestS;
    }

    /** Divides RMSNorm weight (input or post-attention norm of layer l) by s, multiplies the columns of linears idx by s. */
    private static LlamaWeights applyToNorm(LlamaWeights w, int l, boolean inputNorm, double[] s, int[] idx) {
        Tensor sv = Tensor.vector(s);
        LlamaWeights.Block b = w.block(l);
        Value norm = Value.constant((inputNorm ? b.inputNorm() : b.postNorm()).data().div(sv));
        List<Value> lin = new ArrayList<>(b.linears());
        for (int j : idx) {
            lin.set(j, Value.constant(lin.get(j).data().mul(sv)));
        }
        return w.withBlock(l, new LlamaWeights.Block(inputNorm ? norm : b.inputNorm(), lin.get(0), lin.get(1),
                lin.get(2), lin.get(3), inputNorm ? b.postNorm() : norm, lin.get(4), lin.get(5), lin.get(6)));
    }

    /** Divides the output rows of linear {@code prev} by s and multiplies the columns of linear {@code fc} by s. */
    private static LlamaWeights applyToLinear(LlamaWeights w, int l, int prev, double[] s, int fc) {
        LlamaWeights.Block b = w.block(l);
        List<Value> lin = new ArrayList<>(b.linears());
        Tensor col = Tensor.of(s, s.length, 1);
        lin.set(prev, Value.constant(lin.get(prev).data().div(col)));
        lin.set(fc, Value.constant(lin.get(fc).data().mul(Tensor.vector(s))));
        return w.withBlock(l, b.withLinears(lin));
    }

    /** AWQ's {@code auto_clip_layer} followed by {@code apply_clip}: the clamped weights. */
    static Tensor clip(Tensor w, Tensor x, WeightQuantizer.Spec spec, String layer) {
        int out = w.dim(0);
        int in = w.dim(1);
        int g = spec.groupFor(in, layer);
        int step = Math.max(1, x.dim(0) / CLIP_TOKENS);
        int n = (x.dim(0) + step - 1) / step;
        double[] xs = new double[n * in];
        for (int t = 0; t < n; t++) {
            System.arraycopy(x.data(), t * step * in, xs, t * in, in);
        }
        double[] wd = w.data();
        double[] result = wd.clone();
        double[] cur = new double[g];
        double[] q = new double[g];
        for (int r = 0; r < out; r++) {
            for (int g0 = 0; g0 < in; g0 += g) {
                int off = r * in + g0;
                double maxAbs = 0;
                for (int i = 0; i < g; i++) {
                    maxAbs = Math.max(maxAbs, Math.abs(wd[off + i]));
                }
                double[] orgOut = new double[n];
                for (int t = 0; t < n; t++) {
                    double acc = 0;
                    for (int i = 0; i < g; i++) {
                        acc += xs[t * in + g0 + i] * wd[off + i];
                    }
                    orgOut[t] = acc;
                }
                double bestErr = Double.POSITIVE_INFINITY;
                double bestMax = maxAbs;
                for (int is = 0; is < (int) (MAX_SHRINK * GRID); is++) {
                    double mv = maxAbs * (1 - (double) is / GRID);
                    for (int i = 0; i < g; i++) {
                        cur[i] = Math.min(Math.max(wd[off + i], -mv), mv);
                    }
                    WeightQuantizer.quantizeGroup(cur, q, 0, g, spec, layer);
                    double err = 0;
                    for (int t = 0; t < n; t++) {
                        double acc = 0;
                        for (int i = 0; i < g; i++) {
                            acc += xs[t * in + g0 + i] * q[i];
                        }
                        err += (acc - orgOut[t]) * (acc - orgOut[t]);
                    }
                    err /= n;
                    if (err < bestErr) {
                        bestErr = err;
                        bestMax = mv;
                    }
                }
                for (int i = 0; i < g; i++) {
                    result[off + i] = Math.min(Math.max(wd[off + i], -bestMax), bestMax);
                }
            }
        }
        return Tensor.wrap(result, w.shape());
    }
}
