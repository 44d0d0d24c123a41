package intactkv.model;

import intactkv.autograd.Value;
import intactkv.model.io.CheckpointReader;
import intactkv.model.io.FormatException;
import intactkv.model.io.ReadAhead;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import intactkv.tensor.WeightStorage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A full-precision checkpoint whose decoder layers are read from the safetensors file(s) one at a time,
 * when a layer-wise quantizer reaches them ({@link LayerSource}), instead of all before layer 0
 * ({@link LlamaWeights#load}); or, opened with a {@link LlamaWeights.StoredForm}, a packed quantized one read the
 * same way by a layer-by-layer evaluation. What stays in memory: the embedding, the final norm, the LM head, the
 * layers already quantized (as the driver's codes) and the current layer; the layers not yet reached
 * are placeholders of the right shapes that hold no data ({@link #skeleton()}).
 *
 * <p>Everything that can be checked without reading weights is checked by {@link #open}, before any model
 * work: config.json, every tensor of the files being one a LLaMA uses ({@link CheckpointContents}), and every
 * tensor the model reads being present with the shape config.json implies, from the safetensors headers.
 * So a missing or misshapen tensor of the last layer is refused at the start, naming the file and the
 * tensor, not hours later when its layer is reached. What only the data can show (a NaN or infinite
 * element) is refused when the layer is read, by the same check {@link LlamaWeights#load} makes, and before the
 * first layer by {@link #checkFinite}, which reads every layer once without keeping it.
 *
 * <p>Each tensor is read exactly as {@link LlamaWeights#load}{@code (dir, false)} reads it (matrices in the
 * file's dtype through {@link CheckpointReader#readStored}, vectors as doubles through
 * {@link CheckpointReader#readFinite}), so a driver given these layers computes the same bits as one given
 * the whole model. Reading order does not matter: each read is of one tensor alone.
 *
 * <p>Not thread-safe: one driver reads the layers in order. {@link #close()} closes the files.
 */
public final class LazyCheckpoint implements LayerSource, AutoCloseable {
    private final Path dir;
    private final LlamaConfig config;
    private final CheckpointReader reader;
    private final LlamaWeights.StoredForm form;
    private final boolean[] read;
    /** Layer l + 1's bytes are read into the page cache while the driver works on layer l ({@link #readBlock}). */
    private final ReadAhead ahead = new ReadAhead();

    private LazyCheckpoint(Path dir, LlamaConfig config, CheckpointReader reader, LlamaWeights.StoredForm form) {
        this.dir = dir;
        this.config = config;
        this.reader = reader;
        this.form = form;
        this.read = new boolean[config.numHiddenLayers()];
    }

    /**
     * Opens the checkpoint directory {@code dir} and checks, from config.json and the headers alone, what
     * {@link LlamaWeights#load} would check while reading (see the class comment). Errors name the file and
     * the tensor ({@link FormatException}). Reads no weight.
     */
    public static LazyCheckpoint open(Path dir) throws IOException {
        return open(dir, null);
    }

    /**
     * {@link #open(Path)} for a checkpoint whose tensors may be held in another {@code form} (a packed quantized
     * checkpoint's codes, scales and zeros: {@code PackedCheckpoint.reader}), read as
     * {@link LlamaWeights#load(Path, boolean, LlamaWeights.StoredForm)} reads them; null is {@link #open(Path)}.
     * A weight held in the form is checked present from the headers ({@link LlamaWeights.StoredForm#holds}); its
     * parts' shapes and values are checked by the form when its layer is read, naming the tensor and the field.
     */
    public static LazyCheckpoint open(Path dir, LlamaWeights.StoredForm form) throws IOException {
        LlamaConfig c = LlamaConfig.read(dir.resolve("config.json"), form != null && form.quantizedConfig());
        CheckpointReader r = CheckpointReader.open(dir);
        try {
            CheckpointContents.check(dir, c, r, form == null ? n -> null : form::weightOf);
            for (String name : readNames(c)) {
                Shape want = LlamaWeights.expectedShape(c, name);
                if (form != null && !r.contains(name) && form.holds(r, name)) {
                    continue;
                }
                if (!r.contains(name)) {
                    throw new FormatException(dir, "checkpoint has no tensor '" + name + "' (expected shape " + want
                            + ")");
                }
                Shape got = r.entry(name).shape();
                if (!got.equals(want)) {
                    throw new FormatException(r.file(name), "tensor '" + name + "' has shape " + got
                            + ", but config.json implies " + want);
                }
            }
            return new LazyCheckpoint(dir, c, r, form);
        } catch (IOException | RuntimeException e) {
            r.close();
            throw e;
        }
    }

    /** Every tensor the model reads, in {@link LlamaWeights#load}'s order. */
    private static List<String> readNames(LlamaConfig c) {
        List<String> names = new ArrayList<>();
        names.add("model.embed_tokens.weight");
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            names.addAll(layerNames(i));
        }
        names.add("model.norm.weight");
        if (!c.tieWordEmbeddings()) {
            names.add("lm_head.weight");
        }
        return names;
    }

    /** Layer {@code i}'s tensors: input norm, the seven linears, post-attention norm. */
    private static List<String> layerNames(int i) {
        List<String> names = new ArrayList<>();
        names.add(LlamaWeights.blockName(i, "input_layernorm"));
        for (String s : LlamaWeights.LINEAR_NAMES) {
            names.add(LlamaWeights.blockName(i, s));
        }
        names.add(LlamaWeights.blockName(i, "post_attention_layernorm"));
        return names;
    }

    public LlamaConfig config() {
        return config;
    }

    public Path dir() {
        return dir;
    }

    /**
     * The model with the embedding, the final norm and the LM head read, and every decoder block a placeholder
     * ({@link Unread}: the right shapes, no data; reading its elements throws). A driver hands it to
     * {@link #reach} at the top of each layer. This object keeps no reference to what it returns, so the
     * driver's weights are the only ones.
     */
    public LlamaWeights skeleton() throws IOException {
        Value embed = read("model.embed_tokens.weight");
        List<LlamaWeights.Block> blocks = new ArrayList<>();
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            List<String> n = layerNames(i);
            blocks.add(new LlamaWeights.Block(unread(n.get(0)), unread(n.get(1)), unread(n.get(2)), unread(n.get(3)),
                    unread(n.get(4)), unread(n.get(8)), unread(n.get(5)), unread(n.get(6)), unread(n.get(7))));
        }
        Value norm = read("model.norm.weight");
        Value head = config.tieWordEmbeddings() ? embed : read("lm_head.weight");
        return new LlamaWeights(config, embed, blocks, norm, head);
    }

    /**
     * Refuses the checkpoint if an element of a decoder layer from {@code fromLayer} on is NaN or infinite
     * ({@link CheckpointReader#checkFinite}: the same message {@link #reach} would give when reading that layer,
     * naming the file, the tensor and the element), reading each tensor once and keeping nothing. A driver runs
     * it before its first layer so that a bad number in the last layer is found in the time it takes to read the
     * file, not after the hours of work on the layers before it. {@code progress} is told the share of bytes
     * checked.
     */
    public void checkFinite(int fromLayer, java.util.function.DoubleConsumer progress) throws IOException {
        List<String> names = new ArrayList<>();
        long total = 0;
        for (int l = fromLayer; l < config.numHiddenLayers(); l++) {
            for (String n : layerNames(l)) {
                if (!reader.contains(n)) {
                    continue; // held in the form (codes), whose values the form checks when the layer is read
                }
                names.add(n);
                total += reader.entry(n).end() - reader.entry(n).begin();
            }
        }
        long done = 0;
        for (String n : names) {
            reader.checkFinite(n);
            done += reader.entry(n).end() - reader.entry(n).begin();
            progress.accept(total == 0 ? 1 : done / (double) total);
        }
    }

    /**
     * Block {@code l} read from the file(s) the first time it is asked for; {@code held} (the block read
     * before) after that.
     */
    @Override
    public LlamaWeights.Block block(int l, LlamaWeights.Block held) {
        if (read[l]) {
            return held;
        }
        try {
            LlamaWeights.Block b = readBlock(l);
            read[l] = true;
            return b;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Layer {@code l}'s nine tensors, read as {@link LlamaWeights#load} reads them. Then the bytes of layer l + 1
     * (every tensor of the file(s) named {@code model.layers.<l+1>.}, a packed checkpoint's codes and scales
     * included) are read ahead into the operating system's page cache on a background thread ({@link ReadAhead}),
     * so that the disk reads the next layer while the driver computes with this one; nothing is kept on the heap.
     */
    public LlamaWeights.Block readBlock(int l) throws IOException {
        List<String> n = layerNames(l);
        LlamaWeights.Block b = new LlamaWeights.Block(read(n.get(0)), read(n.get(1)), read(n.get(2)), read(n.get(3)),
                read(n.get(4)), read(n.get(8)), read(n.get(5)), read(n.get(6)), read(n.get(7)));
        if (l + 1 < config.numHiddenLayers()) {
            ahead.request(reader.layerRanges(l + 1));
        }
        return b;
    }

    /** Bytes read ahead into the page cache so far ({@link ReadAhead#bytesRead}). */
    long bytesReadAhead() {
        return ahead.bytesRead();
    }

    /** Waits for the read-ahead queued so far (tests). */
    void awaitReadAhead() throws InterruptedException {
        ahead.await();
    }

    /**
     * One tensor as {@code LlamaWeights.load(dir, false, form)} holds it: in the form when the form reads it, else
     * plainly (its shape was checked by {@link #open}).
     */
    private Value read(String name) throws IOException {
        Shape want = LlamaWeights.expectedShape(config, name);
        Tensor special = form == null ? null : form.read(reader, name, want);
        if (special != null) {
            return Value.constant(special);
        }
        return Value.constant(want.rank() < 2 ? reader.readFinite(name) : reader.readStored(name));
    }

    private Value unread(String name) {
        return Value.constant(Tensor.stored(new Unread(name, LlamaWeights.expectedShape(config, name).numel()),
                LlamaWeights.expectedShape(config, name)));
    }

    @Override
    public void close() throws IOException {
        ahead.close();
        reader.close();
    }

    /**
     * The storage of a tensor whose layer has not been read yet: its size and nothing else. Reading an element
     * is a driver bug (it used a layer before {@link LayerSource#reach}ing it) and throws naming the tensor.
     */
    record Unread(String name, int size) implements WeightStorage {
        @Override
        public void toDouble(int from, int count, double[] dst, int dstOff) {
            throw new IllegalStateException("tensor '" + name + "' was used before its layer was read from the"
                    + " checkpoint (a layer-wise driver must call LayerSource.reach first)");
        }

        @Override
        public long bytes() {
            return 0;
        }

        @Override
        public String describe() {
            return "unread";
        }
    }
}
