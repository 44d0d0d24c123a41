package intactkv.cli;

import intactkv.autograd.GradMode;
import intactkv.model.LlamaModel;
import intactkv.model.io.DType;
import intactkv.model.io.SafetensorsWriter;
import intactkv.tensor.Shape;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./intactkv dump}: every layer's output and the logits, for tensor-by-tensor comparison. */
@Command(name = "dump", mixinStandardHelpOptions = true,
        description = {"Run the model on one sequence and write input_ids (T, I64), logits (T, V) and hidden.{l} (T, d),",
            "the output of decoder layer l = 0..L-1, as float64 safetensors for comparison with other frameworks.",
            "With --quantized Q_DIR or the quantization flags, the quantized model is run."})
final class DumpCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face LLaMA directory")
    Path model;

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
    QuantOptions quant;

    @Override
    public Integer call() throws Exception {
        LlamaModel m = ModelDir.model(model);
        if (quant.any()) {
            try (ProgressBar bar = new ProgressBar()) {
                m = quant.build(model, m.weights(), bar).model();
            }
        }
        int[] ids = input.tokens != null ? input.tokens : ModelDir.tokenizer(model).encode(input.text, true);
        if (ids.length == 0) {
            throw new IllegalArgumentException("no tokens to run");
        }
        LlamaModel.Output o;
        try (GradMode.Scope s = GradMode.noGrad()) {
            o = m.forward(ids, null, LlamaModel.Options.WITH_HIDDEN);
        }
        int t = ids.length;
        SafetensorsWriter w = new SafetensorsWriter().metadata("producer", "intactkv dump")
                .metadata("model", model.toAbsolutePath().toString())
                .putLongs("input_ids", DType.I64, Arrays.stream(ids).asLongStream().toArray(), Shape.of(t))
                .put("logits", DType.F64, o.logits().data().reshape(t, m.config().vocabSize()));
        for (int l = 0; l < o.hidden().size(); l++) {
            w.put("hidden." + l, DType.F64, o.hidden().get(l).data().reshape(t, m.config().hiddenSize()));
        }
        w.write(out);
        spec.commandLine().getOut().printf("wrote %s: input_ids (%d), logits (%d, %d), hidden.0..%d (%d, %d)%n", out, t, t,
                m.config().vocabSize(), o.hidden().size() - 1, t, m.config().hiddenSize());
        return 0;
    }
}
