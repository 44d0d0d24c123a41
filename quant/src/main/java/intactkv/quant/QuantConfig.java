package intactkv.quant;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import intactkv.model.io.AtomicFiles;
import intactkv.model.io.FormatException;
import intactkv.model.io.JsonFields;
import intactkv.model.io.JsonFile;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Everything that defines a quantized model: the weight method and format (applied once,
 * offline), and the run-time activation and KV-cache quantizers (applied in every forward
 * pass). Stored next to a quantized checkpoint as {@code quant_config.json}.
 *
 * @param method     weight quantization method
 * @param weight     weight format (bits 16 = full precision)
 * @param activation per-token quantizer of the inputs of every decoder linear layer
 * @param kv         per-(token, head) quantizer of newly computed keys and values
 * @param seed       seed of everything random in the method (calibration sampling, rotations)
 * @param gguf       the llama.cpp type of {@link Method#GGUF} (its {@code weight} spec then only names the
 *                   nominal bits and the default type's block size, for labels and estimates); null otherwise
 */
public record QuantConfig(Method method, WeightQuantizer.Spec weight, DynamicQuantizer activation,
                          DynamicQuantizer kv, long seed, GgufMix gguf) {
    /** Quantizers switched off. */
    public static final DynamicQuantizer OFF = DynamicQuantizer.perToken(16);

    public QuantConfig {
        if (method == Method.NONE && weight.bits() < 16) {
            throw new IllegalArgumentException("method 'none' with " + weight.bits() + "-bit weights: choose a method");
        }
        if (method != Method.NONE && weight.bits() >= 16) {
            throw new IllegalArgumentException("method '" + method.id() + "' needs weight bits below 16");
        }
        if (activation.groupSize() != 0) {
            throw new IllegalArgumentException("activation quantization is per token (group size 0)");
        }
        if ((method == Method.GGUF) != (gguf != null)) {
            throw new IllegalArgumentException(method == Method.GGUF ? "method 'gguf' needs a GGUF type (one of "
                    + GgufMix.names() + ")" : "a GGUF type belongs to method 'gguf', not '" + method.id() + "'");
        }
    }

    /** A configuration of any method but {@link Method#GGUF} (no GGUF type). */
    public QuantConfig(Method method, WeightQuantizer.Spec weight, DynamicQuantizer activation, DynamicQuantizer kv,
                       long seed) {
        this(method, weight, activation, kv, seed, null);
    }

    /**
     * llama.cpp's {@code mix} ({@link GgufQuantizer}), no run-time quantizers; the weight spec holds the nominal bits
     * and the default type's block size (the tensors' real types are {@link GgufTypeRules#assign}'s).
     */
    public static QuantConfig gguf(GgufMix mix) {
        return new QuantConfig(Method.GGUF, WeightQuantizer.Spec.asym(mix.nominalBits(), mix.defaultType().blockSize()),
                OFF, OFF, 0, mix);
    }

    /** Full precision everywhere. */
    public static QuantConfig fullPrecision() {
        return new QuantConfig(Method.NONE, new WeightQuantizer.Spec(16, -1, false), OFF, OFF, 0);
    }

    /** RTN weights, asymmetric, b bits, groups of g. */
    public static QuantConfig rtn(int bits, int group) {
        return new QuantConfig(Method.RTN, WeightQuantizer.Spec.asym(bits, group), OFF, OFF, 0);
    }

    /** The paper's INT3 weight-only setting with RTN: 3 bits, groups of 128. */
    public static QuantConfig w3g128() {
        return rtn(3, 128);
    }

    /** INT4 weight-only RTN, groups of 128. */
    public static QuantConfig w4g128() {
        return rtn(4, 128);
    }

    /** KV cache only, 4-bit asymmetric per (token, head). */
    public static QuantConfig kv4() {
        return new QuantConfig(Method.NONE, new WeightQuantizer.Spec(16, -1, false), OFF,
                new DynamicQuantizer(4, false, 1.0, 0), 0);
    }

    /**
     * QuaRot W4A4KV4 as {@code scripts/eval/quarot.sh}: 4-bit symmetric per-channel GPTQ weights
     * with the MSE clip search, 4-bit symmetric per-token activations (clip 0.9), 4-bit
     * asymmetric per-head KV (clip 0.95); see {@link QuaRot} and {@link QuaRotHooks}.
     */
    public static QuantConfig w4a4kv4() {
        return new QuantConfig(Method.QUAROT, new WeightQuantizer.Spec(4, -1, true),
                new DynamicQuantizer(4, true, 0.9, 0), new DynamicQuantizer(4, false, 0.95, 0), 0);
    }

    /** This config with other run-time activation/KV bit widths (e.g. a W3 model evaluated with KV4). */
    public QuantConfig withRuntime(Integer abits, Integer kvbits) {
        DynamicQuantizer a = abits == null ? activation
                : new DynamicQuantizer(abits, activation.symmetric(), activation.clip(), 0);
        DynamicQuantizer k = kvbits == null ? kv : new DynamicQuantizer(kvbits, kv.symmetric(), kv.clip(), 0);
        return new QuantConfig(method, weight, a, k, seed, gguf);
    }

    /** A short label, e.g. {@code rtn w3g128 a16 kv4}. */
    public String label() {
        if (gguf != null) {
            return method.id() + " " + gguf + " a" + activation.bits() + " kv" + kv.bits();
        }
        String w = weight.bits() >= 16 ? "w16" : "w" + weight.bits()
                + (weight.groupSize() == WeightQuantizer.Spec.PER_CHANNEL ? "" : "g" + weight.groupSize());
        return method.id() + " " + w + " a" + activation.bits() + " kv" + kv.bits();
    }

    /** Writes {@code quant_config.json} (atomically). */
    public void write(Path file) throws IOException {
        write(file, null);
    }

    /**
     * Writes {@code quant_config.json} (atomically) with {@code "weight_format": weightFormat} when it is
     * not null (how the checkpoint beside it stores its linear weights, {@link QuantizedModel#WEIGHT_FORMAT}).
     */
    public void write(Path file, String weightFormat) throws IOException {
        JsonObject o = new JsonObject();
        o.addProperty("method", method.id());
        o.addProperty("wbits", weight.bits());
        o.addProperty("group_size", weight.groupSize());
        o.addProperty("w_symmetric", weight.symmetric());
        o.add("activation", dyn(activation));
        o.add("kv_cache", dyn(kv));
        o.addProperty("seed", seed);
        if (gguf != null) {
            o.addProperty("gguf_type", gguf.name());
        }
        if (weightFormat != null) {
            o.addProperty(QuantizedModel.WEIGHT_FORMAT, weightFormat);
        }
        AtomicFiles.writeString(file, new GsonBuilder().setPrettyPrinting().create().toJson(o) + "\n");
    }

    private static JsonObject dyn(DynamicQuantizer q) {
        JsonObject o = new JsonObject();
        o.addProperty("bits", q.bits());
        o.addProperty("symmetric", q.symmetric());
        o.addProperty("clip_ratio", q.clip());
        return o;
    }

    /**
     * Reads {@code quant_config.json}; errors ({@link FormatException}) name the file and the
     * field. Bits are 2..16 (16 = off), the group size -1 (per channel) or 1..2^24, clip ratios in (0, 1].
     */
    public static QuantConfig read(Path file) throws IOException {
        JsonFields o;
        try {
            o = JsonFile.read(file);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new java.nio.file.NoSuchFileException(file.toString(), null,
                    "no such file (a quantized model directory holds quant_config.json)");
        }
        Method method;
        try {
            method = Method.parse(o.string("method", null));
        } catch (IllegalArgumentException e) {
            throw new FormatException(file, "field 'method': " + e.getMessage(), e);
        }
        int wbits = o.integer("wbits", null, 2, 16);
        int group = o.integer("group_size", null, -1, 1 << 24);
        if (group == 0) {
            throw new FormatException(file, "field 'group_size' must be -1 (per channel) or > 0, got 0");
        }
        WeightQuantizer.Spec weight = new WeightQuantizer.Spec(wbits, group, o.bool("w_symmetric", null));
        DynamicQuantizer act = dynamic(o.object("activation"));
        DynamicQuantizer kv = dynamic(o.object("kv_cache"));
        GgufMix gguf = null;
        if (method == Method.GGUF) {
            try {
                gguf = GgufMix.parse(o.string("gguf_type", null));
            } catch (IllegalArgumentException e) {
                throw new FormatException(file, "field 'gguf_type': " + e.getMessage(), e);
            }
        }
        try {
            return new QuantConfig(method, weight, act, kv, o.longInteger("seed", 0, Long.MIN_VALUE, Long.MAX_VALUE),
                    gguf);
        } catch (IllegalArgumentException e) {
            throw new FormatException(file, e.getMessage(), e);
        }
    }

    private static DynamicQuantizer dynamic(JsonFields q) throws FormatException {
        int bits = q.integer("bits", null, 2, 16);
        boolean sym = q.bool("symmetric", null);
        double clip = q.number("clip_ratio", null);
        if (!(clip > 0 && clip <= 1)) {
            throw new FormatException(q.source(), "field '" + q.path("clip_ratio") + "' must be in (0, 1], got " + clip);
        }
        return new DynamicQuantizer(bits, sym, clip, 0);
    }
}
