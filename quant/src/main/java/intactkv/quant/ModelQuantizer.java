package intactkv.quant;

import intactkv.autograd.Value;
import intactkv.model.LayerSource;
import intactkv.model.LazyCheckpoint;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiFunction;

/**
 * Applies a {@link QuantConfig}'s weight method to a full-precision model and returns new
 * weights (the input is not modified). Only the seven linear layers of every decoder block
 * are quantized; embeddings, norms and the LM head stay in full precision, as in the
 * official code. The exception is {@link Method#GGUF}, which quantizes what llama.cpp's
 * {@code llama-quantize} quantizes: the embedding and the head too ({@link GgufQuantizer}).
 */
public final class ModelQuantizer {
    private ModelQuantizer() {
    }

    /** Progress callback: (stage, fraction done in [0, 1]). */
    @FunctionalInterface
    public interface Progress {
        void update(String stage, double done);

        Progress NONE = (s, d) -> { };
    }

    /**
     * Quantized weights, the basis the quantizer put them in before rounding ({@link Basis}), and
     * the full-precision twin in that basis ({@code basis.twin(fp)}), from which IntactKV takes its
     * prefix.
     */
    public record Quantized(LlamaWeights weights, Basis basis, LlamaModel twin) {
    }

    /**
     * Quantizes {@code fp} with {@code config} and says in which basis, with the twin. QuaRot's
     * rotated model is built once and serves both the quantizer and the twin.
     */
    public static Quantized quantizeInBasis(LlamaWeights fp, QuantConfig config, List<int[]> calib, Progress progress) {
        return switch (config.method()) {
            case AWQ -> {
                Awq.Result r = Awq.run(fp, config, requireCalib(calib, config), progress);
                Basis b = new Basis.AwqScaled(r.scales());
                yield new Quantized(r.quantized(), b, b.twin(fp));
            }
            case QUAROT -> {
                QuaRot.Rotated r = QuaRot.rotate(fp, config.seed());
                yield new Quantized(QuaRot.quantizeRotated(r, config, requireCalib(calib, config), progress),
                        new Basis.QuaRotRotated(config.seed()), new LlamaModel(r.weights(), r.hooks()));
            }
            default -> new Quantized(quantize(fp, config, calib, progress), new Basis.Original(), new LlamaModel(fp));
        };
    }

    /**
     * Quantizes {@code fp} with {@code config}; {@code calib} holds the calibration sequences of
     * the methods that need them (ignored by RTN).
     */
    public static LlamaWeights quantize(LlamaWeights fp, QuantConfig config, List<int[]> calib, Progress progress) {
        return switch (config.method()) {
            case NONE -> fp;
            case RTN -> mapLinears(fp, rtn(config), progress);
            case GPTQ -> Gptq.quantizeModel(fp, config, requireCalib(calib, config), progress);
            case AWQ -> Awq.quantizeModel(fp, config, requireCalib(calib, config), progress);
            case OMNIQUANT -> OmniQuantLwc.quantizeModel(fp, config, requireCalib(calib, config), progress);
            case QUAROT -> QuaRot.quantizeModel(fp, config, requireCalib(calib, config), progress);
            case GGUF -> GgufQuantizer.quantize(fp, config.gguf(), progress);
        };
    }

    /**
     * Whether {@link #quantizeReleasing} releases the full-precision weights layer by layer for {@code method}: every
     * weight method. RTN and GPTQ replace each layer's full-precision linears by codes; AWQ needs layer l's
     * full-precision weights only while layer l is searched, and its twin is rebuilt from the searched scales
     * ({@link Basis.AwqScaled}); OmniQuant's block l trains on block l alone; QuaRot rotates block by block, then
     * GPTQ replaces the rotated blocks one by one. Full precision ({@link Method#NONE}) has nothing to release.
     */
    public static boolean releasesLayers(Method method) {
        return method != Method.NONE;
    }

    /**
     * The quantized weights of {@link #quantizeReleasing} and the basis they are in, which is all a saved checkpoint
     * needs to rebuild the twin ({@link Basis#twin}, {@link Basis#save}): AWQ's searched scales, QuaRot's seed.
     */
    public record Released(LlamaWeights weights, Basis basis) {
    }

    /**
     * {@link #quantize} for a caller that keeps only the quantized weights (the {@code quantize} command, which
     * writes them): takes the weights out of {@code fp} (left null) and, for the methods of
     * {@link #releasesLayers}, replaces each layer's full-precision linears with their quantized ones in the one
     * model it holds, so that layer l's full-precision copy can be collected before layer l + 1 is quantized, as the
     * official code quantizes in place (gptq/llama.py::llama_sequential; AWQ's pseudo_quantize_model_weight
     * overwrites each {@code weight.data} in turn). Peak memory is then about one copy of the weights, not two
     * (QuaRot: the rotated copy in doubles, see {@link QuaRot#quantizeReleasing}). The result is the same, bit for
     * bit.
     */
    public static LlamaWeights quantizeReleasing(AtomicReference<LlamaWeights> fp, QuantConfig config,
                                                 List<int[]> calib, Progress progress) {
        return quantizeReleasingInBasis(fp, config, calib, progress).weights();
    }

    /** {@link #quantizeReleasing} with the basis of the result ({@link #quantizeInBasis}'s, without the twin). */
    public static Released quantizeReleasingInBasis(AtomicReference<LlamaWeights> fp, QuantConfig config,
                                                    List<int[]> calib, Progress progress) {
        return quantizeReleasingInBasis(fp, config, calib, progress, null);
    }

    /** Whether {@code method} can save its state after each layer and resume ({@link LayerCheckpoint}): GPTQ and QuaRot. */
    public static boolean resumes(Method method) {
        return method == Method.GPTQ || method == Method.QUAROT;
    }

    /**
     * {@link #quantizeReleasingInBasis(AtomicReference, QuantConfig, List, Progress)} that saves its state after each
     * layer into {@code saved} and resumes after the layers it already holds (null: no saving), for the methods of
     * {@link #resumes}; the result is the same bit for bit.
     */
    public static Released quantizeReleasingInBasis(AtomicReference<LlamaWeights> fp, QuantConfig config,
                                                    List<int[]> calib, Progress progress, LayerCheckpoint saved) {
        requireResumable(config, saved);
        return switch (config.method()) {
            case NONE -> new Released(fp.getAndSet(null), new Basis.Original());
            case RTN -> new Released(mapLinears(fp, rtn(config), progress), new Basis.Original());
            case GPTQ -> new Released(Gptq.quantizeModel(fp, config, requireCalib(calib, config), progress,
                    LayerSource.IN_MEMORY, saved), new Basis.Original());
            case AWQ -> {
                Awq.Result r = Awq.run(fp, config, requireCalib(calib, config), progress);
                yield new Released(r.quantized(), new Basis.AwqScaled(r.scales()));
            }
            case OMNIQUANT -> new Released(OmniQuantLwc.quantizeModel(fp, config, requireCalib(calib, config), progress),
                    new Basis.Original());
            case QUAROT -> new Released(QuaRot.quantizeReleasing(fp, config, requireCalib(calib, config), progress,
                    saved), new Basis.QuaRotRotated(config.seed()));
            case GGUF -> new Released(GgufQuantizer.quantizeReleasing(fp, config.gguf(), progress), new Basis.Original());
        };
    }

    /** Refuses a work directory ({@code saved} not null) for a method that cannot resume ({@link #resumes}). */
    private static void requireResumable(QuantConfig config, LayerCheckpoint saved) {
        if (saved != null && !resumes(config.method())) {
            throw new IllegalArgumentException(config.method().id() + " cannot save and resume its layers; a work"
                    + " directory is for gptq and quarot");
        }
    }

    /**
     * Whether {@link #quantizeLazily} can quantize with {@code method}: the layer-wise drivers (RTN, GPTQ, AWQ,
     * OmniQuant's clipping, QuaRot). Not full precision (nothing to quantize) nor {@link Method#GGUF}, which
     * quantizes the embedding and the head as well and is run on the whole model.
     */
    public static boolean readsLayersLazily(Method method) {
        return switch (method) {
            case RTN, GPTQ, AWQ, OMNIQUANT, QUAROT -> true;
            case NONE, GGUF -> false;
        };
    }

    /**
     * {@link #quantizeReleasingInBasis} on a checkpoint whose decoder layers are read from the file one at a time,
     * when the driver reaches them ({@link LazyCheckpoint}): before layer 0 only the embedding, the final norm
     * and the head are in memory; then the layers already quantized (codes) and the current one. QuaRot rotates
     * each block as it is read ({@link QuaRot#quantizeLazily}). The result is the same, bit for bit, as
     * {@link #quantizeReleasingInBasis} on {@code LlamaWeights.load(dir, false)} of the same checkpoint.
     *
     * @throws IllegalArgumentException for a method not {@link #readsLayersLazily}
     * @throws IOException reading the skeleton or a layer (a layer's error is the reader's, naming file and tensor)
     */
    public static Released quantizeLazily(LazyCheckpoint ckpt, QuantConfig config, List<int[]> calib,
                                          Progress progress) throws IOException {
        return quantizeLazily(ckpt, config, calib, progress, null);
    }

    /**
     * {@link #quantizeLazily(LazyCheckpoint, QuantConfig, List, Progress)} that saves its state after each layer into
     * {@code saved} and resumes after the layers it already holds (null: no saving; GPTQ and QuaRot only, see
     * {@link #resumes}); the result is the same bit for bit.
     */
    public static Released quantizeLazily(LazyCheckpoint ckpt, QuantConfig config, List<int[]> calib,
                                          Progress progress, LayerCheckpoint saved) throws IOException {
        if (!readsLayersLazily(config.method())) {
            throw new IllegalArgumentException(config.method().id() + " is not quantized layer by layer from the file");
        }
        requireResumable(config, saved);
        try {
            if (config.method() == Method.QUAROT) {
                return new Released(QuaRot.quantizeLazily(ckpt, config, requireCalib(calib, config), progress, saved),
                        new Basis.QuaRotRotated(config.seed()));
            }
            AtomicReference<LlamaWeights> fp = new AtomicReference<>(ckpt.skeleton());
            return switch (config.method()) {
                case RTN -> new Released(mapLinears(fp, rtn(config), progress, ckpt), new Basis.Original());
                case GPTQ -> new Released(Gptq.quantizeModel(fp, config, requireCalib(calib, config), progress, ckpt,
                        saved),
                        new Basis.Original());
                case AWQ -> {
                    Awq.Result r = Awq.run(fp, config, requireCalib(calib, config), progress, ckpt);
                    yield new Released(r.quantized(), new Basis.AwqScaled(r.scales()));
                }
                case OMNIQUANT -> new Released(OmniQuantLwc.quantizeModel(fp, config, requireCalib(calib, config),
                        progress, ckpt), new Basis.Original());
                default -> throw new IllegalStateException("unreachable: " + config.method());
            };
        } catch (UncheckedIOException e) {
            throw e.getCause(); // a layer's read error, naming the file and the tensor
        }
    }

    private static List<int[]> requireCalib(List<int[]> calib, QuantConfig config) {
        if (calib == null || calib.isEmpty()) {
            throw new IllegalArgumentException(config.method().id() + " needs calibration data (--calib FILE)");
        }
        return calib;
    }

    /** New weights with every decoder linear replaced by {@code f(name, weight)}; the rest shared. */
    static LlamaWeights mapLinears(LlamaWeights w, BiFunction<String, Tensor, Tensor> f, Progress progress) {
        return mapLinears(new AtomicReference<>(w), f, progress);
    }

    /**
     * {@link #mapLinears(LlamaWeights, BiFunction, Progress)} on the weights taken out of {@code w} (left null):
     * block i is replaced in the one model held here before block i + 1 is mapped, so that once the caller
     * holds no other reference, block i's old linears are garbage from then on.
     */
    static LlamaWeights mapLinears(AtomicReference<LlamaWeights> w, BiFunction<String, Tensor, Tensor> f,
                                   Progress progress) {
        return mapLinears(w, f, progress, LayerSource.IN_MEMORY);
    }

    /** {@link #mapLinears(AtomicReference, BiFunction, Progress)} with block i taken from {@code source} first. */
    static LlamaWeights mapLinears(AtomicReference<LlamaWeights> w, BiFunction<String, Tensor, Tensor> f,
                                   Progress progress, LayerSource source) {
        LlamaWeights current = w.getAndSet(null);
        int layers = current.blocks().size();
        for (int i = 0; i < layers; i++) {
            current = source.reach(current, i);
            current = current.withBlock(i, mapBlock(current.block(i), i, f));
            progress.update("rtn", (i + 1.0) / layers);
        }
        return current;
    }

    /**
     * RTN's quantization of decoder block {@code l} alone: each linear through {@link WeightQuantizer#quantize} with
     * {@code config}'s weight spec, the norms shared; what {@link #quantize} and {@link #quantizeLazily} do to that
     * block, bit for bit (the same map, {@link #mapBlock}). RTN needs no calibration and no other layer, so a
     * layer-by-layer evaluation quantizes each block when it reads it ({@code LayerwisePerplexity}).
     *
     * @throws IllegalArgumentException when {@code config} is not RTN
     */
    public static LlamaWeights.Block rtnBlock(LlamaWeights.Block fp, int l, QuantConfig config) {
        if (config.method() != Method.RTN) {
            throw new IllegalArgumentException("rtnBlock: the method is " + config.method().id() + ", not rtn");
        }
        return mapBlock(fp, l, rtn(config));
    }

    /** RTN's map of a linear: {@link WeightQuantizer#quantize} with {@code config}'s weight spec. */
    private static BiFunction<String, Tensor, Tensor> rtn(QuantConfig config) {
        return (name, w) -> WeightQuantizer.quantize(w, config.weight(), name);
    }

    /** Block {@code i} with its linears mapped; norms shared. */
    static LlamaWeights.Block mapBlock(LlamaWeights.Block b, int i, BiFunction<String, Tensor, Tensor> f) {
        List<Value> lin = b.linears();
        Value[] q = new Value[lin.size()];
        for (int j = 0; j < lin.size(); j++) {
            String name = LlamaWeights.blockName(i, LlamaWeights.LINEAR_NAMES.get(j));
            q[j] = Value.constant(f.apply(name, lin.get(j).data()));
        }
        return b.withLinears(List.of(q));
    }
}
