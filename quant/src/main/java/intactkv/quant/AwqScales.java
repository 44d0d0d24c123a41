package intactkv.quant;

import intactkv.autograd.Value;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.io.DType;
import intactkv.model.io.FormatException;
import intactkv.model.io.SafetensorsReader;
import intactkv.model.io.SafetensorsWriter;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * AWQ's searched per-input-channel scales, per decoder layer, as llm-awq's
 * {@code awq_results["scale"]}: four groups per layer, each a vector s that divides the output
 * of a previous op and multiplies the input columns of the following linears, so that the
 * full-precision function is unchanged:
 * <pre>
 *   qkv     (d)     input_layernorm          -> self_attn.q_proj, k_proj, v_proj
 *   o       (d)     self_attn.v_proj (rows)  -> self_attn.o_proj       (null under GQA)
 *   gateUp  (d)     post_attention_layernorm -> mlp.gate_proj, up_proj
 *   down    (d_ff)  mlp.up_proj (rows)       -> mlp.down_proj
 * </pre>
 * The o group exists only where v_proj and o_proj have the same shape (h_kv = h), as in
 * {@code llm_awq/quantize/auto_scale.py::auto_scale_block} (llm-awq pull request 67).
 *
 * <p>The arrays are owned by this record (copied on construction) and must not be modified.
 *
 * <p>Reference: {@code llm_awq/quantize/auto_scale.py::apply_scale}; the IntactKV twin as
 * {@code utils/modelutils.py::build_fp16_model}.
 *
 * @param qkv    per layer, s of the (q, k, v) group (d)
 * @param o      per layer, s of the v_proj -> o_proj group (d), null where v_proj and o_proj differ in shape (GQA)
 * @param gateUp per layer, s of the (gate, up) group (d)
 * @param down   per layer, s of the up_proj -> down_proj group (d_ff)
 */
public record AwqScales(List<double[]> qkv, List<double[]> o, List<double[]> gateUp, List<double[]> down) {
    /** The {@code format} metadata of a scales file. */
    public static final String FORMAT = "awq-scales";

    public AwqScales {
        if (qkv == null || o == null || gateUp == null || down == null) {
            throw new IllegalArgumentException("AWQ scales: a group list is null");
        }
        int layers = qkv.size();
        if (layers == 0 || o.size() != layers || gateUp.size() != layers || down.size() != layers) {
            throw new IllegalArgumentException("AWQ scales: the groups cover different numbers of layers (qkv "
                    + qkv.size() + ", o " + o.size() + ", gate_up " + gateUp.size() + ", down " + down.size() + ")");
        }
        qkv = copy(qkv, "qkv", false);
        o = copy(o, "o", true);
        gateUp = copy(gateUp, "gate_up", false);
        down = copy(down, "down", false);
    }

    private static List<double[]> copy(List<double[]> in, String group, boolean nullable) {
        List<double[]> out = new ArrayList<>();
        for (int l = 0; l < in.size(); l++) {
            double[] s = in.get(l);
            if (s == null) {
                if (!nullable) {
                    throw new IllegalArgumentException("AWQ scales: " + tensorName(l, group) + " is null");
                }
                out.add(null);
                continue;
            }
            for (int c = 0; c < s.length; c++) {
                if (!(s[c] > 0) || !Double.isFinite(s[c])) {
                    throw new IllegalArgumentException("AWQ scales: " + tensorName(l, group) + " [" + c + "] = " + s[c]
                            + " (scales divide a norm or a linear, so they must be finite and > 0)");
                }
            }
            out.add(s.clone());
        }
        return Collections.unmodifiableList(out);
    }

    /** Number of decoder layers L. */
    public int layers() {
        return qkv.size();
    }

    /** The safetensors name of group {@code group} ({@code qkv}, {@code o}, {@code gate_up}, {@code down}) of layer l. */
    public static String tensorName(int l, String group) {
        return "scale." + l + "." + group;
    }

    /** Whether llm-awq searches the v_proj -> o_proj group for config c: v_proj and o_proj of equal shape (h_kv = h). */
    public static boolean hasOGroup(LlamaConfig c) {
        return c.numKeyValueHeads() == c.numAttentionHeads();
    }

    /**
     * llm-awq {@code apply_scale} on a copy of {@code fp} (which is not modified): in every layer,
     * RMSNorm weights and the rows of the preceding linears divided by s, the input columns of
     * the following linears multiplied by s. No clipping, no rounding: the full-precision model
     * in AWQ's basis, whose logits equal those of {@code fp} up to rounding, and the model the
     * official IntactKV code takes its prefix from ({@code utils/modelutils.py::build_fp16_model}).
     *
     * @throws IllegalArgumentException if the scales do not fit {@code fp}'s shapes (named)
     */
    public LlamaWeights applyTo(LlamaWeights fp) {
        requireFits(fp.config(), "AWQ scales");
        LlamaWeights out = fp;
        for (int l = 0; l < layers(); l++) {
            out = applyLayer(out, l, qkv.get(l), o.get(l), gateUp.get(l), down.get(l));
        }
        return out;
    }

    /** Checks the layer count and every vector's length against c, and that o is given only without GQA. */
    void requireFits(LlamaConfig c, String source) {
        if (layers() != c.numHiddenLayers()) {
            throw new IllegalArgumentException(source + ": scales for " + layers() + " layers, the model has "
                    + c.numHiddenLayers());
        }
        for (int l = 0; l < layers(); l++) {
            requireLength(source, l, "qkv", qkv.get(l), c.hiddenSize(), "d");
            requireLength(source, l, "gate_up", gateUp.get(l), c.hiddenSize(), "d");
            requireLength(source, l, "down", down.get(l), c.intermediateSize(), "d_ff");
            if (o.get(l) != null) {
                if (!hasOGroup(c)) {
                    throw new IllegalArgumentException(source + ": " + tensorName(l, "o") + " given, but v_proj and o_proj"
                            + " differ in shape (h_kv = " + c.numKeyValueHeads() + " < h = " + c.numAttentionHeads()
                            + "), where llm-awq has no v_proj -> o_proj group");
                }
                requireLength(source, l, "o", o.get(l), c.hiddenSize(), "d");
            }
        }
    }

    private static void requireLength(String source, int l, String group, double[] s, int want, String sym) {
        if (s.length != want) {
            throw new IllegalArgumentException(source + ": " + tensorName(l, group) + " has " + s.length
                    + " channels, the model needs " + sym + " = " + want);
        }
    }

    /**
     * Applies one layer's four groups in llm-awq's order: {@code scale_ln_fcs} (input norm ->
     * q, k, v), {@code scale_fc_fc} (v -> o, skipped when {@code o} is null), {@code scale_ln_fcs}
     * (post-attention norm -> gate, up), {@code scale_fc_fc} (up -> down). Shared by
     * {@link #applyTo} and {@link Awq#run}, so the twin and the quantized model are scaled by the
     * same arithmetic.
     */
    static LlamaWeights applyLayer(LlamaWeights w, int l, double[] qkv, double[] o, double[] gateUp, double[] down) {
        return w.withBlock(l, scaleBlock(w.block(l), qkv, o, gateUp, down));
    }

    /** Layer {@code l}'s scales applied to its block {@code b} alone: {@link #applyTo}'s block l, bit for bit. */
    LlamaWeights.Block applyToBlock(int l, LlamaWeights.Block b) {
        return scaleBlock(b, qkv.get(l), o.get(l), gateUp.get(l), down.get(l));
    }

    /** {@link #applyLayer}'s arithmetic on one block. */
    private static LlamaWeights.Block scaleBlock(LlamaWeights.Block b, double[] qkv, double[] o, double[] gateUp,
                                                 double[] down) {
        Tensor sQkv = Tensor.vector(qkv);
        Tensor sGateUp = Tensor.vector(gateUp);
        List<Value> lin = new ArrayList<>(b.linears());
        // scale_ln_fcs: ln.weight /= s; fc.weight *= s (columns)
        Value inputNorm = Value.constant(b.inputNorm().data().div(sQkv));
        for (int j : new int[] {0, 1, 2}) {
            lin.set(j, Value.constant(lin.get(j).data().mul(sQkv)));
        }
        // scale_fc_fc: fc1.weight /= s (rows); fc2.weight *= s (columns)
        if (o != null) {
            lin.set(2, Value.constant(lin.get(2).data().div(Tensor.of(o, o.length, 1))));
            lin.set(3, Value.constant(lin.get(3).data().mul(Tensor.vector(o))));
        }
        Value postNorm = Value.constant(b.postNorm().data().div(sGateUp));
        for (int j : new int[] {4, 5}) {
            lin.set(j, Value.constant(lin.get(j).data().mul(sGateUp)));
        }
        lin.set(5, Value.constant(lin.get(5).data().div(Tensor.of(down, down.length, 1))));
        lin.set(6, Value.constant(lin.get(6).data().mul(Tensor.vector(down))));
        return new LlamaWeights.Block(inputNorm, lin.get(0), lin.get(1), lin.get(2), lin.get(3), postNorm, lin.get(4),
                lin.get(5), lin.get(6));
    }

    /**
     * Writes the scales as one safetensors file, atomically (temporary file, then rename):
     * F64 tensors {@code scale.{l}.qkv} (d), {@code scale.{l}.o} (d, absent under GQA),
     * {@code scale.{l}.gate_up} (d), {@code scale.{l}.down} (d_ff), metadata {@code format} =
     * {@value #FORMAT}, {@code layers}, and each group's previous op and scaled linears.
     */
    public void save(Path file) throws IOException {
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", FORMAT)
                .metadata("layers", String.valueOf(layers()))
                .metadata("qkv", "input_layernorm -> self_attn.q_proj, self_attn.k_proj, self_attn.v_proj")
                .metadata("o", "self_attn.v_proj -> self_attn.o_proj (absent where they differ in shape, GQA)")
                .metadata("gate_up", "post_attention_layernorm -> mlp.gate_proj, mlp.up_proj")
                .metadata("down", "mlp.up_proj -> mlp.down_proj");
        for (int l = 0; l < layers(); l++) {
            w.put(tensorName(l, "qkv"), DType.F64, Tensor.vector(qkv.get(l)));
            if (o.get(l) != null) {
                w.put(tensorName(l, "o"), DType.F64, Tensor.vector(o.get(l)));
            }
            w.put(tensorName(l, "gate_up"), DType.F64, Tensor.vector(gateUp.get(l)));
            w.put(tensorName(l, "down"), DType.F64, Tensor.vector(down.get(l)));
        }
        w.write(file);
    }

    /**
     * Reads a file written by {@link #save} and checks it against {@code c}: one vector per layer
     * and group with the length the model needs, {@code scale.{l}.o} present exactly where
     * v_proj and o_proj have the same shape, no other tensors, every value finite and &gt; 0.
     * Any floating dtype is read (converted to double). Errors ({@link FormatException}) name
     * the file and the tensor.
     */
    public static AwqScales load(Path file, LlamaConfig c) throws IOException {
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            String format = r.metadata().get("format");
            if (!FORMAT.equals(format)) {
                throw new FormatException(file, "not an AWQ scales file (metadata 'format' is "
                        + (format == null ? "absent" : "'" + format + "'") + ", expected '" + FORMAT + "')");
            }
            Set<String> expected = new HashSet<>();
            List<double[]> qkv = new ArrayList<>();
            List<double[]> o = new ArrayList<>();
            List<double[]> gateUp = new ArrayList<>();
            List<double[]> down = new ArrayList<>();
            for (int l = 0; l < c.numHiddenLayers(); l++) {
                qkv.add(vector(r, file, tensorName(l, "qkv"), c.hiddenSize(), "d", expected));
                if (hasOGroup(c)) {
                    o.add(vector(r, file, tensorName(l, "o"), c.hiddenSize(), "d", expected));
                } else {
                    o.add(null);
                }
                gateUp.add(vector(r, file, tensorName(l, "gate_up"), c.hiddenSize(), "d", expected));
                down.add(vector(r, file, tensorName(l, "down"), c.intermediateSize(), "d_ff", expected));
            }
            for (String name : r.names()) {
                if (!expected.contains(name)) {
                    String why = name.matches("scale\\.\\d+\\.o") && !hasOGroup(c)
                            ? " (v_proj and o_proj differ in shape under GQA, h_kv = " + c.numKeyValueHeads() + " < h = "
                            + c.numAttentionHeads() + ", so llm-awq has no v_proj -> o_proj group)"
                            : " (the model has " + c.numHiddenLayers() + " layers; a file for another model?)";
                    throw new FormatException(file, "unexpected tensor '" + name + "'" + why);
                }
            }
            return new AwqScales(qkv, o, gateUp, down);
        }
    }

    private static double[] vector(SafetensorsReader r, Path file, String name, int want, String sym, Set<String> seen)
            throws IOException {
        if (!r.contains(name)) {
            throw new FormatException(file, "has no tensor '" + name + "' (expected shape " + Shape.of(want) + " = (" + sym
                    + "))");
        }
        SafetensorsReader.Entry e = r.entry(name);
        if (e.dtype().isInteger()) {
            throw new FormatException(file, "tensor '" + name + "' is " + e.dtype() + ", expected a floating dtype (F64)");
        }
        if (e.shape().rank() != 1 || e.shape().dim(0) != want) {
            throw new FormatException(file, "tensor '" + name + "' has shape " + e.shape() + ", the model needs "
                    + Shape.of(want) + " = (" + sym + ")");
        }
        double[] s = r.readFinite(name).data();
        for (int i = 0; i < s.length; i++) {
            if (!(s[i] > 0)) {
                throw new FormatException(file, "tensor '" + name + "' element " + i + " is " + s[i]
                        + " (AWQ scales divide a norm or a linear, so they must be > 0)");
            }
        }
        seen.add(name);
        return s;
    }
}
