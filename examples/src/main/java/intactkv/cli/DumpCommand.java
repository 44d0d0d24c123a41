package intactkv.cli;

import intactkv.autograd.GradMode;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.PrefixSpec;
import intactkv.prefix.PrefixedModel;
import intactkv.model.io.DType;
import intactkv.model.io.SafetensorsWriter;
import intactkv.tensor.Shape;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./intactkv dump}: every layer's output and the logits, for tensor-by-tensor comparison. */
@Command(name = "dump", mixinStandardHelpOptions = true,
        header = "Write logits and every layer's output as float64 safetensors.",
        description = {"Run the model on one sequence and write input_ids (T, I64), logits (T, V) and hidden.{l} (T, d),",
            "the output of decoder layer l = 0..L-1, as float64 safetensors for comparison with other frameworks.",
            "With --quantized Q_DIR or the quantization flags, the quantized model is run. With --intactkv, logits",
            "also cover the prefix positions (full-precision logits there) and hidden.{l} the positions the quantized",
            "model computed."})
final class DumpCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--tokens", split = ",", paramLabel = "ID", description = "token ids, used as given (e.g. 1,5,9)")
        int[] tokens;

        @Option(names = "--text", paramLabel = "TEXT", description = "text, tokenized with [BOS] prepended")
        String text;
    }

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "output .safetensors file")
    Path out;

    @picocli.CommandLine.Mixin
    RunQuantOptions quant;

    @picocli.CommandLine.Mixin
    IntactKvOption.ContextOption prefixOption;

    @Override
    public Integer call() throws Exception {
        ModelDir.checkOutputFile(out); // checked and locked before the model is loaded
        intactkv.model.LlamaConfig mc = MemoryEstimate.config(quant.model);
        boolean needTok = input.text != null || prefixOption.which.equals("prompt") || !prefixOption.context.equals("none");
        intactkv.model.text.Tokenizer tok = needTok ? ModelDir.tokenizer(quant.model) : null;
        int before = prefixOption.plannedLength(mc, tok);
        int[] ids = input.tokens != null ? input.tokens : tok.encode(input.text, true);
        ModelLength.require((input.tokens != null ? "--tokens (" : "--text (") + ids.length + " tokens"
                + (before > 0 ? " after " + before + " IntactKV/context tokens)" : ")"), (long) before + ids.length, mc);
        // the weights (config.json and the checkpoint headers) and the pass over the input, before any weight is read
        // dump needs no full-precision logits: with RTN, GPTQ or OmniQuant the full-precision model is released once
        // IntactKV's prefix is taken (as ppl --no-kl and eval do), so a 7B model is never held twice
        boolean release = quant.releasesFullPrecision();
        quant.peakTerms(!release, w -> MemoryEstimate.windowTerms(w, mc, (long) before + ids.length, 0, 1))
                .require("dump of " + ids.length + " tokens", null);
        if (ids.length == 0) {
            throw new IllegalArgumentException("no tokens to run");
        }
        AtomicReference<LlamaWeights> fp = new AtomicReference<>(LlamaWeights.load(ModelDir.check(quant.model), false));
        IntactKvOption.Prepared prepared;
        try (ProgressBar bar = new ProgressBar()) {
            prepared = prefixOption.quantizedWithPrefix(quant, fp, release, tok, bar);
        }
        QuantOptions.Chosen chosen = prepared.chosen();
        IntactKvPrefix prefix = prepared.prefix();
        LlamaModel m = chosen.model();
        PrefixedModel.Result r;
        try (GradMode.Scope s = GradMode.noGrad()) {
            r = new PrefixedModel(m, prefix).forward(ids, LlamaModel.Options.WITH_HIDDEN);
        }
        int t = ids.length;
        SafetensorsWriter w = new SafetensorsWriter().metadata("producer", "intactkv dump")
                .metadata("model", quant.model.toAbsolutePath().toString())
                .metadata("intactkv", prefixOption.which)
                .metadata("context", prefixOption.context)
                .putLongs("input_ids", DType.I64, Arrays.stream(ids).asLongStream().toArray(), Shape.of(t))
                .put("logits", DType.F64, r.logits());
        LlamaModel.Output o = r.output();
        int computed = t - r.stripped();
        int layers = o == null ? 0 : o.hidden().size();
        for (int l = 0; l < layers; l++) {
            w.put("hidden." + l, DType.F64, o.hidden().get(l).data().reshape(computed, m.config().hiddenSize()));
        }
        w.write(out);
        spec.commandLine().getOut().printf("wrote %s: input_ids (%d), logits (%d, %d), hidden.0..%d (%d, %d)%n", out, t,
                r.logits().dim(0), m.config().vocabSize(), layers - 1, computed, m.config().hiddenSize());
        return 0;
    }
}
