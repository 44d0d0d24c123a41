package intactkv.prefix;

import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.text.Tokenizer;
import intactkv.quant.Method;
import intactkv.quant.QuaRot;
import intactkv.quant.QuantConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Which IntactKV prefix to use: {@code none}, {@code bos} (IntactKV_[B]), {@code prompt}
 * (IntactKV_[P]) or a prefix file. Generated prefixes come from the full-precision model, or,
 * for QuaRot, from the rotated full-precision model with the quantizers off (its hidden
 * states live in the rotated basis the quantized model uses).
 */
public final class PrefixSpec {
    private PrefixSpec() {
    }

    /** The model that generates prefixes for a quantized model of {@code config}. */
    public static LlamaModel generator(LlamaWeights fp, QuantConfig config) {
        if (config != null && config.method() == Method.QUAROT) {
            QuaRot.Rotated r = QuaRot.rotate(fp, config.seed());
            return new LlamaModel(r.weights(), r.hooks());
        }
        return new LlamaModel(fp);
    }

    /**
     * Resolves {@code spec} (none, bos, prompt or a file path) for the quantized model of
     * {@code config}; null for none. {@code tok} is needed for {@code prompt} only.
     */
    public static IntactKvPrefix resolve(String spec, LlamaWeights fp, QuantConfig config, Tokenizer tok)
            throws IOException {
        switch (spec) {
            case "none":
                return null;
            case "bos":
                return IntactKvPrefix.bos(generator(fp, config));
            case "prompt":
                if (tok == null) {
                    throw new IllegalArgumentException("--intactkv prompt needs the model's tokenizer.json");
                }
                return IntactKvPrefix.vicunaPrompt(generator(fp, config), tok);
            default:
                Path file = Path.of(spec);
                if (!Files.isRegularFile(file)) {
                    throw new IllegalArgumentException("--intactkv must be none, bos, prompt or a prefix file; " + spec
                            + " is none of these (no such file)");
                }
                return IntactKvPrefix.load(file, fp.config());
        }
    }
}
