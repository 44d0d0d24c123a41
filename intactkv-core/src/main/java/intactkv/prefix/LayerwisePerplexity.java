package intactkv.prefix;

import intactkv.autograd.GradMode;
import intactkv.autograd.Value;
import intactkv.model.KvCache;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.ModelHooks;
import intactkv.quant.Basis;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.DoubleConsumer;

/**
 * {@link Perplexity} (and the KL divergence to the full-precision model) with one decoder layer in memory at a
 * time, for a model whose weights do not fit: the windows are carried through the layers a group at a time, each
 * layer read from the checkpoint when the group reaches it and garbage once every window of the group has been
 * through it. This is how GPTQ's evaluation runs a model that does not fit its GPU ({@code gptq/llama.py::
 * llama_eval}: the inputs of all windows caught at layer 0, then each layer moved to the device, run on every
 * window and moved back; with {@code --nearest}, RTN, each layer is quantized when it is moved, as {@link Setup#model}
 * quantizes it here when it is read), with the windows in groups of {@link Setup#windowsPerPass} so that their hidden
 * states need not all be held (llama_eval holds every window's, (n, T, d) in fp16), and the weights read from the
 * checkpoint rather than held in the host's memory. What is scored is the official protocol of
 * {@link Perplexity} ({@code eval_utils/ppl.py::ppl_eval}), not llama_eval's. Only the embedding, the final norm,
 * the LM head, one decoder layer (two, the full-precision and the quantized, with RTN) and the group's hidden
 * states are held: for LLaMA-2-70B in BF16 about 3 GB of weights instead of 129.
 *
 * <p>The numbers are {@link Perplexity#evaluate}'s and {@link Perplexity#evaluateAgainst}'s, bit for bit: each
 * window goes through {@link LlamaModel#layer(int, Value, KvCache)}, the operations {@link LlamaModel#forward}
 * runs for that layer in the same order, on the same path; the hidden states between layers stay in double; the
 * scoring is the same code ({@link Perplexity#score}, a block of rows at a time). The group size changes only the
 * memory and how often the checkpoint is read (once per group, plus once for a generated prefix).
 *
 * <p>The evaluated model is one whose layer l is read or made when the pass reaches it ({@link Setup#model}): the
 * full-precision model, its RTN form, or a packed quantized checkpoint read layer by layer too, with or without
 * run-time activation and KV quantization ({@link Setup#hooks}). The IntactKV prefix comes from the quantized model's
 * twin, made a layer at a time from the full-precision layers ({@link #prefix}, {@link Basis#layered}): the
 * full-precision model itself in the original basis (RTN, GPTQ, OmniQuant), each layer scaled for AWQ, rotated for
 * QuaRot ({@link PrefixSpec}).
 */
public final class LayerwisePerplexity {
    private LayerwisePerplexity() {
    }

    /**
     * Where full-precision decoder layer {@code l} comes from when a pass reaches it
     * ({@code LazyCheckpoint::readBlock}).
     */
    @FunctionalInterface
    public interface Layers {
        LlamaWeights.Block read(int l) throws IOException;
    }

    /** The full-precision block of the layer a pass is on, read from its {@link Layers} when first asked for. */
    @FunctionalInterface
    public interface Layer {
        LlamaWeights.Block get() throws IOException;
    }

    /**
     * The evaluated model's block {@code l}: made from the full-precision block {@code fp} (itself, its RTN form), or
     * read from elsewhere (a packed quantized checkpoint), when the full-precision block is not read for it.
     */
    @FunctionalInterface
    public interface BlockMap {
        /** The full-precision model: the block itself. */
        BlockMap FULL_PRECISION = (l, fp) -> fp.get();

        LlamaWeights.Block apply(int l, Layer fp) throws IOException;
    }

    /**
     * What a layer-by-layer evaluation reads and runs.
     *
     * @param skeleton       the evaluated model's embedding, final norm and LM head; its decoder blocks are not read
     *                       (placeholders, {@code LazyCheckpoint.skeleton()}, or whole weights, whose blocks are then
     *                       not used)
     * @param fullPrecisionSkeleton the full-precision model's, for the prefix and the KL reference (the same object
     *                       when the evaluated model shares them: full precision, RTN on the fly)
     * @param layers         the full-precision decoder layers (read only where the prefix, the KL reference or
     *                       {@code model} asks for them)
     * @param model          the evaluated model's block
     * @param hooks          the evaluated model's run-time hooks (activation and KV quantization;
     *                       {@link ModelHooks#NONE})
     * @param windowsPerPass windows carried through the layers together (at least 1): their hidden states are held,
     *                       1 x T x d doubles each (two with KL), and the checkpoint is read once per group
     */
    public record Setup(LlamaWeights skeleton, LlamaWeights fullPrecisionSkeleton, Layers layers, BlockMap model,
                        ModelHooks hooks, int windowsPerPass) {
        public Setup {
            if (skeleton == null || fullPrecisionSkeleton == null || layers == null || model == null || hooks == null) {
                throw new IllegalArgumentException("layer-by-layer evaluation: skeletons, layers, model and hooks are"
                        + " required");
            }
            if (windowsPerPass < 1) {
                throw new IllegalArgumentException("windows per pass must be at least 1, got " + windowsPerPass);
            }
        }

        /** A setup whose evaluated model has the full-precision model's embedding, final norm and head. */
        public Setup(LlamaWeights skeleton, Layers layers, BlockMap model, ModelHooks hooks, int windowsPerPass) {
            this(skeleton, skeleton, layers, model, hooks, windowsPerPass);
        }

        private int numLayers() {
            return skeleton.config().numHiddenLayers();
        }

        /**
         * The evaluated model holding its block {@code l} (made by {@link #model} from the full-precision block
         * {@code fp}) and its run-time hooks, for running layer {@code l}.
         */
        LlamaModel evaluatedAt(int l, Layer fp) throws IOException {
            return new LlamaModel(skeleton.withBlock(l, model.apply(l, fp)), hooks);
        }
    }

    /** Full-precision layer {@code l}, read once, the first time it is asked for. */
    static final class ReadOnce implements Layer {
        private final Layers layers;
        private final int l;
        private LlamaWeights.Block block;

        ReadOnce(Layers layers, int l) {
            this.layers = layers;
            this.l = l;
        }

        @Override
        public LlamaWeights.Block get() throws IOException {
            if (block == null) {
                block = layers.read(l);
            }
            return block;
        }
    }

    /**
     * The IntactKV prefix of {@code ids} generated by the full-precision model one layer at a time: each layer's
     * keys and values ({@link LlamaModel#layerWithKv}) and the logits of the prefix positions; the same bits as
     * {@link IntactKvPrefix#generate} on the whole model. Reads the checkpoint once.
     */
    public static IntactKvPrefix prefix(Setup s, int[] ids, DoubleConsumer progress) throws IOException {
        return prefix(s, new Basis.Original().layered(s.skeleton().config()), ids, progress);
    }

    /**
     * {@link #prefix(Setup, int[], DoubleConsumer)} generated by the quantized model's twin, the full-precision
     * model in its basis ({@link Basis}: AWQ-scaled, QuaRot-rotated), built a layer at a time from the
     * full-precision layers ({@link Basis#layered}): the same bits as {@link IntactKvPrefix#generate} on
     * {@code basis.twin(fp)}.
     */
    public static IntactKvPrefix prefix(Setup s, Basis.Layered twin, int[] ids, DoubleConsumer progress)
            throws IOException {
        LlamaWeights skeleton = twin.outer().apply(s.fullPrecisionSkeleton());
        LlamaModel outer = new LlamaModel(skeleton, twin.hooks());
        List<Tensor> keys = new ArrayList<>();
        List<Tensor> values = new ArrayList<>();
        try (GradMode.Scope g = GradMode.noGrad()) {
            Value x = outer.embed(new int[][] {ids});
            for (int l = 0; l < s.numLayers(); l++) {
                LlamaWeights.Block block = twin.block().apply(l, s.layers().read(l));
                LlamaModel.LayerKv r = new LlamaModel(skeleton.withBlock(l, block), twin.hooks()).layerWithKv(l, x);
                keys.add(IntactKvPrefix.squeeze(r.keys().data()));
                values.add(IntactKvPrefix.squeeze(r.values().data()));
                x = r.output();
                progress.accept((l + 1.0) / s.numLayers());
            }
            Tensor logits = outer.head(outer.finalNorm(x)).data();
            return new IntactKvPrefix(ids, keys, values, logits.reshape(ids.length, logits.dim(-1)));
        }
    }

    /**
     * Evaluates the model of {@code s} on {@code tokens} in windows of {@code seqlen} as {@link Perplexity#evaluate}
     * (with {@code prefix}, null for none, in place of each window's [BOS]), and with {@code kl} the KL divergence to
     * the full-precision model on the same windows without the prefix, as {@link Perplexity#evaluateAgainst} with the
     * full-precision model. {@code progress} gets the fraction done. A checkpoint read error is thrown as the reader's
     * {@link IOException}, naming the file and the tensor.
     */
    public static Perplexity.Result evaluate(Setup s, IntactKvPrefix prefix, boolean kl, int[] tokens, int seqlen,
                                             int bos, DoubleConsumer progress) throws IOException {
        int p = prefix == null ? 0 : prefix.length();
        int n = Perplexity.requireWindows(tokens.length, seqlen, p);
        if (prefix != null) {
            prefix.requireFits(s.skeleton().config(), "IntactKV prefix");
        }
        Passes passes = new Passes(s, prefix, kl, tokens, seqlen, bos, n, progress);
        try {
            return Perplexity.score(passes::model, p, kl ? passes::reference : null, tokens, seqlen, bos,
                    d -> passes.scored());
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /**
     * The groups of windows and their final hidden states: asked for window i (in order, as {@link Perplexity#score}
     * asks), the group starting at i is carried through every layer first when i is past the group held.
     */
    private static final class Passes {
        private final Setup s;
        private final IntactKvPrefix prefix;
        private final KvCache cache;
        private final boolean kl;
        private final int[] tokens;
        private final int seqlen;
        private final int bos;
        private final int n;
        private final DoubleConsumer progress;
        private final LlamaModel outer;
        private final LlamaModel fullOuter;
        /** Progress units: a window through a layer, a window scored; n (L + 1) in all. */
        private long done;
        private int first = -1;
        private Tensor[] modelLast = new Tensor[0];
        private Tensor[] referenceLast = new Tensor[0];

        Passes(Setup s, IntactKvPrefix prefix, boolean kl, int[] tokens, int seqlen, int bos, int n,
               DoubleConsumer progress) {
            this.s = s;
            this.prefix = prefix;
            this.cache = prefix == null ? null : prefix.asCache(false);
            this.kl = kl;
            this.tokens = tokens;
            this.seqlen = seqlen;
            this.bos = bos;
            this.n = n;
            this.progress = progress;
            this.outer = new LlamaModel(s.skeleton());
            this.fullOuter = new LlamaModel(s.fullPrecisionSkeleton());
        }

        Perplexity.WindowRows model(int i, int[] w) {
            if (first < 0 || i >= first + modelLast.length) {
                try {
                    pass(i, Math.min(s.windowsPerPass(), n - i));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
            return Perplexity.rows(outer, modelLast[i - first], prefix == null ? 0 : 1);
        }

        Perplexity.WindowRows reference(int i, int[] w) {
            return Perplexity.rows(fullOuter, referenceLast[i - first], 0);
        }

        void scored() {
            report(1);
        }

        private void report(int units) {
            done += units;
            progress.accept(done / ((double) n * (s.numLayers() + 1)));
        }

        /**
         * Windows {@code from .. from + m - 1} through every decoder layer: the model's hidden states (after the
         * prefix when there is one) and, with KL, the full-precision model's on the whole window; then the final norm.
         * The previous group's are released first.
         */
        private void pass(int from, int m) throws IOException {
            modelLast = new Tensor[0];
            referenceLast = new Tensor[0];
            Value[] x = new Value[m];
            Value[] y = kl ? new Value[m] : null;
            for (int k = 0; k < m; k++) {
                int[] w = Perplexity.window(tokens, from + k, seqlen, bos);
                x[k] = outer.embed(new int[][] {prefix == null ? w : Arrays.copyOfRange(w, 1, w.length)});
                if (kl) {
                    y[k] = fullOuter.embed(new int[][] {w});
                }
            }
            LlamaModel evaluated;
            LlamaModel full;
            for (int l = 0; l < s.numLayers(); l++) {
                ReadOnce fp = new ReadOnce(s.layers(), l);
                evaluated = s.evaluatedAt(l, fp);
                full = kl ? new LlamaModel(s.fullPrecisionSkeleton().withBlock(l, fp.get())) : null;
                fp = null;
                for (int k = 0; k < m; k++) {
                    x[k] = evaluated.layer(l, x[k], cache);
                    if (kl) {
                        y[k] = full.layer(l, y[k], null);
                    }
                }
                // this layer is garbage before the next is read: one layer held, not two
                evaluated = null;
                full = null;
                report(m);
            }
            Tensor[] ml = new Tensor[m];
            Tensor[] rl = new Tensor[kl ? m : 0];
            for (int k = 0; k < m; k++) { // each window's states replaced by their norm: one more window, not m
                ml[k] = outer.finalNorm(x[k]).data();
                x[k] = null;
                if (kl) {
                    rl[k] = fullOuter.finalNorm(y[k]).data();
                    y[k] = null;
                }
            }
            first = from;
            modelLast = ml;
            referenceLast = rl;
        }
    }
}
