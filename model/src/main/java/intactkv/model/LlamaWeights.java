package intactkv.model;

import intactkv.autograd.Parameter;
import intactkv.autograd.Value;
import intactkv.model.io.CheckpointReader;
import intactkv.model.io.DType;
import intactkv.model.io.FormatException;
import intactkv.model.io.ReadAhead;
import intactkv.model.io.SafetensorsWriter;
import intactkv.tensor.Init;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The weights of a LLaMA model in Hugging Face layout, each with its tensor name and shape
 * (llama2.c's habit: every weight field carries its shape). Weights are {@link Value}s:
 * trainable leaves for training, constants otherwise (calibration and inference never
 * compute weight gradients).
 */
public final class LlamaWeights {
    /** One decoder block. */
    public record Block(
            Value inputNorm,   // (d)            model.layers.{i}.input_layernorm.weight
            Value q,           // (h*d_h, d)     model.layers.{i}.self_attn.q_proj.weight
            Value k,           // (h_kv*d_h, d)  model.layers.{i}.self_attn.k_proj.weight
            Value v,           // (h_kv*d_h, d)  model.layers.{i}.self_attn.v_proj.weight
            Value o,           // (d, h*d_h)     model.layers.{i}.self_attn.o_proj.weight
            Value postNorm,    // (d)            model.layers.{i}.post_attention_layernorm.weight
            Value gate,        // (d_ff, d)      model.layers.{i}.mlp.gate_proj.weight
            Value up,          // (d_ff, d)      model.layers.{i}.mlp.up_proj.weight
            Value down) {      // (d, d_ff)      model.layers.{i}.mlp.down_proj.weight

        /** The seven linear weights by their HF short names, in checkpoint order. */
        public List<Value> linears() {
            return List.of(q, k, v, o, gate, up, down);
        }

        /** This block with the seven linears replaced, in {@link #linears()} order; the norms kept. */
        public Block withLinears(List<Value> lin) {
            return new Block(inputNorm, lin.get(0), lin.get(1), lin.get(2), lin.get(3), postNorm, lin.get(4),
                    lin.get(5), lin.get(6));
        }
    }

    /** Short names of the linear layers of a block, in {@link Block#linears()} order. */
    public static final List<String> LINEAR_NAMES =
            List.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                    "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj");

    private final LlamaConfig config;
    private final Value embed;      // (V, d)  model.embed_tokens.weight
    private final List<Block> blocks;
    private final Value norm;       // (d)     model.norm.weight
    private final Value lmHead;     // (V, d)  lm_head.weight (the embedding itself when tied)

    public LlamaWeights(LlamaConfig config, Value embed, List<Block> blocks, Value norm, Value lmHead) {
        this.config = config;
        this.embed = embed;
        this.blocks = List.copyOf(blocks);
        this.norm = norm;
        this.lmHead = lmHead;
        if (blocks.size() != config.numHiddenLayers()) {
            throw new IllegalArgumentException(blocks.size() + " blocks for num_hidden_layers "
                    + config.numHiddenLayers());
        }
        forEachNamed((name, value) -> value.shape().requireEqual(name, expectedShape(config, name)));
    }

    public LlamaConfig config() {
        return config;
    }

    public Value embed() {
        return embed;
    }

    public List<Block> blocks() {
        return blocks;
    }

    public Block block(int i) {
        return blocks.get(i);
    }

    public Value norm() {
        return norm;
    }

    public Value lmHead() {
        return lmHead;
    }

    /** These weights with block {@code l} replaced; every other tensor shared. */
    public LlamaWeights withBlock(int l, Block block) {
        List<Block> b = new ArrayList<>(blocks);
        b.set(l, block);
        return new LlamaWeights(config, embed, b, norm, lmHead);
    }

    /** HF name of block tensor {@code suffix} (e.g. {@code "mlp.up_proj"}) of layer {@code i}. */
    public static String blockName(int i, String suffix) {
        return "model.layers." + i + "." + suffix + ".weight";
    }

    /** The shape a tensor of this config must have, by HF name. */
    static Shape expectedShape(LlamaConfig c, String name) {
        int d = c.hiddenSize();
        int kv = c.numKeyValueHeads() * c.headDim();
        if (name.equals("model.embed_tokens.weight") || name.equals("lm_head.weight")) {
            return Shape.of(c.vocabSize(), d);
        }
        if (name.equals("model.norm.weight") || name.endsWith("layernorm.weight")) {
            return Shape.of(d);
        }
        if (name.endsWith("q_proj.weight") || name.endsWith("o_proj.weight")) {
            return Shape.of(d, d);
        }
        if (name.endsWith("k_proj.weight") || name.endsWith("v_proj.weight")) {
            return Shape.of(kv, d);
        }
        if (name.endsWith("gate_proj.weight") || name.endsWith("up_proj.weight")) {
            return Shape.of(c.intermediateSize(), d);
        }
        if (name.endsWith("down_proj.weight")) {
            return Shape.of(d, c.intermediateSize());
        }
        throw new IllegalArgumentException("not a LLaMA tensor name: " + name);
    }

    /** Visits every distinct tensor with its HF name (the LM head only when untied). */
    public void forEachNamed(java.util.function.BiConsumer<String, Value> visit) {
        visit.accept("model.embed_tokens.weight", embed);
        for (int i = 0; i < blocks.size(); i++) {
            Block b = blocks.get(i);
            visit.accept(blockName(i, "input_layernorm"), b.inputNorm());
            List<Value> lin = b.linears();
            for (int j = 0; j < lin.size(); j++) {
                visit.accept(blockName(i, LINEAR_NAMES.get(j)), lin.get(j));
            }
            visit.accept(blockName(i, "post_attention_layernorm"), b.postNorm());
        }
        visit.accept("model.norm.weight", norm);
        if (!config.tieWordEmbeddings()) {
            visit.accept("lm_head.weight", lmHead);
        }
    }

    /** The trainable tensors as named parameters (for optimisers and checkpoints). */
    public List<Parameter> parameters() {
        List<Parameter> out = new ArrayList<>();
        forEachNamed((name, value) -> {
            if (value.requiresGrad()) {
                out.add(new Parameter(name, value));
            }
        });
        return out;
    }

    /**
     * Loads {@code dir/config.json} and the checkpoint in {@code dir}, checking every tensor's
     * presence and shape against the config, and that every tensor of the files is used
     * ({@link CheckpointContents}); errors name the file and tensor. Not {@code trainable}
     * (inference, quantization), the matrices stay in the file's dtype (BF16/F16: 2 bytes an element,
     * F32: 4; see {@link CheckpointReader#readStored}) and become double inside the kernels, with the
     * same results; the norm vectors and any trainable weights are read as doubles. {@code dir} may
     * also be a GGUF file ({@link intactkv.model.gguf.GgufWeights#load}). While a layer is read, the next one's
     * bytes are read into the page cache on a background thread ({@link ReadAhead}), so that the disk does not
     * wait while a layer's bytes are converted.
     */
    public static LlamaWeights load(Path dir, boolean trainable) throws IOException {
        return load(dir, trainable, null);
    }

    /**
     * {@link #load(Path, boolean)}, reading the tensors that {@code form} recognises in its form
     * (quantization codes) instead of as one tensor of their name; null reads every tensor plainly.
     */
    public static LlamaWeights load(Path dir, boolean trainable, StoredForm form) throws IOException {
        if (form == null && intactkv.model.gguf.GgufFile.isGguf(dir)) {
            return intactkv.model.gguf.GgufWeights.load(dir, trainable); // a llama.cpp GGUF file in place of a directory
        }
        LlamaConfig c = LlamaConfig.read(dir.resolve("config.json"), form != null && form.quantizedConfig());
        try (CheckpointReader r = CheckpointReader.open(dir); ReadAhead ahead = new ReadAhead()) {
            CheckpointContents.check(dir, c, r, form == null ? n -> null : form::weightOf);
            Loader load = name -> {
                Shape want = expectedShape(c, name);
                Tensor special = form == null ? null : form.read(r, name, want);
                if (special != null) {
                    return Value.constant(special);
                }
                if (!r.contains(name)) {
                    throw new FormatException(dir, "checkpoint has no tensor '" + name + "' (expected shape " + want + ")");
                }
                Shape got = r.entry(name).shape();
                if (!got.equals(want)) {
                    throw new FormatException(dir, "tensor '" + name + "' has shape " + got + ", but config.json implies "
                            + want);
                }
                // inference keeps matrices in the file's dtype (Tensor.stored); training needs doubles to update
                Tensor t = trainable || want.rank() < 2 ? r.readFinite(name) : r.readStored(name);
                return trainable ? Value.param(t) : Value.constant(t);
            };
            // the disk reads layer i + 1 into the page cache while layer i's bytes are converted and laid out
            // (ReadAhead; the embedding is read first, the head after the last layer, as before)
            ahead.request(r.layerRanges(0));
            Value embed = load.get("model.embed_tokens.weight");
            List<Block> blocks = new ArrayList<>();
            for (int i = 0; i < c.numHiddenLayers(); i++) {
                ahead.request(i + 1 < c.numHiddenLayers() ? r.layerRanges(i + 1) : headRanges(r, c));
                List<Value> lin = new ArrayList<>();
                for (String s : LINEAR_NAMES) {
                    lin.add(load.get(blockName(i, s)));
                }
                blocks.add(new Block(load.get(blockName(i, "input_layernorm")), lin.get(0), lin.get(1), lin.get(2),
                        lin.get(3), load.get(blockName(i, "post_attention_layernorm")), lin.get(4), lin.get(5),
                        lin.get(6)));
            }
            Value norm = load.get("model.norm.weight");
            Value head = c.tieWordEmbeddings() ? embed : load.get("lm_head.weight");
            return new LlamaWeights(c, embed, blocks, norm, head);
        }
    }

    /** Where the final norm and (untied) LM head are, for {@link ReadAhead} after the last layer. */
    private static List<ReadAhead.Range> headRanges(CheckpointReader r, LlamaConfig c) throws IOException {
        List<ReadAhead.Range> ranges = new ArrayList<>();
        for (String name : c.tieWordEmbeddings() ? List.of("model.norm.weight")
                : List.of("model.norm.weight", "lm_head.weight")) {
            if (r.contains(name)) {
                ranges.add(r.range(name));
            }
        }
        return ranges;
    }

    @FunctionalInterface
    private interface Loader {
        Value get(String name) throws IOException;
    }

    /** A tensor kept in a checkpoint in another form than one tensor of its name (quantization codes). */
    @FunctionalInterface
    public interface StoredForm {
        /**
         * Tensor {@code name}, which must have shape {@code want}, if {@code r} holds it in this form
         * (checked, errors naming the tensor and the field); null when it does not.
         */
        Tensor read(CheckpointReader r, String name, Shape want) throws IOException;

        /**
         * The weight (e.g. {@code model.layers.0.self_attn.q_proj.weight}) that tensor {@code tensor}
         * of the file is a part of in this form (codes, scales, zeros...), or null when it is not one;
         * {@link CheckpointContents} checks that weight instead of refusing the part as unused.
         */
        default String weightOf(String tensor) {
            return null;
        }

        /**
         * Whether {@code r} holds the weight {@code name} in this form (its parts are there), from the headers alone:
         * what {@link LazyCheckpoint#open} checks for every weight before any is read. False by default.
         */
        default boolean holds(CheckpointReader r, String name) {
            return false;
        }

        /**
         * Whether config.json may carry a {@code quantization_config} (a GPTQ or AWQ checkpoint read in this form);
         * false: it is refused as for a full-precision model.
         */
        default boolean quantizedConfig() {
            return false;
        }
    }

    /** The writing side of {@link StoredForm}. */
    @FunctionalInterface
    public interface WriteForm {
        /** Adds tensor {@code name} to {@code w} in this form and returns true, or returns false to write it plainly. */
        boolean put(SafetensorsWriter w, String name, Tensor t);
    }

    /**
     * Random weights: linear and embedding entries {@code N(0, std^2)}, norm weights 1 (or
     * {@code 1 + N(0, 0.1^2)} when {@code randomNorms}, so that tests exercise them). Seeded.
     */
    public static LlamaWeights random(LlamaConfig c, long seed, double std, boolean randomNorms, boolean trainable) {
        Random rng = new Random(seed);
        java.util.function.Function<Shape, Value> lin = s -> wrap(Init.normal(rng, std, s.dims()), trainable);
        java.util.function.Supplier<Value> normW = () -> {
            Tensor t = randomNorms ? Init.normal(rng, 0.1, c.hiddenSize()).add(Tensor.scalar(1.0))
                    : Tensor.ones(c.hiddenSize());
            return wrap(t, trainable);
        };
        Value embed = lin.apply(Shape.of(c.vocabSize(), c.hiddenSize()));
        List<Block> blocks = new ArrayList<>();
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            Value in = normW.get();
            Value q = lin.apply(expectedShape(c, "q_proj.weight"));
            Value k = lin.apply(expectedShape(c, "k_proj.weight"));
            Value v = lin.apply(expectedShape(c, "v_proj.weight"));
            Value o = lin.apply(expectedShape(c, "o_proj.weight"));
            Value post = normW.get();
            Value gate = lin.apply(expectedShape(c, "gate_proj.weight"));
            Value up = lin.apply(expectedShape(c, "up_proj.weight"));
            Value down = lin.apply(expectedShape(c, "down_proj.weight"));
            blocks.add(new Block(in, q, k, v, o, post, gate, up, down));
        }
        Value norm = normW.get();
        Value head = c.tieWordEmbeddings() ? embed : lin.apply(Shape.of(c.vocabSize(), c.hiddenSize()));
        return new LlamaWeights(c, embed, blocks, norm, head);
    }

    private static Value wrap(Tensor t, boolean trainable) {
        return trainable ? Value.param(t) : Value.constant(t);
    }

    /**
     * Writes {@code dir/config.json} and {@code dir/model.safetensors} with every tensor as
     * {@code dtype} (atomically, file by file).
     */
    public void save(Path dir, DType dtype) throws IOException {
        save(dir, dtype, null);
    }

    /**
     * {@link #save(Path, DType)}, writing the tensors that {@code form} takes in its form (quantization
     * codes); null writes every tensor as {@code dtype}.
     */
    public void save(Path dir, DType dtype, WriteForm form) throws IOException {
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
        forEachNamed((name, value) -> {
            if (form == null || !form.put(w, name, value.data())) {
                w.put(name, dtype, value.data());
            }
        });
        java.nio.file.Files.createDirectories(dir);
        w.write(dir.resolve(CheckpointReader.SINGLE));
        config.write(dir.resolve("config.json"), switch (dtype) {
            case F64 -> "float64";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            default -> "float32";
        });
    }
}
