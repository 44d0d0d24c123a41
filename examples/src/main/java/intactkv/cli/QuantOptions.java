package intactkv.cli;

import static intactkv.cli.Flags.require;

import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.text.Tokenizer;
import intactkv.quant.Calibration;
import intactkv.quant.DynamicQuantizer;
import intactkv.quant.Method;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import intactkv.quant.WeightQuantizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The model and quantization flags shared by every command that runs a (quantized) model
 * (ppl, calibrate, analyze, dump, quantize), declared once so that each means the same
 * everywhere: {@code --model FP_DIR}, and either
 * {@code --quantized DIR} (written by {@code quantize}) or the method flags to quantize on the
 * fly; {@code --abits}/{@code --kvbits} add run-time quantization to either.
 */
final class QuantOptions {
    @Option(names = "--model", required = true, paramLabel = "FP_DIR", description = "the full-precision Hugging Face"
            + " LLaMA directory (IntactKV takes its prefix from it), or 'default' for the built-in model")
    Path model;

    @Option(names = "--quantized", paramLabel = "Q_DIR", description = "a model written by './intactkv quantize'")
    Path quantized;

    @Option(names = "--method", paramLabel = "M", description = "quantize on the fly: rtn, gptq, awq, omniquant, quarot")
    String method;

    @Option(names = "--wbits", paramLabel = "B", description = "weight bits, 2..8 (default: 4 with --method)")
    Integer wbits;

    @Option(names = "--group", paramLabel = "G", description = "weight group size; -1 = per channel (default 128; quarot: -1)")
    Integer group;

    @Option(names = "--abits", paramLabel = "B", description = "per-token activation bits (default 16 = off; quarot: 4)")
    Integer abits;

    @Option(names = "--kvbits", paramLabel = "B", description = "per-head KV-cache bits for new tokens (default 16 = off; quarot: 4)")
    Integer kvbits;

    @Option(names = "--calib", paramLabel = "FILE", description = "calibration text for gptq, awq, omniquant, quarot")
    Path calib;

    @Option(names = "--calib-samples", defaultValue = "128", paramLabel = "N", description = "calibration sequences for the quantizer (default ${DEFAULT-VALUE})")
    int nsamples;

    @Option(names = "--calib-seqlen", defaultValue = "512", paramLabel = "T", description = "calibration sequence length (default ${DEFAULT-VALUE})")
    int calibSeqlen;

    @Option(names = "--qseed", defaultValue = "42", paramLabel = "S", description = "seed for calibration sampling and rotations (default ${DEFAULT-VALUE})")
    long seed;

    /** Whether any quantization was asked for. */
    boolean any() {
        return quantized != null || method != null || abits != null || kvbits != null;
    }

    /** The configuration the method flags describe (without --quantized). */
    QuantConfig config() {
        Method m = method == null ? Method.NONE : Method.parse(method);
        if (method == null && (wbits != null || group != null)) {
            throw new IllegalArgumentException("--wbits/--group need --method (e.g. --method rtn --wbits 3 --group 128)");
        }
        QuantConfig base = switch (m) {
            case NONE -> QuantConfig.fullPrecision();
            case QUAROT -> QuantConfig.w4a4kv4();
            default -> QuantConfig.rtn(4, 128);
        };
        int bits = wbits != null ? wbits : base.weight().bits();
        int g = group != null ? group : base.weight().groupSize();
        WeightQuantizer.Spec spec = new WeightQuantizer.Spec(bits, g, base.weight().symmetric());
        QuantConfig c = new QuantConfig(m, spec, base.activation(), kvQuant(base.kv()), seed);
        return c.withRuntime(abits, null);
    }

    private DynamicQuantizer kvQuant(DynamicQuantizer base) {
        if (kvbits == null) {
            return base;
        }
        return new DynamicQuantizer(kvbits, base.symmetric(), base.clip(), 0);
    }

    /**
     * Checks every quantization flag (the ranges --help gives) and that they do not contradict
     * each other, before anything is loaded or quantized.
     */
    void validate() {
        if (quantized != null && (method != null || wbits != null || group != null || calib != null)) {
            throw new IllegalArgumentException("--quantized loads a model that is already quantized; do not combine it with"
                    + " --method/--wbits/--group/--calib (use either --quantized Q_DIR or the method flags)");
        }
        require(wbits == null || wbits >= 2 && wbits <= 8, "--wbits must be in 2..8: " + wbits);
        require(group == null || group == -1 || group >= 1, "--group must be -1 (per channel) or >= 1: " + group);
        require(abits == null || abits >= 2 && abits <= 16, "--abits must be in 2..16 (16 = off): " + abits);
        require(kvbits == null || kvbits >= 2 && kvbits <= 16, "--kvbits must be in 2..16 (16 = off): " + kvbits);
        require(nsamples >= 1, "--calib-samples must be >= 1: " + nsamples);
        require(calibSeqlen >= 2, "--calib-seqlen must be >= 2: " + calibSeqlen);
        if (quantized != null) {
            ModelDir.check(quantized);
        }
        if (method != null) {
            Method m = Method.parse(method);
            if (m.needsCalibration() && calib == null) {
                throw new IllegalArgumentException("--method " + m.id() + " needs calibration text: add --calib FILE");
            }
        }
        config(); // the combination itself (e.g. --wbits without --method)
    }

    /**
     * The configuration the model will have, known before quantizing: read from Q_DIR with
     * --quantized, else the method flags'. What the prefix generator and the checks need.
     */
    QuantConfig plannedConfig() throws IOException {
        if (quantized != null) {
            return QuantConfig.read(quantized.resolve(QuantizedModel.CONFIG_FILE)).withRuntime(abits, kvbits);
        }
        return config();
    }

    /**
     * The model a command runs, its quantization (null config: full precision), and the
     * full-precision model in its basis, from which IntactKV takes its prefix.
     */
    record Chosen(LlamaModel model, QuantConfig config, LlamaModel twin) {
    }

    /** The model to run: quantized as the flags say (progress on {@code bar}), or {@code fp} itself without them. */
    Chosen choose(LlamaWeights fp, ProgressBar bar) throws IOException {
        if (!any()) {
            LlamaModel m = new LlamaModel(fp);
            return new Chosen(m, null, m);
        }
        QuantizedModel q = build(fp, bar);
        return new Chosen(q.model(), q.config(), q.twin());
    }

    /** The quantized model the flags describe, from the full-precision weights {@code fp} of --model. */
    QuantizedModel build(LlamaWeights fp, ProgressBar bar) throws IOException {
        validate(); // among others: a method that needs calibration has --calib
        if (quantized != null) {
            return QuantizedModel.load(quantized, fp, abits, kvbits);
        }
        QuantConfig c = config();
        List<int[]> cal = null;
        if (c.method().needsCalibration()) {
            Tokenizer tok = ModelDir.tokenizer(model);
            cal = Calibration.windows(tok, Calibration.readText(calib), nsamples, calibSeqlen, seed, calib.toString());
        }
        return QuantizedModel.quantize(fp, c, cal, (stage, done) -> bar.update(stage, done));
    }
}
