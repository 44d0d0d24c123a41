package intactkv.cli;

import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.text.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Opening a model directory (config.json, safetensors, tokenizer.json) with errors a user can act on. */
final class ModelDir {
    private ModelDir() {
    }

    static Path check(Path arg) {
        Path dir;
        try {
            dir = DefaultModel.resolve(arg);
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("model directory " + dir + " does not exist; pass --model with a "
                    + "Hugging Face LLaMA directory (config.json, model.safetensors, tokenizer.json)");
        }
        return dir;
    }

    /**
     * Checks the output folder {@code --out} before any work and locks it until the command
     * ends ({@link OutputTarget}: its kind, an existing parent folder, writability by a probe
     * file, no other run writing it).
     */
    static void checkOutput(Path out) {
        claim(out, OutputTarget.Kind.FOLDER);
    }

    /** {@link #checkOutput} for an output file {@code --out}. */
    static void checkOutputFile(Path out) {
        claim(out, OutputTarget.Kind.FILE);
    }

    private static void claim(Path out, OutputTarget.Kind kind) {
        try {
            OutputTarget.claimForCommand("--out", out, kind);
        } catch (IOException e) {
            throw new IllegalArgumentException("--out " + intactkv.model.io.AtomicFiles.describe(e, null, out), e);
        }
    }

    /** The model in inference form (constant weights). */
    static LlamaModel model(Path dir) throws IOException {
        return new LlamaModel(LlamaWeights.load(check(dir), false));
    }

    static Tokenizer tokenizer(Path arg) throws IOException {
        Path dir = check(arg);
        Path f = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(f)) {
            throw new IllegalArgumentException(dir + " has no tokenizer.json; text input needs the model's tokenizer "
                    + "(use --tokens to give ids directly where the command allows it)");
        }
        return Tokenizer.load(f);
    }
}
