package intactkv.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import intactkv.model.LazyCheckpoint;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.LayerwisePerplexity;
import intactkv.prefix.Perplexity;
import intactkv.prefix.PrefixSpec;
import intactkv.prefix.PrefixedModel;
import intactkv.quant.Calibration;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ./intactkv ppl}: perplexity with the official protocol, with or without IntactKV. */
@Command(name = "ppl", mixinStandardHelpOptions = true,
        header = "Perplexity with the official protocol, with or without IntactKV.",
        description = {"Perplexity as the official eval_utils/ppl.py: the lines of --data joined with \"\\n\\n\", tokenized",
            "whole, non-overlapping windows of --seqlen whose first token is [BOS]; the prediction after [BOS] is not",
            "scored. --intactkv bos replaces each window's [BOS] by the full-precision prefix."})
final class PplCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    RunQuantOptions quant;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "UTF-8 text, one document per line")
    Path data;

    @Option(names = "--seqlen", paramLabel = "T", description = "window length (default: " + ModelLength.DEFAULT_HELP
            + "; at most max_position_embeddings)")
    Integer seqlenFlag;

    @Mixin
    IntactKvOption.ContextOption prefixOption;

    @Option(names = "--json", description = "print the result as JSON")
    boolean json;

    @Option(names = "--kl", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "with quantization: also the KL divergence KL(P_fp || P_quant) to the full-precision model (the"
                    + " same context, no IntactKV) per scored token, mean over windows +- its standard error (default"
                    + " on; --no-kl skips the full-precision pass, and with --method rtn, gptq or omniquant or with --quantized releases"
                    + " the full-precision model once IntactKV's prefix is taken, layer by layer as it is quantized:"
                    + " one model's memory instead of two)")
    boolean kl;

    @Option(names = "--layer-by-layer", description = "hold one decoder layer at a time instead of the whole model:"
            + " the windows go through the layers --windows-per-pass at a time, each layer read from the checkpoint"
            + " when they reach it, as GPTQ's llama_eval runs a model larger than its GPU (the same numbers, bit for"
            + " bit; the checkpoint is read once per pass). Full precision, --method rtn"
            + " or a packed --quantized checkpoint (read layer by layer too), with --abits/--kvbits, --intactkv"
            + " and KL; not the calibrated methods on the fly, nor --context")
    boolean layerByLayer;

    @Option(names = "--windows-per-pass", paramLabel = "K", description = "with --layer-by-layer:"
            + " windows carried through the layers together (default 8); each holds its hidden states, T x d doubles"
            + " (twice with KL), and each pass reads the checkpoint once")
    Integer windowsPerPass;

    /** --windows-per-pass's default. */
    static final int WINDOWS_PER_PASS = 8;

    @Override
    public Integer call() throws Exception {
        quant.validate();
        String text = Calibration.readText(data);
        List<String> docs = text.lines().toList();
        Path dir = ModelDir.check(quant.model);
        int seqlen = seqlenFlag != null ? seqlenFlag : ModelLength.defaultWindow(dir);
        LlamaConfig c = MemoryEstimate.config(quant.model);
        Tokenizer tok = ModelDir.tokenizer(quant.model);
        int[] tokens = Perplexity.tokenize(tok, docs);
        // everything that can be checked is checked before the weights are read and quantized (minutes to hours)
        QuantConfig config = quant.any() ? quant.plannedConfig() : null;
        int before = prefixOption.plannedLength(c, tok);
        // the window's [BOS] is replaced by the tokens before it, when there are any
        ModelLength.require("--seqlen " + seqlen + (before > 0 ? " (with " + before + " IntactKV/context tokens in place"
                + " of [BOS])" : ""), before > 0 ? before + seqlen - 1L : seqlen, c);
        Perplexity.requireWindows(tokens.length, seqlen, before);
        boolean withKl = kl && config != null;
        if (layerByLayer) {
            return layerByLayer(dir, c, tok, tokens, seqlen, before, config, withKl);
        }
        if (windowsPerPass != null) {
            throw new IllegalArgumentException("--windows-per-pass is for --layer-by-layer");
        }
        // without KL, RTN/GPTQ/OmniQuant and --quantized need the full-precision model only for IntactKV's prefix:
        // released after it
        boolean release = !withKl && quant.releasesFullPrecision();
        long t = before > 0 ? before + seqlen - 1L : seqlen;
        MemoryPlan plan = quant.peakTerms(!release, w -> MemoryEstimate.pplTerms(w, c, t, withKl ? 2 : 1));
        String otherwise = null;
        if (withKl && quant.releasesFullPrecision()) {
            MemoryPlan noKl = quant.peakTerms(false, w -> MemoryEstimate.pplTerms(w, c, t, 1));
            otherwise = "or add --no-kl (the full-precision model is then released once IntactKV's prefix is taken:"
                    + " needs " + Memory.size(noKl.total()) + ")";
        }
        if (LayerByLayer.why(quant, prefixOption.context, dir, config) == null) {
            String layered = "or add --layer-by-layer (one decoder layer in memory at a time, the same numbers: needs "
                    + Memory.size(quant.layerwiseTerms(t, WINDOWS_PER_PASS, withKl ? 2 : 1).total()) + ")";
            otherwise = otherwise == null ? layered : otherwise + ", " + layered;
        }
        plan.require("--seqlen " + seqlen + (quant.any() ? " with " + (config.method() == intactkv.quant.Method.NONE
                ? "run-time quantization" : config.method().id()) + (withKl ? " and KL" : "") : ""), otherwise);
        AtomicReference<LlamaWeights> fp = new AtomicReference<>(LlamaWeights.load(dir, false));
        try (ProgressBar bar = new ProgressBar()) {
            IntactKvOption.Prepared prepared = prefixOption.quantizedWithPrefix(quant, fp, release, tok, bar);
            QuantOptions.Chosen chosen = prepared.chosen();
            IntactKvPrefix prefix = prepared.prefix();
            config = chosen.config();
            int bos = c.bosTokenId();
            PrefixedModel run = new PrefixedModel(chosen.model(), prefix);
            Perplexity.Result r;
            if (withKl) { // the full-precision model's logits beside the model's, a block of rows at a time
                LlamaModel fpModel = new LlamaModel(fp.get());
                PrefixedModel fpRun = new PrefixedModel(fpModel,
                        intactkv.prefix.PrefixSpec.withContext(null, prefixOption.context, fpModel, tok));
                r = Perplexity.evaluateAgainst(run, fpRun, tokens, seqlen, bos, d -> bar.update("ppl", d));
            } else {
                r = Perplexity.evaluate(run, tokens, seqlen, bos, d -> bar.update("ppl", d));
            }
            print(r, config, withKl);
        }
        return 0;
    }

    /**
     * {@code --layer-by-layer}: the evaluation of {@link LayerwisePerplexity}, one decoder layer of the checkpoint
     * read at a time ({@link LazyCheckpoint}), for the full-precision model, its RTN form, or a packed --quantized
     * checkpoint read layer by layer too ({@link QuantizedModel#openLayers}), with the run-time quantizers; the prefix
     * from the full-precision layers in the quantized model's basis ({@link LayerByLayer#prefix}), or a prefix file.
     */
    private int layerByLayer(Path dir, LlamaConfig c, Tokenizer tok, int[] tokens, int seqlen, int before,
                             QuantConfig config, boolean withKl) throws Exception {
        LayerByLayer.require(quant, prefixOption.context, dir, config);
        int perPass = windowsPerPass == null ? WINDOWS_PER_PASS : windowsPerPass;
        if (perPass < 1) {
            throw new IllegalArgumentException("--windows-per-pass must be at least 1, got " + perPass);
        }
        long t = before > 0 ? before + seqlen - 1L : seqlen;
        quant.layerwiseTerms(t, perPass, withKl ? 2 : 1, PrefixSpec.generated(prefixOption.which))
                .require("--layer-by-layer --seqlen " + seqlen + " --windows-per-pass " + perPass
                        + (withKl ? " with KL" : ""), "or lower --windows-per-pass");
        try (LayerByLayer.Run run = LayerByLayer.open(quant, dir, c, config, perPass);
             ProgressBar bar = new ProgressBar()) {
            IntactKvPrefix prefix = run.prefix(prefixOption.which, c, tok, bar);
            Perplexity.Result r = LayerwisePerplexity.evaluate(run.setup(), prefix, withKl, tokens, seqlen,
                    c.bosTokenId(), d -> bar.update("ppl", d));
            print(r, config, withKl);
        }
        return 0;
    }

    /** The result, as text or (--json) as JSON. */
    private void print(Perplexity.Result r, QuantConfig config, boolean withKl) {
        String label = config == null ? "fp" : config.label();
        if (json) {
            JsonObject o = new JsonObject();
            o.addProperty("ppl", r.ppl());
            o.addProperty("mean_nll", r.meanNll());
            o.addProperty("windows", r.windows());
            o.addProperty("seqlen", r.seqlen());
            o.addProperty("scored_tokens", r.scoredTokens());
            if (withKl) {
                o.addProperty("kl_to_fp", r.kl());
                if (r.windows() > 1) {
                    o.addProperty("kl_to_fp_stderr", r.klStderr());
                }
            }
            o.addProperty("model", quant.model.toString());
            o.addProperty("quantization", label);
            o.addProperty("intactkv", prefixOption.which);
            o.addProperty("context", prefixOption.context);
            o.addProperty("data", data.toString());
            spec.commandLine().getOut().println(new GsonBuilder().setPrettyPrinting().create().toJson(o));
        } else {
            String klText = !withKl ? "" : String.format(Locale.ROOT, "  kl %.6f +- %.6f", r.kl(),
                    r.klStderr());
            spec.commandLine().getOut().printf(Locale.ROOT, "ppl %.4f%s  (%s, intactkv %s, %d windows of %d tokens)%n",
                    r.ppl(), klText, label, prefixOption.label(), r.windows(), r.seqlen());
        }
    }
}
