package intactkv.cli;

import intactkv.model.LlamaModel;
import intactkv.model.text.ChatTemplate;
import intactkv.model.text.Generator;
import intactkv.model.text.Sampler;
import intactkv.model.text.Tokenizer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./intactkv generate}: stream a continuation of a prompt. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        header = "Generate text, streamed to the terminal.",
        description = {"Generate text with a LLaMA model, streaming it to the terminal.",
            "Greedy by default; --temperature > 0 samples (seeded by --seed, nucleus --top-p). --top-p and --seed",
            "only act when sampling: given with --temperature 0 they are refused.",
            "The prompt is printed as given, then the text the new tokens add after it (the prompt and the",
            "continuation decoded together, so the space before the first new word is kept)."})
final class GenerateCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face LLaMA directory, model_type "
            + intactkv.model.ConfigClaims.FAMILIES + ", or 'default' for the built-in model")
    Path model;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "text to continue")
    String prompt;

    @Option(names = "--chat", description = "wrap the prompt in the Vicuna v1.1 template (system prompt, USER:, ASSISTANT:)")
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

    /** The flags that only act when sampling, refused at temperature 0 ({@link #checkFlags}). */
    static final java.util.List<String> SAMPLING_FLAGS = java.util.List.of("--top-p", "--seed");

    @Override
    public Integer call() throws Exception {
        checkFlags();
        // the continuation alone must fit, checked from config.json before the weights are loaded
        ModelLength.require("--max-tokens " + maxTokens, maxTokens, MemoryEstimate.config(model));
        Sampler sampler = new Sampler(temperature, topP, seed);
        LlamaModel m = ModelDir.model(model);
        Tokenizer tok = ModelDir.tokenizer(model);
        String text = chat ? ChatTemplate.vicunaPrompt(prompt) : prompt;
        int[] ids = tok.encode(text, true);
        ModelLength.require("the prompt's " + ids.length + " tokens + --max-tokens " + maxTokens,
                (long) ids.length + maxTokens, m.config());
        PrintWriter out = spec.commandLine().getOut();
        out.print(prompt);
        out.flush();
        Generator.Result r;
        try {
            r = new Generator(m, tok).generate(ids, maxTokens, sampler, piece -> {
                out.print(piece);
                out.flush();
            });
        } finally {
            out.println(); // an error message starts on a line of its own, not glued to the text
            out.flush();
        }
        spec.commandLine().getErr().printf("[%d tokens, stopped at %s]%n", r.tokens().length, r.stopReason());
        return 0;
    }

    /**
     * Refuses, before the model is loaded, out-of-range values and a sampling flag given without
     * sampling: at --temperature 0 decoding is greedy, so --top-p and --seed would be ignored and
     * the user would believe the output was sampled with them.
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
    }
}
