package intactkv.cli;

import static intactkv.cli.Flags.require;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import intactkv.eval.McItem;
import intactkv.eval.MmluOfficial;
import intactkv.eval.MmluReport;
import intactkv.eval.MmluSplit;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.LayerwiseLogits;
import intactkv.prefix.PrefixSpec;
import intactkv.prefix.PrefixedModel;
import intactkv.quant.QuantConfig;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code ./intactkv eval --protocol mmlu-official}: the flags checked, the items split and every
 * prompt built and measured before the model is quantized or run, then one run per shot count
 * through {@link MmluOfficial}, reported as {@link MmluReport} (text like the official log, or
 * JSON with the official {@code accuracies_*.json} fields).
 */
final class MmluEval {
    private MmluEval() {
    }

    static int run(EvalCommand c) throws Exception {
        require(c.source.tasks != null, "--protocol mmlu-official needs --tasks FILE.jsonl (--builtin " + c.source.builtin
                + " has no lettered choices)");
        for (String f : List.of("--shots", "--mmlu", "--seed")) {
            require(!c.spec.commandLine().getParseResult().hasMatchedOption(f), f + " belongs to --protocol harness; with"
                    + " mmlu-official the shots are the first K items of each subject (--mmlu-shots K[,K...]), the"
                    + " header is always there and nothing is random");
        }
        List<Integer> shots = c.mmluShots != null ? c.mmluShots : MmluOfficial.OFFICIAL_SHOTS;
        require(!shots.isEmpty(), "--mmlu-shots needs at least one shot count");
        for (int k : shots) {
            require(k >= 0, "--mmlu-shots must be >= 0: " + k);
        }
        int most = Collections.max(shots);
        int dev = c.mmluDev != null ? c.mmluDev : most;
        require(dev >= 0, "--mmlu-dev must be >= 0: " + dev);
        require(most <= dev, "--mmlu-shots " + most + " is more than the " + dev + " dev items of each subject"
                + " (--mmlu-dev " + dev + ")");
        require(c.limit == null || c.limit >= 1, "--limit must be >= 1: " + c.limit);
        require(c.prefixOption.context.equals("none"), "--context " + c.prefixOption.context + " belongs to --protocol"
                + " harness; the official MMLU prompt has no system prompt");
        c.quant.validate();
        MmluSplit split = MmluSplit.of(McItem.readJsonl(c.source.tasks), dev, c.limit);
        Path dir = ModelDir.check(c.quant.model);
        Tokenizer tok = ModelDir.tokenizer(c.quant.model);
        LlamaConfig mc = LlamaConfig.read(dir.resolve("config.json"));
        int maxChoices = split.subjects().stream().flatMap(s -> s.test().stream())
                .mapToInt(i -> i.choices().size()).max().orElseThrow();
        int[] letters = MmluOfficial.letterIds(tok, maxChoices);
        int[] planned = PrefixSpec.plannedIds(c.prefixOption.which, mc, tok);
        int[] prefixIds = planned.length == 0 ? null : planned; // MmluOfficial.positions: null = no prefix
        int maxLength = MmluOfficial.maxLength(mc.maxPositionEmbeddings());
        List<List<MmluOfficial.Query>> runs = new ArrayList<>();
        for (int k : shots) {
            runs.add(MmluOfficial.queries(split, k, tok, ids -> MmluOfficial.positions(prefixIds, ids), maxLength));
        }
        QuantConfig config = c.quant.any() ? c.quant.plannedConfig() : null;
        List<List<MmluOfficial.Answer>> answers;
        if (c.layerByLayer) {
            answers = layerByLayer(c, dir, mc, tok, config, shots, runs, letters, prefixIds);
        } else { // every item is checked: now load, quantize and run
            AtomicReference<QuantConfig> chosen = new AtomicReference<>();
            answers = whole(c, dir, tok, shots, runs, letters, prefixIds, chosen);
            config = chosen.get();
        }
        List<MmluReport> reports = new ArrayList<>();
        for (int r = 0; r < shots.size(); r++) {
            reports.add(MmluReport.of(shots.get(r), answers.get(r)));
        }
        if (c.logSamples != null) {
            writeSamples(c.logSamples, runs, answers);
        }
        String label = config == null ? "fp" : config.label();
        PrintWriter o = c.spec.commandLine().getOut();
        if (c.json) {
            o.println(json(c, label, dev, maxLength, reports));
        } else {
            for (MmluReport r : reports) {
                if (r != reports.get(0)) {
                    o.println();
                }
                o.printf("%s, intactkv %s, mmlu-official %d-shot (dev split: the first %d items of each subject; at most"
                        + " %d tokens)%n", label, c.prefixOption.which, r.shots(), dev, maxLength);
                o.println(table(r));
            }
        }
        return 0;
    }

    /** The prefix has the ids the length check assumed (the ids of --intactkv, planned before any weight was read). */
    private static void requirePlannedIds(EvalCommand c, IntactKvPrefix prefix, int[] prefixIds) {
        if (prefix != null && !Arrays.equals(prefix.ids(), prefixIds)) {
            throw new IllegalStateException("--intactkv " + c.prefixOption.which + ": the prefix has ids "
                    + Arrays.toString(prefix.ids()) + ", the length check assumed " + Arrays.toString(prefixIds));
        }
    }

    /** Each run's answers on the whole model, loaded and quantized as the flags ask ({@code config}: as chosen). */
    private static List<List<MmluOfficial.Answer>> whole(EvalCommand c, Path dir, Tokenizer tok, List<Integer> shots,
            List<List<MmluOfficial.Query>> runs, int[] letters, int[] prefixIds, AtomicReference<QuantConfig> config)
            throws Exception {
        LlamaWeights fp = LlamaWeights.load(dir, false);
        List<List<MmluOfficial.Answer>> answers = new ArrayList<>();
        try (ProgressBar bar = new ProgressBar()) {
            QuantOptions.Chosen chosen = c.quant.choose(fp, bar);
            config.set(chosen.config());
            // the prefix from the full-precision model in the quantized model's basis
            IntactKvPrefix prefix = c.prefixOption.prefix(chosen, tok);
            requirePlannedIds(c, prefix, prefixIds);
            MmluOfficial.LastLogits model = MmluOfficial.lastLogits(new PrefixedModel(chosen.model(), prefix));
            for (int r = 0; r < shots.size(); r++) {
                String stage = "mmlu " + shots.get(r) + "-shot";
                answers.add(MmluOfficial.answerAll(runs.get(r), letters, model, d -> bar.update(stage, d)));
            }
        }
        return answers;
    }

    /**
     * {@code --layer-by-layer}: each run's queries through {@link LayerwiseLogits}, one decoder layer of the checkpoint
     * read at a time, the model and IntactKV's prefix as {@code ppl --layer-by-layer} makes them ({@link LayerByLayer});
     * each query answered from its last row of logits, the row {@link MmluOfficial#lastLogits} takes of the whole
     * model's.
     */
    private static List<List<MmluOfficial.Answer>> layerByLayer(EvalCommand c, Path dir, LlamaConfig mc, Tokenizer tok,
            QuantConfig config, List<Integer> shots, List<List<MmluOfficial.Query>> runs, int[] letters,
            int[] prefixIds) throws Exception {
        LayerByLayer.require(c.quant, c.prefixOption.context, dir, config);
        int perPass = c.inputsPerPass();
        long longest = runs.stream().flatMap(List::stream).mapToLong(q -> q.ids().length).max().orElse(1);
        long t = longest + (prefixIds == null ? 0 : prefixIds.length - 1);
        c.quant.layerwiseTerms(t, perPass, 1, PrefixSpec.generated(c.prefixOption.which), 1, "inputs")
                .require("eval --protocol mmlu-official --layer-by-layer --inputs-per-pass " + perPass,
                        "or lower --inputs-per-pass");
        List<List<MmluOfficial.Answer>> out = new ArrayList<>();
        try (LayerByLayer.Run run = LayerByLayer.open(c.quant, dir, mc, config, perPass);
             ProgressBar bar = new ProgressBar()) {
            IntactKvPrefix prefix = run.prefix(c.prefixOption.which, mc, tok, bar);
            requirePlannedIds(c, prefix, prefixIds);
            for (int r = 0; r < shots.size(); r++) {
                String stage = "mmlu " + shots.get(r) + "-shot";
                List<MmluOfficial.Query> queries = runs.get(r);
                List<int[]> inputs = queries.stream().map(MmluOfficial.Query::ids).toList();
                int[] last = inputs.stream().mapToInt(ids -> ids.length - 1).toArray();
                MmluOfficial.Answer[] answers = new MmluOfficial.Answer[queries.size()];
                LayerwiseLogits.forEach(run.setup(), prefix, inputs, last, (i, row) -> answers[i] = MmluOfficial.answer(
                        queries.get(i), letters, ids -> row.data()), d -> bar.update(stage, d));
                out.add(Arrays.asList(answers));
            }
        }
        return out;
    }

    /**
     * {@code --log-samples}: one JSON line per run and item (shots, item, where, subject, label, the letters'
     * probabilities, the prediction), as {@link EvalCommand#writeJsonLines} writes them.
     */
    private static void writeSamples(Path file, List<List<MmluOfficial.Query>> runs,
                                     List<List<MmluOfficial.Answer>> answers) throws java.io.IOException {
        List<JsonObject> lines = new ArrayList<>();
        for (int r = 0; r < runs.size(); r++) {
            for (int i = 0; i < runs.get(r).size(); i++) {
                MmluOfficial.Query q = runs.get(r).get(i);
                MmluOfficial.Answer a = answers.get(r).get(i);
                JsonObject o = new JsonObject();
                o.addProperty("shots", a.shots());
                o.addProperty("item", i);
                o.addProperty("where", q.where());
                o.addProperty("subject", a.subject());
                o.addProperty("label", a.label());
                o.add("probs", EvalCommand.numbers(a.probs()));
                o.addProperty("pred", a.predicted());
                lines.add(o);
            }
        }
        EvalCommand.writeJsonLines(file, lines);
    }

    /** The report as text: subjects, subcategories, categories and the weighted average, as the official log. */
    static String table(MmluReport r) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-40s %6s  %s%n", "subject", "items", "acc"));
        rows(sb, r.subjects());
        if (!r.subcategories().isEmpty()) {
            sb.append(String.format(Locale.ROOT, "%-40s %6s  %s%n", "subcategory", "items", "acc"));
            rows(sb, r.subcategories());
            sb.append(String.format(Locale.ROOT, "%-40s %6s  %s%n", "category", "items", "acc"));
            rows(sb, r.categories());
        }
        sb.append(String.format(Locale.ROOT, "%-40s %6d  %.4f%n", "weighted average (all items)", r.overall().items(),
                r.overall().acc()));
        if (r.shortened() > 0) {
            sb.append(String.format(Locale.ROOT, "%d items had fewer than %d shots to fit the length limit%n",
                    r.shortened(), r.shots()));
        }
        return sb.toString().stripTrailing();
    }

    private static void rows(StringBuilder sb, Map<String, MmluReport.Group> groups) {
        for (Map.Entry<String, MmluReport.Group> e : groups.entrySet()) {
            sb.append(String.format(Locale.ROOT, "%-40s %6d  %.4f%n", e.getKey(), e.getValue().items(),
                    e.getValue().acc()));
        }
    }

    /** The reports as JSON: per run the official {@code subcategories}, {@code categories}, {@code weighted_accuracy}. */
    static String json(EvalCommand c, String label, int dev, int maxLength, List<MmluReport> reports) {
        JsonObject root = new JsonObject();
        root.addProperty("model", c.quant.model.toString());
        root.addProperty("quantization", label);
        root.addProperty("intactkv", c.prefixOption.which);
        root.addProperty("protocol", "mmlu-official");
        root.addProperty("dev_items", dev);
        root.addProperty("max_length", maxLength);
        JsonArray runs = new JsonArray();
        for (MmluReport r : reports) {
            JsonObject j = new JsonObject();
            j.addProperty("shots", r.shots());
            j.addProperty("items", r.overall().items());
            j.addProperty("shortened_items", r.shortened());
            j.add("subjects", groups(r.subjects()));
            j.add("subcategories", groups(r.subcategories()));
            j.add("categories", groups(r.categories()));
            j.addProperty("weighted_accuracy", r.overall().acc());
            runs.add(j);
        }
        root.add("runs", runs);
        return new GsonBuilder().setPrettyPrinting().create().toJson(root);
    }

    private static JsonObject groups(Map<String, MmluReport.Group> groups) {
        JsonObject o = new JsonObject();
        for (Map.Entry<String, MmluReport.Group> e : groups.entrySet()) {
            JsonObject g = new JsonObject();
            g.addProperty("items", e.getValue().items());
            g.addProperty("acc", e.getValue().acc());
            o.add(e.getKey(), g);
        }
        return o;
    }
}
