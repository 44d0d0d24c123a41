package intactkv.cli;

import static intactkv.cli.Flags.require;

import com.google.gson.GsonBuilder;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.io.AtomicFiles;
import intactkv.quant.DynamicQuantizer;
import intactkv.theory.TheoryReport;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./intactkv theory-report}: measured statistics of the attention-error bound. */
@Command(name = "theory-report", mixinStandardHelpOptions = true,
        header = "Measured statistics of the attention-error bound.",
        description = {"Measure the attention-error bound (theory-checks/README.md) on random sink-dominated and diffuse",
            "heads and, with --model, on every head of a real model: actual error with and without an intact prefix,",
            "the bounds, and how tight they are (actual / bound). Prints a table, writes a PNG scatter and JSON."})
final class TheoryReportCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR", description = "also measure every head of this model")
    Path model;

    @Option(names = "--text", paramLabel = "TEXT", description = "text for the model's heads (default: a built-in sentence)",
            defaultValue = "The quick brown fox jumps over the lazy dog, and then it runs back into the forest again.")
    String text;

    @Option(names = "--kvbits", defaultValue = "4", paramLabel = "B", description = "KV quantization bits, 2..16 (default ${DEFAULT-VALUE})")
    int kvbits;

    @Option(names = "--heads", defaultValue = "200", paramLabel = "N", description = "random heads per group, >= 1 (default ${DEFAULT-VALUE})")
    int heads;

    @Option(names = "--out", defaultValue = "theory-report", paramLabel = "DIR", description = "output directory (default ${DEFAULT-VALUE})")
    Path out;

    @Override
    public Integer call() throws Exception {
        require(heads >= 1, "--heads must be >= 1: " + heads);
        require(kvbits >= 2 && kvbits <= 16, "--kvbits must be in 2..16: " + kvbits);
        ModelDir.checkOutput(out);
        if (model != null) {
            ModelDir.check(model);
        }
        Map<String, List<TheoryReport.Row>> groups = new LinkedHashMap<>();
        groups.put("sink", TheoryReport.randomHeads("sink", heads, 256, 64, kvbits, true, 1000));
        groups.put("diffuse", TheoryReport.randomHeads("diffuse", heads, 256, 64, kvbits, false, 5000));
        if (model != null) {
            LlamaModel m = new LlamaModel(LlamaWeights.load(ModelDir.check(model), false));
            int[] ids = ModelDir.tokenizer(model).encode(text, true);
            groups.put("model", TheoryReport.modelHeads(m, ids, new DynamicQuantizer(kvbits, false, 1.0, 0), 1));
        }
        PrintWriter o = spec.commandLine().getOut();
        o.printf("KV%d per (token, head); IntactKV keeps position 0 ([BOS]) exact; medians over heads%n", kvbits);
        o.println("group    heads  attn on [BOS]  actual err  with IntactKV  bound B  B with IntactKV  bound T  actual/B  actual/T  A fell");
        List<TheoryReport.Summary> summaries = new ArrayList<>();
        Map<String, double[][]> scatter = new LinkedHashMap<>();
        for (Map.Entry<String, List<TheoryReport.Row>> e : groups.entrySet()) {
            TheoryReport.Summary s = TheoryReport.summarize(e.getKey(), e.getValue());
            summaries.add(s);
            o.printf(Locale.ROOT, "%-8s %5d  %13.3f  %10.4g  %13.4g  %7.4g  %15.4g  %7.4g  %8.3f  %8.3f  %5.0f%%%n", s.group(),
                    s.heads(), s.attentionOnPrefix(), s.actualPlain(), s.actualIntact(), s.boundPlain(), s.boundIntact(),
                    s.tightPlain(), s.tightnessB(), s.tightnessT(), 100 * s.boundAFellFraction());
            int n = e.getValue().size();
            double[][] plain = new double[2][n];
            double[][] intact = new double[2][n];
            for (int i = 0; i < n; i++) {
                TheoryReport.Row r = e.getValue().get(i);
                plain[0][i] = r.plain().boundB();
                plain[1][i] = Math.max(r.plain().actual(), 1e-300);
                intact[0][i] = Math.max(r.intact().boundB(), 1e-300);
                intact[1][i] = Math.max(r.intact().actual(), 1e-300);
            }
            scatter.put(e.getKey() + " heads", plain);
            scatter.put(e.getKey() + " heads, IntactKV", intact);
        }
        try (OutputFolder folder = OutputFolder.open(out)) { // removed again if anything below fails
            Charts.scatter(out.resolve("bound_vs_actual.png"), "Attention output error: actual vs bound B (KV" + kvbits + ")",
                    "bound B", "actual ||h~ - h||", scatter);
            AtomicFiles.writeString(out.resolve("theory_report.json"),
                    new GsonBuilder().setPrettyPrinting().create().toJson(summaries));
            o.println("wrote " + out.resolve("bound_vs_actual.png") + " and " + out.resolve("theory_report.json"));
            folder.done();
            return 0;
        }
    }
}
