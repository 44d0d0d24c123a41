package intactkv.cli;

import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.text.ChatTemplate;
import intactkv.model.text.Generator;
import intactkv.model.text.Sampler;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.PrefixSpec;
import intactkv.prefix.PrefixedModel;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./intactkv generate}: stream a continuation of a prompt, with the full-precision model or
 * a quantized one, with or without IntactKV (the model, quantization and IntactKV flags of
 * {@code ppl}, {@link QuantOptions} and {@link IntactKvOption}).
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        header = "Generate text, streamed to the terminal, with a full-precision or quantized model and IntactKV.",
        description = {"Generate text with a LLaMA model, streaming it to the terminal.",
            "Greedy by default; --temperature > 0 samples (seeded by --seed, nucleus --top-p). --top-p and --seed",
            "only act when sampling: given with --temperature 0 they are refused.",
            "The prompt is printed as given, then the text the new tokens add after it (the prompt and the",
            "continuation decoded together, so the space before the first new word is kept).",
            "Quantization (--quantized, or --method ...; --abits, --kvbits) and --intactkv mean what they mean in ppl.",
            "With --intactkv the prefix's keys and values come from the full-precision model (in the quantized",
            "model's basis); the quantized model runs the prompt's tokens after the prefix with the prefix as past,",
            "then decodes; --kvbits quantizes the new tokens' keys and values only, the prefix stays exact.",
            "--intactkv bos: [BOS]. --intactkv prompt: [BOS] + the Vicuna v1.1 system prompt + \" USER:\", which is",
            "the start of the --chat template: it needs --chat, and then replaces the template's system part (the",
            "prompt is the user's question only; the quantized model computes the question and \" ASSISTANT:\").",
            "--chat without --intactkv prompt: the (quantized) model computes the system prompt's keys and values",
            "itself (the fair baseline of IntactKV_[P]). A prefix FILE written by 'calibrate' must be the start of",
            "the prompt's tokens: a prefix of [BOS] + the system prompt needs --chat. --context is ppl's and is",
            "refused here: --chat is how the system prompt comes before the question."})
final class GenerateCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    QuantOptions quant;

    @Mixin
    IntactKvOption prefixOption;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "text to continue (with --chat: the"
            + " user's question alone)")
    String prompt;

    @Option(names = "--chat", description = "wrap the prompt in the Vicuna v1.1 template (system prompt, USER:, ASSISTANT:);"
            + " with --intactkv prompt the template's system part is the full-precision prefix")
    boolean chat;

    @Option(names = "--max-tokens", defaultValue = "64", paramLabel = "N", description = "at most N new tokens (default ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", paramLabel = "T", description = "0 = greedy (default);"
            + " > 0 samples from softmax(logits / T)")
    double temperature;

    @Option(names = "--top-p", defaultValue = "1.0", paramLabel = "P", description = "with --temperature > 0: nucleus"
            + " sampling mass in (0, 1] (default ${DEFAULT-VALUE})")
    double topP;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "S", description = "with --temperature > 0: sampling"
            + " seed (default ${DEFAULT-VALUE})")
    long seed;

    /** The first sentence of the Vicuna system prompt: a --chat prompt that repeats it is refused. */
    static final String SYSTEM_START = ChatTemplate.VICUNA_SYSTEM.substring(0, ChatTemplate.VICUNA_SYSTEM.indexOf('.') + 1);

    /** The flags that only act when sampling, refused at temperature 0 ({@link #checkFlags}). */
    static final java.util.List<String> SAMPLING_FLAGS = java.util.List.of("--top-p", "--seed");

    @Override
    public Integer call() throws Exception {
        checkFlags();
        quant.validate();
        // lengths are checked from config.json before the weights are loaded: the continuation alone first
        LlamaConfig config = MemoryEstimate.config(quant.model);
        ModelLength.require("--max-tokens " + maxTokens, maxTokens, config);
        Sampler sampler = new Sampler(temperature, topP, seed);
        Path dir = ModelDir.check(quant.model);
        Tokenizer tok = ModelDir.tokenizer(quant.model);
        String text = chat ? ChatTemplate.vicunaPrompt(prompt) : prompt;
        int[] ids = tok.encode(text, true);
        requirePrefixFits(PrefixSpec.plannedIds(prefixOption.which, config, tok), ids, tok);
        ModelLength.require("the prompt's " + ids.length + " tokens + --max-tokens " + maxTokens,
                (long) ids.length + maxTokens, config);
        LlamaWeights fp = LlamaWeights.load(dir, false);
        PrefixedModel run;
        try (ProgressBar bar = new ProgressBar()) {
            QuantOptions.Chosen chosen = quant.choose(fp, bar);
            run = new PrefixedModel(chosen.model(), PrefixSpec.resolve(prefixOption.which, chosen.twin(), tok));
        }
        PrintWriter out = spec.commandLine().getOut();
        out.print(prompt);
        out.flush();
        Generator.Result r;
        try {
            r = run.generate(tok, ids, maxTokens, sampler, piece -> {
                out.print(piece);
                out.flush();
            });
        } finally {
            out.println(); // an error message starts on a line of its own, not glued to the text
            out.flush();
        }
        String setting = quant.any() || !prefixOption.which.equals("none") ? "; " + (quant.any()
                ? quant.plannedConfig().label() : "fp") + ", intactkv " + prefixOption.which : "";
        spec.commandLine().getErr().printf("[%d tokens, stopped at %s%s]%n", r.tokens().length, r.stopReason(), setting);
        return 0;
    }

    /**
     * Refuses, before any model work, an IntactKV prefix that is not the start of the prompt's
     * tokens {@code ids}: the prefix replaces the prompt's first tokens, so it must be them.
     * {@code --intactkv prompt} is [BOS] + the Vicuna system prompt + " USER:", the start of the
     * {@code --chat} template only; a calibrated prefix file is checked token by token.
     */
    void requirePrefixFits(int[] prefixIds, int[] ids, Tokenizer tok) {
        String which = prefixOption.which;
        if (prefixIds.length == 0) {
            return;
        }
        if (which.equals("prompt")) {
            Flags.require(chat, "--intactkv prompt is the keys and values of [BOS] + the Vicuna system prompt + \" USER:\","
                    + " the start of the --chat template: add --chat (--prompt is then the user's question), or use"
                    + " --intactkv bos");
        }
        boolean starts = ids.length >= prefixIds.length
                && Arrays.equals(Arrays.copyOf(ids, prefixIds.length), prefixIds);
        String what = which.equals("bos") || which.equals("prompt") ? "--intactkv " + which : "--intactkv " + which
                + " (a prefix of " + prefixIds.length + " tokens)";
        if (!starts && !which.equals("bos") && !which.equals("prompt") && !chat
                && Arrays.equals(prefixIds, Arrays.copyOf(IntactKvPrefix.vicunaPromptIds(tok), prefixIds.length))) {
            throw new IllegalArgumentException(what + " is [BOS] + the Vicuna system prompt (or its start), which only"
                    + " the --chat template begins with: add --chat (--prompt is then the user's question)");
        }
        Flags.require(starts, what + ": the prompt's tokens" + (chat ? " (with the --chat template)" : "")
                + " do not begin with the prefix's tokens " + Arrays.toString(Arrays.copyOf(prefixIds,
                Math.min(prefixIds.length, 8))) + (prefixIds.length > 8 ? "..." : "") + ", so the prefix cannot replace"
                + " them; use a prefix of this prompt, or --intactkv none");
    }

    /**
     * Refuses, before the model is loaded, out-of-range values and a sampling flag given without
     * sampling: at --temperature 0 decoding is greedy, so --top-p and --seed would be ignored and
     * the user would believe the output was sampled with them. Also {@code --context} (ppl's
     * per-window context, which --chat replaces here) and a --chat prompt that repeats the system
     * prompt the template adds (the model would see it twice).
     */
    void checkFlags() {
        Flags.require(maxTokens >= 1, "--max-tokens must be >= 1: " + maxTokens);
        Flags.require(temperature >= 0 && Double.isFinite(temperature), "--temperature must be >= 0 (0 = greedy): "
                + temperature);
        Flags.require(topP > 0 && topP <= 1, "--top-p must be in (0, 1]: " + topP);
        if (temperature == 0) {
            CommandLine.ParseResult given = spec.commandLine().getParseResult();
            for (String flag : SAMPLING_FLAGS) {
                Flags.require(!given.hasMatchedOption(flag), flag + " has no effect at --temperature 0 (greedy"
                        + " decoding, the default): add --temperature T > 0 to sample, or leave out " + flag);
            }
        }
        Flags.require(prefixOption.context.equals("none"), "--context " + prefixOption.context + " is ppl's (context"
                + " before each window); generate puts the Vicuna system prompt before the question with --chat: use"
                + " --chat, with --intactkv prompt for its full-precision keys and values");
        Flags.require(!chat || !prompt.strip().startsWith(SYSTEM_START), "--prompt begins with the Vicuna system prompt"
                + " (\"" + SYSTEM_START + "\"), which --chat adds itself: give --prompt the user's question only");
    }
}
