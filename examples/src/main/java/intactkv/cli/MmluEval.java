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
        // every item is checked: now load, quantize and run
        LlamaWeights fp = LlamaWeights.load(dir, false);
        QuantConfig config = c.quant.any() ? c.quant.plannedConfig() : null;
        List<MmluReport> reports = new ArrayList<>();
        try (ProgressBar bar = new ProgressBar()) {
            QuantOptions.Chosen chosen = c.quant.choose(fp, bar);
            config = chosen.config();
            // the prefix from the full-precision model in the quantized model's basis
            IntactKvPrefix prefix = c.prefixOption.prefix(chosen, tok);
            if (prefix != null && !Arrays.equals(prefix.ids(), prefixIds)) {
                throw new IllegalStateException("--intactkv " + c.prefixOption.which + ": the prefix has ids "
                        + Arrays.toString(prefix.ids()) + ", the length check assumed " + Arrays.toString(prefixIds));
            }
            MmluOfficial.LastLogits model = MmluOfficial.lastLogits(new PrefixedModel(chosen.model(), prefix));
            for (int r = 0; r < shots.size(); r++) {
                String stage = "mmlu " + shots.get(r) + "-shot";
                reports.add(MmluReport.of(shots.get(r),
                        MmluOfficial.answerAll(runs.get(r), letters, model, d -> bar.update(stage, d))));
            }
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
