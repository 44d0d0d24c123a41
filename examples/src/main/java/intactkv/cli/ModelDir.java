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

    static Path check(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("model directory " + dir + " does not exist; pass --model with a "
                    + "Hugging Face LLaMA directory (config.json, model.safetensors, tokenizer.json)");
        }
        return dir;
    }

    /** The model in inference form (constant weights). */
    static LlamaModel model(Path dir) throws IOException {
        return new LlamaModel(LlamaWeights.load(check(dir), false));
    }

    static Tokenizer tokenizer(Path dir) throws IOException {
        Path f = check(dir).resolve("tokenizer.json");
        if (!Files.isRegularFile(f)) {
            throw new IllegalArgumentException(dir + " has no tokenizer.json; text input needs the model's tokenizer "
                    + "(use --tokens to give ids directly where the command allows it)");
        }
        return Tokenizer.load(f);
    }
}
