package intactkv.cli;

import static intactkv.cli.Flags.require;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
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
            "the bounds, and how tight they are (actual / bound). Prints a table, writes a PNG scatter and JSON",
            "(theory_report.json: the provenance (command line, model SHA-256, input), the KV bits and the medians of each",
            "group)."})
final class TheoryReportCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR", description = "also measure every head of this model")
    Path model;

    /** The text for the model's heads when --text is not given. */
    static final String DEFAULT_TEXT = "The quick brown fox jumps over the lazy dog, and then it runs back into the forest"
            + " again.";

    @Option(names = "--text", paramLabel = "TEXT",
            description = "text for the model's heads, with --model only; at least 2 tokens with [BOS] (default: a built-in"
                    + " sentence)")
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
        require(text == null || model != null, "--text is read only with --model (the text is run through the model's"
                + " heads); add --model DIR or leave --text out");
        ModelDir.checkOutput(out);
        int[] ids = null;
        Provenance prov;
        if (model != null) {
            String t = text != null ? text : DEFAULT_TEXT;
            ids = ModelDir.tokenizer(model).encode(t, true);
            require(ids.length >= 2, "--text gives " + ids.length + " token" + (ids.length == 1 ? "" : "s") + " ([BOS]"
                    + " included); each head is measured at the last token's query with [BOS] kept intact, so the text"
                    + " needs at least 2 tokens: give a longer --text");
            prov = Provenance.of(spec, model, Provenance.Input.text(t));
        } else {
            prov = Provenance.of(spec, null, Provenance.Input.generated(heads + " random sink heads (seeds 1000..) and "
                    + heads + " random diffuse heads (seeds 5000..), 256 keys, d_h 64"));
        }
        Map<String, List<TheoryReport.Row>> groups = new LinkedHashMap<>();
        groups.put("sink", TheoryReport.randomHeads("sink", heads, 256, 64, kvbits, true, 1000));
        groups.put("diffuse", TheoryReport.randomHeads("diffuse", heads, 256, 64, kvbits, false, 5000));
        if (model != null) {
            LlamaModel m = new LlamaModel(LlamaWeights.load(ModelDir.check(model), false));
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
                plain[1][i] = r.plain().actual();
                intact[0][i] = r.intact().boundB();
                intact[1][i] = r.intact().actual();
            }
            scatter.put(e.getKey() + " heads", plain);
            scatter.put(e.getKey() + " heads, IntactKV", intact);
        }
        try (OutputFolder folder = OutputFolder.open(out)) { // removed again if anything below fails
            Charts.save(out.resolve("bound_vs_actual.png"), Charts.boundScatter("Attention output error: actual vs bound B"
                    + " (KV" + kvbits + ")", "bound B", "actual ||h~ - h||", scatter, prov), prov);
            JsonObject json = new JsonObject();
            json.add("provenance", prov.toJson());
            json.addProperty("kv_bits", kvbits);
            json.add("summaries", new Gson().toJsonTree(summaries));
            AtomicFiles.writeString(out.resolve("theory_report.json"),
                    new GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(json));
            o.println("wrote " + out.resolve("bound_vs_actual.png") + " and " + out.resolve("theory_report.json"));
            folder.done();
            return 0;
        }
    }
}
