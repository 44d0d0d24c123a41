package intactkv.quant;

import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.ModelHooks;
import java.io.IOException;
import java.nio.file.Path;
import java.util.function.UnaryOperator;

/**
 * The basis a quantizer puts the model in before it rounds, and so the basis IntactKV's
 * full-precision prefix must be taken in. This is the one rule of combining IntactKV with a
 * quantizer: <b>every quantizer returns, beside its quantized model, the full-precision model in
 * the same basis (its twin), and IntactKV always generates its prefix from that twin</b>.
 *
 * <ul>
 *   <li>{@link Original}: RTN, GPTQ, OmniQuant-style clipping, KV/activation quantization only:
 *       the quantized weights approximate the original ones, the twin is the model itself
 *       (official: {@code intactkv/utils.py::gen_bos_kv} on the fp16 model).</li>
 *   <li>{@link AwqScaled}: AWQ divides each RMSNorm weight or preceding linear's rows by the
 *       searched scales s and multiplies the following linears' columns by s before rounding.
 *       The function is unchanged, but the v_proj rows, and so the cached values V, are divided
 *       by the o_proj group's scales: a prefix from the unscaled model hands the quantized model
 *       values in the wrong basis. Official: {@code utils/modelutils.py::build_fp16_model} applies
 *       llm-awq's {@code apply_scale(model, awq_results["scale"])} (no clipping, no rounding)
 *       before the prefix is generated.</li>
 *   <li>{@link QuaRotRotated}: QuaRot's folded, rotated model with its online Hadamard transforms
 *       and no quantizer (official: {@code quarot/intactkv_utils.py}, the prefix from the rotated
 *       model with the quantizers switched off).</li>
 * </ul>
 * In exact arithmetic every twin computes the original function (tested to 1e-10), so the twin
 * changes nothing but the basis of the cached keys and values.
 */
public sealed interface Basis {
    /** The full-precision model in this basis, built from the original full-precision weights {@code fp}. */
    LlamaModel twin(LlamaWeights fp);

    /**
     * The twin one decoder layer at a time, for a driver that reads the full-precision model layer by layer
     * ({@code ppl --layer-by-layer}): every basis transforms block l from block l's own weights and its fixed data
     * (AWQ's scales of layer l, QuaRot's rotation matrices) alone, so {@code outer} applied to the embedding, final
     * norm and head, and {@code block} to each block, give {@link #twin}'s weights bit for bit, run with
     * {@code hooks}. A model of config {@code c}.
     */
    Layered layered(LlamaConfig c);

    /** How {@link #layered} builds the twin: its outer weights, each of its blocks, its run-time hooks. */
    record Layered(UnaryOperator<LlamaWeights> outer, BlockTransform block, ModelHooks hooks) {
    }

    /** Block {@code l} of the twin from block {@code l} of the full-precision model. */
    @FunctionalInterface
    interface BlockTransform {
        LlamaWeights.Block apply(int l, LlamaWeights.Block fp);
    }

    /** Writes what a saved quantized model needs to rebuild this basis into {@code dir} (nothing for most). */
    default void save(Path dir) throws IOException {
    }

    /** The original model's basis. */
    record Original() implements Basis {
        @Override
        public LlamaModel twin(LlamaWeights fp) {
            return new LlamaModel(fp);
        }

        @Override
        public Layered layered(LlamaConfig c) {
            return new Layered(w -> w, (l, b) -> b, ModelHooks.NONE);
        }
    }

    /** QuaRot's rotated basis, fixed by the rotation seed. */
    record QuaRotRotated(long seed) implements Basis {
        @Override
        public LlamaModel twin(LlamaWeights fp) {
            QuaRot.Rotated r = QuaRot.rotate(fp, seed);
            return new LlamaModel(r.weights(), r.hooks());
        }

        @Override
        public Layered layered(LlamaConfig c) {
            return QuaRot.layeredTwin(c, seed);
        }
    }

    /** AWQ's scaled basis: the searched scales applied to the full-precision weights. */
    record AwqScaled(AwqScales scales) implements Basis {
        /** File beside a saved AWQ checkpoint holding the scales. */
        public static final String FILE = "awq_scales.safetensors";

        @Override
        public LlamaModel twin(LlamaWeights fp) {
            return new LlamaModel(scales.applyTo(fp));
        }

        @Override
        public Layered layered(LlamaConfig c) {
            scales.requireFits(c, "AWQ scales");
            return new Layered(w -> w, scales::applyToBlock, ModelHooks.NONE);
        }

        @Override
        public void save(Path dir) throws IOException {
            scales.save(dir.resolve(FILE));
        }
    }

    /**
     * AWQ's scaled basis when the scales are not known: an AutoAWQ checkpoint folded its searched scales into the
     * norms and the preceding linears and kept no copy ({@link HubCheckpoint}), so the full-precision model in its
     * basis cannot be rebuilt from the original one. {@link #twin} refuses (IntactKV would otherwise take its
     * prefix in the wrong basis, see the class comment); the quantized model itself runs as stored.
     */
    record AwqFolded() implements Basis {
        /** Why there is no twin, and what to do. */
        public static final String WHY = "an AutoAWQ checkpoint holds its weights with AWQ's scales folded into the"
                + " norms and linears and keeps no copy of them, so IntactKV cannot take its prefix in that basis from"
                + " the full-precision --model; put the scales beside it as " + AwqScaled.FILE + " (written by"
                + " './intactkv quantize --method awq --format autoawq'), or run it with --intactkv none";

        @Override
        public LlamaModel twin(LlamaWeights fp) {
            throw new IllegalArgumentException(WHY);
        }

        @Override
        public Layered layered(LlamaConfig c) {
            throw new IllegalArgumentException(WHY);
        }
    }

    /** The basis a saved quantized model of {@code config} in {@code dir} was written in. */
    static Basis read(Path dir, QuantConfig config, LlamaConfig c) throws IOException {
        return switch (config.method()) {
            case QUAROT -> new QuaRotRotated(config.seed());
            case AWQ -> {
                Path f = dir.resolve(AwqScaled.FILE);
                if (!java.nio.file.Files.isRegularFile(f)) {
                    throw new IOException(dir + ": an AWQ model without " + AwqScaled.FILE + " (the searched scales"
                            + " IntactKV needs to take its prefix in the quantized model's basis); quantize it again"
                            + " with this version of './intactkv quantize'");
                }
                yield new AwqScaled(AwqScales.load(f, c));
            }
            default -> new Original();
        };
    }
}
