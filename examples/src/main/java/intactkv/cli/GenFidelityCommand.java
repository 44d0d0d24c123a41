package intactkv.cli;

import static intactkv.cli.Flags.require;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import intactkv.eval.GenerationFidelity;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.text.Generator;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.PrefixSpec;
import intactkv.prefix.PrefixedModel;
import intactkv.quant.Calibration;
import intactkv.quant.QuantConfig;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./intactkv gen-fidelity}: how far a quantized model's greedy continuations stay with the
 * full-precision model's, with and without IntactKV, without a judge model
 * ({@link GenerationFidelity}, issue 28 deliverable 4).
 */
@Command(name = "gen-fidelity", mixinStandardHelpOptions = true,
        header = "How often a quantized model, with and without IntactKV, writes what the full-precision model writes.",
        description = {"Greedy continuations of held-out prompts by the full-precision model and by the quantized model",
            "(the quantization flags of ppl; one is needed), without IntactKV and, with --intactkv, with it, compared",
            "prompt by prompt with the full-precision continuation. Prompts: the first --prompts lines of --data with",
            "more than --prompt-words words, each cut to its first --prompt-words words ([BOS] first); every one is",
            "continued for at most --max-tokens tokens (greedy; [EOS] ends a continuation and counts as a token).",
            "With --intactkv the quantized model continues from the full-precision prefix exactly as",
            "'generate --intactkv' does. Per setting, +- the standard error over prompts: identical to FP (the share",
            "of continuations equal token for token), tokens agreed (tokens generated before the first divergence),",
            "ROUGE-L F1 (longest common subsequence of the token ids; precision, recall and F-measure as the",
            "rouge-score package's _score_lcs, the FP continuation the target); then the paired difference",
            "with - without IntactKV, ~ when within two standard errors."})
final class GenFidelityCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    RunQuantOptions quant;

    @Mixin
    IntactKvOption.NoContextOption prefixOption;

    @Mixin
    KvCacheOption kvCache;

    /** Defaults of --prompts, --prompt-words and --max-tokens, which the demo uses too. */
    static final int PROMPTS = 48;
    static final int PROMPT_WORDS = 4;
    static final int MAX_TOKENS = 16;

    @Option(names = "--prompts", defaultValue = "" + PROMPTS, paramLabel = "N",
            description = "prompts: the first N lines of --data with more than --prompt-words words (default"
                    + " ${DEFAULT-VALUE}; refused when fewer lines qualify)")
    int prompts;

    @Option(names = "--prompt-words", defaultValue = "" + PROMPT_WORDS, paramLabel = "K",
            description = "words of each line that form its prompt (default ${DEFAULT-VALUE})")
    int promptWords;

    @Option(names = "--max-tokens", defaultValue = "" + MAX_TOKENS, paramLabel = "M",
            description = "at most M new tokens per continuation (default ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--data", paramLabel = "FILE", description = "UTF-8 text, one prompt source per line (default: the"
            + " test split the demo uses: the model directory's data/test.txt if there is one, else the WordNet 3.1"
            + " test split)")
    Path data;

    @Option(names = "--json", description = "print the results as JSON")
    boolean json;

    /**
     * What the run is, known before any weight is read: config.json, the tokenizer, where the prompts come from and
     * their tokens (checked, with every flag, against the model's positions and the prefix), and the longest's length.
     */
    record Prepared(LlamaConfig config, Path dir, Tokenizer tok, String source, List<int[]> ids, int longest) {
    }

    Prepared prepare() throws java.io.IOException {
        // every flag, the prompts and their lengths checked before the weights are read
        GenerationFidelity.Settings settings = settings();
        require(quant.any(), "gen-fidelity compares a quantized model with the full-precision one: add --method M"
                + " (with --wbits, --calib as needed), --quantized DIR, --abits B or --kvbits B");
        require(prefixOption.context.equals("none"), "--context " + prefixOption.context + " is ppl's (context before"
                + " each window); gen-fidelity's prompts are plain lines: leave out --context");
        require(!prefixOption.which.equals("prompt"), "--intactkv prompt is [BOS] + the Vicuna system prompt, which"
                + " gen-fidelity's prompts (plain lines of --data) do not begin with: use --intactkv bos");
        quant.validate();
        LlamaConfig config = MemoryEstimate.config(quant.model);
        Path dir = ModelDir.check(quant.model);
        Tokenizer tok = ModelDir.tokenizer(quant.model);
        String source = data != null ? data.toString() : defaultSource(dir);
        List<String> lines = data != null ? Calibration.readText(data).lines().toList()
                : DemoCommand.readSplit(dir.resolve("data"), "test");
        List<int[]> ids = GenFidelityTable.prompts(lines, settings, tok, source);
        int longest = ids.stream().mapToInt(x -> x.length).max().orElse(0);
        requireLength(longest, config);
        requirePrefixFits(PrefixSpec.plannedIds(prefixOption.which, config, tok), ids.get(0));
        return new Prepared(config, dir, tok, source, ids, longest);
    }

    /**
     * The memory the run holds at its peak: both models ({@link QuantOptions#peakTerms} with the full-precision model
     * kept: it writes the reference continuations) and the generation of the longest prompt
     * ({@link MemoryEstimate#generationTerms}); the prompts run one after another. {@link HeapRule} sizes the
     * launcher's heap by it.
     */
    MemoryPlan plan(Prepared p) throws java.io.IOException {
        int rows = Generator.reservedRows(p.longest(), maxTokens, p.config().maxPositionEmbeddings());
        return quant.peakTerms(true, w -> MemoryEstimate.generationTerms(w, p.config(), p.longest(), rows,
                kvCache.dtype()));
    }

    @Override
    public Integer call() throws Exception {
        Prepared p = prepare();
        Path dir = p.dir();
        Tokenizer tok = p.tok();
        String source = p.source();
        List<int[]> ids = p.ids();
        plan(p).require("gen-fidelity of " + ids.size() + " prompts of up to " + p.longest() + " tokens + --max-tokens "
                + maxTokens, null);
        QuantConfig planned = quant.plannedConfig();
        LlamaWeights fp = LlamaWeights.load(dir, false);
        List<GenFidelityTable.Row> rows;
        try (ProgressBar bar = new ProgressBar()) {
            QuantOptions.Chosen chosen = quant.choose(fp, bar);
            planned = chosen.config();
            IntactKvPrefix prefix = PrefixSpec.resolve(prefixOption.which, chosen.twin(), tok);
            List<int[]> reference = GenerationFidelity.continuations(new PrefixedModel(new LlamaModel(fp), null), tok,
                    ids, maxTokens, kvCache.dtype(), d -> bar.update("generate", d, "FP"));
            rows = GenFidelityTable.rows(planned.label(), chosen.model(), prefix, label(prefixOption.which), tok, ids,
                    reference, maxTokens, kvCache.dtype(), bar);
        }
        PrintWriter o = spec.commandLine().getOut();
        if (json) {
            JsonObject root = new JsonObject();
            root.addProperty("model", quant.model.toString());
            root.addProperty("quantization", planned.label());
            root.addProperty("intactkv", prefixOption.which);
            root.addProperty("data", source);
            root.addProperty("prompts", prompts);
            root.addProperty("prompt_words", promptWords);
            root.addProperty("max_tokens", maxTokens);
            root.addProperty("kv_cache_dtype", kvCache.dtype().id());
            root.add("rows", GenFidelityTable.json(rows));
            o.println(new GsonBuilder().setPrettyPrinting().create().toJson(root));
        } else {
            o.printf("%s on %d prompts of %d words from %s%s%n", planned.label(), prompts, promptWords, source,
                    kvCache.dtype() == intactkv.tensor.ElementDtype.F64 ? ""
                            : "; every KV cache in " + kvCache.dtype().id() + ", the full-precision one's too");
            o.println(GenFidelityTable.markdown(rows, maxTokens));
        }
        return 0;
    }

    /** The three counts as a validated record, each refused by its flag when below 1. */
    GenerationFidelity.Settings settings() {
        kvCache.dtype(); // --kv-cache-dtype
        require(prompts >= 1, "--prompts must be >= 1: " + prompts);
        require(promptWords >= 1, "--prompt-words must be >= 1: " + promptWords);
        require(maxTokens >= 1, "--max-tokens must be >= 1: " + maxTokens);
        return new GenerationFidelity.Settings(prompts, promptWords, maxTokens);
    }

    /** What the default --data is, as the output names it. */
    static String defaultSource(Path dir) {
        Path f = dir.resolve("data").resolve("test.txt");
        return Files.isRegularFile(f) ? f.toString() : "the WordNet 3.1 test split";
    }

    /** Refuses prompts whose longest ({@code longest} tokens) with the continuation exceeds the model's positions. */
    void requireLength(int longest, LlamaConfig config) {
        ModelLength.require("the longest prompt's " + longest + " tokens (--prompt-words " + promptWords
                + ") + --max-tokens " + maxTokens, (long) longest + maxTokens, config);
    }

    /**
     * Refuses a prefix the prompts do not begin with: the prefix's keys and values replace the
     * prompt's first tokens, so they must be those tokens. Every prompt starts with [BOS] and then
     * differs, so the prefix must be [BOS] ({@code bos}, or a prefix file of [BOS] alone;
     * {@code --intactkv prompt} is refused with the other flags).
     */
    void requirePrefixFits(int[] prefixIds, int[] firstPrompt) {
        String which = prefixOption.which;
        boolean fits = prefixIds.length <= 1 && firstPrompt.length >= prefixIds.length
                && Arrays.equals(prefixIds, Arrays.copyOf(firstPrompt, prefixIds.length));
        require(fits, "--intactkv " + which + ": a prefix of " + prefixIds.length + " tokens "
                + Arrays.toString(Arrays.copyOf(prefixIds, Math.min(prefixIds.length, 8)))
                + (prefixIds.length > 8 ? "..." : "") + " is not the start of every prompt ([BOS] "
                + firstPrompt[0] + " and then the line's words); use --intactkv bos or a prefix file of [BOS] alone");
    }

    /** The table's name of an IntactKV setting: [B] for bos, else the prefix file's name. */
    static String label(String which) {
        return switch (which) {
            case "none" -> "none";
            case "bos" -> "[B]";
            default -> Path.of(which).getFileName().toString();
        };
    }
}
