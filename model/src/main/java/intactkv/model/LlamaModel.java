package intactkv.model;

import intactkv.autograd.Arithmetic;
import intactkv.autograd.Attention;
import intactkv.autograd.Functional;
import intactkv.autograd.GradMode;
import intactkv.autograd.LinearAlgebra;
import intactkv.autograd.Selection;
import intactkv.autograd.Shaping;
import intactkv.autograd.Value;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * The LLaMA forward pass, as Hugging Face's {@code LlamaForCausalLM} (modeling_llama.py), on
 * the autograd engine. There is one implementation: run it inside
 * {@link intactkv.autograd.GradMode#noGrad()} (or with constant weights and no trainable input)
 * for inference, where no graph is recorded, and outside for training.
 *
 * <p>Per decoder layer, for hidden states x of shape (B, T, d):
 * <pre>
 *   h  = x + o_proj( attention( rms_norm(x) ) )            residual connection around attention
 *   x' = h + down_proj( silu(gate_proj(n)) * up_proj(n) ),  n = rms_norm(h)
 * </pre>
 * then {@code logits = lm_head(rms_norm(x_L))}. Attention for query head j uses key/value head
 * {@code j / (h / h_kv)} (HF's {@code repeat_kv}), scores {@code q k^T / sqrt(d_h)}, a causal
 * mask over the past and current positions, and RoPE on q and k at absolute positions
 * {@code p .. p+T-1} after a past of length p.
 */
public final class LlamaModel {
    /**
     * What a forward pass returns. {@code present}: whether it keeps every layer's keys and values until it ends and
     * returns them ({@link Output#present()}), what decoding continues from. A pass that only scores its tokens
     * (perplexity, multiple choice) needs none: without it, a layer's keys and values are garbage once the layer is
     * done, and, with a past, written into an exact (p + T)-row buffer instead of one with spare rows for decoding
     * ({@link CacheRows#append}). With a 2048-token window of LLaMA-2-7B that is 128 MiB alive instead of 4 GiB
     * (8 GiB after a prefix, whose spare rows double it). Without {@code attentions} and without gradients, the
     * attention probabilities are not kept either ({@link Attention#causalOutputOnRows}). The numbers are the
     * same, bit for bit, either way.
     */
    public record Options(boolean logits, boolean hiddenStates, boolean attentions, boolean present) {
        /** Logits and the present keys and values (what a prompt before decoding needs). */
        public static final Options LOGITS = new Options(true, false, false, true);
        /** Logits only: nothing kept across layers (what scoring a window needs). */
        public static final Options LOGITS_ONLY = new Options(true, false, false, false);
        /** Logits, every layer's output and the present keys and values. */
        public static final Options WITH_HIDDEN = new Options(true, true, false, true);

        /** Options that keep the present keys and values. */
        public Options(boolean logits, boolean hiddenStates, boolean attentions) {
            this(logits, hiddenStates, attentions, true);
        }
    }

    /**
     * @param logits     (B, T, V), or null if not requested
     * @param hidden     output of each decoder layer l = 0..L-1, (B, T, d) (before the final norm); empty if not requested
     * @param attentions attention probabilities of each layer, (B, h, T, p+T); empty if not requested
     * @param present    past plus current keys and values, per layer (B, h_kv, p+T, d_h); null unless
     *                   {@link Options#present()}
     * @param last       output of the last decoder layer after the final norm, (B, T, d)
     */
    public record Output(Value logits, List<Value> hidden, List<Tensor> attentions, KvCache present, Value last) {
    }

    private final LlamaWeights w;
    private final LlamaConfig c;
    private final Rope rope;
    private final ModelHooks hooks;

    public LlamaModel(LlamaWeights weights) {
        this(weights, ModelHooks.NONE);
    }

    public LlamaModel(LlamaWeights weights, ModelHooks hooks) {
        this.w = weights;
        this.c = weights.config();
        this.rope = new Rope(c.headDim(), c.ropeTheta(), c.ropeScaling());
        this.hooks = hooks;
    }

    public LlamaConfig config() {
        return c;
    }

    public LlamaWeights weights() {
        return w;
    }

    public ModelHooks hooks() {
        return hooks;
    }

    /** A model with the same weights and other hooks. */
    public LlamaModel withHooks(ModelHooks other) {
        return new LlamaModel(w, other);
    }

    /** Forward pass of one sequence {@code ids (T)}; see {@link #forward(int[][], KvCache, Options)}. */
    public Output forward(int[] ids, KvCache past, Options opt) {
        return forward(new int[][] {ids}, past, opt);
    }

    /**
     * Forward pass of a batch {@code ids (B, T)} after an optional {@code past} (null for none).
     * Token ids are checked against the vocabulary.
     */
    public Output forward(int[][] ids, KvCache past, Options opt) {
        return forward(ids, past, opt, Attention.Mask.NONE);
    }

    /**
     * {@link #forward(int[][], KvCache, Options)} with document masking: query t of sequence b
     * attends to key 0 ([BOS]) and to keys {@code visibleFrom[b][t] .. p + t} only (see
     * {@link Attention#causalWithProbs(Value, Value, Value, int[][])}); positions (RoPE) keep
     * counting across documents. Null is plain causal attention. The trainer's
     * {@code --isolate-fraction} uses it.
     */
    public Output forward(int[][] ids, KvCache past, Options opt, int[][] visibleFrom) {
        return forward(ids, past, opt, new Attention.Mask(visibleFrom, null));
    }

    /**
     * {@link #forward(int[][], KvCache, Options)} with the attention masks of {@code mask} in
     * every layer ({@link Attention.Mask}: the document mask and self-only keys, for instance the
     * gloss separators under the trainer's {@code --hide-separators}).
     */
    public Output forward(int[][] ids, KvCache past, Options opt, Attention.Mask mask) {
        int b = ids.length;
        int t = b == 0 ? 0 : ids[0].length;
        if (b == 0 || t == 0) {
            throw new IllegalArgumentException("forward: empty input (" + b + " sequences of " + t + " tokens)");
        }
        int[] flat = new int[b * t];
        for (int i = 0; i < b; i++) {
            if (ids[i].length != t) {
                throw new IllegalArgumentException("forward: sequence " + i + " has " + ids[i].length
                        + " tokens, sequence 0 has " + t);
            }
            for (int j = 0; j < t; j++) {
                int id = ids[i][j];
                if (id < 0 || id >= c.vocabSize()) {
                    throw new IllegalArgumentException("forward: token id " + id + " at sequence " + i + ", position " + j
                            + " is outside the vocabulary [0, " + c.vocabSize() + ")");
                }
                flat[i * t + j] = id;
            }
        }
        if (past != null) {
            past.requireFits(c, "past key/values");
        }
        int p = past == null ? 0 : past.length();
        Tensor[] cs = rope.tables(p, t);

        Value x = Shaping.reshape(Selection.embedding(w.embed(), flat), b, t, c.hiddenSize());
        List<Value> hidden = new ArrayList<>();
        List<Tensor> attentions = new ArrayList<>();
        Present present = new Present(c.numHiddenLayers(), opt.present());
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            x = layer(l, x, past, cs, present, opt.attentions() ? attentions : null, mask);
            if (opt.hiddenStates()) {
                hidden.add(x);
            }
        }
        Value last = finalNorm(x);
        Value logits = opt.logits() ? head(last) : null;
        return new Output(logits, hidden, attentions, present.cache(), last);
    }

    /**
     * The LM head on final hidden states {@code last (..., d)} (after the last norm, {@link Output#last()}): the
     * logits {@code last W_head^T}, (..., V), the product {@link #forward} ends with. Scoring a window a block of rows
     * at a time ({@code Perplexity}) calls it on each block: the GEMM sums each element in the same order whatever
     * the other rows, so the blocks equal the whole window's logits bit for bit.
     */
    public Value head(Value last) {
        return LinearAlgebra.linear(last, w.lmHead());
    }

    /**
     * Decoder layer {@code l} on hidden states {@code x (B, T, d)} at positions {@code 0..T-1}
     * without a past: what layer-by-layer calibration (GPTQ, AWQ, clipping) runs.
     */
    public Value layer(int l, Value x) {
        return layer(l, x, null);
    }

    /**
     * Decoder layer {@code l} on hidden states {@code x (B, T, d)} at positions {@code p .. p+T-1} after {@code past}
     * (null: none, p = 0), keeping neither keys and values nor attention probabilities: what {@link #forward} with
     * {@link Options#LOGITS_ONLY} runs for layer {@code l}, the same operations on the same path, so that a
     * layer-by-layer evaluation ({@code LayerwisePerplexity}), which holds one decoder layer at a time and runs it
     * on every window before reading the next, computes {@code forward}'s numbers bit for bit. Only the weights of
     * block {@code l}, the embedding, the head and the final norm are read.
     */
    public Value layer(int l, Value x, KvCache past) {
        if (past != null) {
            past.requireFits(c, "past key/values");
        }
        int p = past == null ? 0 : past.length();
        return layer(l, x, past, rope.tables(p, x.shape().dim(1)), new Present(c.numHiddenLayers(), false), null,
                Attention.Mask.NONE);
    }

    /**
     * Decoder layer {@code l}'s output and its keys (after RoPE) and values, each (B, h_kv, T, d_h).
     *
     * @param output (B, T, d)
     */
    public record LayerKv(Value output, Value keys, Value values) {
    }

    /**
     * Decoder layer {@code l} on {@code x (B, T, d)} at positions {@code 0..T-1} without a past, with the keys and
     * values it computes: what {@link #forward} with {@link Options#LOGITS} keeps of layer {@code l} as its present
     * cache, bit for bit. A prefix generated one layer at a time ({@code LayerwisePerplexity.prefix}) is made of
     * these.
     */
    public LayerKv layerWithKv(int l, Value x) {
        Present present = new Present(c.numHiddenLayers(), true);
        Value out = layer(l, x, null, rope.tables(0, x.shape().dim(1)), present, null, Attention.Mask.NONE);
        return new LayerKv(out, present.keys[l], present.values[l]);
    }

    /** The final norm on the last decoder layer's output {@code x (B, T, d)}: {@link Output#last()}. */
    public Value finalNorm(Value x) {
        return Functional.rmsNorm(x, w.norm(), c.rmsNormEps());
    }

    /**
     * The first half of decoder layer {@code l} on {@code x (B, T, d)} at positions {@code 0..T-1} without a past:
     * the residual stream after the attention block, {@code h = x + attn(rmsNorm(x))}. {@code afterMlp(l,
     * afterAttention(l, x))} is {@code layer(l, x)} bit for bit (the same operations in the same order): GPTQ's
     * driver keeps {@code h} so that the MLP's groups do not rerun the attention ({@code Gptq.sequential}).
     */
    public Value afterAttention(int l, Value x) {
        int t = x.shape().dim(1);
        return afterAttention(l, x, null, rope.tables(0, t), new Present(c.numHiddenLayers(), true), null,
                Attention.Mask.NONE);
    }

    /**
     * The second half of decoder layer {@code l}: {@code h + mlp(rmsNorm(h))} on the residual stream {@code h (B, T,
     * d)} after the attention block ({@link #afterAttention}): the layer's output.
     */
    public Value afterMlp(int l, Value h) {
        return Arithmetic.add(h, mlpBlock(l, Functional.rmsNorm(h, w.block(l).postNorm(), c.rmsNormEps())));
    }

    /**
     * The attention block of layer {@code l} (o_proj output, no residual) on already
     * normalised input {@code n (B, T, d)} at positions 0..T-1: the module AWQ inspects.
     */
    public Value attentionBlock(int l, Value n) {
        int t = n.shape().dim(1);
        return attention(l, w.block(l), n, null, rope.tables(0, t), new Present(c.numHiddenLayers(), true), null,
                Attention.Mask.NONE);
    }

    /**
     * The MLP block of layer {@code l} (down_proj output, no residual) on normalised input {@code m (B, T, d)}. The
     * hooks see gate_proj's and up_proj's inputs before either product is computed (the hooks are functions of their
     * input, so the order does not change a result), so a calibration pass that only needs those inputs (GPTQ's
     * (up, gate) group, {@code Gptq.hessians}) can end before the products.
     */
    public Value mlpBlock(int l, Value m) {
        LlamaWeights.Block blk = w.block(l);
        Value gateIn = hooks.linearInput(l, LlamaWeights.LINEAR_NAMES.get(4), m);
        Value upIn = hooks.linearInput(l, LlamaWeights.LINEAR_NAMES.get(5), m);
        Value gate = Functional.silu(LinearAlgebra.linear(gateIn, blk.gate()));
        return linear(l, 6, Arithmetic.mul(gate, LinearAlgebra.linear(upIn, blk.up())), blk.down());
    }

    /** The embeddings of {@code ids (B, T)}: (B, T, d). */
    public Value embed(int[][] ids) {
        int b = ids.length;
        int t = ids[0].length;
        int[] flat = new int[b * t];
        for (int i = 0; i < b; i++) {
            System.arraycopy(ids[i], 0, flat, i * t, t);
        }
        return Shaping.reshape(Selection.embedding(w.embed(), flat), b, t, c.hiddenSize());
    }

    /** One decoder layer: attention and MLP blocks, each with its residual connection. */
    private Value layer(int l, Value x, KvCache past, Tensor[] cs, Present present, List<Tensor> attentions,
                        Attention.Mask mask) {
        return afterMlp(l, afterAttention(l, x, past, cs, present, attentions, mask));
    }

    /** Self-attention block with its residual connection: {@code x + attn(rmsNorm(x))}. */
    private Value afterAttention(int l, Value x, KvCache past, Tensor[] cs, Present present, List<Tensor> attentions,
                                 Attention.Mask mask) {
        LlamaWeights.Block blk = w.block(l);
        Value n = Functional.rmsNorm(x, blk.inputNorm(), c.rmsNormEps());
        return Arithmetic.add(x, attention(l, blk, n, past, cs, present, attentions, mask));
    }

    /** {@code x W^T} for linear layer {@code LINEAR_NAMES[index]} of layer {@code l}, input through the hook. */
    private Value linear(int l, int index, Value x, Value weight) {
        return LinearAlgebra.linear(hooks.linearInput(l, LlamaWeights.LINEAR_NAMES.get(index), x), weight);
    }

    /**
     * Grouped-query attention of layer {@code l} on normalised input {@code n (B, T, d)} after
     * {@code past} (or null); records the present K and V (B, h_kv, p+T, d_h) in {@code present}.
     */
    private Value attention(int l, LlamaWeights.Block blk, Value n, KvCache past, Tensor[] cs, Present present,
                            List<Tensor> attentions, Attention.Mask mask) {
        int b = n.shape().dim(0);
        int t = n.shape().dim(1);
        int h = c.numAttentionHeads();
        int hkv = c.numKeyValueHeads();
        int dh = c.headDim();
        // projections to heads: (B, T, heads*d_h) -> (B, heads, T, d_h), RoPE on q and k
        Value q = heads(linear(l, 0, n, blk.q()), b, t, h, dh);
        Value k = heads(linear(l, 1, n, blk.k()), b, t, hkv, dh);
        Value v = heads(linear(l, 2, n, blk.v()), b, t, hkv, dh);
        q = hooks.newQueries(l, Functional.rope(q, cs[0], cs[1]));
        k = hooks.newKeys(l, Functional.rope(k, cs[0], cs[1]));
        v = hooks.newValues(l, v);
        // fused scores / sqrt(d_h) + causal mask, softmax over keys, weighted sum of values;
        // query head j reads key/value head j / g (HF's repeat_kv)
        Attention.Result att;
        if (past != null && !GradMode.enabled() && mask.isNone()) {
            // decoding: the new rows written after the past's in a buffer with spare rows (CacheRows)
            // (exact, p + T rows, when no present is kept: the spare rows would never be used)
            int rows = present.kept() ? c.maxPositionEmbeddings() : past.length() + t;
            CacheRows kr = appended(l, "keys", past.rows(l, true, b), k, rows);
            CacheRows vr = appended(l, "values", past.rows(l, false, b), v, rows);
            present.rows(l, kr, vr);
            att = kr.attention(q, vr, attentions != null);
        } else if (past == null && attentions == null && !GradMode.enabled() && mask.isNone()) {
            // scoring without gradients: the same numbers without the (B, h, T, T) probabilities
            present.values(l, k, v);
            att = outputOnly(Attention.causalOutputOnRows(q, k.data(), v.data(), t));
        } else {
            if (past != null) { // differentiably (a trained prefix), as torch.cat
                k = Shaping.concat(2, batched(past.keys().get(l), b), k);
                v = Shaping.concat(2, batched(past.values().get(l), b), v);
            }
            present.values(l, k, v);
            att = Attention.causalWithProbs(q, k, v, mask);
        }
        if (attentions != null) {
            attentions.add(att.probs());
        }
        return linear(l, 3, merge(att.output(), b, t), blk.o());
    }

    /**
     * Layer {@code l}'s cache rows {@code past} followed by the new {@code rows} ({@link CacheRows#append}); a value
     * that a narrow cache cannot hold (beyond F16's 65504) is refused naming the layer, the tensor and the format.
     */
    private static CacheRows appended(int l, String what, CacheRows past, Value rows, int maxRows) {
        try {
            return past.append(rows.data(), maxRows);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("layer " + l + "'s " + what + " in a " + past.dtype().id()
                    + " KV cache: " + e.getMessage(), e);
        }
    }

    /** An attention result without probabilities (nothing asked for them). */
    private static Attention.Result outputOnly(Tensor out) {
        return new Attention.Result(Value.constant(out), null);
    }

    /** The heads' outputs (B, h, T, d_h) side by side: (B, T, h d_h), o_proj's input. */
    private Value merge(Value ctx, int b, int t) {
        return Shaping.reshape(Shaping.permute(ctx, 0, 2, 1, 3), b, t, c.numAttentionHeads() * c.headDim());
    }

    /** (B, T, heads*d_h) -> (B, heads, T, d_h). */
    private static Value heads(Value x, int b, int t, int heads, int dh) {
        return Shaping.permute(Shaping.reshape(x, b, t, heads, dh), 0, 2, 1, 3);
    }

    /** A past of shape (h_kv, p, d_h) repeated for B sequences (differentiably); (B, h_kv, p, d_h) as it is. */
    private static Value batched(Value past, int b) {
        if (past.shape().rank() == 4) {
            if (past.shape().dim(0) != b) {
                throw new IllegalArgumentException("past key/values for " + past.shape().dim(0) + " sequences, input has "
                        + b);
            }
            return past;
        }
        Value p4 = Shaping.reshape(past, 1, past.shape().dim(0), past.shape().dim(1), past.shape().dim(2));
        return b == 1 ? p4 : Arithmetic.add(p4, Value.constant(Tensor.zeros(b, 1, 1, 1)));
    }

    /**
     * The present K and V of one forward pass, per layer: values (exact length) or decoding cache rows; nothing when
     * not {@code kept} ({@link Options#present()}), so that each layer's are garbage once the layer is done.
     */
    private static final class Present {
        private final boolean kept;
        private final Value[] keys;
        private final Value[] values;
        private final CacheRows[] keyRows;
        private final CacheRows[] valueRows;

        Present(int layers, boolean kept) {
            this.kept = kept;
            int n = kept ? layers : 0;
            keys = new Value[n];
            values = new Value[n];
            keyRows = new CacheRows[n];
            valueRows = new CacheRows[n];
        }

        boolean kept() {
            return kept;
        }

        void values(int l, Value k, Value v) {
            if (kept) {
                keys[l] = k;
                values[l] = v;
            }
        }

        void rows(int l, CacheRows k, CacheRows v) {
            if (kept) {
                keyRows[l] = k;
                valueRows[l] = v;
            }
        }

        /**
         * The cache of all layers, or null when not kept; every layer is in one form (the path depends on the call,
         * not the layer).
         */
        KvCache cache() {
            if (!kept) {
                return null;
            }
            return keyRows[0] != null ? new KvCache(keyRows, valueRows) : new KvCache(List.of(keys), List.of(values));
        }
    }
}
