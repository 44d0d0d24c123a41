package intactkv.quant;

import intactkv.model.io.FormatException;
import intactkv.model.io.JsonFields;
import intactkv.model.io.JsonFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The quantization settings of a GPTQ or AWQ checkpoint as the Hugging Face Hub holds them: the
 * {@code quantization_config} object of {@code config.json} (what transformers, AutoGPTQ's
 * {@code save_quantized} and AutoAWQ's {@code save_quantized} write), or AutoGPTQ's own
 * {@code quantize_config.json} when config.json has none. Validated before any tensor is read; every
 * refusal names the file and the field.
 *
 * <ul>
 *   <li>{@code quant_method gptq} (AutoGPTQ {@code quantization/config.py::BaseQuantizeConfig}):
 *       {@code bits} 2, 3, 4 or 8; {@code group_size} -1 (one group of all inputs) or &gt; 0;
 *       {@code desc_act} and {@code sym} are read for the label only (the act-order map is the
 *       {@code g_idx} tensor itself, and the zeros are stored whatever {@code sym} says);
 *       {@code checkpoint_format} absent or {@code gptq} (format v1: zeros stored minus one) or
 *       {@code gptq_v2} (GPTQModel's: zeros stored as they are); {@code marlin} and others are refused.</li>
 *   <li>{@code quant_method awq} (AutoAWQ {@code models/_config.py::AwqConfig.to_transformers_dict}):
 *       {@code bits} (or {@code w_bit}) 4, {@code group_size} (or {@code q_group_size}) &gt; 0,
 *       {@code zero_point} true, {@code version} {@code gemm} (any case); GEMV, ExLlama and Marlin
 *       layouts are refused by name.</li>
 * </ul>
 *
 * @param format    which packed layout the tensors are in
 * @param bits      code width
 * @param groupSize inputs a group (-1: all of them)
 * @param descAct   AutoGPTQ's act-order flag (GPTQ only; the order itself is in {@code g_idx})
 * @param sym       symmetric codes (GPTQ's {@code sym}; false for AWQ, which always has zero points)
 * @param source    the file the settings were read from
 */
public record HubQuantConfig(Format format, int bits, int groupSize, boolean descAct, boolean sym, Path source) {
    /** AutoGPTQ's own settings file, beside config.json. */
    public static final String GPTQ_FILE = "quantize_config.json";

    /** The packed layouts read and written. */
    public enum Format {
        /** AutoGPTQ format v1 ({@code checkpoint_format: "gptq"}): zeros stored minus one. */
        GPTQ,
        /** GPTQModel's format v2 ({@code checkpoint_format: "gptq_v2"}): zeros stored as they are. */
        GPTQ_V2,
        /** AutoAWQ's GEMM layout ({@code version: "gemm"}), 4 bits, interleaved packing order. */
        AWQ_GEMM;

        /** Whether this is one of the GPTQ layouts ({@code qweight} packed along the inputs, {@code g_idx}). */
        public boolean gptq() {
            return this != AWQ_GEMM;
        }
    }

    /** The method this project calls the checkpoint's quantization. */
    public Method method() {
        return format.gptq() ? Method.GPTQ : Method.AWQ;
    }

    /** This checkpoint's settings as a {@link QuantConfig} (no run-time activation or KV quantization). */
    public QuantConfig quantConfig() {
        return new QuantConfig(method(), new WeightQuantizer.Spec(bits, groupSize, sym), QuantConfig.OFF, QuantConfig.OFF,
                0);
    }

    /** Whether {@code dir} holds a GPTQ or AWQ checkpoint (a quantization_config in config.json, or quantize_config.json). */
    public static boolean present(Path dir) throws IOException {
        if (Files.isRegularFile(dir.resolve(GPTQ_FILE))) {
            return true;
        }
        Path config = dir.resolve("config.json");
        return Files.isRegularFile(config) && JsonFile.read(config).has("quantization_config");
    }

    /** The settings of the checkpoint in {@code dir}, or null when it holds none ({@link #present}). */
    public static HubQuantConfig find(Path dir) throws IOException {
        Path config = dir.resolve("config.json");
        if (Files.isRegularFile(config)) {
            JsonFields o = JsonFile.read(config);
            if (o.has("quantization_config")) {
                return parse(o.object("quantization_config"), config);
            }
        }
        Path gptq = dir.resolve(GPTQ_FILE);
        if (Files.isRegularFile(gptq)) {
            JsonFields o = JsonFile.read(gptq);
            if (!o.has("quant_method")) {
                // AutoGPTQ before 0.7 wrote no quant_method: the file itself says GPTQ
                return gptq(o, gptq);
            }
            return parse(o, gptq);
        }
        return null;
    }

    private static HubQuantConfig parse(JsonFields q, Path file) throws FormatException {
        String method = q.string("quant_method", null);
        return switch (method) {
            case "gptq" -> gptq(q, file);
            case "awq" -> awq(q, file);
            default -> throw new FormatException(file, "field '" + q.path("quant_method") + "' is '" + method
                    + "'; this implementation reads gptq (AutoGPTQ) and awq (AutoAWQ GEMM) checkpoints");
        };
    }

    private static HubQuantConfig gptq(JsonFields q, Path file) throws FormatException {
        int bits = q.integer("bits", null, Integer.MIN_VALUE, Integer.MAX_VALUE);
        if (bits != 2 && bits != 3 && bits != 4 && bits != 8) {
            throw new FormatException(file, "field '" + q.path("bits") + "' is " + bits + "; AutoGPTQ checkpoints"
                    + " hold 2, 3, 4 or 8-bit codes");
        }
        int group = group(q, "group_size", file, true);
        String format = q.has("checkpoint_format") ? q.string("checkpoint_format", null) : "gptq";
        Format f = switch (format) {
            case "gptq" -> Format.GPTQ;
            case "gptq_v2" -> Format.GPTQ_V2;
            default -> throw new FormatException(file, "field '" + q.path("checkpoint_format") + "' is '" + format
                    + "'; this implementation reads gptq (AutoGPTQ v1, zeros stored minus one) and gptq_v2");
        };
        return new HubQuantConfig(f, bits, group, flag(q, "desc_act", false), flag(q, "sym", true), file);
    }

    private static HubQuantConfig awq(JsonFields q, Path file) throws FormatException {
        String bitsKey = q.has("bits") ? "bits" : "w_bit";
        int bits = q.integer(bitsKey, null, Integer.MIN_VALUE, Integer.MAX_VALUE);
        if (bits != 4) {
            throw new FormatException(file, "field '" + q.path(bitsKey) + "' is " + bits + "; AutoAWQ GEMM checkpoints"
                    + " hold 4-bit codes");
        }
        int group = group(q, q.has("group_size") ? "group_size" : "q_group_size", file, false);
        if (!flag(q, "zero_point", true)) {
            throw new FormatException(file, "field '" + q.path("zero_point") + "' is false; AutoAWQ's GEMM layout is"
                    + " read with zero points only");
        }
        String version = q.string("version", "gemm");
        if (!version.toLowerCase(Locale.ROOT).equals("gemm")) {
            throw new FormatException(file, "field '" + q.path("version") + "' is '" + version + "'; this"
                    + " implementation reads AutoAWQ's gemm layout (not gemv, exllama, ipex or marlin)");
        }
        return new HubQuantConfig(Format.AWQ_GEMM, bits, group, false, false, file);
    }

    private static int group(JsonFields q, String key, Path file, boolean allowAll) throws FormatException {
        int g = q.integer(key, null, Integer.MIN_VALUE, Integer.MAX_VALUE);
        if (!(g > 0 || allowAll && g == -1) || g > (1 << 24)) {
            throw new FormatException(file, "field '" + q.path(key) + "' is " + g + "; it must be "
                    + (allowAll ? "-1 (all inputs one group) or " : "") + "in 1..16777216");
        }
        return g;
    }

    /** A boolean field that some writers leave null. */
    private static boolean flag(JsonFields q, String key, boolean dflt) throws FormatException {
        return q.has(key) && !q.required(key).isJsonNull() ? q.bool(key, dflt) : dflt;
    }

    /** A short label, e.g. {@code AutoGPTQ (checkpoint_format gptq) 4-bit g128 act-order}. */
    public String label() {
        String g = groupSize == -1 ? "per channel" : "g" + groupSize;
        return switch (format) {
            case GPTQ -> "AutoGPTQ (gptq v1) " + bits + "-bit " + g + (descAct ? " act-order" : "");
            case GPTQ_V2 -> "GPTQ (gptq_v2) " + bits + "-bit " + g + (descAct ? " act-order" : "");
            case AWQ_GEMM -> "AutoAWQ (gemm) " + bits + "-bit " + g;
        };
    }
}
