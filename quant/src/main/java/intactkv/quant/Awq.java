package intactkv.quant;

import intactkv.autograd.Functional;
import intactkv.autograd.GradMode;
import intactkv.autograd.LinearAlgebra;
import intactkv.autograd.Value;
import intactkv.model.LayerSource;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.ModelHooks;
import intactkv.tensor.Elementwise;
import intactkv.tensor.Layout;
import intactkv.tensor.Reduce;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * AWQ (Lin et al. 2024), as llm-awq's {@code run_awq} followed by RTN, layer by layer:
 * <ol>
 *   <li><b>Inputs</b>: layer l sees the output of the full-precision layers 0..l-1 (unscaled,
 *       unclipped) on the calibration sequences at positions 0..T-1, and the inputs of its
 *       seven linears are recorded from that run.</li>
 *   <li><b>Scale search</b> ({@code auto_scale_block}), every group on the layer's original
 *       weights: (q, k, v) after input_layernorm, inspected on the self-attention output (o_proj
 *       applied, causal mask, positions 0..T-1, no past); (o) after v_proj, only where v_proj and
 *       o_proj have the same shape (no GQA), inspected on o_proj alone; (gate, up) after
 *       post_attention_layernorm, inspected on the MLP output; (down) after up_proj, on down_proj
 *       alone. With {@code x_mean[c] = mean_t |x[t, c]|} over all calibration tokens, for
 *       {@code alpha = 0, 1/20, ..., 19/20}: {@code s = max(x_mean^alpha, 1e-4)},
 *       {@code s /= sqrt(max(s) min(s))}, the group's weights become {@code Q(W diag(s)) diag(s)^-1};
 *       the alpha whose inspected output has the smallest mean squared error over all elements
 *       wins (the first on ties).</li>
 *   <li><b>Apply</b> ({@code apply_scale}, {@link AwqScales#applyLayer}): the previous op's
 *       output is divided by s and the group's weight columns multiplied by s, so the
 *       full-precision function is unchanged; the recorded inputs of the scaled linears are
 *       divided by s.</li>
 *   <li><b>Clip search</b> ({@code auto_clip_block}, {@link AwqClip}) for every linear but q_proj
 *       and k_proj, on the scaled weights and inputs; weights clamped ({@code apply_clip}).</li>
 *   <li>RTN ({@link WeightQuantizer}, {@code pseudo_quantize_model_weight}) of all seven.</li>
 * </ol>
 * The searched scales ({@link AwqScales}) give the full-precision twin that IntactKV takes its
 * prefix from ({@link AwqScales#applyTo}).
 *
 * <p>Reference: {@code llm_awq/quantize/pre_quant.py::run_awq},
 * {@code auto_scale.py::auto_scale_block}, {@code auto_clip.py::auto_clip_block}.
 */
public final class Awq {
    static final int GRID = 20;

    private Awq() {
    }

    /**
     * Everything AWQ searched, with the quantized model.
     *
     * @param quantized the scaled, clipped, RTN-quantized weights (norms scaled, kept in full precision)
     * @param scales    the searched scales, as {@code awq_results["scale"]}
     * @param clips     per layer, the clip values max_val (out, in / g) of v_proj, o_proj, gate_proj,
     *                  up_proj and down_proj by their short names ({@code "self_attn.v_proj"}, ...), in
     *                  that order, as {@code awq_results["clip"]}
     */
    public record Result(LlamaWeights quantized, AwqScales scales, List<Map<String, Tensor>> clips) {
        public Result {
            if (clips.size() != scales.layers()) {
                throw new IllegalArgumentException("clip values for " + clips.size() + " layers, scales for "
                        + scales.layers());
            }
            List<Map<String, Tensor>> c = new ArrayList<>();
            for (Map<String, Tensor> m : clips) {
                c.add(Collections.unmodifiableMap(new LinkedHashMap<>(m)));
            }
            clips = Collections.unmodifiableList(c);
        }
    }

    /** The quantized weights of {@link #run} (what {@link ModelQuantizer} stores). */
    static LlamaWeights quantizeModel(LlamaWeights fp, QuantConfig config, List<int[]> calib,
                                      ModelQuantizer.Progress progress) {
        return run(fp, config, calib, progress).quantized();
    }

    /**
     * Runs AWQ on {@code fp} (not modified) with {@code config.weight()} on the calibration
     * sequences {@code calib} (each run alone at positions 0..T-1, as upstream's batch of
     * equal-length blocks); see the class comment.
     *
     * @throws IllegalArgumentException for an empty calibration set, an empty sequence, a token id
     *                                  outside the vocabulary or a sequence longer than the model's
     *                                  positions (named by index)
     */
    public static Result run(LlamaWeights fp, QuantConfig config, List<int[]> calib, ModelQuantizer.Progress progress) {
        return run(new AtomicReference<>(fp), config, calib, progress);
    }

    /**
     * {@link #run(LlamaWeights, QuantConfig, List, ModelQuantizer.Progress)} on the weights taken out of {@code fp}
     * (left null), with the same result bit for bit. Layer l needs the full-precision weights of layer l alone (its
     * inputs come from the full-precision layers before it, which are computed once and carried from layer to
     * layer), so the one model held here has layer l's full-precision linears replaced by the scaled, clipped,
     * quantized ones once layer l + 1's inputs are computed: when the caller holds no other reference, the
     * full-precision copy of layer l is garbage before layer l + 1 is searched, as llm-awq's
     * {@code run_awq} moves each layer to the device and back and {@code pseudo_quantize_model_weight} overwrites
     * each {@code weight.data}. The twin IntactKV needs is rebuilt from the scales ({@link AwqScales#applyTo}), so
     * nothing else of the full-precision model has to be kept.
     */
    static Result run(AtomicReference<LlamaWeights> fp, QuantConfig config, List<int[]> calib,
                      ModelQuantizer.Progress progress) {
        return run(fp, config, calib, progress, LayerSource.IN_MEMORY);
    }

    /**
     * {@link #run(AtomicReference, QuantConfig, List, ModelQuantizer.Progress)} with layer l's weights taken from
     * {@code source} at the top of layer l ({@link LayerSource#reach}; a {@link intactkv.model.LazyCheckpoint}
     * reads them from the file then): layer l's search, clipping and outputs read block l and the embedding only.
     */
    static Result run(AtomicReference<LlamaWeights> fp, QuantConfig config, List<int[]> calib,
                      ModelQuantizer.Progress progress, LayerSource source) {
        LlamaWeights current = fp.getAndSet(null);
        LlamaConfig c = current.config();
        requireCalibration(c, calib);
        WeightQuantizer.Spec spec = config.weight();
        int layers = c.numHiddenLayers();
        List<double[]> sQkv = new ArrayList<>();
        List<double[]> sO = new ArrayList<>();
        List<double[]> sGateUp = new ArrayList<>();
        List<double[]> sDown = new ArrayList<>();
        List<Map<String, Tensor>> clips = new ArrayList<>();
        try (GradMode.Scope s = GradMode.noGrad()) {
            ActivationStore store = CalibrationSet.storeOf(calib); // how the layer inputs are held (LayerInputs)
            List<Value> inputs = embed(current, calib, store);
            for (int l = 0; l < layers; l++) {
                // layers 0..l-1 are quantized by now; layer l and those after it are still full precision
                current = source.reach(current, l); // a lazily read checkpoint reads layer l now
                LlamaModel fpModel = new LlamaModel(current);
                Map<String, List<Value>> feats = features(fpModel, l, inputs);
                // auto_scale_block: every group searched on the layer's original weights
                List<Value> xQkv = feats.get("self_attn.q_proj");
                List<Value> xO = feats.get("self_attn.o_proj");
                List<Value> xGate = feats.get("mlp.gate_proj");
                List<Value> xDown = feats.get("mlp.down_proj");
                double[] s1 = searchScale(current, l, xQkv, new int[] {0, 1, 2}, true, spec);
                double[] s2 = AwqScales.hasOGroup(c) ? searchScale(current, l, xO, new int[] {3}, false, spec) : null;
                double[] s3 = searchScale(current, l, xGate, new int[] {4, 5}, true, spec);
                double[] s4 = searchScale(current, l, xDown, new int[] {6}, false, spec);
                // apply_scale on the weights and on the recorded inputs (input_feat_dict)
                LlamaWeights.Block scaled = AwqScales.applyLayer(current, l, s1, s2, s3, s4).block(l);
                Map<Integer, Tensor> clipInputs = new HashMap<>();
                Tensor qkvIn = tokens(xQkv, s1);
                clipInputs.put(2, qkvIn);
                clipInputs.put(3, tokens(xO, s2));
                Tensor gateIn = tokens(xGate, s3);
                clipInputs.put(4, gateIn);
                clipInputs.put(5, gateIn);
                clipInputs.put(6, tokens(xDown, s4));
                // auto_clip_block + apply_clip (every linear whose name has no "q_" or "k_"), then RTN of all seven
                Map<String, Tensor> layerClips = new LinkedHashMap<>();
                Map<Integer, Tensor> quantized = new HashMap<>();
                for (int j = 0; j < 7; j++) {
                    String name = LlamaWeights.LINEAR_NAMES.get(j);
                    String full = LlamaWeights.blockName(l, name);
                    Tensor w = scaled.linears().get(j).data();
                    if (clipInputs.containsKey(j)) {
                        Tensor maxVal = AwqClip.search(w, clipInputs.get(j), spec, full);
                        layerClips.put(name, maxVal);
                        w = AwqClip.apply(w, maxVal);
                    }
                    quantized.put(j, WeightQuantizer.quantize(w, spec, full));
                }
                sQkv.add(s1);
                sO.add(s2);
                sGateUp.add(s3);
                sDown.add(s4);
                clips.add(layerClips);
                // next layer's inputs: the full-precision layer's outputs (computed before scaling upstream)
                List<Value> next = new LayerInputs(store);
                for (Value x : inputs) {
                    next.add(fpModel.layer(l, x));
                }
                inputs = next;
                current = Gptq.replaceLinears(current.withBlock(l, scaled), l, quantized);
                progress.update("awq", (l + 1.0) / layers);
            }
        }
        return new Result(current, new AwqScales(sQkv, sO, sGateUp, sDown), clips);
    }

    /** The embedded calibration sequences, the first layer's inputs (a method of its own: no model is kept). */
    private static List<Value> embed(LlamaWeights w, List<int[]> calib, ActivationStore store) {
        LlamaModel m = new LlamaModel(w);
        List<Value> inputs = new LayerInputs(store);
        for (int[] seq : calib) {
            inputs.add(m.embed(new int[][] {seq}));
        }
        return inputs;
    }

    /**
     * The quantized model from searched results: llm-awq {@code apply_awq} ({@code apply_scale},
     * then {@code apply_clip}) followed by {@code pseudo_quantize_model_weight} (RTN of all seven
     * linears of every layer). On {@link #run}'s own scales and clips it reproduces
     * {@link Result#quantized()} bit for bit.
     *
     * @param fp     the full-precision weights, not modified
     * @param scales the searched scales (checked against fp)
     * @param clips  per layer, clip values (out, in / g) by linear short name; linears absent are not clipped
     * @param spec   the weight format the clips were searched for
     * @throws IllegalArgumentException if the scales or clip values do not fit fp (named)
     */
    public static LlamaWeights quantize(LlamaWeights fp, AwqScales scales, List<Map<String, Tensor>> clips,
                                        WeightQuantizer.Spec spec) {
        LlamaWeights scaled = scales.applyTo(fp);
        if (clips.size() != fp.config().numHiddenLayers()) {
            throw new IllegalArgumentException("clip values for " + clips.size() + " layers, the model has "
                    + fp.config().numHiddenLayers());
        }
        LlamaWeights out = scaled;
        for (int l = 0; l < clips.size(); l++) {
            Map<String, Tensor> layerClips = clips.get(l);
            for (String name : layerClips.keySet()) {
                if (!LlamaWeights.LINEAR_NAMES.contains(name)) {
                    throw new IllegalArgumentException("clip values of layer " + l + " for '" + name
                            + "', not a linear of a decoder block " + LlamaWeights.LINEAR_NAMES);
                }
            }
            Map<Integer, Tensor> quantized = new HashMap<>();
            for (int j = 0; j < 7; j++) {
                String name = LlamaWeights.LINEAR_NAMES.get(j);
                String full = LlamaWeights.blockName(l, name);
                Tensor w = scaled.block(l).linears().get(j).data();
                Tensor maxVal = layerClips.get(name);
                if (maxVal != null) {
                    int groups = w.dim(1) / spec.groupFor(w.dim(1), full);
                    if (maxVal.shape().rank() != 2 || maxVal.dim(0) != w.dim(0) || maxVal.dim(1) != groups) {
                        throw new IllegalArgumentException(full + ": clip values of shape " + maxVal.shape()
                                + ", the layer needs (out, in / g) = (" + w.dim(0) + ", " + groups + ")");
                    }
                    w = AwqClip.apply(w, maxVal);
                }
                quantized.put(j, WeightQuantizer.quantize(w, spec, full));
            }
            out = Gptq.replaceLinears(out, l, quantized);
        }
        return out;
    }

    private static void requireCalibration(LlamaConfig c, List<int[]> calib) {
        if (calib == null || calib.isEmpty()) {
            throw new IllegalArgumentException("AWQ needs at least one calibration sequence");
        }
        for (int i = 0; i < calib.size(); i++) {
            int[] seq = calib.get(i);
            if (seq == null || seq.length == 0) {
                throw new IllegalArgumentException("AWQ calibration sequence " + i + " is empty");
            }
            if (seq.length > c.maxPositionEmbeddings()) {
                throw new IllegalArgumentException("AWQ calibration sequence " + i + " has " + seq.length
                        + " tokens, more than max_position_embeddings " + c.maxPositionEmbeddings());
            }
            for (int t = 0; t < seq.length; t++) {
                if (seq[t] < 0 || seq[t] >= c.vocabSize()) {
                    throw new IllegalArgumentException("AWQ calibration sequence " + i + " position " + t + ": token id "
                            + seq[t] + " is outside the vocabulary [0, " + c.vocabSize() + ")");
                }
            }
        }
    }

    /**
     * The inputs of every linear of layer {@code l} of {@code m}, one (1, T, in) tensor per
     * sequence (upstream's forward hooks, {@code cache_input_hook}).
     */
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

    /** All tokens of {@code xs} as rows (N, in), sequence after sequence. */
    private static Tensor tokens(List<Value> xs) {
        Tensor[] parts = new Tensor[xs.size()];
        for (int i = 0; i < parts.length; i++) {
            parts[i] = xs.get(i).data().reshape(-1, xs.get(i).shape().dim(-1));
        }
        return Layout.concat(0, parts);
    }

    /** {@link #tokens(List)} divided by the scales {@code s} (columns), or as they are when s is null. */
    private static Tensor tokens(List<Value> xs, double[] s) {
        Tensor x = tokens(xs);
        return s == null ? x : x.div(Tensor.vector(s));
    }

    /**
     * AWQ's {@code _search_module_scale}: the per-input-channel scales of linears {@code idx} of
     * layer l of {@code w} minimising {@code mean((out - out_fp)^2)} over every element of the
     * inspected module's output: the attention or MLP block applied to the inputs
     * ({@code inspectBlock}), or the single linear.
     */
    private static double[] searchScale(LlamaWeights w, int l, List<Value> xs, int[] idx, boolean inspectBlock,
                                        WeightQuantizer.Spec spec) {
        Tensor x = tokens(xs);
        int in = x.dim(1);
        // get_act_scale: mean |x| over all tokens
        double[] xMean = Reduce.mean(Elementwise.map(x, Math::abs), false, 0).data();
        Tensor org = inspect(w, l, xs, idx, inspectBlock);
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
                String name = LlamaWeights.blockName(l, LlamaWeights.LINEAR_NAMES.get(j));
                trial.put(j, WeightQuantizer.fakeQuantize(wj.mul(sv), spec, name).div(sv)); // a trial: doubles
            }
            Tensor out = inspect(Gptq.replaceLinears(w, l, trial), l, xs, idx, inspectBlock);
            double loss = Functional.mse(Value.constant(out), Value.constant(org)).item();
            if (loss < best) {
                best = loss;
                bestS = s;
            }
        }
        if (bestS == null) {
            throw new IllegalStateException(LlamaWeights.blockName(l, LlamaWeights.LINEAR_NAMES.get(idx[0]))
                    + ": AWQ scale search found no finite loss (non-finite activations?)");
        }
        return bestS;
    }

    /** The inspected module's output on every sequence, as rows (N, out). */
    private static Tensor inspect(LlamaWeights weights, int l, List<Value> xs, int[] idx, boolean inspectBlock) {
        LlamaModel m = new LlamaModel(weights);
        Tensor[] outs = new Tensor[xs.size()];
        for (int i = 0; i < outs.length; i++) {
            Value xi = xs.get(i);
            Value o;
            if (inspectBlock) {
                o = idx[0] == 0 ? m.attentionBlock(l, xi) : m.mlpBlock(l, xi);
            } else {
                o = LinearAlgebra.linear(xi, weights.block(l).linears().get(idx[0]));
            }
            outs[i] = o.data().reshape(-1, o.shape().dim(-1));
        }
        return Layout.concat(0, outs);
    }
}
