package intactkv.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.Perplexity;
import intactkv.prefix.PrefixedModel;
import intactkv.quant.Calibration;
import intactkv.quant.QuantConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
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
    QuantOptions quant;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "UTF-8 text, one document per line")
    Path data;

    @Option(names = "--seqlen", paramLabel = "T", description = "window length (default: " + ModelLength.DEFAULT_HELP
            + "; at most max_position_embeddings)")
    Integer seqlenFlag;

    @Mixin
    IntactKvOption prefixOption;

    @Option(names = "--json", description = "print the result as JSON")
    boolean json;

    @Option(names = "--kl", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "with quantization: also the KL divergence KL(P_fp || P_quant) to the full-precision model (the"
                    + " same context, no IntactKV) per scored token, mean over windows +- its standard error (default"
                    + " on; --no-kl skips the full-precision pass)")
    boolean kl;

    @Override
    public Integer call() throws Exception {
        quant.validate();
        String text = Calibration.readText(data);
        List<String> docs = text.lines().toList();
        Path dir = ModelDir.check(quant.model);
        int seqlen = seqlenFlag != null ? seqlenFlag : ModelLength.defaultWindow(dir);
        LlamaWeights fp = LlamaWeights.load(dir, false);
        Tokenizer tok = ModelDir.tokenizer(quant.model);
        int[] tokens = Perplexity.tokenize(tok, docs);
        // everything that can be checked is checked before quantizing (minutes to hours with GPTQ)
        QuantConfig config = quant.any() ? quant.plannedConfig() : null;
        int before = prefixOption.plannedLength(fp.config(), tok);
        // the window's [BOS] is replaced by the tokens before it, when there are any
        ModelLength.require("--seqlen " + seqlen + (before > 0 ? " (with " + before + " IntactKV/context tokens in place"
                + " of [BOS])" : ""), before > 0 ? before + seqlen - 1L : seqlen, fp.config());
        Perplexity.requireWindows(tokens.length, seqlen, before);
        MemoryEstimate.requireWindows(fp.config(), "--seqlen " + seqlen, seqlen, before, quant.any() ? 2 : 1,
                kl && quant.any() ? 2 : 1);
        try (ProgressBar bar = new ProgressBar()) {
            QuantOptions.Chosen chosen = quant.choose(fp, bar);
            config = chosen.config();
            IntactKvPrefix prefix = prefixOption.prefix(chosen, tok);
            int bos = fp.config().bosTokenId();
            Perplexity.Reference reference = null;
            if (kl && config != null) {
                LlamaModel fpModel = new LlamaModel(fp);
                PrefixedModel fpRun = new PrefixedModel(fpModel,
                        intactkv.prefix.PrefixSpec.withContext(null, prefixOption.context, fpModel, tok));
                reference = i -> Perplexity.windowLogits(fpRun, tokens, i, seqlen, bos);
            }
            Perplexity.Result r = Perplexity.evaluate(new PrefixedModel(chosen.model(), prefix), reference, tokens, seqlen,
                    bos, d -> bar.update("ppl", d));
            String label = config == null ? "fp" : config.label();
            if (json) {
                JsonObject o = new JsonObject();
                o.addProperty("ppl", r.ppl());
                o.addProperty("mean_nll", r.meanNll());
                o.addProperty("windows", r.windows());
                o.addProperty("seqlen", r.seqlen());
                o.addProperty("scored_tokens", r.scoredTokens());
                if (reference != null) {
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
                String klText = reference == null ? "" : String.format(Locale.ROOT, "  kl %.6f +- %.6f", r.kl(),
                        r.klStderr());
                spec.commandLine().getOut().printf(Locale.ROOT, "ppl %.4f%s  (%s, intactkv %s, %d windows of %d tokens)%n",
                        r.ppl(), klText, label, prefixOption.label(), r.windows(), r.seqlen());
            }
        }
        return 0;
    }
}
