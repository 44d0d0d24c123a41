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
            "Greedy by default; --temperature > 0 samples (seeded, with --top-p)."})
final class GenerateCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face LLaMA directory")
    Path model;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "text to continue")
    String prompt;

    @Option(names = "--chat", description = "wrap the prompt in the Vicuna v1.1 template (system prompt, USER:, ASSISTANT:)")
    boolean chat;

    @Option(names = "--max-tokens", defaultValue = "64", paramLabel = "N", description = "at most N new tokens (default ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", paramLabel = "T", description = "0 = greedy (default)")
    double temperature;

    @Option(names = "--top-p", defaultValue = "1.0", paramLabel = "P", description = "nucleus sampling mass (default ${DEFAULT-VALUE})")
    double topP;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "S", description = "sampling seed (default ${DEFAULT-VALUE})")
    long seed;

    @Override
    public Integer call() throws Exception {
        if (maxTokens < 1) {
            throw new IllegalArgumentException("--max-tokens must be >= 1, got " + maxTokens);
        }
        int positions = MemoryEstimate.config(model).maxPositionEmbeddings(); // read before the weights are loaded
        if (maxTokens > positions) {
            throw new IllegalArgumentException("--max-tokens " + maxTokens + " is more than the model can hold: its"
                    + " max_position_embeddings is " + positions + " (prompt and continuation together); use at most "
                    + positions);
        }
        Sampler sampler = new Sampler(temperature, topP, seed);
        LlamaModel m = ModelDir.model(model);
        Tokenizer tok = ModelDir.tokenizer(model);
        String text = chat ? ChatTemplate.vicunaPrompt(prompt) : prompt;
        int[] ids = tok.encode(text, true);
        PrintWriter out = spec.commandLine().getOut();
        out.print(prompt);
        out.flush();
        Generator.Result r = new Generator(m, tok).generate(ids, maxTokens, sampler, piece -> {
            out.print(piece);
            out.flush();
        });
        out.println();
        spec.commandLine().getErr().printf("[%d tokens, stopped at %s]%n", r.tokens().length, r.stopReason());
        return 0;
    }
}
