package intactkv.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * {@link QuantOptions} for the commands that run a model (ppl, calibrate, analyze, dump, eval,
 * generate, gen-fidelity, mt-bench): the model to run is {@code --quantized Q_DIR}, or the
 * {@code --model} quantized on the fly with {@code --method} and its flags (or the
 * full-precision model with neither).
 */
final class RunQuantOptions extends QuantOptions {
    @Option(names = "--quantized", paramLabel = "Q_DIR", description = "a model written by './intactkv quantize' (it has"
            + " quant_config.json) from the --model FP_DIR, or a GPTQ/AWQ checkpoint of it in AutoGPTQ's or AutoAWQ's"
            + " (GEMM) layout (config.json with quantization_config, or quantize_config.json)")
    void quantized(Path dir) {
        quantized = dir;
    }

    @Option(names = "--method", paramLabel = "M", description = "quantize on the fly: rtn, gptq, awq, omniquant, quarot,"
            + " gguf (llama.cpp's types, with --type)")
    void method(String m) {
        method = m;
    }
}
