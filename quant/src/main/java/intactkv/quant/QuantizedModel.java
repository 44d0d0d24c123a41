package intactkv.quant;

import intactkv.model.LazyCheckpoint;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.ModelHooks;
import intactkv.model.io.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A quantized model ready to run: fake-quantized weights with the run-time hooks of its
 * {@link QuantConfig} (activation and KV quantization, QuaRot's online transforms), and beside it
 * the full-precision model in the same basis, from which IntactKV takes its prefix
 * ({@link Basis}: the one rule of combining IntactKV with any quantizer).
 *
 * @param model  the quantized model
 * @param config how it was quantized
 * @param basis  the basis the quantizer put the weights in before rounding
 * @param twin   the full-precision model in that basis ({@code basis.twin(fp)}), no quantizer; null when the
 *               basis cannot be rebuilt ({@link Basis.AwqFolded}), and then {@link #twin()} refuses
 */
public record QuantizedModel(LlamaModel model, QuantConfig config, Basis basis, LlamaModel twin) {
    /** The full-precision twin; refuses (IllegalArgumentException, saying why) when {@link #hasTwin()} is false. */
    @Override
    public LlamaModel twin() {
        if (twin == null && !(basis instanceof Basis.AwqFolded)) {
            // loaded without the full-precision model (load(Path, LlamaConfig, ...)): the caller took the prefix before
            throw new IllegalStateException("this quantized model was loaded without the full-precision model: its twin"
                    + " (and IntactKV's prefix) must be taken from readBasis(dir, fp).twin(fp) before loading");
        }
        return twin != null ? twin : basis.twin(null);
    }

    /** Whether the full-precision model in this model's basis is known (false: an AutoAWQ checkpoint without its scales). */
    public boolean hasTwin() {
        return twin != null;
    }

    public static final String CONFIG_FILE = "quant_config.json";
    /**
     * The field of {@code quant_config.json} that says how the linear weights are stored:
     * {@code "packed"} ({@link PackedCheckpoint}, what {@link #save} writes); absent in the dequantized
     * F64 checkpoints written before, which still load (their weights as doubles, checked by levels).
     */
    public static final String WEIGHT_FORMAT = "weight_format";

    /** The run-time hooks of {@code config} for a model of shape {@code c}. */
    public static ModelHooks hooks(LlamaConfig c, QuantConfig config) {
        return config.method() == Method.QUAROT ? QuaRot.runtimeHooks(c, config) : QuantHooks.of(config);
    }

    /** Quantizes {@code fp} with {@code config} (calibration sequences for the methods that need them). */
    public static QuantizedModel quantize(LlamaWeights fp, QuantConfig config, List<int[]> calib,
                                          ModelQuantizer.Progress progress) {
        ModelQuantizer.Quantized q = ModelQuantizer.quantizeInBasis(fp, config, calib, progress);
        LlamaWeights w = q.weights();
        return new QuantizedModel(new LlamaModel(w, hooks(w.config(), config)), config, q.basis(), q.twin());
    }

    /**
     * Loads a directory written by {@link #save} (weights, {@code config.json},
     * {@code quant_config.json}), or a GPTQ or AWQ checkpoint of the Hugging Face Hub ({@link HubCheckpoint}),
     * checking it against the full-precision config {@code fp}.
     * {@code abits}/{@code kvbits} (null = as saved) change the run-time quantizers.
     */
    public static QuantizedModel load(Path dir, LlamaWeights fpWeights, Integer abits, Integer kvbits)
            throws IOException {
        return load(dir, fpWeights.config(), fpWeights, abits, kvbits);
    }

    /**
     * {@link #load(Path, LlamaWeights, Integer, Integer)} without the full-precision weights, checked against their
     * config {@code fp} only: for a run that needs the full-precision model for nothing but IntactKV's prefix, which
     * it takes first from {@code readBasis(dir, fp).twin(fpWeights)} and then releases, so that the two models are never
     * held together. The result has no twin ({@link #hasTwin()} false; {@link #twin()} refuses). The quantized
     * model is the same, bit for bit: it never reads the full-precision weights.
     */
    public static QuantizedModel load(Path dir, LlamaConfig fp, Integer abits, Integer kvbits) throws IOException {
        return load(dir, fp, null, abits, kvbits);
    }

    /**
     * The basis of the quantized model in {@code dir} (its twin is {@code readBasis(dir, fp).twin(fpWeights)}), read
     * from {@code quant_config.json} and {@code awq_scales.safetensors} or the Hub checkpoint's config, without its
     * weights; the same basis {@link #load} gives. Refuses first, as {@link #load} does, a model made from another
     * one than the full-precision config {@code fp}.
     */
    public static Basis readBasis(Path dir, LlamaConfig fp) throws IOException {
        requireDirectory(dir);
        HubQuantConfig hub = HubQuantConfig.find(dir);
        LlamaConfig c = LlamaConfig.read(dir.resolve("config.json"), hub != null);
        checkSameModel(dir, c, fp);
        return hub != null ? HubCheckpoint.basis(dir, hub, c) : Basis.read(dir, QuantConfig.read(dir.resolve(CONFIG_FILE)), c);
    }

    /** Loads as the two public forms say; {@code fpWeights} null: no twin. */
    private static QuantizedModel load(Path dir, LlamaConfig fp, LlamaWeights fpWeights, Integer abits, Integer kvbits)
            throws IOException {
        requireDirectory(dir);
        HubQuantConfig hub = HubQuantConfig.find(dir);
        if (hub != null) {
            return HubCheckpoint.load(dir, hub, fp, fpWeights, abits, kvbits);
        }
        QuantConfig config = QuantConfig.read(dir.resolve(CONFIG_FILE)).withRuntime(abits, kvbits);
        LlamaWeights w = LlamaWeights.load(dir, false, PackedCheckpoint.reader(config, packed(dir)));
        LlamaConfig c = w.config();
        checkSameModel(dir, c, fp);
        checkLevels(dir, w, config);
        Basis basis = Basis.read(dir, config, c);
        return new QuantizedModel(new LlamaModel(w, hooks(c, config)), config, basis,
                fpWeights == null ? null : basis.twin(fpWeights));
    }

    /**
     * A packed checkpoint written by {@link #save}, opened to be read one decoder layer at a time
     * ({@link LazyCheckpoint} with {@link PackedCheckpoint#reader}): each layer's codes, scales and zeros are read and
     * checked when the layer is reached, as {@link #load} reads them all at once, so the layers are the same bits.
     *
     * @param checkpoint the layers (and, {@link LazyCheckpoint#skeleton()}, the embedding, final norm and head)
     * @param config     quant_config.json's configuration with the run-time quantizers as given
     * @param basis      the basis (the twin of {@link Basis.Original} is the full-precision model itself)
     */
    public record Layers(LazyCheckpoint checkpoint, QuantConfig config, Basis basis) implements AutoCloseable {
        /**
         * Decoder block {@code l} as {@link #load} holds it: read from the file (codes checked by the packed form) and,
         * for linears kept plainly (OmniQuant's), its levels checked against the configuration as {@link #load} checks
         * them.
         */
        public LlamaWeights.Block block(int l) throws IOException {
            LlamaWeights.Block b = checkpoint.readBlock(l);
            checkLevels(checkpoint.dir(), l, b, config);
            return b;
        }

        /** The run-time hooks of the configuration ({@link QuantizedModel#hooks}). */
        public ModelHooks hooks() {
            return QuantizedModel.hooks(checkpoint.config(), config);
        }

        @Override
        public void close() throws IOException {
            checkpoint.close();
        }
    }

    /**
     * Opens the packed checkpoint in {@code dir} to be read layer by layer ({@link Layers}), checking as {@link #load}
     * does what needs no weight: quant_config.json, the model it was made from ({@code fp}), every tensor present
     * with its shape. Refused, saying why: a checkpoint in AutoGPTQ's or AutoAWQ's layout and a dequantized one
     * (written before the packed format), which {@link #load} reads whole.
     */
    public static Layers openLayers(Path dir, LlamaConfig fp, Integer abits, Integer kvbits) throws IOException {
        requireDirectory(dir);
        if (HubQuantConfig.find(dir) != null) {
            throw new IllegalArgumentException(dir + ": a checkpoint in AutoGPTQ's or AutoAWQ's layout is read whole,"
                    + " not one layer at a time; convert it with ./intactkv quantize or run without --layer-by-layer");
        }
        QuantConfig config = QuantConfig.read(dir.resolve(CONFIG_FILE)).withRuntime(abits, kvbits);
        if (!packed(dir)) {
            throw new IllegalArgumentException(dir.resolve(CONFIG_FILE) + " has no \"" + WEIGHT_FORMAT + "\": \""
                    + PackedCheckpoint.FORMAT + "\" (a dequantized checkpoint of an earlier version, read whole); re-run"
                    + " quantize to read it one layer at a time");
        }
        LazyCheckpoint ckpt = LazyCheckpoint.open(dir, PackedCheckpoint.reader(config, true));
        try {
            checkSameModel(dir, ckpt.config(), fp);
            return new Layers(ckpt, config, Basis.read(dir, config, ckpt.config()));
        } catch (IOException | RuntimeException e) {
            ckpt.close();
            throw e;
        }
    }

    /** Refuses {@code dir} when it is not a directory, before anything in it is read. */
    private static void requireDirectory(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IOException(dir + ": quantized model directory does not exist (write one with ./intactkv quantize)");
        }
    }

    /** Whether {@code dir}'s quant_config.json says its weights are packed ({@link PackedCheckpoint#FORMAT}). */
    private static boolean packed(Path dir) throws IOException {
        return PackedCheckpoint.FORMAT.equals(
                intactkv.model.io.JsonFile.read(dir.resolve(CONFIG_FILE)).string(WEIGHT_FORMAT, "dequantized"));
    }

    /** Refuses a quantized model in {@code dir} (config {@code c}) made from another model than {@code fp}. */
    static void checkSameModel(Path dir, LlamaConfig c, LlamaConfig fp) throws IOException {
        String[] diff = c.firstDifference(fp);
        // QuaRot unties a tied model (the embedding and the head are rotated differently)
        if (diff != null && !(diff[0].equals("tie_word_embeddings") && fp.tieWordEmbeddings())) {
            throw new IOException("the quantized model was made from another model: " + diff[0] + " " + diff[1] + " in "
                    + dir.resolve("config.json") + " but " + diff[2] + " in the full-precision model's config.json"
                    + " (--model); pass the model it was quantized from, or quantize this one");
        }
    }

    /**
     * The configuration of the quantized model in {@code dir} without loading it: {@code quant_config.json}'s, or a
     * GPTQ or AWQ checkpoint's ({@link HubQuantConfig}).
     */
    public static QuantConfig readConfig(Path dir) throws IOException {
        HubQuantConfig hub = HubQuantConfig.find(dir);
        return hub != null ? hub.quantConfig() : QuantConfig.read(dir.resolve(CONFIG_FILE));
    }

    /**
     * Checks that the weights look quantized as {@code quant_config.json} says. RTN, AWQ and
     * OmniQuant quantize groups of g consecutive inputs: at most 2^b distinct values in the first
     * group of the first rows of every linear. GPTQ and QuaRot quantize with activation ordering
     * ({@code desc_act}): a group is g columns in the order of the Hessian's diagonal, not g
     * consecutive ones (AutoGPTQ keeps the map as {@code g_idx}), so the check there is per row: at
     * most (in / g) * 2^b distinct values.
     */
    private static void checkLevels(Path dir, LlamaWeights w, QuantConfig config) throws IOException {
        for (int l = 0; l < w.blocks().size(); l++) {
            checkLevels(dir, l, w.block(l), config);
        }
    }

    /** {@link #checkLevels(Path, LlamaWeights, QuantConfig)} of decoder block {@code l} alone. */
    private static void checkLevels(Path dir, int l, LlamaWeights.Block block, QuantConfig config) throws IOException {
        // gguf: the types differ per tensor (GgufTypeRules) and k-quant levels are scaled per sub-block, so
        // a count of distinct values says nothing; the weights are the dequantized float32 values as saved
        if (config.weight().bits() >= 16 || config.method() == Method.GGUF) {
            return;
        }
        int levels = 1 << config.weight().bits();
        boolean actOrder = config.method() == Method.GPTQ || config.method() == Method.QUAROT;
        List<intactkv.autograd.Value> lin = block.linears();
        for (int j = 0; j < lin.size(); j++) {
            var t = lin.get(j).data();
            if (t.storage() instanceof QuantCodes) {
                continue; // codes: their range, scales and groups were checked when read (PackedCheckpoint)
            }
            double[] values = t.data();
            int in = t.dim(1);
            int g = config.weight().groupSize() == WeightQuantizer.Spec.PER_CHANNEL ? in : config.weight().groupSize();
            if (in % g != 0) {
                throw new IOException(dir + ": quant_config.json group size " + g + " does not divide layer "
                        + LlamaWeights.blockName(l, LlamaWeights.LINEAR_NAMES.get(j)) + " with " + in + " inputs");
            }
            int span = actOrder ? in : g;
            int allowed = actOrder ? in / g * levels : levels;
            for (int r = 0; r < Math.min(4, t.dim(0)); r++) {
                Set<Double> v = new HashSet<>();
                for (int c = 0; c < span; c++) {
                    v.add(values[r * in + c]);
                }
                if (v.size() > allowed) {
                    throw new IOException(dir + ": layer " + LlamaWeights.blockName(l, LlamaWeights.LINEAR_NAMES.get(j))
                            + " row " + r + " has " + v.size() + " distinct values in " + (actOrder ? "the row" : "a group")
                            + ", but quant_config.json says " + config.weight().bits() + "-bit weights (at most "
                            + allowed + ")");
                }
            }
        }
    }

    /**
     * Writes the weights, {@code config.json}, {@code quant_config.json} (with
     * {@code "weight_format": "packed"}) and what the basis needs to be rebuilt (AWQ's scales) into
     * {@code dir}. Linear weights kept as codes are written packed and lossless ({@link PackedCheckpoint});
     * the other tensors (embeddings, norms, LM head, and linears kept as doubles) as {@code dtype}.
     */
    public void save(Path dir, DType dtype) throws IOException {
        save(model.weights(), config, basis, dir, dtype);
    }

    /**
     * {@link #save(Path, DType)} for quantized {@code weights} alone, made by {@code config} in {@code basis}: what
     * the {@code quantize} command writes when it has released the full-precision model layer by layer
     * ({@link ModelQuantizer#quantizeReleasing}) and so has no twin to build a {@code QuantizedModel} with.
     */
    public static void save(LlamaWeights weights, QuantConfig config, Basis basis, Path dir, DType dtype)
            throws IOException {
        weights.save(dir, dtype, PackedCheckpoint::put);
        config.write(dir.resolve(CONFIG_FILE), PackedCheckpoint.FORMAT);
        basis.save(dir);
    }
}
