package intactkv.cli;

import static intactkv.cli.Flags.require;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import intactkv.eval.GlossCompletion;
import intactkv.eval.McItem;
import intactkv.eval.MultipleChoice;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./intactkv eval}: multiple-choice accuracy with or without IntactKV, by the
 * lm-evaluation-harness protocol (acc, acc_norm; {@link MultipleChoice}) or by the official
 * IntactKV MMLU protocol ({@code --protocol mmlu-official}; {@link MmluEval}).
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        header = "Multiple-choice accuracy (lm-evaluation-harness or official MMLU protocol), with or without IntactKV.",
        description = {"--protocol harness (default): scores each choice by its log-likelihood as the continuation of the",
            "item's context ([BOS] first; with --intactkv the prefix as in ppl): acc takes the highest sum, acc_norm",
            "the highest sum per byte; shots (--shots) drawn with --seed from the other items of the subject.",
            "--protocol mmlu-official: as the IntactKV repository's eval_utils/mmlu.py: one forward pass per item",
            "on the prompt \"The following are multiple choice questions (with answers) about  SUBJECT.\\n\\n\"",
            "+ K shots (context + \" LETTER\\n\\n\") + the item's context; the answer is the letter A, B, C, ...",
            "whose token (the last of tokenizer(\"A\"), ...) has the largest logit at the LAST position, not the",
            "choice with the largest log-likelihood. Shots are the first K items of the subject, which form its dev",
            "split (the first --mmlu-dev items of each subject, never scored); fewer shots when the prompt exceeds",
            "2048 tokens (or the model's context); accuracy per subject, MMLU subcategory and category, and",
            "weighted over all scored items; one run per K of --mmlu-shots (default 0,5 as the official script).",
            "Items must have the letters as choices (\"A\" or \" A\"), a subject, and a context ending in",
            "\"\\nAnswer:\" (question, \"\\nA. option\" lines, \"\\nAnswer:\").",
            "--tasks FILE.jsonl: one item per line, {\"context\": ..., \"choices\": [...], \"label\": i, \"subject\": ...};",
            "--builtin gloss (harness only): gloss completion on the WordNet test split (four endings, one right).",
            "Every item is checked (label, choices, no two identical, length within the model's context) before scoring.",
            "Ties (harness): two choices with exactly the same score go to the first, as the harness's np.argmax; the",
            "items so decided are counted per task (columns ties and ties_norm; \"ties\", \"ties_norm\" in --json)."})
final class EvalCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    RunQuantOptions quant;

    static final class Source {
        @Option(names = "--tasks", paramLabel = "FILE", description = "a JSONL file of items (see above)")
        Path tasks;

        @Option(names = "--builtin", paramLabel = "TASK", description = "a built-in task: gloss")
        String builtin;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Mixin
    IntactKvOption.ContextOption prefixOption;

    @Option(names = "--shots", defaultValue = "0", paramLabel = "K",
            description = "examples before each item, drawn with --seed from the other items of its subject (default 0)")
    int shots;

    @Option(names = "--mmlu", description = "put MMLU's header (\"The following are multiple choice questions (with"
            + " answers) about SUBJECT.\") before each item that has a subject")
    boolean mmlu;

    @Option(names = "--limit", paramLabel = "N", description = "score only the first N items (>= 1; mmlu-official:"
            + " the first N items of the test split)")
    Integer limit;

    @Option(names = "--seed", defaultValue = "1234", paramLabel = "S", description = "seed of the shot selection and"
            + " of the built-in task (default ${DEFAULT-VALUE}); refused when it draws neither (--tasks, --shots 0)")
    long seed;

    @Option(names = "--json", description = "print the results as JSON")
    boolean json;

    @Option(names = "--protocol", defaultValue = "harness", paramLabel = "P", description = "harness (default: each"
            + " choice's log-likelihood) or mmlu-official (the letters' logits at the last position, see above)")
    String protocol;

    @Option(names = "--mmlu-shots", split = ",", paramLabel = "K", description = "mmlu-official: shot counts,"
            + " one run each (default 0,5 as intactkv_eval.py --mmlu_num_few_shots)")
    List<Integer> mmluShots;

    @Option(names = "--mmlu-dev", paramLabel = "N", description = "mmlu-official: the first N items of each subject"
            + " are its dev split, the shots, not scored (default: the largest --mmlu-shots)")
    Integer mmluDev;

    @Option(names = "--layer-by-layer", description = "hold one decoder layer at a time instead of the whole model:"
            + " every item's inputs (prompt and one choice each) go through the layers --inputs-per-pass at a time,"
            + " each layer read from the checkpoint when they reach it, as ppl --layer-by-layer (the same numbers, bit"
            + " for bit; the checkpoint is read once per pass). Full precision, --method rtn or a packed --quantized"
            + " checkpoint, with --abits/--kvbits and --intactkv; not the calibrated methods on the fly, nor --context")
    boolean layerByLayer;

    @Option(names = "--inputs-per-pass", paramLabel = "K", description = "with --layer-by-layer: inputs carried"
            + " through the layers together (default 16); each holds its hidden states, T x d doubles, and each pass"
            + " reads the checkpoint once")
    Integer inputsPerPass;

    @Option(names = "--log-samples", paramLabel = "FILE", description = "also write every item's scores, one JSON"
            + " line each (as lm-evaluation-harness's --log_samples): harness: the choices' log-likelihoods, their"
            + " bytes and both predictions; mmlu-official: each run's letter probabilities and prediction")
    Path logSamples;

    /** --inputs-per-pass's default. */
    static final int INPUTS_PER_PASS = 16;

    /** Items of the built-in gloss task the demo and --builtin gloss use by default. */
    static final int GLOSS_ITEMS = 200;

    @Override
    public Integer call() throws Exception {
        require(protocol.equals("harness") || protocol.equals("mmlu-official"),
                "--protocol must be harness or mmlu-official: " + protocol);
        if (logSamples != null) {
            OutputTarget.claimForCommand("--log-samples", logSamples, OutputTarget.Kind.FILE);
        }
        require(inputsPerPass == null || layerByLayer, "--inputs-per-pass is for --layer-by-layer");
        if (protocol.equals("mmlu-official")) {
            return MmluEval.run(this);
        }
        require(mmluShots == null && mmluDev == null, "--mmlu-shots and --mmlu-dev need --protocol mmlu-official");
        MultipleChoice.Settings st = new MultipleChoice.Settings(shots, seed, mmlu);
        // --seed draws the shots and the built-in task's items; with neither it would be silently ignored
        require(shots > 0 || source.builtin != null || !spec.commandLine().getParseResult().hasMatchedOption("--seed"),
                "--seed has no effect with --tasks and --shots 0: it draws the --shots examples and the --builtin"
                        + " task's items; add --shots K, or leave out --seed");
        require(limit == null || limit >= 1, "--limit must be >= 1: " + limit);
        require(source.builtin == null || source.builtin.equals("gloss"), "--builtin must be gloss: " + source.builtin);
        quant.validate();
        McItem.Task task = source.tasks != null ? McItem.readJsonl(source.tasks)
                : McItem.Task.of("gloss", GlossCompletion.items(limit != null ? limit : GLOSS_ITEMS, seed));
        if (limit != null && limit < task.items().size()) {
            task = new McItem.Task(task.name(), task.items().subList(0, limit), task.where().subList(0, limit));
        }
        intactkv.model.LlamaConfig mc = MemoryEstimate.config(quant.model);
        Tokenizer tok = ModelDir.tokenizer(quant.model);
        QuantConfig config = quant.any() ? quant.plannedConfig() : null;
        int before = prefixOption.plannedLength(mc, tok);
        List<String> prompts = prompts(task, st, tok, mc.maxPositionEmbeddings(), before);
        if (layerByLayer) {
            report(task, layerByLayer(task, prompts, tok, mc, before, config), config);
            return 0;
        }
        // the weights the run holds (from config.json and the checkpoint headers) and one window of before + 512
        // tokens (a multiple-choice item's context and continuation), before any weight is read
        // eval has no KL: with RTN, GPTQ or OmniQuant the full-precision model is released once IntactKV's prefix is taken
        boolean release = quant.releasesFullPrecision();
        long window = Math.min(mc.maxPositionEmbeddings(), before + 512L);
        MemoryPlan plan = quant.peakTerms(!release, w -> MemoryEstimate.scoringTerms(w, mc, window, 0, window, 1));
        String otherwise = null;
        if (plan.total() > Runtime.getRuntime().maxMemory()
                && LayerByLayer.why(quant, prefixOption.context, ModelDir.check(quant.model), config) == null) {
            MultipleChoice.Inputs in = MultipleChoice.inputs(tok, task.items(), prompts);
            otherwise = "or add --layer-by-layer (one decoder layer in memory at a time, the same numbers: needs "
                    + Memory.size(layerwisePlan(in, before, INPUTS_PER_PASS).total()) + ")";
        }
        plan.require("eval" + (config == null ? "" : " with " + config.label()), otherwise);
        AtomicReference<LlamaWeights> fp = new AtomicReference<>(LlamaWeights.load(ModelDir.check(quant.model), false));
        List<MultipleChoice.ItemScore> scores;
        try (ProgressBar bar = new ProgressBar()) {
            IntactKvOption.Prepared prepared = prefixOption.quantizedWithPrefix(quant, fp, release, tok, bar);
            QuantOptions.Chosen chosen = prepared.chosen();
            IntactKvPrefix prefix = prepared.prefix();
            config = chosen.config();
            scores = MultipleChoice.scoreAll(new PrefixedModel(chosen.model(), prefix), tok, task.items(), prompts,
                    d -> bar.update("eval", d));
        }
        report(task, scores, config);
        return 0;
    }

    /**
     * {@code --layer-by-layer}: every item's inputs through {@link LayerwiseLogits}, one decoder layer of the
     * checkpoint read at a time, the model and IntactKV's prefix as {@code ppl --layer-by-layer} makes them
     * ({@link LayerByLayer}); each input's log-likelihood from the rows of logits its continuation reads, the same
     * numbers as {@link MultipleChoice#scoreAll} on the whole model.
     */
    private List<MultipleChoice.ItemScore> layerByLayer(McItem.Task task, List<String> prompts, Tokenizer tok,
                                                        intactkv.model.LlamaConfig mc, int before, QuantConfig config)
            throws Exception {
        Path dir = ModelDir.check(quant.model);
        LayerByLayer.require(quant, prefixOption.context, dir, config);
        int perPass = inputsPerPass();
        MultipleChoice.Inputs in = MultipleChoice.inputs(tok, task.items(), prompts);
        int[] first = in.firstRows();
        layerwisePlan(in, before, perPass).require("eval --layer-by-layer --inputs-per-pass " + perPass,
                "or lower --inputs-per-pass");
        double[] ll = new double[first.length];
        try (LayerByLayer.Run run = LayerByLayer.open(quant, dir, mc, config, perPass);
             ProgressBar bar = new ProgressBar()) {
            IntactKvPrefix prefix = run.prefix(prefixOption.which, mc, tok, bar);
            LayerwiseLogits.forEach(run.setup(), prefix, in.ids(), first, (j, r) -> ll[j] = MultipleChoice
                    .continuationLogLikelihood(r, first[j], in.ids().get(j), in.contextLength()[j]),
                    d -> bar.update("eval", d));
        }
        return MultipleChoice.fromLogLikelihoods(task.items(), ll);
    }

    /**
     * What {@code --layer-by-layer} holds for the inputs {@code in} after {@code before} prefix positions, {@code
     * perPass} inputs a pass ({@link QuantOptions#layerwiseTerms}): their hidden states at the longest input's length,
     * and the rows of logits the longest continuation reads.
     */
    private MemoryPlan layerwisePlan(MultipleChoice.Inputs in, int before, int perPass) throws java.io.IOException {
        int[] first = in.firstRows();
        long longest = 0;
        long rows = 0;
        for (int j = 0; j < first.length; j++) {
            longest = Math.max(longest, in.ids().get(j).length);
            rows = Math.max(rows, in.ids().get(j).length - first[j]);
        }
        // an input's [BOS] is replaced by the prefix's positions (prompts() checked the length)
        long t = longest + Math.max(0, before - 1);
        return quant.layerwiseTerms(t, perPass, 1, PrefixSpec.generated(prefixOption.which), rows, "inputs");
    }

    /**
     * The accuracy of {@code scores}, over all items and per subject, as a table or (--json) as JSON; with
     * --log-samples, each item's scores as a JSON line.
     */
    private void report(McItem.Task task, List<MultipleChoice.ItemScore> scores, QuantConfig config)
            throws java.io.IOException {
        if (logSamples != null) {
            List<JsonObject> lines = new ArrayList<>();
            for (int i = 0; i < scores.size(); i++) {
                MultipleChoice.ItemScore s = scores.get(i);
                JsonObject j = new JsonObject();
                j.addProperty("item", i);
                j.addProperty("where", task.where().get(i));
                j.addProperty("subject", task.items().get(i).subject());
                j.addProperty("label", s.label());
                j.add("loglikelihood", numbers(s.logLikelihood()));
                JsonArray bytes = new JsonArray();
                for (int b : s.choiceBytes()) {
                    bytes.add(b);
                }
                j.add("choice_bytes", bytes);
                j.addProperty("pred", s.predicted());
                j.addProperty("pred_norm", s.predictedNorm());
                lines.add(j);
            }
            writeJsonLines(logSamples, lines);
        }
        PrintWriter o = spec.commandLine().getOut();
        Map<String, List<MultipleChoice.ItemScore>> bySubject = new LinkedHashMap<>();
        for (int i = 0; i < scores.size(); i++) {
            bySubject.computeIfAbsent(task.items().get(i).subject(), k -> new ArrayList<>()).add(scores.get(i));
        }
        List<MultipleChoice.TaskResult> results = new ArrayList<>();
        results.add(MultipleChoice.aggregate(task.name(), scores));
        if (bySubject.size() > 1) {
            for (Map.Entry<String, List<MultipleChoice.ItemScore>> e : bySubject.entrySet()) {
                results.add(MultipleChoice.aggregate(task.name() + "/" + e.getKey(), e.getValue()));
            }
        }
        String label = config == null ? "fp" : config.label();
        if (json) {
            JsonArray arr = new JsonArray();
            for (MultipleChoice.TaskResult r : results) {
                JsonObject j = new JsonObject();
                j.addProperty("task", r.task());
                j.addProperty("items", r.items());
                addAccuracy(j, r);
                j.addProperty("ties", r.ties());
                j.addProperty("ties_norm", r.tiesNorm());
                arr.add(j);
            }
            JsonObject root = new JsonObject();
            root.addProperty("model", quant.model.toString());
            root.addProperty("quantization", label);
            root.addProperty("intactkv", prefixOption.which);
            root.addProperty("context", prefixOption.context);
            root.addProperty("shots", shots);
            root.add("results", arr);
            o.println(new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create().toJson(root));
        } else {
            o.printf("%s, intactkv %s, %d-shot%n", label, prefixOption.label(), shots);
            o.println(table(results));
        }
    }

    /** --inputs-per-pass, or its default; refused below 1. */
    int inputsPerPass() {
        int perPass = inputsPerPass == null ? INPUTS_PER_PASS : inputsPerPass;
        require(perPass >= 1, "--inputs-per-pass must be at least 1, got " + perPass);
        return perPass;
    }

    /** {@code --log-samples}: one compact JSON object a line, written whole under a temporary name and renamed. */
    static void writeJsonLines(Path file, List<JsonObject> lines) throws java.io.IOException {
        StringBuilder sb = new StringBuilder();
        com.google.gson.Gson gson = new com.google.gson.Gson();
        for (JsonObject line : lines) {
            sb.append(gson.toJson(line)).append('\n');
        }
        intactkv.model.io.AtomicFiles.writeString(file, sb.toString());
    }

    /** {@code x} as a JSON array of numbers, each written as Java's shortest repr of the double (exact). */
    static JsonArray numbers(double[] x) {
        JsonArray a = new JsonArray();
        for (double v : x) {
            a.add(v);
        }
        return a;
    }

    /** acc, acc_norm and their standard errors as JSON fields of {@code j} (eval's --json and the demo's results.json). */
    static void addAccuracy(JsonObject j, MultipleChoice.TaskResult r) {
        j.addProperty("acc", r.acc());
        j.addProperty("acc_stderr", r.accStderr());
        j.addProperty("acc_norm", r.accNorm());
        j.addProperty("acc_norm_stderr", r.accNormStderr());
    }

    /** The prompt of every item, each checked against the model's context length before anything is scored. */
    static List<String> prompts(McItem.Task task, MultipleChoice.Settings st, Tokenizer tok, int maxLen, int prefixLen) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < task.items().size(); i++) {
            String p;
            int len;
            try {
                p = MultipleChoice.prompt(task.items(), i, st);
                len = MultipleChoice.longestInput(tok, p, task.items().get(i)) + Math.max(0, prefixLen - 1);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(task.where().get(i) + ": " + e.getMessage(), e);
            }
            if (len > maxLen) {
                throw new IllegalArgumentException(task.where().get(i) + ": context and choice take " + len
                        + " tokens, more than the model's context of " + maxLen + " (max_position_embeddings)"
                        + (st.shots() > 0 ? "; use fewer --shots" : ""));
            }
            out.add(p);
        }
        return out;
    }

    /**
     * The results as a table: task, items, acc +- stderr, acc_norm +- stderr, and the items whose
     * prediction was decided by a tie (acc, acc_norm).
     */
    static String table(List<MultipleChoice.TaskResult> results) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-28s %6s  %-17s  %-17s  %4s  %9s%n", "task",
                "items", "acc", "acc_norm", "ties", "ties_norm"));
        for (MultipleChoice.TaskResult r : results) {
            sb.append(String.format(Locale.ROOT, "%-28s %6d  %-17s  %-17s  %4d  %9d%n", r.task(), r.items(),
                    pm(r.acc(), r.accStderr()), pm(r.accNorm(), r.accNormStderr()), r.ties(), r.tiesNorm()));
        }
        return sb.toString().stripTrailing();
    }

    static String pm(double v, double se) {
        return Double.isNaN(se) ? String.format(Locale.ROOT, "%.4f", v)
                : String.format(Locale.ROOT, "%.4f +- %.4f", v, se);
    }
}
