package intactkv.quant;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.io.AtomicFiles;
import intactkv.model.io.CheckpointReader;
import intactkv.model.io.DType;
import intactkv.model.io.FormatException;
import intactkv.model.io.SafetensorsWriter;
import intactkv.tensor.HalfFloat;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * GPTQ and AWQ checkpoints as the Hugging Face Hub holds them (AutoGPTQ's and AutoAWQ's layouts,
 * {@link AutoGptqFormat}, {@link AutoAwqFormat}), read as a {@link QuantizedModel} beside the full-precision model
 * and written by {@code quantize --format autogptq|autoawq}.
 *
 * <p>Reading: config.json (its {@code quantization_config} accepted here, refused for a full-precision model),
 * the settings ({@link HubQuantConfig}), every linear's packed tensors into {@link QuantCodes} (the model keeps
 * the codes, dequantized in double where a kernel reads them), the other tensors as stored. The basis IntactKV
 * takes its prefix in ({@link Basis}): GPTQ quantizes the original weights ({@link Basis.Original}); AutoAWQ folded
 * its scales into the norms and linears, so its twin needs those scales: {@code awq_scales.safetensors} beside
 * the checkpoint (what this project's writer adds) gives {@link Basis.AwqScaled}; without it the basis is
 * {@link Basis.AwqFolded}, the model runs, and anything that needs the twin (IntactKV) is refused.
 *
 * <p>Writing keeps the codes and zeros and rounds each scale to float16, as both formats hold it; the written
 * model is what is evaluated afterwards, and {@link WriteReport} says how far its dequantized weights moved from
 * the double-scale ones.
 */
public final class HubCheckpoint {
    /** The two layouts {@code quantize --format} writes besides the project's packed one. */
    public enum Target {
        AUTOGPTQ("autogptq"), AUTOAWQ("autoawq");

        private final String id;

        Target(String id) {
            this.id = id;
        }

        public String id() {
            return id;
        }

        /** The target named {@code id}, or null for {@code packed} (the project's own format). */
        public static Target parse(String id) {
            for (Target t : values()) {
                if (t.id.equals(id)) {
                    return t;
                }
            }
            if (id.equals("packed")) {
                return null;
            }
            throw new IllegalArgumentException("--format must be packed, autogptq or autoawq: " + id);
        }
    }

    /**
     * How far the written model is from the quantized one: the largest |dW| of a dequantized weight and the largest
     * relative change of a scale (= of every nonzero weight it scales) when the scales are rounded to float16; the
     * codes are kept, so no code changes.
     *
     * @param linears      linear weights written packed
     * @param maxAbsChange max over all weights of |W_written - W|
     * @param maxRelChange max over all scales of |s16 - s| / |s|
     */
    public record WriteReport(int linears, double maxAbsChange, double maxRelChange) {
        /** One line for the command's output. */
        public String summary() {
            return String.format(Locale.ROOT, "%d linears written with float16 scales, codes kept: max |dW| %.3e,"
                    + " max relative change of a weight %.3e", linears, maxAbsChange, maxRelChange);
        }
    }

    private HubCheckpoint() {
    }

    /**
     * Refuses a combination the target cannot hold, before any model work (IllegalArgumentException naming the flags
     * and what is supported): AutoGPTQ for --method rtn or gptq at 2, 3, 4 or 8 bits; AutoAWQ for --method awq at 4
     * bits with groups.
     */
    public static void checkWritable(Target target, QuantConfig config) {
        Method m = config.method();
        int bits = config.weight().bits();
        boolean runtime = config.activation().bits() < 16 || config.kv().bits() < 16;
        if (target == Target.AUTOGPTQ) {
            if (m != Method.RTN && m != Method.GPTQ || !(bits == 2 || bits == 3 || bits == 4 || bits == 8) || runtime) {
                throw new IllegalArgumentException("--format autogptq writes --method rtn or gptq with --wbits 2, 3, 4 or 8"
                        + " and no --abits/--kvbits (got --method " + m.id() + " --wbits " + bits + (runtime ? " with"
                        + " run-time quantization" : "") + "); AWQ's folded scales go to --format autoawq, the other"
                        + " methods to the default --format packed");
            }
        } else {
            if (m != Method.AWQ || bits != 4 || config.weight().groupSize() == WeightQuantizer.Spec.PER_CHANNEL || runtime) {
                throw new IllegalArgumentException("--format autoawq writes --method awq with --wbits 4, a --group > 0"
                        + " and no --abits/--kvbits (got --method " + m.id() + " --wbits " + bits + " --group "
                        + config.weight().groupSize() + (runtime ? " with run-time quantization" : "") + "); GPTQ and RTN go"
                        + " to --format autogptq, the other methods to the default --format packed");
            }
        }
    }

    /**
     * Loads the GPTQ or AWQ checkpoint in {@code dir} (settings {@code hub}), checked against the full-precision
     * config {@code fpConfig}; its twin from the full-precision weights {@code fp}, or none when {@code fp} is null
     * (the caller took IntactKV's prefix before and released them).
     */
    static QuantizedModel load(Path dir, HubQuantConfig hub, intactkv.model.LlamaConfig fpConfig, LlamaWeights fp,
                               Integer abits, Integer kvbits) throws IOException {
        List<String> parts = hub.format().gptq() ? AutoGptqFormat.PARTS : AutoAwqFormat.PARTS;
        LlamaWeights.StoredForm form = new LlamaWeights.StoredForm() {
            @Override
            public Tensor read(CheckpointReader r, String name, Shape want) throws IOException {
                String p = name.substring(0, name.length() - ".weight".length());
                if (!r.contains(p + ".qweight")) {
                    return null;
                }
                if (r.contains(name)) {
                    throw new FormatException(r.dir(), "weight '" + p + "' is stored twice: as '" + name + "' and packed"
                            + " as '" + p + ".qweight'");
                }
                QuantCodes q = hub.format().gptq() ? AutoGptqFormat.read(r, p, want.dim(0), want.dim(1), hub)
                        : AutoAwqFormat.read(r, p, want.dim(0), want.dim(1), hub);
                return q.tensor();
            }

            @Override
            public String weightOf(String tensor) {
                for (String part : parts) {
                    if (tensor.endsWith(part)) {
                        return tensor.substring(0, tensor.length() - part.length()) + ".weight";
                    }
                }
                return null;
            }

            @Override
            public boolean quantizedConfig() {
                return true;
            }
        };
        LlamaWeights w = LlamaWeights.load(dir, false, form);
        QuantizedModel.checkSameModel(dir, w.config(), fpConfig);
        QuantConfig config = hub.quantConfig().withRuntime(abits, kvbits);
        Basis basis = basis(dir, hub, w.config());
        LlamaModel twin = basis instanceof Basis.AwqFolded || fp == null ? null : basis.twin(fp);
        return new QuantizedModel(new LlamaModel(w, QuantizedModel.hooks(w.config(), config)), config, basis, twin);
    }

    /**
     * The basis of a Hub checkpoint (config {@code c}): GPTQ's is the original one; AWQ's is scaled when its
     * {@code awq_scales.safetensors} is beside it, else folded (no twin can be rebuilt).
     */
    static Basis basis(Path dir, HubQuantConfig hub, intactkv.model.LlamaConfig c) throws IOException {
        if (hub.method() != Method.AWQ) {
            return new Basis.Original();
        }
        Path f = dir.resolve(Basis.AwqScaled.FILE);
        return Files.isRegularFile(f) ? new Basis.AwqScaled(AwqScales.load(f, c)) : new Basis.AwqFolded();
    }

    /**
     * Writes {@code weights} (quantized by {@code config}, in {@code basis}) into {@code dir} in {@code target}'s layout:
     * model.safetensors (the linears packed, the other tensors as {@code dtype}), config.json with its
     * {@code quantization_config}, AutoGPTQ's quantize_config.json, and for AWQ the scales of its basis
     * ({@code awq_scales.safetensors}, which AutoAWQ ignores and IntactKV needs). Refuses (IllegalArgumentException
     * naming the weight) a linear the layout cannot hold; the caller writes into a temporary directory.
     */
    public static WriteReport save(LlamaWeights weights, QuantConfig config, Basis basis, Target target, Path dir,
                                   DType dtype) throws IOException {
        checkWritable(target, config);
        HubQuantConfig.Format format = target == Target.AUTOGPTQ ? HubQuantConfig.Format.GPTQ
                : HubQuantConfig.Format.AWQ_GEMM;
        int[] linears = {0};
        double[] worst = {0, 0};
        boolean[] actOrder = {false};
        weights.save(dir, dtype, (w, name, t) -> {
            if (!LlamaWeights.LINEAR_NAMES.stream().anyMatch(s -> name.endsWith(s + ".weight"))) {
                return false;
            }
            if (!(t.storage() instanceof QuantCodes q)) {
                throw new IllegalArgumentException("weight '" + name + "' is kept as doubles, not as integer codes (a"
                        + " scale or zero was not finite), so it cannot be written in the " + target.id() + " layout; use"
                        + " the default --format packed");
            }
            String p = name.substring(0, name.length() - ".weight".length());
            double[] half = halfScales(q, p, worst);
            if (format.gptq()) {
                AutoGptqFormat.put(w, p, q, half, format);
                actOrder[0] |= !AutoGptqFormat.consecutive(q);
            } else {
                AutoAwqFormat.put(w, p, q, half);
            }
            linears[0]++;
            return true;
        });
        JsonObject q = new JsonObject();
        int bits = config.weight().bits();
        int group = config.weight().groupSize();
        if (format.gptq()) {
            // the fields of AutoGPTQ's quantization/config.py::BaseQuantizeConfig.to_dict, in its order
            q.addProperty("bits", bits);
            q.addProperty("group_size", group);
            q.addProperty("damp_percent", 0.01);
            q.addProperty("desc_act", actOrder[0]);
            q.addProperty("static_groups", false);
            q.addProperty("sym", config.weight().symmetric());
            q.addProperty("true_sequential", true);
            q.add("model_name_or_path", JsonNull.INSTANCE);
            q.addProperty("model_file_base_name", "model");
            q.addProperty("quant_method", "gptq");
            q.addProperty("checkpoint_format", "gptq");
            AtomicFiles.writeString(dir.resolve(HubQuantConfig.GPTQ_FILE), pretty(q));
        } else {
            // AutoAWQ's models/_config.py::AwqConfig.to_transformers_dict
            q.addProperty("quant_method", "awq");
            q.addProperty("zero_point", true);
            q.addProperty("group_size", group);
            q.addProperty("bits", bits);
            q.addProperty("version", "gemm");
            q.add("modules_to_not_convert", JsonNull.INSTANCE);
        }
        Path configFile = dir.resolve("config.json");
        JsonObject c = JsonParser.parseString(Files.readString(configFile, StandardCharsets.UTF_8)).getAsJsonObject();
        c.add("quantization_config", q);
        AtomicFiles.writeString(configFile, pretty(c));
        basis.save(dir);
        return new WriteReport(linears[0], worst[0], worst[1]);
    }

    private static String pretty(JsonObject o) {
        return new GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(o) + "\n";
    }

    /**
     * The scales of {@code q}, (rows, groups), rounded to float16 (round half to even); updates
     * {@code worst = [max |dW|, max relative change]}. Refuses a scale float16 cannot hold (beyond 65504).
     */
    static double[] halfScales(QuantCodes q, String p, double[] worst) {
        double[] s = q.scales();
        double[] half = new double[s.length];
        for (int i = 0; i < s.length; i++) {
            half[i] = HalfFloat.fromFp16Bits(HalfFloat.toFp16Bits(s[i]));
            if (!Double.isFinite(half[i])) {
                throw new IllegalArgumentException("weight '" + p + "' scale " + s[i] + " (row " + i / q.groups()
                        + ", group " + i % q.groups() + ") is beyond float16's range, which the Hub formats store scales"
                        + " in; use the default --format packed");
            }
            if (s[i] != 0) {
                worst[1] = Math.max(worst[1], Math.abs(half[i] - s[i]) / Math.abs(s[i]));
            }
        }
        int groups = q.groups();
        for (int r = 0; r < q.rows(); r++) {
            for (int c = 0; c < q.cols(); c++) {
                int at = r * groups + q.groupOf()[c];
                double code = q.offset(r * q.cols() + c) + q.qmin();
                double d = Math.abs(FakeQuant.dequantize(code, half[at], q.zeros()[at]) - FakeQuant.dequantize(code, s[at],
                        q.zeros()[at]));
                worst[0] = Math.max(worst[0], d);
            }
        }
        return half;
    }

    /** The zero point of (row {@code r}, group {@code k}) of {@code q} as the formats store it: {@code z - qmin}, an integer in [0, 2^bits). */
    static int integerZero(QuantCodes q, int r, int k, String p) {
        double z = q.zeros()[r * q.groups() + k] - q.qmin();
        if (!(z >= 0 && z < (1 << q.bits()) && z == Math.rint(z))) {
            throw new IllegalArgumentException("weight '" + p + "' row " + r + " group " + k + " has zero point "
                    + q.zeros()[r * q.groups() + k] + ", not an integer code the " + q.bits() + "-bit layout can store;"
                    + " use the default --format packed");
        }
        return (int) z;
    }

    /** {@code a} (rows, cols) as its transpose (cols, rows), a tensor. */
    static Tensor transposed(double[] a, int rows, int cols) {
        double[] t = new double[a.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = a[r * cols + c];
            }
        }
        return Tensor.wrap(t, Shape.of(cols, rows));
    }

    /** An integer tensor of shape {@code want}, or an error naming it and what it holds ({@code what}). */
    static long[] ints(CheckpointReader r, String name, Shape want, String what) throws IOException {
        Shape got = r.entry(name).shape();
        if (!r.entry(name).dtype().isInteger() || !got.equals(want)) {
            throw new FormatException(r.dir(), "tensor '" + name + "' is " + r.entry(name).dtype() + " of shape " + got
                    + ", but " + what + " need I32 of shape " + want);
        }
        return r.readLongs(name);
    }

    /** The scales (groups, out), floating point and finite, or an error naming the tensor and the element. */
    static double[] scales(CheckpointReader r, String name, int groups, int out, String what) throws IOException {
        Shape want = Shape.of(groups, out);
        Shape got = r.entry(name).shape();
        if (r.entry(name).dtype().isInteger() || !got.equals(want)) {
            throw new FormatException(r.dir(), "tensor '" + name + "' is " + r.entry(name).dtype() + " of shape " + got
                    + ", but " + what + " need floating-point scales of shape " + want);
        }
        double[] s = r.read(name).data();
        for (int i = 0; i < s.length; i++) {
            if (!Double.isFinite(s[i])) {
                throw new FormatException(r.dir(), "tensor '" + name + "' element (" + i / out + ", " + i % out + ") is "
                        + s[i] + "; a scale must be finite");
            }
        }
        return s;
    }
}
