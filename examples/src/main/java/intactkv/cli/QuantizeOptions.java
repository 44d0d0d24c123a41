package intactkv.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * {@link QuantOptions} for {@code quantize}: {@code --method} is the method the checkpoint is
 * quantized with (the command refuses to run without it). {@code --quantized} is accepted but not
 * shown in the help, only so that a mistaken {@code quantize --quantized DIR} keeps its own
 * message ("quantize starts from the full-precision --model; drop --quantized") rather than
 * picocli's unknown-option error.
 */
final class QuantizeOptions extends QuantOptions {
    @Option(names = "--quantized", paramLabel = "Q_DIR", hidden = true,
            description = "refused: quantize starts from the full-precision --model")
    void quantized(Path dir) {
        quantized = dir;
    }

    @Option(names = "--method", paramLabel = "M", description = "the method to quantize with: rtn, gptq, awq, omniquant,"
            + " quarot, gguf (llama.cpp's types, with --type)")
    void method(String m) {
        method = m;
    }

    /** {@code quantize} reads a safetensors checkpoint layer by layer for RTN, GPTQ, AWQ, OmniQuant and QuaRot. */
    @Override
    boolean readsLayersOneAtATime() throws java.io.IOException {
        return method != null && readsLayersLazily(ModelDir.check(model), intactkv.quant.Method.parse(method));
    }
}
