package intactkv.cli;

import intactkv.model.LazyCheckpoint;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.ModelHooks;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.LayerwisePerplexity;
import intactkv.prefix.PrefixSpec;
import intactkv.quant.Basis;
import intactkv.quant.Method;
import intactkv.quant.ModelQuantizer;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import java.io.IOException;
import java.nio.file.Path;

/**
 * What {@code ppl --layer-by-layer} and {@code eval --layer-by-layer} share: which runs can go one decoder layer at a
 * time, the model they run ({@link LayerwisePerplexity.Setup}) and IntactKV's prefix made layer by layer.
 */
final class LayerByLayer {
    private LayerByLayer() {
    }

    /**
     * Why {@code --layer-by-layer} cannot run, or null when it can as far as the flags and the files' kinds show
     * ({@link QuantizedModel#openLayers} checks a --quantized checkpoint itself): it needs a safetensors --model, no
     * --context, and full precision, RTN or --quantized.
     */
    static String why(RunQuantOptions quant, String context, Path dir, QuantConfig config) {
        if (intactkv.model.gguf.GgufFile.isGguf(dir)) {
            return "--layer-by-layer reads a safetensors checkpoint directory; " + dir + " is a GGUF file, which is"
                    + " read whole";
        }
        if (quant.quantized == null && config != null && config.method() != Method.NONE
                && config.method() != Method.RTN) {
            return "--layer-by-layer runs the full-precision model, --method rtn (whose layer l follows from the"
                    + " checkpoint's layer l alone) or a --quantized checkpoint; --method " + config.method().id()
                    + " needs its calibration over the whole model: write it with ./intactkv quantize, then pass"
                    + " --quantized";
        }
        if (!context.equals("none")) {
            return "--layer-by-layer: --context " + context + " is not supported (only none)";
        }
        return null;
    }

    /** Refuses, by {@link #why}, a run that {@code --layer-by-layer} cannot make. */
    static void require(RunQuantOptions quant, String context, Path dir, QuantConfig config) {
        String why = why(quant, context, dir, config);
        if (why != null) {
            throw new IllegalArgumentException(why);
        }
    }

    /**
     * An open layer-by-layer run: the full-precision checkpoint and the packed --quantized one (null: none), each read a
     * layer at a time, and what they run ({@link #setup}); closing it closes both.
     */
    record Run(LazyCheckpoint checkpoint, QuantizedModel.Layers quantized, LayerwisePerplexity.Setup setup)
            implements AutoCloseable {
        /** {@link LayerByLayer#prefix} for {@code --intactkv which} (null for none). */
        IntactKvPrefix prefix(String which, LlamaConfig c, Tokenizer tok, ProgressBar bar) throws IOException {
            return LayerByLayer.prefix(which, setup, quantized, c, tok, bar);
        }

        @Override
        public void close() throws IOException {
            try (LazyCheckpoint ckpt = checkpoint) {
                if (quantized != null) {
                    quantized.close();
                }
            }
        }
    }

    /**
     * Opens {@code dir} (and {@code quant}'s --quantized checkpoint, with its run-time quantizers) for a layer-by-layer
     * run of {@code perPass} windows or inputs a pass with {@code config} (null: full precision).
     */
    static Run open(RunQuantOptions quant, Path dir, LlamaConfig c, QuantConfig config, int perPass)
            throws IOException {
        LazyCheckpoint ckpt = LazyCheckpoint.open(dir);
        QuantizedModel.Layers q = null;
        try {
            q = quant.quantized == null ? null : QuantizedModel.openLayers(quant.quantized, c, quant.abits, quant.kvbits);
            return new Run(ckpt, q, setup(ckpt, q, c, config, perPass));
        } catch (IOException | RuntimeException e) {
            try (LazyCheckpoint opened = ckpt) {
                if (q != null) {
                    q.close();
                }
            } catch (IOException | RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /**
     * What {@code --layer-by-layer} runs: the packed checkpoint {@code q}'s layers and embeddings beside the
     * full-precision ones of {@code ckpt}, or, without one, {@code ckpt}'s layers as they are or RTN-quantized when
     * read, with the run-time quantizers of {@code config} (null: none); {@code perPass} windows or inputs a pass.
     */
    private static LayerwisePerplexity.Setup setup(LazyCheckpoint ckpt, QuantizedModel.Layers q, LlamaConfig c,
                                           QuantConfig config, int perPass) throws IOException {
        LlamaWeights fpSkeleton = ckpt.skeleton();
        if (q != null) {
            return new LayerwisePerplexity.Setup(q.checkpoint().skeleton(), fpSkeleton, ckpt::readBlock,
                    (l, fp) -> q.block(l), q.hooks(), perPass);
        }
        LayerwisePerplexity.BlockMap map = config != null && config.method() == Method.RTN
                ? (l, b) -> ModelQuantizer.rtnBlock(b.get(), l, config) : LayerwisePerplexity.BlockMap.FULL_PRECISION;
        return new LayerwisePerplexity.Setup(fpSkeleton, ckpt::readBlock, map,
                config == null ? ModelHooks.NONE : QuantizedModel.hooks(c, config), perPass);
    }

    /**
     * IntactKV's prefix for {@code --intactkv which} (null for none), generated by the twin, the full-precision model
     * in the quantized model's basis, built a layer at a time when the prefix is made (and garbage after): as read for
     * RTN, GPTQ and OmniQuant, each layer AWQ-scaled for AWQ, rotated for QuaRot (whose rotation matrices exist only
     * then); or read from a prefix file.
     */
    private static IntactKvPrefix prefix(String which, LayerwisePerplexity.Setup s, QuantizedModel.Layers q, LlamaConfig c,
                                 Tokenizer tok, ProgressBar bar) throws IOException {
        Basis basis = q == null ? new Basis.Original() : q.basis();
        return PrefixSpec.resolve(which, c,
                ids -> LayerwisePerplexity.prefix(s, basis.layered(c), ids, d -> bar.update("prefix", d)), tok);
    }
}
