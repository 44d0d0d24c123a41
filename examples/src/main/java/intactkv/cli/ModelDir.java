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

    /** Refuses an output directory {@code --out} that exists as something other than a directory. */
    static void checkOutput(Path out) {
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw new IllegalArgumentException("--out " + out + " exists and is not a directory");
        }
    }

    /** Refuses an output file {@code --out} that is a directory or whose folder does not exist. */
    static void checkOutputFile(Path out) {
        if (Files.isDirectory(out)) {
            throw new IllegalArgumentException("--out " + out + " is a directory; give the name of the file to write");
        }
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            throw new IllegalArgumentException("--out " + out + ": the folder " + parent + " does not exist");
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
