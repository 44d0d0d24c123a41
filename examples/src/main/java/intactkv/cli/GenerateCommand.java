package intactkv.cli;

import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.text.ChatTemplate;
import intactkv.model.text.GenerationConfig;
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
            "Tokens are chosen as Hugging Face transformers 4.36 generate() chooses them: the model directory's",
            "generation_config.json (do_sample, temperature, top_k, top_p, repetition_penalty, eos_token_id,",
            "max_new_tokens) gives the defaults, transformers' own where it is silent or absent (do_sample false =",
            "greedy, temperature 1.0, top-k 50, top-p 1.0, repetition penalty 1.0); the flags below override it.",
            "The repetition penalty applies to the logits first, then, when sampling, temperature, top-k and top-p.",
            "Greedy when do_sample is false or the temperature is 0; --temperature T > 0 samples (sets do_sample).",
            "--top-k, --top-p and --seed only act when sampling: given while decoding is greedy they are refused.",
            "Generation stops at eos_token_id (an id or a list; the model's [EOS] without the file), and with --chat",
            "also at the Vicuna template's stop string \"</s>\" written as text (cut from the output).",
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
    RunQuantOptions quant;

    @Mixin
    IntactKvOption.NoContextOption prefixOption;

    @Mixin
    KvCacheOption kvCache;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "text to continue (with --chat: the"
            + " user's question alone)")
    String prompt;

    @Option(names = "--chat", description = "wrap the prompt in the Vicuna v1.1 template (system prompt, USER:, ASSISTANT:);"
            + " with --intactkv prompt the template's system part is the full-precision prefix")
    boolean chat;

    @Option(names = "--max-tokens", paramLabel = "N", description = "at most N new tokens (default: max_new_tokens of"
            + " generation_config.json, else " + DEFAULT_MAX_TOKENS + ")")
    Integer maxTokens;

    @Option(names = "--temperature", paramLabel = "T", description = "0 = greedy; T > 0 samples from softmax(logits / T)"
            + " (and sets do_sample). Default: generation_config.json's (transformers' 1.0 where it has none), used only"
            + " when it sets do_sample")
    Double temperature;

    @Option(names = "--do-sample", description = "sample even though generation_config.json does not set do_sample (at"
            + " its temperature, else 1.0); without the file or flags decoding is greedy")
    boolean doSample;

    @Option(names = "--top-k", paramLabel = "K", description = "when sampling: keep the K most probable tokens, >= 0, 0 ="
            + " off (default: generation_config.json's, else transformers' 50)")
    Integer topK;

    @Option(names = "--top-p", paramLabel = "P", description = "when sampling: nucleus mass in (0, 1], 1 = off (default:"
            + " generation_config.json's, else 1.0)")
    Double topP;

    @Option(names = "--repetition-penalty", paramLabel = "R", description = "> 0, 1 = off: divide the positive logits"
            + " (multiply the negative) of tokens already in the prompt or output by R, greedy or sampling (default:"
            + " generation_config.json's, else 1.0)")
    Double repetitionPenalty;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "S", description = "when sampling: the seed of the draws"
            + " (java.util.SplittableRandom; default ${DEFAULT-VALUE})")
    long seed;

    /** New tokens when neither --max-tokens nor generation_config.json's max_new_tokens says. */
    static final int DEFAULT_MAX_TOKENS = 64;

    /** The first sentence of the Vicuna system prompt: a --chat prompt that repeats it is refused. */
    static final String SYSTEM_START = ChatTemplate.VICUNA_SYSTEM.substring(0, ChatTemplate.VICUNA_SYSTEM.indexOf('.') + 1);

    /** The flags that only act when sampling, refused while decoding is greedy ({@link #settings}). */
    static final java.util.List<String> SAMPLING_FLAGS = java.util.List.of("--top-p", "--top-k", "--seed");

    /**
     * What the run is, known before any weight is read: config.json, the token-choice settings, the new-token limit
     * and the flag or file that set it, the tokenizer and the prompt's tokens (checked against the prefix and the
     * model's positions).
     */
    record Prepared(LlamaConfig config, Path dir, GenerationConfig gen, int maxTokens, String tokensFlag,
                    Tokenizer tok, int[] ids) {
    }

    Prepared prepare() throws java.io.IOException {
        checkFlags();
        quant.validate();
        // lengths are checked from config.json before the weights are loaded: the continuation alone first
        LlamaConfig config = MemoryEstimate.config(quant.model);
        Path dir = ModelDir.check(quant.model);
        GenerationConfig gen = settings(GenerationConfig.read(dir));
        int maxTokens = this.maxTokens != null ? this.maxTokens
                : gen.maxNewTokens() != null ? gen.maxNewTokens() : DEFAULT_MAX_TOKENS;
        String tokensFlag = this.maxTokens != null ? "--max-tokens " + maxTokens
                : gen.maxNewTokens() != null ? GenerationConfig.FILE + "'s max_new_tokens " + maxTokens
                : "--max-tokens " + maxTokens;
        ModelLength.require(tokensFlag, maxTokens, config);
        Tokenizer tok = ModelDir.tokenizer(quant.model);
        String text = chat ? ChatTemplate.vicunaPrompt(prompt) : prompt;
        int[] ids = tok.encode(text, true);
        requirePrefixFits(PrefixSpec.plannedIds(prefixOption.which, config, tok), ids, tok);
        ModelLength.require("the prompt's " + ids.length + " tokens + " + tokensFlag,
                (long) ids.length + maxTokens, config);
        return new Prepared(config, dir, gen, maxTokens, tokensFlag, tok, ids);
    }

    /**
     * The memory the run holds at its peak ({@link MemoryEstimate#generationTerms}): the models as
     * {@link QuantOptions#peakTerms} counts them (the full-precision model released where the method allows) and a
     * generation of the prompt's tokens up to the new-token limit. {@link HeapRule} sizes the launcher's heap by it.
     */
    MemoryPlan plan(Prepared p) throws java.io.IOException {
        int rows = Generator.reservedRows(p.ids().length, p.maxTokens(), p.config().maxPositionEmbeddings());
        return quant.peakTerms(!quant.releasesFullPrecision(),
                w -> MemoryEstimate.generationTerms(w, p.config(), p.ids().length, rows,
                        kvCache.dtype()));
    }

    @Override
    public Integer call() throws Exception {
        Prepared p = prepare();
        GenerationConfig gen = p.gen();
        int maxTokens = p.maxTokens();
        Tokenizer tok = p.tok();
        int[] ids = p.ids();
        plan(p).require("generate of the prompt's " + ids.length + " tokens + " + p.tokensFlag(),
                "or a smaller --max-tokens (the KV cache takes " + Memory.size(MemoryEstimate.kvCache(p.config(), 1,
                        kvCache.dtype()))
                        + " a position)");
        Sampler sampler = new Sampler(gen, seed);
        java.util.concurrent.atomic.AtomicReference<LlamaWeights> fp =
                new java.util.concurrent.atomic.AtomicReference<>(LlamaWeights.load(p.dir(), false));
        PrefixedModel run;
        try (ProgressBar bar = new ProgressBar()) {
            // generate needs the full-precision model for IntactKV's prefix only: where the method allows, the prefix
            // is taken first and the model released (RTN/GPTQ/OmniQuant layer by layer as quantized; --quantized
            // before the quantized model is loaded)
            IntactKvOption.Prepared chosen = prefixOption.quantizedWithPrefix(quant, fp, quant.releasesFullPrecision(),
                    tok, bar);
            run = new PrefixedModel(chosen.chosen().model(), chosen.prefix());
        }
        PrintWriter out = spec.commandLine().getOut();
        out.print(prompt);
        out.flush();
        Generator.Result r;
        try {
            Generator.Stop stop = new Generator.Stop(gen.eosTokenIds(), chat ? ChatTemplate.VICUNA_STOP : null);
            r = run.generate(tok, ids, maxTokens, sampler, stop, kvCache.dtype(), piece -> {
                out.print(piece);
                out.flush();
            });
        } finally {
            out.println(); // an error message starts on a line of its own, not glued to the text
            out.flush();
        }
        String setting = (quant.any() || !prefixOption.which.equals("none") ? "; " + (quant.any()
                ? quant.plannedConfig().label() : "fp") + ", intactkv " + prefixOption.which : "")
                + kvCache.note("; ");
        String how = gen.greedy() && gen.repetitionPenalty() == 1.0 ? "" : "; " + gen.label()
                + (gen.greedy() ? "" : ", seed " + seed);
        spec.commandLine().getErr().printf("[%d tokens, stopped at %s%s%s]%n", r.tokens().length, r.stopReason(), setting,
                how);
        return 0;
    }

    /**
     * The token-choice settings: generation_config.json's ({@code file}, transformers' defaults
     * where it is silent), overridden by the flags; --temperature T also sets do_sample to T &gt; 0,
     * as the official MT-Bench script does. A sampling-only flag (--top-k, --top-p, --seed) given
     * while the result is greedy is refused: the user would believe the output was sampled with it.
     */
    GenerationConfig settings(GenerationConfig file) {
        GenerationConfig g = file;
        if (temperature != null) {
            g = g.withTemperature(temperature).withDoSample(temperature > 0);
        }
        if (doSample) {
            g = g.withDoSample(true);
        }
        if (topK != null) {
            g = g.withTopK(topK);
        }
        if (topP != null) {
            g = g.withTopP(topP);
        }
        if (repetitionPenalty != null) {
            g = g.withRepetitionPenalty(repetitionPenalty);
        }
        if (g.greedy()) {
            CommandLine.ParseResult given = spec.commandLine().getParseResult();
            String why = g.doSample() ? "the temperature is 0" : "do_sample is off: no --temperature T > 0, --do-sample"
                    + " or do_sample true in " + GenerationConfig.FILE;
            for (String flag : SAMPLING_FLAGS) {
                Flags.require(!given.hasMatchedOption(flag), flag + " has no effect at --temperature 0 or without"
                        + " sampling (greedy decoding, the default; here " + why + "): add --temperature T > 0 to"
                        + " sample, or leave out " + flag);
            }
        }
        return g;
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
        String what = PrefixSpec.generated(which) ? "--intactkv " + which : "--intactkv " + which
                + " (a prefix of " + prefixIds.length + " tokens)";
        if (!starts && !PrefixSpec.generated(which) && !chat
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
     * Refuses, before the model is loaded, out-of-range values (the ranges transformers' processors
     * accept) and --do-sample with --temperature 0 ({@link #settings} refuses sampling flags
     * without sampling once generation_config.json is read). Also {@code --context} (ppl's
     * per-window context, which --chat replaces here) and a --chat prompt that repeats the system
     * prompt the template adds (the model would see it twice).
     */
    void checkFlags() {
        kvCache.dtype(); // --kv-cache-dtype
        Flags.require(maxTokens == null || maxTokens >= 1, "--max-tokens must be >= 1: " + maxTokens);
        Flags.require(temperature == null || temperature >= 0 && Double.isFinite(temperature),
                "--temperature must be >= 0 (0 = greedy): " + temperature);
        Flags.require(topP == null || topP > 0 && topP <= 1, "--top-p must be in (0, 1]: " + topP);
        Flags.require(topK == null || topK >= 0, "--top-k must be >= 0 (0 = off): " + topK);
        Flags.require(repetitionPenalty == null || repetitionPenalty > 0 && Double.isFinite(repetitionPenalty),
                "--repetition-penalty must be > 0 (1 = off): " + repetitionPenalty);
        Flags.require(!(doSample && temperature != null && temperature == 0), "--do-sample contradicts --temperature 0"
                + " (greedy): give --temperature T > 0 to sample, or leave out --do-sample");
        Flags.require(prefixOption.context.equals("none"), "--context " + prefixOption.context + " is ppl's (context"
                + " before each window); generate puts the Vicuna system prompt before the question with --chat: use"
                + " --chat, with --intactkv prompt for its full-precision keys and values");
        Flags.require(!chat || !prompt.strip().startsWith(SYSTEM_START), "--prompt begins with the Vicuna system prompt"
                + " (\"" + SYSTEM_START + "\"), which --chat adds itself: give --prompt the user's question only");
    }
}
