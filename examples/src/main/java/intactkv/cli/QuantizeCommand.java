package intactkv.cli;

import intactkv.model.LazyCheckpoint;
import intactkv.model.LlamaWeights;
import intactkv.model.io.AtomicFiles;
import intactkv.model.io.DType;
import intactkv.quant.Basis;
import intactkv.quant.HubCheckpoint;
import intactkv.quant.HubQuantConfig;
import intactkv.quant.LayerCheckpoint;
import intactkv.quant.ModelQuantizer;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ./intactkv quantize}: write a packed quantized checkpoint with its quant_config.json. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        header = "Quantize a model (RTN, GPTQ, AWQ, OmniQuant, QuaRot) and write the checkpoint.",
        description = {"Quantize the decoder linear layers of a LLaMA model and write a Hugging Face-layout checkpoint",
            "plus quant_config.json (method, bits, group, run-time activation/KV settings). The quantized weights are",
            "written packed and lossless: integer codes at their bit width with F64 scales and zeros per group",
            "(quant_config.json \"weight_format\": \"packed\"); --dtype sets the other tensors' storage.",
            "--format autogptq|autoawq writes AutoGPTQ's or AutoAWQ's (GEMM) layout instead, with float16 scales.",
            "--method gguf --type T (llama.cpp's types) writes the dequantized weights, embedding and head included,",
            "as their float32 values (exact with --dtype f32 or f64; quant_config.json \"gguf_type\": T).",
            "On a safetensors checkpoint the other methods read one decoder layer at a time, after checking every",
            "tensor's name and shape (headers) and every layer's values for NaN/Inf (one read of the file).",
            "Examples:",
            "  ./intactkv quantize --model DIR --method rtn --wbits 3 --group 128 --out DIR-w3",
            "  ./intactkv quantize --model DIR --method gptq --wbits 3 --calib train.txt --out DIR-gptq",
            "  ./intactkv quantize --model DIR --method gptq --wbits 4 --calib train.txt --work-dir DIR-gptq.work --out DIR-gptq",
            "  ./intactkv quantize --model DIR --method gptq --wbits 4 --calib train.txt --format autogptq --out DIR-q",
            "  ./intactkv quantize --model DIR --method gguf --type Q4_K_M --dtype f32 --out DIR-q4km"})
final class QuantizeCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    QuantizeOptions quant;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "output directory")
    Path out;

    @Option(names = "--dtype", defaultValue = "f64", paramLabel = "T",
            description = "storage type of the tensors kept in full precision (embeddings, norms, LM head, OmniQuant's"
                    + " linears): f64 (exact, default), f32, bf16, f16")
    String dtype;

    @Option(names = "--format", defaultValue = "packed", paramLabel = "F", description = "how the quantized linears"
            + " are written: packed (default: the project's lossless codes with F64 scales), autogptq (AutoGPTQ's"
            + " qweight/qzeros/scales/g_idx, checkpoint_format gptq, for --method rtn or gptq at 2, 3, 4 or 8 bits), or"
            + " autoawq (AutoAWQ's GEMM layout, for --method awq at 4 bits); the Hub formats keep the codes and round"
            + " the scales to float16, and the command reports the largest change of a weight")
    String format;

    @Option(names = "--work-dir", paramLabel = "DIR", description = "gptq and quarot: save each finished layer (its codes"
            + " and the next layer's calibration inputs, exact) into DIR, and when DIR already holds finished layers of"
            + " the same run (model, flags and calibration tokens), resume after them; the result is the same bit for"
            + " bit. DIR is removed once the checkpoint is written. For long runs that a stop (Ctrl-C, a time limit)"
            + " would otherwise restart from layer 0")
    Path workDir;

    @Override
    public Integer call() throws Exception {
        if (quant.method == null) {
            throw new IllegalArgumentException("quantize needs --method (rtn, gptq, awq, omniquant, quarot or gguf --type T)");
        }
        if (quant.quantized != null) {
            throw new IllegalArgumentException("quantize starts from the full-precision --model; drop --quantized");
        }
        HubCheckpoint.Target hubTarget = HubCheckpoint.Target.parse(format);
        ModelDir.checkOutput(out); // checked and locked before the calibration text is drawn, the model loaded, the hours of work
        quant.validate();
        if (hubTarget != null && quant.config().method() == intactkv.quant.Method.GGUF) {
            throw new IllegalArgumentException("--format " + format + " holds integer codes of RTN, GPTQ or AWQ, not"
                    + " llama.cpp's blocks; --method gguf writes the dequantized weights with the default --format packed");
        }
        if (hubTarget != null) {
            HubCheckpoint.checkWritable(hubTarget, quant.config()); // the method and bits the layout holds, before any model work
        }
        DType t;
        try {
            t = DType.valueOf(dtype.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--dtype must be f64, f32, bf16 or f16: " + dtype, e);
        }
        if (t.isInteger()) {
            throw new IllegalArgumentException("--dtype must be f64, f32, bf16 or f16: " + dtype);
        }
        if (quant.config().method() == intactkv.quant.Method.GGUF && t != DType.F64 && t != DType.F32) {
            // the dequantized GGUF weights are float32 values: f32 and f64 hold them exactly, bf16/f16 would round them
            throw new IllegalArgumentException("--dtype " + dtype + " would round the dequantized GGUF weights (float32"
                    + " values); use --dtype f32 (exact, half the size of f64) or f64");
        }
        Path target = out.toAbsolutePath();
        if (Files.isDirectory(target) && !Files.isRegularFile(target.resolve(QuantizedModel.CONFIG_FILE))
                && !HubQuantConfig.present(target)) {
            try (var entries = Files.list(target)) {
                if (entries.findAny().isPresent()) {
                    throw new IllegalArgumentException("--out " + out + " exists and is not a quantized model directory;"
                            + " choose another --out");
                }
            }
        }
        Path modelDir = ModelDir.check(quant.model);
        QuantConfig config = quant.config();
        if (workDir != null && !ModelQuantizer.resumes(config.method())) {
            throw new IllegalArgumentException("--work-dir saves and resumes the layers of --method gptq or quarot;"
                    + " --method " + config.method().id() + " cannot resume: drop --work-dir");
        }
        if (workDir != null && (workDir.toAbsolutePath().normalize().startsWith(target.normalize())
                || target.normalize().startsWith(workDir.toAbsolutePath().normalize()))) {
            throw new IllegalArgumentException("--work-dir " + workDir + " and --out " + out + " must not contain each"
                    + " other; choose a separate --work-dir");
        }
        // the memory it needs, from config.json, the checkpoint's header and the calibration set, before loading
        List<int[]> planned = config.method().needsCalibration() ? quant.calibration(config.method()) : List.of();
        quant.quantizeTerms(planned.size(), planned.stream().mapToInt(s -> s.length).max().orElse(0))
                .require("quantize --method " + config.method().id(), null);
        LayerCheckpoint saved = null;
        if (workDir != null) { // its fingerprint is checked before the model is read
            if (intactkv.model.gguf.GgufFile.isGguf(modelDir)) {
                throw new IllegalArgumentException("--work-dir needs a safetensors checkpoint directory as --model, not"
                        + " the GGUF file " + quant.model + "; drop --work-dir");
            }
            saved = LayerCheckpoint.open(workDir, LayerCheckpoint.modelFingerprint(modelDir), config, planned,
                    MemoryEstimate.config(quant.model).numHiddenLayers());
            if (saved.layersDone() > 0) {
                spec.commandLine().getErr().printf(Locale.ROOT, "resuming from %s: %d layers finished%n", workDir,
                        saved.layersDone());
            }
        }
        List<int[]> cal = config.method().needsCalibration() ? planned : null; // made once above (QuantOptions keeps it)
        ModelQuantizer.Released released;
        long t0;
        if (QuantOptions.readsLayersLazily(modelDir, config.method())) {
            // RTN, GPTQ, AWQ, OmniQuant, QuaRot: every tensor's name and shape checked from the headers first (a bad
            // layer refused now, naming the file and the tensor), every layer still to do checked for NaN/Inf by one
            // read of its bytes, then each decoder layer read when it is reached
            try (LazyCheckpoint ckpt = LazyCheckpoint.open(modelDir)) {
                t0 = System.nanoTime();
                try (ProgressBar bar = new ProgressBar()) {
                    ckpt.checkFinite(saved == null ? 0 : saved.layersDone(), f -> bar.update("checking", f));
                    released = ModelQuantizer.quantizeLazily(ckpt, config, cal, bar::update, saved);
                }
            }
        } else {
            // the only reference to the full-precision model: the method takes it and releases it layer by layer
            // (ModelQuantizer.quantizeReleasingInBasis); the checkpoint needs the quantized weights and the basis only
            AtomicReference<LlamaWeights> fp = new AtomicReference<>(LlamaWeights.load(modelDir, false));
            t0 = System.nanoTime();
            try (ProgressBar bar = new ProgressBar()) {
                released = ModelQuantizer.quantizeReleasingInBasis(fp, config, cal, bar::update, saved);
            }
        }
        LlamaWeights weights = released.weights();
        Basis basis = released.basis();
        // write everything into a sibling temporary directory (removed on any failure or Ctrl-C), then move it into place
        Path tmp = AtomicFiles.createTempDirectory(target);
        HubCheckpoint.WriteReport report = null;
        try {
            if (hubTarget == null) {
                QuantizedModel.save(weights, config, basis, tmp, t);
            } else {
                report = HubCheckpoint.save(weights, config, basis, hubTarget, tmp, t);
            }
            Path tok = modelDir.resolve("tokenizer.json");
            if (Files.isRegularFile(tok)) {
                Files.copy(tok, tmp.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
            }
            AtomicFiles.moveIntoPlace(tmp, target);
            if (saved != null) {
                AtomicFiles.deleteTree(saved.dir()); // the checkpoint is in place: the saved layers are no longer needed
            }
        } catch (java.io.IOException e) {
            throw new java.io.IOException(AtomicFiles.describe(e, tmp, target), e);
        } finally {
            AtomicFiles.deleteTemp(tmp);
        }
        spec.commandLine().getOut().printf(Locale.ROOT, "quantized %s with %s in %.1f s -> %s%n", quant.model, config.label(),
                (System.nanoTime() - t0) / 1e9, out);
        if (report != null) {
            spec.commandLine().getOut().println("format " + hubTarget.id() + ": " + report.summary());
        }
        return 0;
    }
}
