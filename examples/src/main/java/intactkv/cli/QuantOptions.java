package intactkv.cli;

import static intactkv.cli.Flags.require;

import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.gguf.GgmlType;
import intactkv.model.gguf.GgufWeights;
import intactkv.model.text.Tokenizer;
import intactkv.quant.ActivationStore;
import intactkv.quant.Calibration;
import intactkv.quant.CalibrationLoader;
import intactkv.quant.CalibrationSet;
import intactkv.quant.DocumentSplit;
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
 * (ppl, calibrate, analyze, dump, eval, generate, gen-fidelity, mt-bench) and by {@code quantize},
 * declared once so that each means the same everywhere: {@code --model FP_DIR}, and either
 * {@code --quantized DIR} (written by {@code quantize}) or the method flags to quantize on the
 * fly; {@code --abits}/{@code --kvbits} add run-time quantization to either.
 *
 * <p>{@code --quantized} and {@code --method} are declared by the two subclasses, because their
 * help differs: {@link RunQuantOptions} (the running commands: a quantized directory, or a method
 * to quantize on the fly) and {@link QuantizeOptions} ({@code quantize}: the method to quantize
 * with, no {@code --quantized} in its help). Every other flag, and all the checks, are here.
 */
class QuantOptions {
    @Option(names = "--model", required = true, paramLabel = "FP_DIR", description = "the full-precision Hugging Face"
            + " LLaMA directory (IntactKV takes its prefix from it), or 'default' for the built-in model; model_type "
            + intactkv.model.ConfigClaims.FAMILIES + " (other families and unimplemented config fields are refused)")
    Path model;

    /** {@code --quantized Q_DIR}, declared by the subclass ({@link RunQuantOptions#quantized(Path)}); null when absent. */
    Path quantized;

    /** {@code --method M}, declared by the subclass (its help differs, see the class comment); null when absent. */
    String method;

    @Option(names = "--type", paramLabel = "T", description = "with --method gguf: llama.cpp's quantization type, as"
            + " llama-quantize assigns it per tensor (embedding and head included): Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K,"
            + " Q3_K_S, Q3_K_M, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K; or Q3_K, Q4_K, Q5_K: every matrix that type"
            + " (llama-quantize --pure); rows not a multiple of the block fall back as llama.cpp does (docs/GGUF.md)")
    String ggufType;

    @Option(names = "--wbits", paramLabel = "B", description = "weight bits, 2..8 (default: 4 with --method)")
    Integer wbits;

    @Option(names = "--group", paramLabel = "G", description = "weight group size; -1 = per channel (default 128; quarot: -1)")
    Integer group;

    @Option(names = "--abits", paramLabel = "B", description = "per-token activation bits (default 16 = off; quarot: 4)")
    Integer abits;

    @Option(names = "--kvbits", paramLabel = "B", description = "per-head KV-cache bits for new tokens (default 16 = off; quarot: 4)")
    Integer kvbits;

    @Option(names = "--calib", paramLabel = "FILE", description = "the quantizer's calibration text for gptq, awq,"
            + " omniquant, quarot (plain UTF-8, cut into documents as --calib-docs says); each method draws its set as its official"
            + " loader: gptq random windows at random offsets of random documents longer than the window; awq"
            + " documents of at most 512 tokens in shuffled order, stripped, concatenated and cut into blocks;"
            + " quarot, omniquant random windows of the documents joined by a blank line. No token is overwritten"
            + " with [BOS]: it is where the tokenizer puts it, first in each tokenized document (gptq, awq) or text")
    Path calib;

    @Option(names = "--calib-docs", defaultValue = "auto", paramLabel = "SPLIT", description = "documents of --calib:"
            + " paragraphs (blank-line separated), lines (one per non-blank line), file (the whole file), or auto:"
            + " paragraphs when a blank line separates text, else lines (default ${DEFAULT-VALUE})")
    String calibDocs;

    @Option(names = "--calib-samples", defaultValue = "128", paramLabel = "N", description = "the quantizer's calibration"
            + " set: gptq, quarot, omniquant: windows; awq: documents kept (their blocks follow from their tokens); default ${DEFAULT-VALUE}, the"
            + " official for every method")
    int nsamples;

    @Option(names = "--calib-seqlen", paramLabel = "T", description = "the quantizer's calibration"
            + " windows: gptq, quarot, omniquant: window length (default 2048); awq: block length (default 512); with --calib-bos-first 512; the defaults at most the"
            + " model's max_position_embeddings")
    Integer calibSeqlen;

    @Option(names = "--calib-seed", paramLabel = "S", description = "the quantizer's calibration draws' seed (default:"
            + " the official, gptq 42, awq 42, quarot 0, omniquant 2; with --calib-bos-first: --qseed)")
    Long calibSeed;

    @Option(names = "--calib-bos-first", description = "the earlier loader instead, not an official one: the whole file"
            + " tokenized, random windows (java.util.Random(--calib-seed)), each window's first token overwritten with"
            + " [BOS]; then the quantizer fits the [BOS] KV itself")
    boolean calibBosFirst;

    @Option(names = "--calib-activations", defaultValue = "f64", paramLabel = "P", description = "how gptq, quarot"
            + " and awq hold the recorded layer inputs of the calibration set between layers: f64 (default, every result"
            + " as before) or f32 (half the memory: rounded to float when recorded, widened to double when read; the"
            + " official code holds them in fp16)")
    String calibActivations;

    @Option(names = "--qseed", defaultValue = "42", paramLabel = "S", description = "the quantizer's seed: quarot's"
            + " rotations and omniquant's sample order (default ${DEFAULT-VALUE}); calibration draws use --calib-seed")
    long seed;

    /** The calibration set made by {@link #validate} (for {@link #calibMethod}), reused by {@link #build}. */
    private List<int[]> calibSet;
    private Method calibMethod;

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
        if (m == Method.GGUF || ggufType != null) {
            return ggufConfig(m);
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

    /** --method gguf --type T: the type fixes the bits and blocks, so --wbits/--group are refused. */
    private QuantConfig ggufConfig(Method m) {
        if (m != Method.GGUF) {
            throw new IllegalArgumentException("--type " + ggufType + " is a llama.cpp type for --method gguf, not --method "
                    + (method == null ? "(none)" : m.id()) + " (use --method gguf --type " + ggufType + ")");
        }
        if (ggufType == null) {
            throw new IllegalArgumentException("--method gguf needs --type (one of " + intactkv.quant.GgufMix.names() + ")");
        }
        if (wbits != null || group != null) {
            throw new IllegalArgumentException("--method gguf takes no --wbits/--group: --type " + ggufType
                    + " fixes each tensor's bits and block size");
        }
        intactkv.quant.GgufMix mix;
        try {
            mix = intactkv.quant.GgufMix.parse(ggufType);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--type: " + e.getMessage(), e);
        }
        QuantConfig base = QuantConfig.gguf(mix);
        return base.withRuntime(abits, kvbits);
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
    void validate() throws IOException {
        if (quantized != null && (method != null || wbits != null || group != null || calib != null || ggufType != null)) {
            throw new IllegalArgumentException("--quantized loads a model that is already quantized; do not combine it with"
                    + " --method/--type/--wbits/--group/--calib (use either --quantized Q_DIR or the method flags)");
        }
        require(wbits == null || wbits >= 2 && wbits <= 8, "--wbits must be in 2..8: " + wbits);
        require(group == null || group == -1 || group >= 1, "--group must be -1 (per channel) or >= 1: " + group);
        require(abits == null || abits >= 2 && abits <= 16, "--abits must be in 2..16 (16 = off): " + abits);
        require(kvbits == null || kvbits >= 2 && kvbits <= 16, "--kvbits must be in 2..16 (16 = off): " + kvbits);
        require(nsamples >= 1, "--calib-samples must be >= 1: " + nsamples);
        require(calibSeqlen == null || calibSeqlen >= 2, "--calib-seqlen must be >= 2: " + calibSeqlen);
        require(List.of("auto", "paragraphs", "lines", "file").contains(calibDocs),
                "--calib-docs must be auto, paragraphs, lines or file: " + calibDocs);
        activationStore(); // --calib-activations
        if (quantized != null) {
            ModelDir.checkQuantized(quantized);
        }
        if (method != null) {
            Method m = Method.parse(method);
            if (m.needsCalibration() && calib == null) {
                throw new IllegalArgumentException("--method " + m.id() + " needs calibration text: add --calib FILE");
            }
        }
        config(); // the combination itself (e.g. --wbits without --method)
        if (config().method() == Method.GGUF) { // every ggml type the mix gives this model can be quantized here
            intactkv.quant.GgufQuantizer.requireQuantizable(MemoryEstimate.config(model), config().gguf());
        }
        if (method != null && Method.parse(method).needsCalibration()) {
            List<int[]> set = calibration(Method.parse(method)); // a file too short for the loader is refused here, before any model work
            intactkv.model.LlamaConfig mc = MemoryEstimate.config(model);
            MemoryEstimate.requireQuantization(mc, Method.parse(method), set.size(),
                    set.stream().mapToInt(s -> s.length).max().orElse(0), "--calib-samples " + nsamples
                    + (calibSeqlen == null ? "" : " --calib-seqlen " + calibSeqlen), readsLayersOneAtATime()
                    ? MemoryEstimate.layerByLayerWeights(mc, config().weight().bits())
                    : MemoryEstimate.inferenceWeights(mc, 1));
        }
    }

    /** How the quantizer holds the calibration activations (--calib-activations). */
    ActivationStore activationStore() {
        try {
            return ActivationStore.parse(calibActivations);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--calib-activations " + e.getMessage(), e);
        }
    }

    /**
     * The calibration set of {@code m}'s loader from --calib (made once, then reused): only the
     * tokenizer and the file are read. Refusals name the file, the loader and the numbers.
     */
    List<int[]> calibration(Method m) throws IOException {
        if (calibSet == null || calibMethod != m) {
            // the official lengths (2048, AWQ 512) are LLaMA's context; a model with fewer positions gets its own
            intactkv.model.LlamaConfig mc = intactkv.model.LlamaConfig.read(ModelDir.check(model).resolve("config.json"));
            int positions = mc.maxPositionEmbeddings();
            if (calibSeqlen != null) {
                ModelLength.require("--calib-seqlen " + calibSeqlen, calibSeqlen, mc);
            }
            int t = calibSeqlen != null ? calibSeqlen
                    : Math.min(positions, calibBosFirst ? 512 : CalibrationLoader.of(m).officialSeqlen());
            Long s = calibSeed != null ? calibSeed : calibBosFirst ? Long.valueOf(seed) : null;
            Tokenizer tok = ModelDir.tokenizer(model);
            String text = Calibration.readText(calib);
            try {
                calibSet = CalibrationSet.of(Calibration.load(m, tok, text, DocumentSplit.parse(calibDocs), nsamples, t, s,
                        calibBosFirst, calib.toString()), activationStore());
            } catch (IllegalArgumentException e) {
                // the loaders name no flag: here the sequence length is --calib-seqlen (not --seqlen)
                throw new IllegalArgumentException(e.getMessage() + "; here the sequence length is --calib-seqlen " + t
                        + " [--calib-docs " + calibDocs + ", --calib-samples " + nsamples + "]", e);
            }
            calibMethod = m;
        }
        return calibSet;
    }

    /**
     * The configuration the model will have, known before quantizing: read from Q_DIR with
     * --quantized, else the method flags'. What the prefix generator and the checks need.
     */
    QuantConfig plannedConfig() throws IOException {
        if (quantized != null) {
            return QuantizedModel.readConfig(quantized).withRuntime(abits, kvbits);
        }
        return config();
    }

    /**
     * The model a command runs, its quantization (null config: full precision), and the
     * full-precision model in its basis, from which IntactKV takes its prefix.
     */
    record Chosen(LlamaModel model, QuantConfig config, LlamaModel twin) {
        /** The twin; refuses, saying why, for a model whose basis cannot be rebuilt (an AutoAWQ checkpoint without its scales). */
        @Override
        public LlamaModel twin() {
            if (twin == null) {
                throw new IllegalArgumentException(intactkv.quant.Basis.AwqFolded.WHY);
            }
            return twin;
        }
    }

    /** The model to run: quantized as the flags say (progress on {@code bar}), or {@code fp} itself without them. */
    Chosen choose(LlamaWeights fp, ProgressBar bar) throws IOException {
        if (!any()) {
            LlamaModel m = new LlamaModel(fp);
            return new Chosen(m, null, m);
        }
        QuantizedModel q = build(fp, bar);
        return new Chosen(q.model(), q.config(), q.hasTwin() ? q.twin() : null);
    }

    /**
     * Whether the full-precision model can be released once IntactKV's prefix is taken from it
     * ({@link #twinBeforeRelease}): a method quantized on the fly whose twin is the full-precision model itself
     * ({@link intactkv.quant.Basis.Original}: RTN, GPTQ, OmniQuant-style clipping), so that the prefix computed
     * from it before quantizing is the twin's; and a --quantized model of any basis, whose twin is rebuilt from
     * the full-precision weights and its basis ({@link QuantizedModel#readBasis}) before the quantized model is
     * loaded, which needs only the full-precision config. AWQ's and QuaRot's twins quantized on the fly are made
     * from the full-precision weights by the search or rotation itself: those keep it.
     */
    boolean releasesFullPrecision() {
        if (quantized != null) {
            return true;
        }
        if (method == null) {
            return false;
        }
        Method m = Method.parse(method);
        return m == Method.RTN || m == Method.GPTQ || m == Method.OMNIQUANT || m == Method.GGUF;
    }

    /**
     * The full-precision model in the basis of the model {@link #chooseReleasing} will give, for IntactKV's prefix
     * taken before {@code fp} is released: {@code fp} itself for a method quantized on the fly, the --quantized
     * model's basis rebuilt from {@code fp} otherwise (an AutoAWQ checkpoint without its scales refuses, saying why).
     */
    LlamaModel twinBeforeRelease(LlamaWeights fp) throws IOException {
        return quantized != null ? QuantizedModel.readBasis(quantized, fp.config()).twin(fp) : new LlamaModel(fp);
    }

    /**
     * The model to run, quantized from {@code fp}'s weights, which are taken out of it (left null) and
     * released layer by layer as they are quantized ({@link intactkv.quant.ModelQuantizer#quantizeReleasing}),
     * or, with --quantized, released whole before the quantized model is loaded (checked against their config):
     * for a caller that needs the full-precision model for nothing else (no KL) and has taken IntactKV's
     * prefix from {@link #twinBeforeRelease} first. Only when {@link #releasesFullPrecision}; the twin of the
     * result is null.
     */
    Chosen chooseReleasing(java.util.concurrent.atomic.AtomicReference<LlamaWeights> fp, ProgressBar bar)
            throws IOException {
        if (!releasesFullPrecision()) {
            throw new IllegalStateException("chooseReleasing: --method " + method + " keeps the full-precision model");
        }
        validate();
        if (quantized != null) {
            intactkv.model.LlamaConfig fpConfig = fp.getAndSet(null).config();
            QuantizedModel q = QuantizedModel.load(quantized, fpConfig, abits, kvbits);
            return new Chosen(q.model(), q.config(), null);
        }
        QuantConfig c = config();
        List<int[]> cal = c.method().needsCalibration() ? calibration(c.method()) : null;
        LlamaWeights w = intactkv.quant.ModelQuantizer.quantizeReleasing(fp, c, cal, (stage, done) -> bar.update(stage, done));
        return new Chosen(new LlamaModel(w, QuantizedModel.hooks(w.config(), c)), c, null);
    }

    /**
     * The weight terms of the models this command holds at its peak, from config.json and the safetensors
     * header(s) of --model and --quantized (no tensor data is read; {@link WeightBytes}):
     * <ul>
     *   <li>"full-precision weights (T)": --model as loaded, in its file's dtype T; with {@code keepFp} false
     *       and {@link #releasesFullPrecision} it is released layer by layer as quantized, so then only one
     *       layer's quantized codes come beside it;</li>
     *   <li>"quantized codes" ({@link MemoryEstimate#codes}) for RTN, GPTQ, AWQ, QuaRot on the fly, or
     *       "quantized model as loaded" (the --quantized header); with --quantized, {@code keepFp} false gives
     *       the first of the two phases of {@link #peakTerms} (the full-precision model and its twin while the
     *       prefix is taken), without the quantized model, which is loaded after they are released;</li>
     *   <li>the twin where it is not the full-precision model: "AWQ twin (scaled linears in double)"
     *       ({@link MemoryEstimate#linearsInDouble}), "QuaRot twin (rotated, in double)"
     *       ({@link MemoryEstimate#weightsAsHeld} in F64, which the QuaRot model shares for its embedding and
     *       head); OmniQuant's "trained linears in double".</li>
     * </ul>
     */
    MemoryPlan weightTerms(boolean keepFp) throws IOException {
        Path dir = ModelDir.check(model);
        intactkv.model.LlamaConfig c = MemoryEstimate.config(model);
        WeightBytes fp = WeightBytes.of(dir);
        boolean release = !keepFp && releasesFullPrecision();
        MemoryPlan p = MemoryPlan.empty().plus("full-precision weights (" + fp.form() + (release
                ? ", released layer by layer as quantized)" : ")"), fp.bytes());
        if (!any()) {
            return p;
        }
        if (quantized != null) {
            p = release ? MemoryPlan.empty().plus("full-precision weights (" + fp.form() + ", released once"
                    + " IntactKV's prefix is taken)", fp.bytes()) : p.plus("quantized model as loaded",
                    WeightBytes.of(quantized).bytes());
            Method qm = plannedConfig().method(); // quant_config.json, read once
            return p.plus(twinName(qm), twinBytes(c, qm)).plus(QUAROT_MATRICES, quaRotMatrices(c, qm));
        }
        Method m = config().method();
        long layers = Math.max(1, c.numHiddenLayers());
        long q = switch (m) {
            case NONE -> 0;
            case OMNIQUANT -> MemoryEstimate.linearsInDouble(c);
            case GGUF -> ggufHeld(c);
            default -> MemoryEstimate.codes(c, config().weight().groupSize(), config().weight().bits());
        };
        if (release) {
            p = p.plus(m == Method.OMNIQUANT ? "one layer's trained linears in double" : "one layer's quantized codes",
                    q / layers);
        } else {
            p = p.plus(m == Method.OMNIQUANT ? "trained linears in double" : "quantized codes", q)
                    .plus(twinName(m), twinBytes(c, m));
        }
        return p.plus(QUAROT_MATRICES, quaRotMatrices(c, m));
    }

    /**
     * The peak of a run that quantizes (or loads) and then runs windows: the larger of its two phases, which do not
     * coexist. While quantizing: {@link #weightTerms} and "one linear's quantization buffers"
     * ({@link MemoryEstimate#quantizationBuffers}). While running: with {@code keepFp}, or when the full-precision
     * model cannot be released, {@link #weightTerms} again; released, "quantized codes" (or OmniQuant's trained
     * linears in double) and "embeddings, head and norms" (the full-precision model's tensors that are not decoder
     * linears, which the quantized model keeps); plus what {@code window} adds (the window's buffers).
     */
    MemoryPlan peakTerms(boolean keepFp, java.util.function.UnaryOperator<MemoryPlan> window) throws IOException {
        MemoryPlan weights = weightTerms(keepFp);
        if (quantized != null && !keepFp) {
            // two phases: the full-precision model and its twin while IntactKV's prefix is taken (one window's worth
            // of prefix tokens, far less than a window), then the quantized model alone with the window
            intactkv.model.LlamaConfig c = MemoryEstimate.config(model);
            return MemoryPlan.larger(weights, window.apply(MemoryPlan.empty().plus("quantized model as loaded",
                    WeightBytes.of(quantized).bytes()).plus(QUAROT_TRANSFORMS,
                    plannedConfig().method() == Method.QUAROT ? MemoryEstimate.quaRotTransforms(c) : 0)));
        }
        if (method == null || quantized != null) {
            return window.apply(weights);
        }
        intactkv.model.LlamaConfig c = MemoryEstimate.config(model);
        Method m = config().method();
        MemoryPlan quantizing = weights.plus("one linear's quantization buffers", MemoryEstimate.quantizationBuffers(c, m));
        MemoryPlan running = weights;
        if (!keepFp && m == Method.GGUF) {
            running = MemoryPlan.empty().plus("GGUF weights as llama.cpp holds them (blocks)", ggufHeld(c));
        } else if (!keepFp && releasesFullPrecision()) {
            WeightBytes fp = WeightBytes.of(ModelDir.check(model));
            long linears = fp.linears();
            running = MemoryPlan.empty()
                    .plus(m == Method.OMNIQUANT ? "trained linears in double" : "quantized codes", m == Method.OMNIQUANT
                            ? MemoryEstimate.linearsInDouble(c) : MemoryEstimate.codes(c, config().weight().groupSize(), config().weight().bits()))
                    .plus("embeddings, head and norms (" + fp.form() + ")", Math.max(0, fp.bytes() - linears));
        }
        return MemoryPlan.larger(quantizing, window.apply(running));
    }

    /**
     * The memory terms of {@code ppl --layer-by-layer} ({@link intactkv.prefix.LayerwisePerplexity}) over windows of
     * {@code t} positions, {@code perPass} windows a pass, {@code copies} models (2 with KL), from the headers
     * ({@link WeightBytes#split}): --model's tensors outside the decoder layers (embedding, final norm, head) and one
     * decoder layer as read; with RTN that layer's codes and one linear's quantization buffers; with --quantized that
     * checkpoint's tensors outside the layers and one of its layers (and --model's layer only for the KL reference);
     * the hidden states of the windows of a pass ({@code perPass} x T x d doubles a model, and one more window's while
     * the final norm replaces them); and a scoring window ({@link MemoryEstimate#pplTerms}). The layer a pass leaves
     * is garbage before the next is read.
     */
    MemoryPlan layerwiseTerms(long t, int perPass, int copies) throws IOException {
        return layerwiseTerms(t, perPass, copies, false);
    }

    /**
     * {@link #layerwiseTerms(long, int, int)}, and with {@code prefixFromTwin} (IntactKV's prefix generated layer by
     * layer) what the twin of a --quantized checkpoint holds while the prefix is made: AWQ's current layer scaled, in
     * double; QuaRot's rotated embedding and head, current layer, rotation and online transforms, in double (the
     * terms add to the evaluation's, which come after: a bound, not the peak of either phase).
     */
    MemoryPlan layerwiseTerms(long t, int perPass, int copies, boolean prefixFromTwin) throws IOException {
        return layerwiseTerms(t, perPass, copies, prefixFromTwin, intactkv.prefix.Perplexity.ROW_BLOCK, "windows");
    }

    /**
     * {@link #layerwiseTerms(long, int, int, boolean)} for {@code perPass} {@code unit}s of up to t positions a pass
     * (ppl: windows; eval: inputs, an item's prompt and one choice), with {@code logitRows} rows of logits made at a
     * time (ppl: a block of {@code Perplexity.ROW_BLOCK}; eval: the rows an input's score reads).
     */
    MemoryPlan layerwiseTerms(long t, int perPass, int copies, boolean prefixFromTwin, long logitRows, String unit)
            throws IOException {
        Path dir = ModelDir.check(model);
        intactkv.model.LlamaConfig c = MemoryEstimate.config(model);
        WeightBytes.Split fp = WeightBytes.split(dir);
        String layer = "one decoder layer (" + fp.layer().form() + ")";
        MemoryPlan p = MemoryPlan.empty().plus("embeddings, head and norm (" + fp.outside().form() + ")",
                fp.outside().bytes());
        // the --quantized checkpoint's method (quant_config.json, read once), null without one
        Method qm = quantized == null ? null : plannedConfig().method();
        if (quantized != null) {
            WeightBytes.Split q = WeightBytes.split(quantized);
            p = p.plus("quantized model's embeddings, head and norm", q.outside().bytes())
                    .plus("one quantized decoder layer as loaded", q.layer().bytes())
                    .plus(QUAROT_TRANSFORMS, qm == Method.QUAROT ? MemoryEstimate.quaRotTransforms(c) : 0);
            if (copies > 1) {
                p = p.plus(layer, fp.layer().bytes());
            }
        } else {
            p = p.plus(layer, fp.layer().bytes());
            if (method != null && config().method() == Method.RTN) {
                long layers = Math.max(1, c.numHiddenLayers());
                p = p.plus("one layer's quantized codes", MemoryEstimate.codes(c, config().weight().groupSize(),
                                config().weight().bits()) / layers)
                        .plus("one linear's quantization buffers", MemoryEstimate.quantizationBuffers(c, Method.RTN));
            }
        }
        if (prefixFromTwin && qm == Method.AWQ) {
            p = p.plus("the AWQ twin's current layer (scaled, in double; while the prefix is made)",
                    MemoryEstimate.linearsInDouble(c) / Math.max(1, c.numHiddenLayers()));
        } else if (prefixFromTwin && qm == Method.QUAROT) {
            long outer = MemoryEstimate.times(8, 2, c.vocabSize(), c.hiddenSize());
            p = p.plus("the QuaRot twin's embedding and head, its current layer, its rotation and online transforms"
                    + " (in double; while the prefix is made)", outer
                    + MemoryEstimate.linearsInDouble(c) / Math.max(1, c.numHiddenLayers())
                    + MemoryEstimate.quaRotRotation(c) + MemoryEstimate.quaRotTransforms(c));
        }
        p = p.plus("hidden states of " + perPass + " + 1 " + unit + (copies > 1 ? " (" + copies + " copies)" : ""),
                MemoryEstimate.times(8, perPass + 1L, t, c.hiddenSize(), Math.max(1, copies)));
        return MemoryEstimate.scoringTerms(p, c, t, 0, logitRows, copies);
    }

    /**
     * The memory terms of {@code quantize}, which keeps no twin (a checkpoint needs the basis only). RTN, GPTQ, AWQ,
     * OmniQuant and QuaRot read a safetensors checkpoint one decoder layer at a time ({@link #lazyTerms}). The others
     * load it whole and release it layer by layer ({@link intactkv.quant.ModelQuantizer#quantizeReleasingInBasis}):
     * the full-precision weights and what replaces them (GGUF's dequantized float32 weights). Then one linear's
     * quantization buffers and the calibration activations of {@code calib} sequences of {@code t} tokens
     * ({@link MemoryEstimate#quantization}).
     */
    MemoryPlan quantizeTerms(long calib, long t) throws IOException {
        Path dir = ModelDir.check(model);
        intactkv.model.LlamaConfig c = MemoryEstimate.config(model);
        WeightBytes fp = WeightBytes.of(dir);
        Method m = config().method();
        long layers = Math.max(1, c.numHiddenLayers());
        MemoryPlan p;
        if (readsLayersLazily(dir, m)) {
            p = lazyTerms(c, fp, m);
        } else {
            p = MemoryPlan.empty().plus("full-precision weights (" + fp.form()
                    + ", released layer by layer as quantized)", fp.bytes());
            p = switch (m) {
                case NONE -> p;
                case OMNIQUANT -> p.plus("trained linears in double", MemoryEstimate.linearsInDouble(c));
                case QUAROT -> p.plus("QuaRot's rotated model in double", MemoryEstimate.weightsAsHeld(c,
                        intactkv.model.io.DType.F64));
                case AWQ -> p.plus("one layer's quantized codes", MemoryEstimate.codes(c, config().weight().groupSize(), config().weight().bits())
                        / layers).plus("one layer's scaled linears in double", MemoryEstimate.linearsInDouble(c) / layers);
                case GGUF -> p.plus("GGUF weights as llama.cpp holds them (blocks)", ggufHeld(c));
                default -> p.plus("one layer's quantized codes", MemoryEstimate.codes(c, config().weight().groupSize(), config().weight().bits())
                        / layers);
            };
        }
        p = p.plus("one linear's quantization buffers", MemoryEstimate.quantizationBuffers(c, m));
        return m.needsCalibration() ? p.plus("calibration activations",
                MemoryEstimate.quantization(c, m, calib, t, activationStore().bytesPerValue())) : p;
    }

    /**
     * Whether the command reads --model one decoder layer at a time (only {@code quantize} does:
     * {@link QuantizeOptions}); the others load it whole.
     */
    boolean readsLayersOneAtATime() throws IOException {
        return false;
    }

    /**
     * Whether {@code quantize} reads the checkpoint in {@code dir} one decoder layer at a time for {@code m}
     * ({@link intactkv.quant.ModelQuantizer#readsLayersLazily}; a safetensors checkpoint, not a GGUF file).
     */
    static boolean readsLayersLazily(Path dir, Method m) {
        return intactkv.quant.ModelQuantizer.readsLayersLazily(m) && !intactkv.model.gguf.GgufFile.isGguf(dir);
    }

    /**
     * The weights {@code quantize} holds when it reads the checkpoint layer by layer
     * ({@link intactkv.quant.ModelQuantizer#quantizeLazily}), at their most: at the last layer, the embedding,
     * head and norms as read ({@code fp}'s bytes less its linears), every layer's quantized codes (OmniQuant: its
     * trained linears in double), and the current layer's full-precision linears in the file's dtype; AWQ adds that
     * layer's scaled linears in double; QuaRot holds the embedding and head rotated, in double, and the current
     * layer rotated, in double, beside the one read.
     */
    private MemoryPlan lazyTerms(intactkv.model.LlamaConfig c, WeightBytes fp, Method m) {
        long layers = Math.max(1, c.numHiddenLayers());
        long linears = fp.linears();
        long outer = Math.max(0, fp.bytes() - linears);
        MemoryPlan p = MemoryPlan.empty();
        if (m == Method.QUAROT) {
            long d = c.hiddenSize();
            p = p.plus("embedding and head rotated, in double", MemoryEstimate.times(8, 2, c.vocabSize(), d));
        } else {
            p = p.plus("embedding, head and norms (" + fp.form() + ")", outer);
        }
        p = p.plus(m == Method.OMNIQUANT ? "trained linears in double" : "quantized codes of every layer",
                m == Method.OMNIQUANT ? MemoryEstimate.linearsInDouble(c)
                        : MemoryEstimate.codes(c, config().weight().groupSize(), config().weight().bits()));
        p = p.plus("full-precision weights (" + fp.form() + ") of the current layer (layers read one at a time)",
                linears / layers);
        if (m == Method.AWQ) {
            p = p.plus("one layer's scaled linears in double", MemoryEstimate.linearsInDouble(c) / layers);
        } else if (m == Method.QUAROT) {
            p = p.plus("the current layer rotated, in double", MemoryEstimate.linearsInDouble(c) / layers)
                    .plus(QUAROT_MATRICES, MemoryEstimate.quaRotRotation(c) + MemoryEstimate.quaRotTransforms(c));
        }
        return p;
    }

    /**
     * What --method gguf holds instead of codes: every matrix llama-quantize quantizes (the linears, the embedding
     * and, when untied, the head) as {@code GgufQuantizer.roundTrip} holds it, in the type the mix gives it
     * ({@code GgufTypeRules.assign}), at {@link GgufWeights#heldBytes}: a block type as its bytes (0.56 bytes a
     * parameter for Q4_K), F16 at 2 bytes, F32 at 4.
     */
    private long ggufHeld(intactkv.model.LlamaConfig c) {
        long total = 0;
        for (java.util.Map.Entry<String, GgmlType> e
                : intactkv.quant.GgufTypeRules.assign(c, config().gguf()).entrySet()) {
            intactkv.tensor.Shape shape = GgufWeights.expectedShape(c, intactkv.model.gguf.GgufNames.toHf(e.getKey()));
            if (shape.rank() == 2) { // the norms are held in double, as the full-precision model's: counted with it
                total = MemoryEstimate.plus(total, GgufWeights.heldBytes(e.getValue(), shape.numel()));
            }
        }
        return total;
    }

    private static String twinName(Method m) {
        return m == Method.AWQ ? "AWQ twin (scaled linears in double)" : "QuaRot twin (rotated, in double)";
    }

    /** The term of QuaRot's dense matrices in double: its rotation and the online transforms. */
    private static final String QUAROT_MATRICES = "QuaRot's rotation and online transforms (in double)";
    /** The term of one set of QuaRot's online transforms in double ({@link MemoryEstimate#quaRotTransforms}). */
    private static final String QUAROT_TRANSFORMS = "QuaRot's online transforms (in double)";

    /**
     * QuaRot's dense matrices where a whole QuaRot model is run: the rotation while the model (or its twin) is
     * rotated, and two sets of online transforms, the quantized model's and the twin's
     * ({@link MemoryEstimate#quaRotRotation}, {@link MemoryEstimate#quaRotTransforms}); 0 for other methods.
     */
    private static long quaRotMatrices(intactkv.model.LlamaConfig c, Method m) {
        return m == Method.QUAROT ? MemoryEstimate.quaRotRotation(c) + 2 * MemoryEstimate.quaRotTransforms(c) : 0;
    }

    /** The twin's own bytes where it is not the full-precision model (AWQ, QuaRot), else 0. */
    private static long twinBytes(intactkv.model.LlamaConfig c, Method m) {
        return switch (m) {
            case AWQ -> MemoryEstimate.linearsInDouble(c);
            case QUAROT -> MemoryEstimate.weightsAsHeld(c, intactkv.model.io.DType.F64);
            default -> 0;
        };
    }

    /** The quantized model the flags describe, from the full-precision weights {@code fp} of --model. */
    QuantizedModel build(LlamaWeights fp, ProgressBar bar) throws IOException {
        validate(); // among others: a method that needs calibration has --calib
        if (quantized != null) {
            return QuantizedModel.load(quantized, fp, abits, kvbits);
        }
        QuantConfig c = config();
        List<int[]> cal = c.method().needsCalibration() ? calibration(c.method()) : null;
        return QuantizedModel.quantize(fp, c, cal, (stage, done) -> bar.update(stage, done));
    }
}
