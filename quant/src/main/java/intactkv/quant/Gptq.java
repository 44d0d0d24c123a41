package intactkv.quant;

import intactkv.autograd.GradMode;
import intactkv.autograd.Value;
import intactkv.model.LayerSource;
import intactkv.model.LazyCheckpoint;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.ModelHooks;
import intactkv.tensor.MatMul;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiFunction;

/**
 * GPTQ (Frantar et al. 2023) as AutoGPTQ 0.6 runs it for IntactKV: act-order, lazy batch
 * updates of {@link #BLOCK} columns, dampening 1 % of the mean diagonal, groups found in
 * act-order as the columns are reached.
 *
 * <p>For a linear layer with weight W (out, in) and Hessian {@code H = (2/N) sum X^T X} of its
 * inputs:
 * <pre>
 *   permute columns by decreasing diag(H); H += 0.01 mean(diag H) I
 *   Hinv = upper Cholesky factor of H^-1                   (HessianFactor: blocked, on the GEMM)
 *   for each column i (in blocks of 128):
 *       q_i = quantize(w_i);  err = (w_i - q_i) / Hinv[i,i]
 *       w_j -= err * Hinv[i, j]   for the later columns j of the block
 *   after each block: W[:, later] -= Err * Hinv[block, later]
 * </pre>
 * Reference: AutoGPTQ {@code gptq.py::GPTQ.fasterquant} and {@code quantizer.py::Quantizer}.
 * The quantizer includes 0 in each row's range: {@code xmin = min(min w, 0)},
 * {@code xmax = max(max w, 0)}; {@code s = (xmax - xmin) / (2^b - 1)}, {@code z = rint(-xmin / s)}
 * (symmetric: {@code xmax = max(|xmin|, xmax)}, {@code xmin = -xmax}, {@code z = 2^(b-1)}).
 * Local names follow gptq.py (H, Hinv, W, Q, Err).
 */
public final class Gptq {
    /** Columns per lazy batch update. */
    public static final int BLOCK = 128;
    /** Dampening as a fraction of the mean diagonal of H. */
    public static final double PERCDAMP = 0.01;

    private Gptq() {
    }

    /**
     * How the quantizer finds the scale and zero of every output row from W's columns
     * {@code [c0, c1)} (one group, or all columns per channel); values are then quantized as
     * {@link FakeQuant#quantize}{@code (w, scale, zero, 0, 2^b - 1)}. {@code wt} is W^T (in, out)
     * row-major: column c of W is {@code wt[c * rows .. (c + 1) * rows)}. Not modified.
     */
    @FunctionalInterface
    public interface RowParams {
        void find(double[] wt, int rows, int c0, int c1, double[] scale, double[] zero);
    }

    /** AutoGPTQ's {@code quantizer.py::Quantizer.find_params} for {@code spec} (see the class comment). */
    public static RowParams autoGptq(WeightQuantizer.Spec spec) {
        return (wt, rows, c0, c1, scale, zero) -> findParams(wt, rows, c0, c1, spec, scale, zero);
    }

    /**
     * Quantizes {@code w (out, in)} given the Hessian {@code h (in, in)}; returns Q (fake-quantized,
     * original column order), kept as its codes with the groups' scales and zeros ({@link QuantCodes}).
     * Neither argument is modified.
     */
    public static Tensor quantizeLayer(Tensor w, Tensor h, WeightQuantizer.Spec spec, boolean actOrder, String layer) {
        return quantizeLayer(w, h, spec, autoGptq(spec), actOrder, layer);
    }

    /**
     * {@link #quantizeLayer(Tensor, Tensor, WeightQuantizer.Spec, boolean, String)} with the
     * scales and zeros of {@code params} ({@code spec} gives the bits and the group size). Per
     * channel they are found once from W before dead inputs are zeroed, as {@code fasterquant}
     * calls {@code find_params(W)} before {@code W[:, dead] = 0}.
     */
    public static Tensor quantizeLayer(Tensor w, Tensor h, WeightQuantizer.Spec spec, RowParams params, boolean actOrder,
                                       String layer) {
        int rows = w.dim(0);
        int cols = w.dim(1);
        h.shape().requireEqual(layer + " (Hessian)", intactkv.tensor.Shape.of(cols, cols));
        int g = spec.groupFor(cols, layer);
        boolean grouped = spec.groupSize() != WeightQuantizer.Spec.PER_CHANNEL;
        double maxq = Math.pow(2, spec.bits()) - 1;
        // work on W^T (in, out) so that a column of W is a contiguous row
        double[] wt = intactkv.tensor.Layout.transpose(w, 0, 1).data();
        double[] scale = new double[rows];
        double[] zero = new double[rows];
        if (!grouped) {
            params.find(wt, rows, 0, cols, scale, zero);
        }
        double[] hm = h.data().clone();
        for (int i = 0; i < cols; i++) {
            if (hm[i * cols + i] == 0) { // dead input: never active in calibration
                hm[i * cols + i] = 1;
                Arrays.fill(wt, i * rows, (i + 1) * rows, 0.0);
            }
        }
        int[] perm = new int[cols];
        for (int i = 0; i < cols; i++) {
            perm[i] = i;
        }
        if (actOrder) {
            Integer[] order = new Integer[cols];
            for (int i = 0; i < cols; i++) {
                order[i] = i;
            }
            double[] diag = new double[cols];
            for (int i = 0; i < cols; i++) {
                diag[i] = hm[i * cols + i];
            }
            Arrays.sort(order, (a, b) -> Double.compare(diag[b], diag[a])); // stable: ties keep index order
            for (int i = 0; i < cols; i++) {
                perm[i] = order[i];
            }
            wt = permuteRows(wt, perm, rows);
            hm = permuteSymmetric(hm, perm, cols);
        }
        double mean = 0;
        for (int i = 0; i < cols; i++) {
            mean += hm[i * cols + i];
        }
        double damp = PERCDAMP * mean / cols;
        for (int i = 0; i < cols; i++) {
            hm[i * cols + i] += damp;
        }
        // hm is this method's own copy (cloned or permuted above) and is not read again: factor it in place
        double[] hinv = HessianFactor.upperCholeskyOfInverseOverwriting(hm, cols, layer);
        hm = null;

        double[] q = new double[wt.length];
        // the codes, scales and zeros beside Q (QuantCodes): column perm[i] is in group i / g (AutoGPTQ's g_idx)
        int[] groupOf = new int[cols];
        for (int i = 0; i < cols; i++) {
            groupOf[perm[i]] = grouped ? i / g : 0;
        }
        int qmin = 0;
        QuantCodes.Builder codes = new QuantCodes.Builder(rows, cols, spec.bits(), qmin, grouped ? cols / g : 1, groupOf);
        if (!grouped) {
            for (int r = 0; r < rows; r++) {
                codes.params(r, 0, scale[r], zero[r]);
            }
        }
        for (int i1 = 0; i1 < cols; i1 += BLOCK) {
            int i2 = Math.min(i1 + BLOCK, cols);
            int count = i2 - i1;
            double[] w1 = Arrays.copyOfRange(wt, i1 * rows, i2 * rows);
            double[] err1 = new double[count * rows];
            for (int i = 0; i < count; i++) {
                int col = i1 + i;
                if (grouped && col % g == 0) {
                    // parameters of the next group from the current W (updated by earlier blocks only)
                    params.find(wt, rows, col, Math.min(col + g, cols), scale, zero);
                    for (int r = 0; r < rows; r++) {
                        codes.params(r, col / g, scale[r], zero[r]);
                    }
                }
                double d = hinv[col * cols + col];
                for (int r = 0; r < rows; r++) {
                    double wv = w1[i * rows + r];
                    double qv = codes.put(r, perm[col], FakeQuant.code(wv, scale[r], zero[r], qmin, maxq));
                    q[col * rows + r] = qv;
                    err1[i * rows + r] = (wv - qv) / d;
                }
                for (int j = i + 1; j < count; j++) {
                    double hij = hinv[col * cols + i1 + j];
                    for (int r = 0; r < rows; r++) {
                        w1[j * rows + r] -= err1[i * rows + r] * hij;
                    }
                }
            }
            if (i2 < cols) {
                // W[:, i2:] -= Err1 Hinv[i1:i2, i2:]  (in the transposed layout: rows i2.. of W^T)
                int rest = cols - i2;
                double[] hb = new double[count * rest];
                for (int i = 0; i < count; i++) {
                    System.arraycopy(hinv, (i1 + i) * cols + i2, hb, i * rest, rest);
                }
                Tensor upd = MatMul.matmulTransA(Tensor.wrap(hb, count, rest), Tensor.wrap(err1, count, rows));
                double[] u = upd.data();
                for (int k = 0; k < rest * rows; k++) {
                    wt[i2 * rows + k] -= u[k];
                }
            }
        }
        if (actOrder) {
            int[] inv = new int[cols];
            for (int i = 0; i < cols; i++) {
                inv[perm[i]] = i;
            }
            q = permuteRows(q, inv, rows);
        }
        return codes.build(intactkv.tensor.Layout.transpose(Tensor.wrap(q, cols, rows), 0, 1));
    }

    /** GPTQ's {@code Quantizer.find_params} per output row over W columns {@code [c0, c1)}. */
    private static void findParams(double[] wt, int rows, int c0, int c1, WeightQuantizer.Spec spec, double[] scale,
                                   double[] zero) {
        double maxq = Math.pow(2, spec.bits()) - 1;
        for (int r = 0; r < rows; r++) {
            double xmin = 0;
            double xmax = 0;
            for (int c = c0; c < c1; c++) {
                double v = wt[c * rows + r];
                xmin = Math.min(xmin, v);
                xmax = Math.max(xmax, v);
            }
            if (spec.symmetric()) {
                xmax = Math.max(Math.abs(xmin), xmax);
                if (xmin < 0) {
                    xmin = -xmax;
                }
            }
            if (xmin == 0 && xmax == 0) {
                xmin = -1;
                xmax = 1;
            }
            scale[r] = (xmax - xmin) / maxq;
            zero[r] = spec.symmetric() ? (maxq + 1) / 2 : Math.rint(-xmin / scale[r]);
        }
    }

    /** {@code out[i] = src[perm[i]]} for rows of length {@code rows}. */
    private static double[] permuteRows(double[] src, int[] perm, int rows) {
        double[] out = new double[src.length];
        for (int i = 0; i < perm.length; i++) {
            System.arraycopy(src, perm[i] * rows, out, i * rows, rows);
        }
        return out;
    }

    private static double[] permuteSymmetric(double[] h, int[] perm, int n) {
        double[] out = new double[h.length];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                out[i * n + j] = h[perm[i] * n + perm[j]];
            }
        }
        return out;
    }

    /**
     * Quantizes every decoder layer in order, as AutoGPTQ's {@code quantize} with
     * {@code true_sequential}: within a layer the groups (k, v, q), (o), (up, gate), (down)
     * are quantized one after another, each with inputs recorded while running the layer with
     * the groups before it already quantized; the next layer's inputs are the outputs of the
     * fully quantized layer.
     */
    static LlamaWeights quantizeModel(LlamaWeights fp, QuantConfig config, List<int[]> calib,
                                      ModelQuantizer.Progress progress) {
        return quantizeModel(new AtomicReference<>(fp), config, calib, progress);
    }

    /**
     * {@link #quantizeModel(LlamaWeights, QuantConfig, List, ModelQuantizer.Progress)} on the weights taken out of
     * {@code fp} (left null): see {@link #sequential(AtomicReference, List, ModelQuantizer.Progress, String,
     * QuantConfig, RowParams, boolean, ModelHooks)} for what that releases.
     */
    static LlamaWeights quantizeModel(AtomicReference<LlamaWeights> fp, QuantConfig config, List<int[]> calib,
                                      ModelQuantizer.Progress progress) {
        return quantizeModel(fp, config, calib, progress, LayerSource.IN_MEMORY, null);
    }

    /**
     * {@link #quantizeModel(AtomicReference, QuantConfig, List, ModelQuantizer.Progress)} with each layer's
     * weights taken from {@code source} when the layer is reached ({@link LazyCheckpoint}: read from the file then),
     * saving and resuming in {@code saved} (may be null; {@link LayerCheckpoint}).
     */
    static LlamaWeights quantizeModel(AtomicReference<LlamaWeights> fp, QuantConfig config, List<int[]> calib,
                                      ModelQuantizer.Progress progress, LayerSource source, LayerCheckpoint saved) {
        return sequential(fp, calib, progress, "gptq", config, autoGptq(config.weight()), true, ModelHooks.NONE,
                source, saved);
    }

    /** The true-sequential groups of a LLaMA layer, by index into {@link LlamaWeights#LINEAR_NAMES}. */
    static final List<int[]> GROUPS = List.of(new int[] {1, 2, 0}, new int[] {3}, new int[] {5, 4}, new int[] {6});

    /** The number of {@link #GROUPS} in the attention block; the rest are in the MLP block. */
    static final int ATTENTION_GROUPS = 2;

    /**
     * The layer-by-layer driver shared by GPTQ and QuaRot: for each layer and each
     * true-sequential group, the Hessians of the group's linears are accumulated from the
     * layer's current inputs, the group is quantized with {@link #quantizeLayer} (bits and group
     * size of {@code config}, scales and zeros by {@code params}), and the layer weights updated.
     * {@code runtime} are hooks that are part of the model function during calibration (QuaRot's
     * online Hadamard transforms); GPTQ calibrates with full-precision activations. The layer inputs are held
     * as {@link CalibrationSet#storeOf}{@code (calib)} says ({@link LayerInputs}).
     */
    static LlamaWeights sequential(LlamaWeights fp, List<int[]> calib, ModelQuantizer.Progress progress, String stage,
                                   QuantConfig config, RowParams params, boolean actOrder, ModelHooks runtime) {
        return sequential(new AtomicReference<>(fp), calib, progress, stage, config, params, actOrder, runtime);
    }

    /**
     * {@link #sequential(LlamaWeights, List, ModelQuantizer.Progress, String, QuantConfig, RowParams, boolean,
     * ModelHooks)} on the weights taken out of {@code fp} (left null), with the same result bit for bit. This method
     * then holds the only reference it is given: each layer's quantized linears replace its full-precision ones in
     * the one model it keeps, so once the caller holds no other reference, layer l's full-precision linears become
     * garbage before layer l + 1 is quantized. The official code does the same by quantizing in place.
     * Reference: gptq/llama.py::llama_sequential (each {@code fasterquant} overwrites {@code layer.weight.data}
     * with the quantized weight, then the layer's outputs become the next layer's inputs).
     */
    static LlamaWeights sequential(AtomicReference<LlamaWeights> fp, List<int[]> calib, ModelQuantizer.Progress progress,
                                   String stage, QuantConfig config, RowParams params, boolean actOrder,
                                   ModelHooks runtime) {
        return sequential(fp, calib, progress, stage, config, params, actOrder, runtime, LayerSource.IN_MEMORY, null);
    }

    /**
     * {@link #sequential(AtomicReference, List, ModelQuantizer.Progress, String, QuantConfig, RowParams, boolean,
     * ModelHooks)} with layer l's weights taken from {@code source} at the top of layer l ({@link LayerSource#reach}).
     * Layer l reads only block l and the embedding, so the blocks above it may be placeholders that a
     * {@link LazyCheckpoint} reads from the file when they are reached; the result is the same bit for bit.
     * The state is saved into {@code saved} after every layer and, when {@code saved} already holds finished layers,
     * the run starts after them: their quantized linears and the next layer's inputs are read back (exact,
     * {@link LayerCheckpoint}; their norms still come from {@code source}), so the result is the same bit for bit as
     * a run without stops. {@code saved} may be null.
     *
     * <p>With activations held in double ({@link ActivationStore#F64}), once the attention block's groups are
     * quantized the residual stream after it, {@code h = x + attn(rmsNorm(x))}, is computed once per sequence
     * ({@link #afterAttention}) and replaces the inputs x: the MLP groups' passes and the layer's outputs start from
     * it ({@link #hessiansAfterAttention}, {@link LlamaModel#afterMlp}) instead of rerunning the attention three more
     * times. The official code reruns the whole layer for every group ({@code gptq/llama.py::llama_sequential});
     * the result is the same bit for bit, since {@code afterMlp(afterAttention(x))} is {@code layer(x)}'s
     * operations. It holds as many doubles as the inputs it replaces (x is dropped when h is made, h when the
     * output is), so the peak memory is that of the inputs and outputs as before. With {@link ActivationStore#F32}
     * the passes run from x as before: h would have to be held in double (rounding it would change the result),
     * twice the memory of the F32 inputs that option exists to save. For a LLaMA-2-7B layer on 16 x 512 tokens this
     * removes about 2.2 of 8.6 TFLOP of forward passes (q, k, v and the attention run twice instead of four times,
     * o once instead of three times).
     */
    static LlamaWeights sequential(AtomicReference<LlamaWeights> fp, List<int[]> calib, ModelQuantizer.Progress progress,
                                   String stage, QuantConfig config, RowParams params, boolean actOrder,
                                   ModelHooks runtime, LayerSource source, LayerCheckpoint saved) {
        LlamaWeights current = fp.getAndSet(null);
        int layers = current.config().numHiddenLayers();
        ActivationStore store = CalibrationSet.storeOf(calib);
        int start = saved == null ? 0 : saved.layersDone();
        LayerInputs inputs;
        try (GradMode.Scope s = GradMode.noGrad()) {
            if (start == 0) {
                inputs = embed(current, calib, store);
            } else {
                for (int l = 0; l < start; l++) { // the block's norms from the source, its linears from the saved state
                    current = restoreLayer(source.reach(current, l), l, saved);
                }
                inputs = readInputs(saved, store);
                progress.update(stage, start / (double) layers);
            }
            for (int l = start; l < layers; l++) {
                current = source.reach(current, l); // a lazily read checkpoint reads layer l now
                List<Value> mid = null; // h = x + attn(x) of every sequence, once the attention is quantized
                for (int gi = 0; gi < GROUPS.size(); gi++) {
                    int[] group = GROUPS.get(gi);
                    if (gi == ATTENTION_GROUPS && store == ActivationStore.F64) {
                        mid = afterAttention(new LlamaModel(current).withHooks(runtime), l, inputs);
                        inputs = null; // h carries the residual: x is not read again in this layer
                    }
                    LlamaModel lm = new LlamaModel(current).withHooks(runtime);
                    Map<String, Tensor> h = mid == null ? hessians(lm, l, inputs, group)
                            : hessiansAfterAttention(lm, l, mid, group);
                    Map<Integer, Tensor> quantized = new HashMap<>();
                    for (int j : group) {
                        String name = LlamaWeights.LINEAR_NAMES.get(j);
                        Tensor w = current.block(l).linears().get(j).data();
                        quantized.put(j, quantizeLayer(w, h.get(name), config.weight(), params, actOrder,
                                LlamaWeights.blockName(l, name)));
                    }
                    current = replaceLinears(current, l, quantized);
                }
                LlamaModel qm = new LlamaModel(current).withHooks(runtime);
                LayerInputs next = new LayerInputs(store);
                if (mid != null) {
                    for (int i = 0; i < mid.size(); i++) {
                        next.add(qm.afterMlp(l, mid.set(i, null))); // each h released once used
                    }
                } else {
                    for (Value x : inputs) {
                        next.add(qm.layer(l, x));
                    }
                }
                inputs = next;
                if (saved != null) {
                    saveLayer(saved, l, current, inputs);
                }
                progress.update(stage, (l + 1.0) / layers);
            }
        }
        return current;
    }

    /** {@code w} with layer {@code l}'s linears replaced by those {@code saved} holds (the shapes checked). */
    private static LlamaWeights restoreLayer(LlamaWeights w, int l, LayerCheckpoint saved) {
        List<Value> lin = w.block(l).linears();
        List<intactkv.tensor.Shape> shapes = new ArrayList<>();
        for (Value v : lin) {
            shapes.add(v.shape());
        }
        Map<Integer, Tensor> repl = new HashMap<>();
        try {
            List<Tensor> read = saved.layer(l, shapes);
            for (int j = 0; j < read.size(); j++) {
                repl.put(j, read.get(j));
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return replaceLinears(w, l, repl);
    }

    private static LayerInputs readInputs(LayerCheckpoint saved, ActivationStore store) {
        try {
            return saved.inputs(store);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static void saveLayer(LayerCheckpoint saved, int l, LlamaWeights w, LayerInputs next) {
        try {
            saved.save(l, w.block(l).linears(), next);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * The embedded calibration sequences, the first layer's inputs, held as {@code store} says (a method of its
     * own: no model is kept).
     */
    private static LayerInputs embed(LlamaWeights w, List<int[]> calib, ActivationStore store) {
        LlamaModel m = new LlamaModel(w);
        LayerInputs inputs = new LayerInputs(store);
        for (int[] seq : calib) {
            inputs.add(m.embed(new int[][] {seq}));
        }
        return inputs;
    }

    /**
     * {@code H = (2 / N) sum_n X_n^T X_n} for the input X of every linear in {@code group} of
     * layer {@code l}, over the N calibration sequences (AutoGPTQ's {@code add_batch}); X is the
     * linear's input as {@code m}'s hooks return it.
     *
     * <p>Three savings, none of which changes a bit of the result:
     * <ul>
     *   <li><b>Each sequence's pass ends once the group's inputs are captured.</b> The capture hook
     *       throws {@link GroupCaptured} after the last of the group's linears has handed it its
     *       input, and the pass is abandoned there: for (k, v, q) after the input norm, for (o)
     *       after the attention, for (up, gate) after the post-attention norm (the MLP block hands both
     *       inputs to the hooks before either product, {@link LlamaModel#mlpBlock}), for (down) before down_proj
     *       itself. The captured X is computed before that
     *       point and nothing after it can change it (tensors are not written after they are made;
     *       the layer's output and its keys and values were discarded anyway), so H is the same.
     *       The official code runs the whole layer for every group and discards the outputs
     *       ({@code gptq/llama.py::llama_sequential}: {@code outs[j] = layer(inps[j].unsqueeze(0), ...)}
     *       with forward hooks on the group's linears;
     *       {@code auto_gptq/modeling/_base.py::BaseGPTQForCausalLM.quantize}: {@code layer(*layer_input, ...)});
     *       both end a forward pass early in the same way only to catch the first layer's inputs
     *       ({@code Catcher} and {@code store_input_hook} raise {@code ValueError}).</li>
     *   <li><b>One X^T X per distinct input.</b> q, k, v read the same normed x, and gate, up the
     *       same one; when the hooks hand back the very same tensor object for several names (they
     *       do without hooks and with QuaRot's online transforms, which change only the inputs of o
     *       and down), its product is computed once per sequence and added to each name's sum. Tensors that are
     *       not the same object (QuaRot's activation quantizers make a new one per call) get one
     *       product each, as before. Each name keeps its own sum, added in the same order.</li>
     *   <li><b>The symmetric product</b> {@link MatMul#gram}, equal bit for bit to
     *       {@code matmulTransA(X, X)} with about half the multiply-adds.</li>
     * </ul>
     */
    static Map<String, Tensor> hessians(LlamaModel m, int l, List<Value> inputs, int[] group) {
        return hessians(m, l, inputs, group, (probe, x) -> probe.layer(l, x));
    }

    /**
     * {@link #hessians} of an MLP group ({@code (up, gate)} or {@code (down)}) from the residual streams after layer
     * {@code l}'s attention block ({@link #afterAttention}) instead of the layer's inputs: each pass runs only
     * {@link LlamaModel#afterMlp}, so the attention block (with its linears already quantized and unchanged since
     * {@code mid} was computed) is not run again. The same Hessians bit for bit: the MLP's inputs are computed from
     * the same {@code h} by the same operations.
     */
    static Map<String, Tensor> hessiansAfterAttention(LlamaModel m, int l, List<Value> mid, int[] group) {
        return hessians(m, l, mid, group, (probe, h) -> probe.afterMlp(l, h));
    }

    /** {@code h = x + attn(rmsNorm(x))} of layer {@code l} for every input ({@link LlamaModel#afterAttention}). */
    static List<Value> afterAttention(LlamaModel m, int l, List<Value> inputs) {
        List<Value> mid = new ArrayList<>(inputs.size());
        for (Value x : inputs) {
            mid.add(m.afterAttention(l, x));
        }
        return mid;
    }

    /** The Hessians of {@code group}, each sequence's pass run by {@code pass} on the capturing model. */
    private static Map<String, Tensor> hessians(LlamaModel m, int l, List<Value> inputs, int[] group,
                                                BiFunction<LlamaModel, Value, Value> pass) {
        Set<String> names = new HashSet<>();
        for (int j : group) {
            names.add(LlamaWeights.LINEAR_NAMES.get(j));
        }
        Map<String, Tensor> h = new HashMap<>();
        Set<String> seen = new HashSet<>();                     // the group's names captured in this sequence
        Map<Tensor, Tensor> products = new IdentityHashMap<>(); // this sequence's X^T X by input tensor
        ModelHooks capture = new ModelHooks() {
            @Override
            public Value linearInput(int layer, String name, Value x) {
                Value q = m.hooks().linearInput(layer, name, x);
                if (layer == l && names.contains(name)) {
                    Tensor xtx = products.computeIfAbsent(q.data(), t -> MatMul.gram(t.reshape(-1, t.dim(-1))));
                    h.merge(name, xtx, Tensor::add);
                    seen.add(name);
                    if (seen.size() == names.size()) {
                        throw new GroupCaptured();
                    }
                }
                return q;
            }

            @Override
            public Value newQueries(int layer, Value q) {
                return m.hooks().newQueries(layer, q);
            }

            @Override
            public Value newKeys(int layer, Value k) {
                return m.hooks().newKeys(layer, k);
            }

            @Override
            public Value newValues(int layer, Value v) {
                return m.hooks().newValues(layer, v);
            }
        };
        LlamaModel probe = m.withHooks(capture);
        for (Value x : inputs) {
            seen.clear();
            products.clear();
            try {
                pass.apply(probe, x);
                throw new IllegalStateException("layer " + l + " ran to its end without the inputs of " + names
                        + " (captured: " + seen + ")");
            } catch (GroupCaptured done) {
                // the group's inputs are in h: the rest of the layer is not needed
            }
        }
        products.clear();
        double factor = 2.0 / inputs.size();
        h.replaceAll((k, v) -> v.scale(factor));
        return h;
    }

    /**
     * Ends a calibration pass of {@link #hessians} once the group's inputs are captured. Control flow only: it
     * carries no message and no stack trace, and never leaves {@code hessians}.
     */
    private static final class GroupCaptured extends RuntimeException {
        private static final long serialVersionUID = 1L;

        GroupCaptured() {
            super(null, null, false, false);
        }
    }

    /** {@code w} with the given linears of block {@code l} replaced. */
    static LlamaWeights replaceLinears(LlamaWeights w, int l, Map<Integer, Tensor> repl) {
        List<Value> lin = new ArrayList<>(w.block(l).linears());
        repl.forEach((j, t) -> lin.set(j, Value.constant(t)));
        return w.withBlock(l, w.block(l).withLinears(lin));
    }
}
