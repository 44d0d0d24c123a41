package intactkv.cli;

import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.text.Tokenizer;
import intactkv.model.text.TokenizerFit;
import intactkv.quant.QuantizedModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Opening a model directory (config.json, safetensors, tokenizer.json) with errors a user can act on. */
final class ModelDir {
    private ModelDir() {
    }

    /**
     * The full-precision model directory {@code --model} names ("default": the verified built-in
     * model), or a llama.cpp GGUF file (recognised by its magic), refused with what to do when it is missing, a file, or a quantized model (which
     * would otherwise run as if it were full precision, its results labelled fp).
     */
    static Path check(Path arg) {
        Path dir;
        try {
            dir = DefaultModel.resolve(arg);
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        if (intactkv.model.gguf.GgufFile.isGguf(dir)) {
            return dir; // a llama.cpp GGUF file holds config, weights and vocabulary in one (intactkv.model.gguf)
        }
        if (Files.isRegularFile(dir)) {
            Path parent = dir.toAbsolutePath().getParent();
            throw new IllegalArgumentException("--model " + dir + " is a file, not a model directory or a GGUF file;"
                    + " pass the folder that holds config.json, model.safetensors and tokenizer.json"
                    + (parent != null && Files.isRegularFile(parent.resolve("config.json")) ? " (--model " + parent + ")"
                    : ""));
        }
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("model directory " + dir + " does not exist; pass --model with a "
                    + "Hugging Face LLaMA directory (config.json, model.safetensors, tokenizer.json)");
        }
        String quantFile = Files.exists(dir.resolve(QuantizedModel.CONFIG_FILE)) ? QuantizedModel.CONFIG_FILE
                : Files.exists(dir.resolve(intactkv.quant.HubQuantConfig.GPTQ_FILE)) ? intactkv.quant.HubQuantConfig.GPTQ_FILE
                : null;
        if (quantFile != null) {
            throw new IllegalArgumentException("--model " + dir + " is a quantized model (it has "
                    + quantFile + "); pass it as --quantized " + dir + ", with the full-precision model"
                    + " it was made from as --model (IntactKV takes its prefix from the full-precision model)");
        }
        return dir;
    }

    /**
     * The directory {@code --quantized} names: one written by {@code ./intactkv quantize}, or a GPTQ/AWQ checkpoint
     * (config.json with quantization_config, or AutoGPTQ's quantize_config.json).
     */
    static Path checkQuantized(Path dir) {
        if (Files.isRegularFile(dir)) {
            throw new IllegalArgumentException("--quantized " + dir + " is a file, not a model directory; pass the folder"
                    + " that './intactkv quantize --out DIR' wrote");
        }
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("--quantized " + dir + " does not exist; write one with './intactkv"
                    + " quantize --model FP_DIR --method M --out DIR'");
        }
        boolean hub;
        try {
            hub = intactkv.quant.HubQuantConfig.present(dir);
        } catch (IOException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        if (!hub && !Files.exists(dir.resolve(QuantizedModel.CONFIG_FILE))) {
            throw new IllegalArgumentException("--quantized " + dir + " has no " + QuantizedModel.CONFIG_FILE + ", so it"
                    + " is not a model written by './intactkv quantize', and its config.json has no quantization_config"
                    + " (a GPTQ or AWQ checkpoint); a full-precision model goes to --model");
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

    /**
     * The tokenizer of {@code --model} (of a GGUF file: its {@code tokenizer.ggml.*} vocabulary), checked against its config.json ({@link TokenizerFit}: a
     * tokenizer of another model is refused; embedding padding is noted on standard error).
     */
    static Tokenizer tokenizer(Path arg) throws IOException {
        Path dir = check(arg);
        if (intactkv.model.gguf.GgufFile.isGguf(dir)) {
            return intactkv.model.text.GgufVocab.load(dir); // its vocabulary and its config come from the same file
        }
        Path f = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(f)) {
            throw new IllegalArgumentException(dir + " has no tokenizer.json; text input needs the model's tokenizer "
                    + "(use --tokens to give ids directly where the command allows it)");
        }
        Tokenizer tok = Tokenizer.load(f);
        String note = TokenizerFit.check(tok, f, dir.resolve("config.json"));
        if (note != null) {
            System.err.println(note);
        }
        return tok;
    }
}
